package gateway

import (
	"testing"
	"time"
)

func TestParsePenalty(t *testing.T) {
	key, d, err := parsePenalty("60000 k:abc")
	if err != nil || key != "k:abc" || d != time.Minute {
		t.Fatalf("got %q %v %v", key, d, err)
	}
	for _, bad := range []string{"", "60000", "x k:abc", "-5 k:abc", "0 k:abc", "60000 ", "999999999999 k:abc"} {
		if _, _, err := parsePenalty(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func FuzzParsePenalty(f *testing.F) {
	f.Add("60000 k:abc")
	f.Add("1 a:" + string(make([]byte, 70)))
	f.Fuzz(func(t *testing.T, msg string) {
		key, d, err := parsePenalty(msg)
		if err == nil && (key == "" || d <= 0 || d > 24*time.Hour) {
			t.Fatalf("%q gave %q %v", msg, key, d)
		}
	})
}
