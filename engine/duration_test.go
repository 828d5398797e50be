package engine

import (
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]string{"250ms": "250ms", "30d": "720h0m0s", "1.5d": "36h0m0s", "90s": "1m30s", " 2h ": "2h0m0s"} {
		d, err := ParseDuration(in)
		if err != nil || d.String() != want {
			t.Errorf("%s: %v %v, want %s", in, d, err, want)
		}
	}
	for _, in := range []string{"", "d", "5x", "1e9d", "3hd", "NaNd"} {
		if _, err := ParseDuration(in); err == nil || !strings.Contains(err.Error(), in) {
			t.Errorf("%q: got %v, want an error naming the value", in, err)
		}
	}
}

func TestDurationYAML(t *testing.T) {
	var v struct {
		A Duration `yaml:"a"`
		B Duration `yaml:"b"`
	}
	if err := yaml.Unmarshal([]byte("a: 30d\nb: 250ms\n"), &v); err != nil {
		t.Fatal(err)
	}
	if v.A.String() != "720h0m0s" || v.B.String() != "250ms" {
		t.Fatalf("got %v %v", v.A, v.B)
	}
	out, err := yaml.Marshal(v)
	if err != nil || string(out) != "a: 720h0m0s\nb: 250ms\n" {
		t.Fatalf("marshal: %q %v", out, err)
	}
	err = yaml.Unmarshal([]byte("a: 7x\n"), &v)
	if err == nil || !strings.Contains(err.Error(), "line 1") || !strings.Contains(err.Error(), `"7x"`) {
		t.Fatalf("bad duration: %v, want line and value", err)
	}
	if err := yaml.Unmarshal([]byte("a: [1]\n"), &v); err == nil {
		t.Fatal("a sequence was accepted as a duration")
	}
}
