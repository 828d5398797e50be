package main

import (
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// The end-to-end tests of issue 12's defects: each runs a real gatewayd and
// an echo upstream, and each failed before its fix.

// TestHeadCountsAsGet: HEAD is admitted against the tier's GET limit, not
// from the main bucket alone (defect 4).
func TestHeadCountsAsGet(t *testing.T) {
	up := newUpstream(t)
	cfg := fmt.Sprintf(`
auth:
  api_keys:
    keys: [{sha256: %s, tier: basic}]
tiers:
  - name: basic
    burst: 100
    rate: 1
    period: 10m
    methods: {GET: {burst: 2, rate: 1, period: 10m}}
routes:
  - {name: v1, prefix: /v1/, upstream: %s}
ledger: {dir: LEDGER}
`, demoKeyHash, up.URL)
	g := startGW(t, cfg)
	want := []struct {
		method string
		status int
	}{{"GET", 200}, {"HEAD", 200}, {"HEAD", 429}, {"GET", 429}, {"POST", 200}}
	for i, w := range want {
		r := do(t, w.method, g.url+"/v1/x", nil, key("demo-key"))
		if r.status != w.status {
			t.Errorf("request %d %s: %d, want %d", i+1, w.method, r.status, w.status)
		}
		if w.method == "HEAD" && !strings.Contains(r.header.Get("RateLimit-Policy"), `"basic-get"`) {
			t.Errorf("HEAD's RateLimit-Policy %q lacks the GET limit", r.header.Get("RateLimit-Policy"))
		}
	}
	g.stop()
}

// TestSecretsStayOutOfLogs: a JWKS URL's password and a raw key pasted into
// a sha256 field never reach the log (defect 7). The shared secret check of
// helpers_test.go greps the log for them; this test also asserts the lines
// that would have held them were written.
func TestSecretsStayOutOfLogs(t *testing.T) {
	up := newUpstream(t)
	// A JWKS endpoint that refuses connections: its fetch fails and is logged.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	noteSecret("jwks-p4ssword", "raw-key-pasted-here", "token-in-query-123")
	cfg := fmt.Sprintf(`
auth:
  api_keys:
    keys: [{sha256: %s, tier: basic}]
  jwt:
    jwks_url: http://idp-user:jwks-p4ssword@%s/jwks?access_token=token-in-query-123
    jwks_refresh: 1s
tiers:
  - {name: basic, burst: 10, rate: 1, period: 10m}
routes:
  - {name: v1, prefix: /v1/, upstream: %s}
ledger: {dir: LEDGER}
`, demoKeyHash, dead, up.URL)
	g := startGW(t, cfg)
	waitFor(t, "the failed JWKS fetch logged", func() bool { return strings.Contains(g.log.String(), "jwks fetch failed") })
	bad := strings.Replace(cfg, demoKeyHash, "raw-key-pasted-here", 1)
	bad = strings.ReplaceAll(bad, "LEDGER", g.ledger)
	if err := os.WriteFile(g.cfgPath, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	g.signal(syscall.SIGHUP)
	waitFor(t, "the refused reload logged", func() bool {
		return strings.Contains(g.log.String(), "reload refused") && strings.Contains(g.log.String(), "auth.api_keys.keys[0].sha256")
	})
	if !strings.Contains(g.log.String(), "REDACTED@") {
		t.Errorf("the JWKS URL is not logged redacted:\n%s", g.log.String())
	}
	g.stop()
	if leaks := secretsIn(g.log.String()); len(leaks) > 0 {
		t.Errorf("secrets %q in the log", leaks)
	}
}

// TestConfigErrorsAllAtOnce: -check reports a decoding error (an unknown
// field) and the validation errors together (defect 8).
func TestConfigErrorsAllAtOnce(t *testing.T) {
	bad := writeFile(t, t.TempDir(), "bad.yaml", []byte(fmt.Sprintf(`
surprise: 1
auth:
  api_keys:
    keys: [{sha256: %s, tier: basic}]
tiers:
  - {name: basic, burst: -3, rate: 1}
server:
  max_in_flight: lots
routes:
  - {name: v1, prefix: v1, upstream: http://127.0.0.1:1}
`, demoKeyHash)))
	out, err := execOut(gatewaydBin, "-check", "-config", bad)
	if err == nil {
		t.Fatalf("-check accepted a bad file:\n%s", out)
	}
	for _, want := range []string{"field surprise not found", "server.max_in_flight", "lots",
		"tiers[0].burst: must be > 0, got -3", "routes[0].prefix: must start with /"} {
		if !strings.Contains(out, want) {
			t.Errorf("-check output lacks %q:\n%s", want, out)
		}
	}
}

// TestJWTRefusalNamesTheClaim: a token without exp, or without the
// configured aud, is refused with a message naming the claim, never the
// token (defect 8).
func TestJWTRefusalNamesTheClaim(t *testing.T) {
	up := newUpstream(t)
	dir := t.TempDir()
	secret := []byte("e2e-hmac-secret-0123456789abcdef!")
	noteSecret(string(secret))
	cfg := fmt.Sprintf(`
auth:
  jwt:
    hmac_secret_file: %s
    audience: api.example
tiers:
  - {name: basic, burst: 10, rate: 1, period: 10m}
routes:
  - {name: v1, prefix: /v1/, upstream: %s}
ledger: {dir: LEDGER}
`, writeFile(t, dir, "hs.secret", secret), up.URL)
	g := startGW(t, cfg)
	token := func(c jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(secret)
		if err != nil {
			t.Fatal(err)
		}
		noteSecret(s)
		return s
	}
	exp := time.Now().Add(time.Hour).Unix()
	for name, tc := range map[string]struct {
		claims jwt.MapClaims
		want   string
	}{
		"no exp": {jwt.MapClaims{"sub": "u1", "tier": "basic", "aud": "api.example"}, `claim "exp" is required and missing`},
		"no aud": {jwt.MapClaims{"sub": "u1", "tier": "basic", "exp": exp}, `claim "aud" is required and missing`},
	} {
		tok := token(tc.claims)
		r := do(t, "GET", g.url+"/v1/x", nil, map[string]string{"Authorization": "Bearer " + tok})
		if r.status != 401 || r.body["error"] != "invalid_token" {
			t.Errorf("%s: %d %s", name, r.status, r.raw)
		}
		if msg, _ := r.body["message"].(string); !strings.Contains(msg, tc.want) {
			t.Errorf("%s: message %q, want it to name the claim: %q", name, msg, tc.want)
		}
		if strings.Contains(r.raw, tok) || strings.Contains(r.raw, strings.Split(tok, ".")[1]) {
			t.Errorf("%s: the refusal echoes the token", name)
		}
	}
	if r := do(t, "GET", g.url+"/v1/x", nil, map[string]string{"Authorization": "Bearer " +
		token(jwt.MapClaims{"sub": "u1", "tier": "basic", "exp": exp, "aud": "api.example"})}); r.status != 200 {
		t.Errorf("a good token: %d %s", r.status, r.raw)
	}
	g.stop()
}
