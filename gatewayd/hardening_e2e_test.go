package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
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

// headerSetConfig has an API key, HS256 bearer tokens, a route that keeps
// the default header policy and one that forwards credentials.
func headerSetConfig(t *testing.T, up string) (string, []byte) {
	secret := []byte("header-e2e-hmac-secret-0123456789")
	noteSecret(string(secret))
	return fmt.Sprintf(`
auth:
  api_keys:
    keys: [{sha256: %s, tier: basic}]
  jwt:
    hmac_secret_file: %s
tiers:
  - {name: basic, burst: 100, rate: 1, period: 10m}
  - {name: pro, burst: 100, rate: 1, period: 10m}
routes:
  - {name: v1, prefix: /v1/, upstream: %s}
  - {name: own-auth, prefix: /own/, upstream: %s, forward_credentials: true}
ledger: {dir: LEDGER}
`, demoKeyHash, writeFile(t, t.TempDir(), "hs.secret", secret), up, up), secret
}

// foldedIn returns the values of every header in h whose name folds (case,
// underscores) to name.
func foldedIn(h http.Header, name string) map[string][]string {
	out := map[string][]string{}
	want := strings.ReplaceAll(strings.ToLower(name), "_", "-")
	for k, v := range h {
		if strings.ReplaceAll(strings.ToLower(k), "_", "-") == want {
			out[k] = v
		}
	}
	return out
}

// TestUnverifiedCredentialsStayAtTheGateway: a request authenticated by API
// key cannot carry a bearer token of its own to the upstream, and a request
// with two Authorization headers is refused (defect 1).
func TestUnverifiedCredentialsStayAtTheGateway(t *testing.T) {
	up := newUpstream(t)
	cfg, secret := headerSetConfig(t, up.URL)
	g := startGW(t, cfg)
	forged, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "admin", "role": "superuser",
		"exp": time.Now().Add(time.Hour).Unix()}).SignedString([]byte("the-attackers-own-key-0123456789!!"))
	if err != nil {
		t.Fatal(err)
	}
	good, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "u1", "tier": "pro",
		"exp": time.Now().Add(time.Hour).Unix()}).SignedString(secret)
	if err != nil {
		t.Fatal(err)
	}
	noteSecret(good)

	r := do(t, "GET", g.url+"/v1/x", nil, map[string]string{"X-API-Key": "demo-key", "Authorization": "Bearer " + forged})
	if r.status != 200 {
		t.Fatalf("API key with a forged bearer: %d %s", r.status, r.raw)
	}
	if a := foldedIn(up.last(), "Authorization"); len(a) > 0 {
		t.Errorf("the upstream received an unverified token next to tier %q: %v", up.last().Get("X-Tollgate-Tier"), a)
	}

	// Two Authorization headers: refused, never proxied.
	before := up.count()
	req, _ := http.NewRequest("GET", g.url+"/v1/x", nil)
	req.Header["Authorization"] = []string{"Bearer " + good, "Bearer " + forged}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if resp.StatusCode != 400 || body["error"] != "duplicate_authorization" || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("two Authorization headers: %d %v", resp.StatusCode, body)
	}
	if up.count() != before {
		t.Error("a request with two Authorization headers reached the upstream")
	}

	// A verified bearer token is forwarded, exactly once.
	r = do(t, "GET", g.url+"/v1/x", nil, map[string]string{"Authorization": "Bearer " + good})
	if a := up.last()["Authorization"]; r.status != 200 || len(a) != 1 || a[0] != "Bearer "+good {
		t.Errorf("verified token: %d, upstream Authorization %d values", r.status, len(a))
	}
	// forward_credentials: the route's own authentication gets the header.
	r = do(t, "GET", g.url+"/own/x", nil, map[string]string{"X-API-Key": "demo-key", "Authorization": "Basic dXNlcjpwdw=="})
	if r.status != 200 || up.last().Get("Authorization") != "Basic dXNlcjpwdw==" || up.last().Get("X-Api-Key") != "" {
		t.Errorf("forward_credentials route: %d, upstream saw %v", r.status, up.last())
	}
	recs := g.stop()
	bad := 0
	for _, rec := range recs {
		if rec.Decision == "bad_request" {
			bad++
			if rec.CostCharged != 0 || rec.Status != 400 {
				t.Errorf("refused record %+v", rec)
			}
		}
	}
	if bad != 1 {
		t.Errorf("%d bad_request records, want 1", bad)
	}
}

// TestIdentityHeadersCannotBeRemovedOrForged: a Connection header naming the
// identity headers does not remove them, and underscore or case spellings of
// them never reach the upstream (defect 2).
func TestIdentityHeadersCannotBeRemovedOrForged(t *testing.T) {
	up := newUpstream(t)
	cfg, _ := headerSetConfig(t, up.URL)
	g := startGW(t, cfg)
	req, _ := http.NewRequest("GET", g.url+"/v1/x", nil)
	req.Header["X-Api-Key"] = []string{"demo-key"}
	req.Header["Connection"] = []string{"X-Tollgate-Tier, X-Tollgate-Key-Hash, X-Request-Id"}
	req.Header["X_Tollgate_Tier"] = []string{"gold"}
	req.Header["X_Tollgate_Key_Hash"] = []string{"victimhash"}
	req.Header["X-TOLLGATE-TIER"] = []string{"gold"}
	req.Header["X_forwarded_for"] = []string{"10.9.9.9"}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	seen := up.last()
	for name, want := range map[string]string{"X-Tollgate-Tier": "basic", "X-Tollgate-Key-Hash": demoKeyHash,
		"X-Request-Id": resp.Header.Get("X-Request-Id")} {
		got := foldedIn(seen, name)
		if len(got) != 1 || len(got[http.CanonicalHeaderKey(name)]) != 1 || got[http.CanonicalHeaderKey(name)][0] != want {
			t.Errorf("upstream got %v for %s, want only the gateway's %q", got, name, want)
		}
	}
	if xff := foldedIn(seen, "X-Forwarded-For"); len(xff) != 1 || len(xff["X-Forwarded-For"]) != 1 {
		t.Errorf("upstream got forwarding headers %v, want only the gateway's X-Forwarded-For", xff)
	}
	g.stop()
}

// wsUpstream answers an Upgrade: websocket request with 101 and then echoes
// every byte back until the gateway closes the tunnel.
func wsUpstream(t *testing.T) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			w.WriteHeader(200)
			return
		}
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		_ = brw.Flush()
		_, _ = io.Copy(c, brw)
	}))
	t.Cleanup(s.Close)
	return s
}

// openTunnel sends a WebSocket handshake on a raw connection and reads the
// gateway's answer.
func openTunnel(t *testing.T, addr, path string) (net.Conn, *bufio.Reader, *http.Response) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: gw\r\nX-API-Key: demo-key\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"+
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n", path)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c, br, resp
}

// TestUpgradeIsOptInAndMetered: an Upgrade is refused (400 JSON, not
// charged, not proxied) unless the route opts in; an opted-in tunnel is
// charged once at open, carries traffic, is closed at its maximum lifetime,
// and is one ledger record with its bytes and duration (defect 3).
func TestUpgradeIsOptInAndMetered(t *testing.T) {
	up := newUpstream(t)
	ws := wsUpstream(t)
	cfg := fmt.Sprintf(`
auth:
  api_keys:
    keys: [{sha256: %s, tier: basic}]
tiers:
  - {name: basic, burst: 100, rate: 1, period: 10m}
routes:
  - {name: v1, prefix: /v1/, upstream: %s}
  - {name: ws, prefix: /ws/, upstream: %s, upgrade: websocket, timeout: 60s}
  - {name: short, prefix: /short/, upstream: %s, upgrade: websocket, max_tunnel_lifetime: 300ms, timeout: 60s}
ledger: {dir: LEDGER, flush_interval: 20ms}
`, demoKeyHash, up.URL, ws.URL, ws.URL)
	g := startGW(t, cfg)
	addr := strings.TrimPrefix(g.url, "http://")

	// Not opted in: refused before anything reaches the upstream.
	_, _, resp := openTunnel(t, addr, "/v1/socket")
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	if resp.StatusCode != 400 || body["error"] != "upgrade_refused" || up.count() != 0 {
		t.Errorf("upgrade on a route without upgrade: %d %v, upstream saw %d", resp.StatusCode, body, up.count())
	}

	// Opted in: 60 messages through one tunnel, one charge, one record.
	c, br, resp := openTunnel(t, addr, "/ws/socket")
	if resp.StatusCode != 101 {
		t.Fatalf("opted-in upgrade: %d", resp.StatusCode)
	}
	msg := []byte("ping-0123456789\n")
	for i := 0; i < 60; i++ {
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
		line, err := br.ReadString('\n')
		if err != nil || line != string(msg) {
			t.Fatalf("message %d: %q %v", i, line, err)
		}
	}
	c.Close()

	// Maximum lifetime: the gateway closes the tunnel by itself.
	c2, br2, resp := openTunnel(t, addr, "/short/socket")
	if resp.StatusCode != 101 {
		t.Fatalf("short tunnel: %d", resp.StatusCode)
	}
	if _, err := io.Copy(io.Discard, br2); err != nil {
		t.Errorf("short tunnel not closed by the gateway: %v", err)
	}
	c2.Close()

	waitFor(t, "tunnel metrics", func() bool {
		return g.metric("gatewayd_tunnel_bytes_total", "route", "ws", "direction", "in") == float64(60*len(msg))
	})
	if out := g.metric("gatewayd_tunnel_bytes_total", "route", "ws", "direction", "out"); out != float64(60*len(msg)) {
		t.Errorf("tunnel bytes out = %v, want %d", out, 60*len(msg))
	}
	recs := g.stop()
	var tunnels, refused int
	for _, rec := range recs {
		switch {
		case rec.Route == "ws":
			tunnels++
			if rec.Status != 101 || rec.CostCharged != 1 || rec.BytesIn != int64(60*len(msg)) ||
				rec.BytesOut != int64(60*len(msg)) || !rec.End.After(rec.Start) {
				t.Errorf("tunnel record %+v", rec)
			}
		case rec.Route == "short":
			if rec.Status != 101 {
				t.Errorf("short tunnel record %+v", rec)
			}
		case rec.Decision == "bad_request":
			refused++
			if rec.CostCharged != 0 {
				t.Errorf("refused upgrade charged: %+v", rec)
			}
		}
	}
	if tunnels != 1 || refused != 1 {
		t.Errorf("%d tunnel records and %d refusals, want 1 and 1", tunnels, refused)
	}
}

// rawRequest writes raw bytes to the gateway and reads one response.
func rawRequest(t *testing.T, addr, raw string) (*http.Response, map[string]any) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("reading the answer to %q: %v", raw, err)
	}
	defer resp.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp, body
}

// TestOneRuleForBodies: an oversized body (declared or chunked) is 413 and a
// malformed chunked body 400, each with a JSON body, not charged, and with
// nothing sent upstream; never a 502 (defect 5).
func TestOneRuleForBodies(t *testing.T) {
	up := newUpstream(t)
	g := startGW(t, basicConfig(up.URL, "server:\n  max_body_bytes: 1024\n"))
	addr := strings.TrimPrefix(g.url, "http://")
	head := "POST /v1/upload HTTP/1.1\r\nHost: gw\r\nX-API-Key: demo-key\r\nContent-Type: application/octet-stream\r\n"
	chunk := func(n int) string { return fmt.Sprintf("%x\r\n%s\r\n", n, strings.Repeat("a", n)) }
	for name, tc := range map[string]struct {
		raw    string
		status int
		code   string
	}{
		"malformed chunked":   {head + "Transfer-Encoding: chunked\r\n\r\n" + chunk(10) + "zz\r\nxx\r\n0\r\n\r\n", 400, "malformed_body"},
		"chunked over limit":  {head + "Transfer-Encoding: chunked\r\n\r\n" + chunk(1000) + chunk(100) + "0\r\n\r\n", 413, "body_too_large"},
		"declared over limit": {head + "Content-Length: 2000\r\n\r\n" + strings.Repeat("a", 2000), 413, "body_too_large"},
	} {
		resp, body := rawRequest(t, addr, tc.raw)
		if resp.StatusCode != tc.status || body["error"] != tc.code || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s: %d %v (%s), want %d %s", name, resp.StatusCode, body, resp.Header.Get("Content-Type"), tc.status, tc.code)
		}
	}
	if n := up.count(); n != 0 {
		t.Errorf("the upstream received %d of the refused requests", n)
	}
	// Within the limit, chunked: the upstream gets the whole body with its length.
	resp, body := rawRequest(t, addr, head+"Transfer-Encoding: chunked\r\n\r\n"+chunk(600)+chunk(424)+"0\r\n\r\n")
	if resp.StatusCode != 200 || body["body_bytes"] != float64(1024) {
		t.Errorf("a 1024-byte chunked body: %d %v", resp.StatusCode, body)
	}
	if h := up.last(); h.Get("Transfer-Encoding") != "" {
		t.Errorf("the upstream got Transfer-Encoding %q, want the buffered body's Content-Length", h.Get("Transfer-Encoding"))
	}
	recs := g.stop()
	for _, rec := range recs {
		if rec.Status != 200 && (rec.CostCharged != 0 || rec.CostSettled != 0) {
			t.Errorf("refused body charged: %+v", rec)
		}
		if rec.Status == 502 {
			t.Errorf("a body problem answered 502: %+v", rec)
		}
	}
	if len(recs) != 4 {
		t.Errorf("%d records, want 4", len(recs))
	}
}

// TestServerProtocolErrorsCounted: the errors Go's HTTP server answers by
// itself (400 malformed, 431, 501, 505) are JSON, counted in metrics and
// ledgered; a keep-alive connection's later requests are unaffected (defect 6).
func TestServerProtocolErrorsCounted(t *testing.T) {
	up := newUpstream(t)
	g := startGW(t, basicConfig(up.URL, "server:\n  max_header_bytes: 4096\n"))
	addr := strings.TrimPrefix(g.url, "http://")
	for name, tc := range map[string]struct {
		raw    string
		status int
		code   string
	}{
		"malformed":       {"NOT A REQUEST LINE\r\n\r\n", 400, "bad_request"},
		"no host":         {"GET /v1/x HTTP/1.1\r\nX-API-Key: demo-key\r\n\r\n", 400, "bad_request"},
		"headers too big": {"GET /v1/x HTTP/1.1\r\nHost: gw\r\nX-Big: " + strings.Repeat("b", 64<<10) + "\r\n\r\n", 431, "headers_too_large"},
		"transfer coding": {"POST /v1/x HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: gzip\r\n\r\n", 501, "not_implemented"},
		"http version":    {"GET /v1/x HTTP/3.0\r\nHost: gw\r\n\r\n", 505, "http_version_not_supported"},
	} {
		resp, body := rawRequest(t, addr, tc.raw)
		if resp.StatusCode != tc.status || body["error"] != tc.code || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s: %d %v (%s), want %d %s in JSON", name, resp.StatusCode, body, resp.Header.Get("Content-Type"), tc.status, tc.code)
		}
	}
	for status, want := range map[string]float64{"400": 2, "431": 1, "501": 1, "505": 1} {
		if got := g.metric("gatewayd_protocol_errors_total", "status", status); got != want {
			t.Errorf("gatewayd_protocol_errors_total{status=%s} = %v, want %v", status, got, want)
		}
	}
	// The same connection: a good request, then a malformed one.
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	br := bufio.NewReader(c)
	fmt.Fprint(c, "GET /v1/x HTTP/1.1\r\nHost: gw\r\nX-API-Key: demo-key\r\n\r\n")
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("keep-alive request: %v %v", resp, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	fmt.Fprint(c, "GET /v1/x HTTP/1.1\r\n\r\n")
	if resp, err = http.ReadResponse(br, nil); err != nil || resp.StatusCode != 400 || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("malformed second request on a keep-alive connection: %v %v", resp, err)
	}
	recs := g.stop()
	var n int64
	for _, rec := range recs {
		if rec.Decision == "protocol_error" {
			n += rec.Requests()
			if rec.CostCharged != 0 || rec.KeyHash != "" {
				t.Errorf("protocol error record %+v", rec)
			}
		}
	}
	if n != 6 {
		t.Errorf("the ledger holds %d protocol errors, want 6", n)
	}
}

// TestTruncatedBodyIsTheClients: a Content-Length body whose bytes stop
// short (the client half-closes) is answered 400, blamed on the client, and
// refunded; never a 502 (defect 5).
func TestTruncatedBodyIsTheClients(t *testing.T) {
	up := newUpstream(t)
	g := startGW(t, basicConfig(up.URL, ""))
	c, err := net.DialTimeout("tcp", strings.TrimPrefix(g.url, "http://"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	fmt.Fprint(c, "POST /v1/upload HTTP/1.1\r\nHost: gw\r\nX-API-Key: demo-key\r\nContent-Length: 500\r\n\r\n"+strings.Repeat("a", 100))
	_ = c.(*net.TCPConn).CloseWrite()
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	if resp.StatusCode != 400 || body["error"] != "malformed_body" {
		t.Errorf("truncated body: %d %v, want 400 malformed_body", resp.StatusCode, body)
	}
	recs := g.stop()
	if len(recs) != 1 || recs[0].Status != 400 || recs[0].Decision != "bad_request" || recs[0].CostSettled != 0 {
		t.Errorf("records %+v, want one 400 bad_request settled at 0", recs)
	}
}
