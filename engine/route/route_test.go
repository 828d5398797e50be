package route

import "testing"

func TestMatchLongestPrefix(t *testing.T) {
	tb := New([]string{"/", "/v1/", "/v1/reports/"}, []string{"root", "v1", "reports"})
	for p, want := range map[string]string{"/v1/reports/x": "reports", "/v1/x": "v1", "/v2": "root", "/v1": "root"} {
		if got, ok := tb.Match(p); !ok || got != want {
			t.Errorf("Match(%q) = %q %v, want %q", p, got, ok, want)
		}
	}
	if _, ok := New([]string{"/v1/"}, []int{1}).Match("/admin"); ok {
		t.Error("matched /admin")
	}
}

func TestClean(t *testing.T) {
	for in, want := range map[string]string{"": "/", "/v1/../admin": "/admin", "/v1//x/": "/v1/x/", "v1/x": "/v1/x", "/v1/./a/..": "/v1"} {
		if got := Clean(in); got != want {
			t.Errorf("Clean(%q) = %q, want %q", in, got, want)
		}
	}
}
