package main

import (
	"fmt"
	"strings"
	"testing"

	"tollgate/gatewayd/auth"
)

// anonConfig has a public route (anonymous_tier anon: burst 3, no refill to
// speak of) beside the authenticated /v1/ route; extra goes under server:.
func anonConfig(upstream, server string) string {
	return fmt.Sprintf(`
auth:
  api_keys:
    keys: [{sha256: %s, tier: basic}]
tiers:
  - {name: basic, burst: 10, rate: 1, period: 10m}
  - {name: anon, burst: 3, rate: 1, period: 10m}
routes:
  - {name: v1, prefix: /v1/, upstream: %s}
  - {name: public, prefix: /public/, upstream: %s, anonymous_tier: anon}
ledger: {dir: LEDGER, flush_interval: 20ms}
server: {%s}
`, demoKeyHash, upstream, upstream, server)
}

// TestAnonymousRouteLimitsPerClientIP: a route with anonymous_tier admits
// requests without credentials on that tier, one budget per client address;
// an untrusted peer cannot pick its address with X-Forwarded-For; credentials
// on the public route are authenticated as anywhere (a bad one is a 401); the
// other routes still require credentials; the ledger holds a hash, never the
// address.
func TestAnonymousRouteLimitsPerClientIP(t *testing.T) {
	up := newUpstream(t)
	g := startGW(t, anonConfig(up.URL, ""))
	pub := g.url + "/public/catalog"
	for i := 1; i <= 3; i++ {
		r := do(t, "GET", pub, nil, nil)
		if r.status != 200 || !strings.HasPrefix(r.header.Get("RateLimit-Policy"), `"anon"`) {
			t.Fatalf("anonymous request %d: %d, RateLimit-Policy %q", i, r.status, r.header.Get("RateLimit-Policy"))
		}
	}
	if r := do(t, "GET", pub, nil, nil); r.status != 429 || r.header.Get("Retry-After") == "" {
		t.Fatalf("4th anonymous request: %d, Retry-After %q", r.status, r.header.Get("Retry-After"))
	}
	// No trusted proxies: X-Forwarded-For is the client's word, ignored.
	if r := do(t, "GET", pub, nil, map[string]string{"X-Forwarded-For": "203.0.113.9"}); r.status != 429 {
		t.Fatalf("a forged X-Forwarded-For escaped the budget: %d", r.status)
	}
	// With credentials the public route authenticates: its own budget. The
	// forged forwarding headers of an untrusted peer do not reach the upstream.
	forged := map[string]string{"X-API-Key": "demo-key", "X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
	if r := do(t, "GET", pub, nil, forged); r.status != 200 || !strings.HasPrefix(r.header.Get("RateLimit-Policy"), `"basic"`) {
		t.Fatalf("API key on the public route: %d %q", r.status, r.header.Get("RateLimit-Policy"))
	}
	if h := up.last(); h.Get("X-Forwarded-For") != "127.0.0.1" || h.Get("X-Forwarded-Proto") != "http" {
		t.Errorf("upstream saw X-Forwarded-For %q, X-Forwarded-Proto %q from an untrusted peer; want 127.0.0.1 and http",
			h.Values("X-Forwarded-For"), h.Get("X-Forwarded-Proto"))
	}
	if r := do(t, "GET", pub, nil, key("wrong-key")); r.status != 401 {
		t.Fatalf("a bad API key on the public route: %d, want 401", r.status)
	}
	if r := do(t, "GET", pub, nil, map[string]string{"Authorization": "Bearer x"}); r.status != 401 {
		t.Fatalf("a bearer token where JWT is off, on the public route: %d, want 401", r.status)
	}
	if r := do(t, "GET", g.url+"/v1/x", nil, nil); r.status != 401 {
		t.Fatalf("no credentials on /v1/: %d, want 401", r.status)
	}
	recs := g.stop()
	anonHash := auth.HashKey("ip:127.0.0.1")
	n := 0
	for _, rc := range recs {
		if rc.Tier == "anon" {
			n++
			if rc.KeyHash != anonHash {
				t.Errorf("anonymous record key hash %q, want sha256(\"ip:127.0.0.1\")", rc.KeyHash)
			}
		}
		if strings.Contains(rc.KeyHash, "127.0.0.1") {
			t.Errorf("the ledger holds a raw address: %+v", rc)
		}
	}
	if n != 5 {
		t.Errorf("%d anonymous ledger records, want 5 (3 admitted, 2 refused)", n)
	}
}

// TestAnonymousBehindTrustedProxy: with the peer a trusted proxy, each
// X-Forwarded-For client gets its own budget.
func TestAnonymousBehindTrustedProxy(t *testing.T) {
	up := newUpstream(t)
	g := startGW(t, anonConfig(up.URL, "trusted_proxies: [127.0.0.0/8]"))
	pub := g.url + "/public/catalog"
	from := func(ip string) map[string]string { return map[string]string{"X-Forwarded-For": "6.6.6.6, " + ip} }
	for i := 1; i <= 3; i++ {
		if r := do(t, "GET", pub, nil, from("203.0.113.9")); r.status != 200 {
			t.Fatalf("client A request %d: %d", i, r.status)
		}
	}
	if r := do(t, "GET", pub, nil, from("203.0.113.9")); r.status != 429 {
		t.Fatalf("client A's 4th request: %d, want 429", r.status)
	}
	// The left-most entry is the client's own claim: not the key.
	if r := do(t, "GET", pub, nil, map[string]string{"X-Forwarded-For": "1.1.1.1, 203.0.113.9"}); r.status != 429 {
		t.Fatalf("client A with another claimed origin: %d, want 429", r.status)
	}
	hb := from("203.0.113.10")
	hb["X-Forwarded-Proto"] = "https"
	if r := do(t, "GET", pub, nil, hb); r.status != 200 {
		t.Fatalf("client B: %d, want 200 (its own budget)", r.status)
	}
	// A trusted peer's chain reaches the upstream, the peer appended.
	if h := up.last(); strings.Join(h.Values("X-Forwarded-For"), ", ") != "6.6.6.6, 203.0.113.10, 127.0.0.1" || h.Get("X-Forwarded-Proto") != "https" {
		t.Errorf("upstream saw X-Forwarded-For %q, X-Forwarded-Proto %q from a trusted peer", h.Values("X-Forwarded-For"), h.Get("X-Forwarded-Proto"))
	}
	// IPv6 clients share their /64.
	for i := 1; i <= 3; i++ {
		if r := do(t, "GET", pub, nil, from(fmt.Sprintf("2001:db8:1:2::%x", i))); r.status != 200 {
			t.Fatalf("IPv6 request %d: %d", i, r.status)
		}
	}
	if r := do(t, "GET", pub, nil, from("2001:db8:1:2:ffff::1")); r.status != 429 {
		t.Fatalf("a 4th address in the same /64: %d, want 429", r.status)
	}
	g.stop()
}
