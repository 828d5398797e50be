package gateway

import (
	"bufio"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"tollgate/engine/route"
	"tollgate/engine/tier"
	"tollgate/gatewayd/auth"
	"tollgate/gatewayd/config"
	"tollgate/gatewayd/headerpolicy"
)

// headerRig is a real gateway on a loopback listener in front of an upstream
// that echoes the header set it received.
type headerRig struct {
	addr  string
	token string // a valid bearer JWT for tier "pro"
	jwtKH string // its key hash
}

const fuzzAPIKey = "fuzz-api-key"

func newHeaderRig(tb testing.TB) *headerRig {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(r.Header)
	}))
	tb.Cleanup(up.Close)
	dir := tb.TempDir()
	secret := []byte("fuzz-hmac-secret-0123456789abcdef")
	sf := filepath.Join(dir, "hs")
	if err := os.WriteFile(sf, secret, 0o600); err != nil {
		tb.Fatal(err)
	}
	cfg := &config.Config{
		Auth: config.Auth{APIKeys: config.APIKeys{Keys: []config.APIKey{{SHA256: auth.HashKey(fuzzAPIKey), Tier: "basic"}}},
			JWT: &config.JWT{HMACSecretFile: sf}},
		Tiers: []config.Tier{{Tier: tier.Tier{Name: "basic", Burst: 1e6, Rate: 1e6}},
			{Tier: tier.Tier{Name: "pro", Burst: 1e6, Rate: 1e6}}},
		Routes: []config.Route{{Route: route.Route{Name: "v1", Prefix: "/v1/"}, Upstream: up.URL}},
		Ledger: config.Ledger{Dir: filepath.Join(dir, "ledger")},
	}
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		tb.Fatal(err)
	}
	g, err := New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		tb.Fatal(err)
	}
	srv := httptest.NewServer(g)
	tb.Cleanup(func() { srv.Close(); _ = g.Close() })
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "u1", "tier": "pro",
		"exp": time.Now().Add(24 * time.Hour).Unix()}).SignedString(secret)
	if err != nil {
		tb.Fatal(err)
	}
	return &headerRig{addr: srv.Listener.Addr().String(), token: tok, jwtKH: jwtKeyHash("u1")}
}

func jwtKeyHash(sub string) string { return auth.HashKey("\x00" + sub) }

// send writes a raw request with the given header lines and returns the
// gateway's response and, when it reached the upstream, the header set the
// upstream received.
func (h *headerRig) send(tb testing.TB, lines []string) (*http.Response, http.Header) {
	c, err := net.DialTimeout("tcp", h.addr, 5*time.Second)
	if err != nil {
		tb.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	var b strings.Builder
	b.WriteString("GET /v1/x HTTP/1.1\r\nHost: gw\r\n")
	for _, l := range lines {
		b.WriteString(l)
		b.WriteString("\r\n")
	}
	b.WriteString("\r\n")
	if _, err := c.Write([]byte(b.String())); err != nil {
		tb.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		tb.Fatalf("reading the response to %q: %v", lines, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return resp, nil
	}
	var seen http.Header
	if err := json.NewDecoder(resp.Body).Decode(&seen); err != nil {
		tb.Fatalf("upstream echo: %v", err)
	}
	return resp, seen
}

// checkUpstream holds the policy's promises on what the upstream received:
// exactly the gateway's identity headers, in their one spelling, with the
// gateway's values; no API key; no credential unless it is the verified one.
func checkUpstream(tb testing.TB, lines []string, resp *http.Response, seen http.Header, tier, keyHash, verified string) {
	tb.Helper()
	want := map[string]string{"X-Tollgate-Tier": tier, "X-Tollgate-Key-Hash": keyHash,
		"X-Request-Id": resp.Header.Get("X-Request-Id")}
	for name, vals := range seen {
		f := headerpolicy.Fold(name)
		switch {
		case headerpolicy.IsIdentity(name):
			w, ok := want[name]
			if !ok || len(vals) != 1 || vals[0] != w {
				tb.Errorf("sent %q: upstream got %s: %q (want only the gateway's %v)", lines, name, vals, want)
			}
		case f == "x-api-key":
			tb.Errorf("sent %q: upstream got the API key header %s: %q", lines, name, vals)
		case f == "authorization" || f == "proxy-authorization":
			if verified == "" || name != "Authorization" || len(vals) != 1 || vals[0] != verified {
				tb.Errorf("sent %q: upstream got an unverified credential %s: %q", lines, name, vals)
			}
		}
	}
	for name, w := range want {
		if v := seen[name]; len(v) != 1 || v[0] != w {
			tb.Errorf("sent %q: upstream got %s = %q, want %q", lines, name, v, w)
		}
	}
	if verified != "" && len(seen["Authorization"]) != 1 {
		tb.Errorf("sent %q: the verified token did not reach the upstream", lines)
	}
}

// headerLines turns fuzz bytes into header lines: one per '\n', with CR and
// NUL removed so each stays one line (malformed names are kept: the server
// refuses those requests, which is a valid outcome).
func headerLines(spec string) []string {
	var out []string
	for _, l := range strings.Split(spec, "\n") {
		l = strings.NewReplacer("\r", "", "\x00", "").Replace(l)
		if strings.TrimSpace(l) == "" || len(out) >= 24 {
			continue
		}
		out = append(out, l)
	}
	return out
}

var headerSeeds = []string{
	"X-Tollgate-Tier: gold\nX-Tollgate-Key-Hash: victimhash",
	"X_Tollgate_Tier: gold\nX_Tollgate_Key_Hash: victimhash\nx_request_id: forged",
	"Connection: X-Tollgate-Tier, X-Tollgate-Key-Hash, X-Request-Id",
	"Connection: keep-alive, X-Tollgate-Tier\nx-tollgate-tier: gold\nX-TOLLGATE-KEY-HASH: v",
	"Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZG1pbiJ9.forged",
	"Authorization: Bearer a\nAuthorization: Bearer b",
	"Proxy-Authorization: Basic dXNlcjpwYXNz\nX_Api_Key: other-key",
	"Connection: Authorization\nAuthorization: Bearer x",
	"X-Tollgate-Anything: 1\nX_TOLLGATE_: 2\nX-Request-Id: mine",
	"X_Forwarded_For: 10.0.0.1\nX-Real-IP: 10.0.0.2\nForwarded: for=10.0.0.3",
}

// FuzzInboundHeaders: whatever header set a client sends (names in any case,
// underscores, Connection lists, duplicates), no inbound identity header and
// no unverified credential reaches the upstream, and the gateway's identity
// headers always do. mode picks how the request authenticates: 0 an API key,
// 1 a bearer JWT, 2 an API key beside an unverified bearer token.
func FuzzInboundHeaders(f *testing.F) {
	for _, s := range headerSeeds {
		for mode := uint8(0); mode < 3; mode++ {
			f.Add(s, mode)
		}
	}
	rig := newHeaderRig(f)
	f.Fuzz(func(t *testing.T, spec string, mode uint8) {
		lines := headerLines(spec)
		tier, kh, verified := "basic", auth.HashKey(fuzzAPIKey), ""
		switch mode % 3 {
		case 0:
			lines = append(lines, "X-API-Key: "+fuzzAPIKey)
		case 1:
			verified = "Bearer " + rig.token
			lines = append(lines, "Authorization: "+verified)
			tier, kh = "pro", rig.jwtKH
		case 2:
			lines = append(lines, "X-API-Key: "+fuzzAPIKey, "Authorization: Bearer unverified.token.text")
		}
		resp, seen := rig.send(t, lines)
		if seen == nil {
			if resp.StatusCode < 400 {
				t.Errorf("sent %q: status %d without reaching the upstream", lines, resp.StatusCode)
			}
			return
		}
		checkUpstream(t, lines, resp, seen, tier, kh, verified)
	})
}

// TestInboundHeaderSeeds runs the fuzz seeds as a plain test, with the
// outcomes the policy promises for each.
func TestInboundHeaderSeeds(t *testing.T) {
	rig := newHeaderRig(t)
	for _, s := range headerSeeds {
		lines := append(headerLines(s), "X-API-Key: "+fuzzAPIKey)
		resp, seen := rig.send(t, lines)
		if strings.Count(s, "Authorization:") > 1 && !strings.Contains(s, "Proxy-") {
			if resp.StatusCode != http.StatusBadRequest {
				t.Errorf("sent %q: status %d, want 400 for two Authorization headers", lines, resp.StatusCode)
			}
			continue
		}
		if seen == nil {
			t.Errorf("sent %q: status %d, want the upstream reached", lines, resp.StatusCode)
			continue
		}
		checkUpstream(t, lines, resp, seen, "basic", auth.HashKey(fuzzAPIKey), "")
	}
}
