package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestParseRoute(t *testing.T) {
	cases := []struct {
		name    string
		in      string
		want    Route
		wantErr string
	}{
		{"ok", "/v1/report=120ms", Route{"/v1/report", 120 * time.Millisecond}, ""},
		{"zero", "/v1/=0s", Route{"/v1/", 0}, ""},
		{"no equals", "/v1/report", Route{}, "want PREFIX=DURATION"},
		{"no slash", "v1=5ms", Route{}, "must start with /"},
		{"bad duration", "/v1=fast", Route{}, "service time"},
		{"negative", "/v1=-5ms", Route{}, "must be in [0, 1m]"},
		{"too long", "/v1=2m", Route{}, "must be in [0, 1m]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseRoute(c.in)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("ParseRoute(%q) err = %v, want containing %q", c.in, err, c.wantErr)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("ParseRoute(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
			}
		})
	}
}

func FuzzParseRoute(f *testing.F) {
	for _, s := range []string{"/v1/report=120ms", "/=0", "x", "/a=-1s", "/a=1h", "=", "/a=1.5ms"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRoute(s)
		if err != nil {
			return
		}
		if !strings.HasPrefix(r.Prefix, "/") || r.ServiceTime < 0 || r.ServiceTime > time.Minute {
			t.Fatalf("ParseRoute(%q) accepted %+v", s, r)
		}
	})
}

func TestHandlerLongestPrefix(t *testing.T) {
	h, err := NewHandler([]Route{{"/v1/", time.Millisecond}, {"/v1/report", 3 * time.Millisecond}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]time.Duration{
		"/v1/report/9": 3 * time.Millisecond,
		"/v1/fast":     time.Millisecond,
		"/other":       0,
	} {
		if got, _ := h.ServiceTime(path); got != want {
			t.Errorf("ServiceTime(%q) = %s, want %s", path, got, want)
		}
	}
	if _, err := NewHandler([]Route{{"/a", 0}, {"/a", 1}}, 0); err == nil {
		t.Fatal("duplicate prefix accepted")
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/report/1", nil))
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"route":"/v1/report"`) {
		t.Fatalf("got %d %q", rec.Code, rec.Body.String())
	}
}
