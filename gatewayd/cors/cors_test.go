package cors

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"tollgate/gatewayd/config"
)

func preflight(origin, method, headers string) *http.Request {
	r := httptest.NewRequest("OPTIONS", "/v1/x", nil)
	r.Header.Set("Origin", origin)
	r.Header.Set("Access-Control-Request-Method", method)
	if headers != "" {
		r.Header.Set("Access-Control-Request-Headers", headers)
	}
	return r
}

func TestPreflight(t *testing.T) {
	p := New(config.CORS{AllowOrigins: []string{"https://app.example"}, AllowMethods: []string{"GET", "POST"},
		AllowHeaders: []string{"Content-Type", "X-API-Key"}, ExposeHeaders: []string{"RateLimit"},
		MaxAge: config.Duration(10 * time.Minute)})
	for name, tc := range map[string]struct {
		r    *http.Request
		want bool
	}{
		"allowed":         {preflight("https://app.example", "POST", "content-type, x-api-key"), true},
		"foreign origin":  {preflight("https://evil.example", "POST", ""), false},
		"method":          {preflight("https://app.example", "DELETE", ""), false},
		"header":          {preflight("https://app.example", "GET", "x-secret"), false},
		"case of method":  {preflight("https://app.example", "post", ""), true},
		"no request hdrs": {preflight("https://app.example", "GET", ""), true},
	} {
		h := http.Header{}
		if got := p.Preflight(h, tc.r); got != tc.want {
			t.Errorf("%s: Preflight = %v, want %v", name, got, tc.want)
			continue
		}
		if tc.want && (h.Get("Access-Control-Allow-Origin") != "https://app.example" || h.Get("Access-Control-Max-Age") != "600") {
			t.Errorf("%s: headers %v", name, h)
		}
		if !tc.want && h.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("%s: refused preflight set ACAO", name)
		}
	}
	if !IsPreflight(preflight("https://a", "GET", "")) || IsPreflight(httptest.NewRequest("OPTIONS", "/", nil)) {
		t.Error("IsPreflight")
	}
	h := http.Header{}
	p.Decorate(h, "https://evil.example")
	if len(h) != 0 {
		t.Errorf("decorated a foreign origin: %v", h)
	}
	any := New(config.CORS{AllowOrigins: []string{"*"}})
	h = http.Header{}
	any.Decorate(h, "https://whoever.example")
	if h.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("wildcard: %v", h)
	}
}
