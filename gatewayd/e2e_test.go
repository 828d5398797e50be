package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"tollgate/gatewayd/headers"
	"tollgate/schema"
)

// basicConfig is example.yaml's shape with a refill slow enough (1 token per
// hour) that no test outcome depends on how fast the machine is.
func basicConfig(upstream string, extra string) string {
	return fmt.Sprintf(`
auth:
  api_keys:
    keys:
      - sha256: %s
        tier: basic
tiers:
  - name: basic
    burst: 10
    rate: 1
    period: 10m
routes:
  - name: v1
    prefix: /v1/
    methods: [GET, POST]
    upstream: %s
ledger:
  dir: LEDGER
  flush_interval: 20ms
%s`, demoKeyHash, upstream, extra)
}

func TestHeadersAnd429(t *testing.T) {
	up := newUpstream(t)
	g := startGW(t, basicConfig(up.URL, ""))
	for i := 1; i <= 10; i++ {
		r := do(t, "GET", g.url+"/v1/hello", nil, key("demo-key"))
		if r.status != 200 {
			t.Fatalf("request %d: status %d %s", i, r.status, r.raw)
		}
		pol, err := headers.ParseList(r.header.Get("RateLimit-Policy"))
		if err != nil || len(pol) != 1 || pol[0].Name != "basic" {
			t.Fatalf("RateLimit-Policy %q: %v", r.header.Get("RateLimit-Policy"), err)
		}
		if q, _ := pol[0].Int("q"); q != 10 {
			t.Errorf("q = %d, want 10", q)
		}
		if w, ok := pol[0].Int("w"); !ok || w < 1 {
			t.Errorf("w = %d %v, want a positive window", w, ok)
		}
		lim, err := headers.ParseList(r.header.Get("RateLimit"))
		if err != nil || len(lim) != 1 || lim[0].Name != "basic" {
			t.Fatalf("RateLimit %q: %v", r.header.Get("RateLimit"), err)
		}
		if rem, _ := lim[0].Int("r"); rem != int64(10-i) {
			t.Errorf("request %d: r = %d, want %d", i, rem, 10-i)
		}
		if _, ok := lim[0].Int("t"); !ok {
			t.Errorf("RateLimit lacks t: %q", r.header.Get("RateLimit"))
		}
		if r.header.Get("Retry-After") != "" {
			t.Errorf("Retry-After on an admitted request")
		}
		if r.body["api_key"] != "" {
			t.Errorf("upstream saw the raw API key %q", r.body["api_key"])
		}
		if r.body["tier"] != "basic" || r.body["request_id"] != r.header.Get("X-Request-Id") {
			t.Errorf("upstream saw tier %v, request id %v (response %q)", r.body["tier"], r.body["request_id"], r.header.Get("X-Request-Id"))
		}
	}
	r := do(t, "GET", g.url+"/v1/hello", nil, key("demo-key"))
	if r.status != 429 {
		t.Fatalf("11th request: status %d, want 429", r.status)
	}
	ra, err := strconv.Atoi(r.header.Get("Retry-After"))
	if err != nil || ra < 1 {
		t.Errorf("Retry-After %q: want a positive integer", r.header.Get("Retry-After"))
	}
	if r.header.Get("Content-Type") != "application/problem+json" || r.body["error"] != "rate_limited" ||
		r.body["policy"] != "basic" || r.body["retry_after_seconds"] != float64(ra) {
		t.Errorf("429 body %s (content-type %q)", r.raw, r.header.Get("Content-Type"))
	}
	if lim, _ := headers.ParseList(r.header.Get("RateLimit")); len(lim) != 1 {
		t.Errorf("429 lacks RateLimit: %q", r.header.Get("RateLimit"))
	} else if rem, _ := lim[0].Int("r"); rem != 0 {
		t.Errorf("429 r = %d", rem)
	}
	if strings.Contains(r.header.Get("RateLimit"), "upstream") {
		t.Error("upstream RateLimit header leaked")
	}
	// Errors are JSON too.
	if r := do(t, "GET", g.url+"/nope", nil, key("demo-key")); r.status != 404 || r.body["error"] != "no_route" {
		t.Errorf("unrouted: %d %s", r.status, r.raw)
	}
	if r := do(t, "DELETE", g.url+"/v1/x", nil, key("demo-key")); r.status != 405 || r.header.Get("Allow") != "GET, POST" {
		t.Errorf("DELETE: %d Allow %q", r.status, r.header.Get("Allow"))
	}
	if r := do(t, "GET", g.url+"/v1/../admin", nil, key("demo-key")); r.status != 404 {
		t.Errorf("path traversal: %d %s", r.status, r.raw)
	}
	if up.count() != 10 {
		t.Errorf("upstream got %d requests, want 10", up.count())
	}
	recs := g.stop()
	byDecision, total := map[string]int{}, 0
	for _, rec := range recs {
		byDecision[rec.Decision] += int(rec.Requests()) // 404s and 405s of one client and second are one record
		total += int(rec.Requests())
		if rec.Decision == "allowed" && (rec.KeyHash != demoKeyHash || rec.CostCharged != 1 || rec.Route != "v1" || rec.Status != 200) {
			t.Errorf("record %+v", rec)
		}
	}
	if byDecision["allowed"] != 10 || byDecision["limited"] != 1 || total != 14 {
		t.Errorf("ledger decisions %v (%d requests), want 10 allowed, 1 limited, 14 in all", byDecision, total)
	}
}

func writeFile(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestJWTAndAPIKeys(t *testing.T) {
	up := newUpstream(t)
	dir := t.TempDir()
	secret := []byte("an-hs256-secret-of-at-least-32-bytes!")
	noteSecret(string(secret))
	secretFile := writeFile(t, dir, "hs.secret", secret)
	ek, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(&ek.PublicKey)
	ecFile := writeFile(t, dir, "es.pem", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	rk1, _ := rsa.GenerateKey(rand.Reader, 2048)
	rk2, _ := rsa.GenerateKey(rand.Reader, 2048)
	var mu sync.Mutex
	jwks := []map[string]string{rsaJWK("r1", &rk1.PublicKey)}
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": jwks})
	}))
	defer idp.Close()
	cfg := fmt.Sprintf(`
auth:
  api_keys:
    keys:
      - sha256: %s
        tier: basic
  jwt:
    algorithms: [HS256, RS256, ES256]
    hmac_secret_file: %s
    public_keys:
      - file: %s
    jwks_url: %s
    jwks_min_refresh: 1ms
    issuer: https://idp.example
    tier_claim: plan
tiers:
  - {name: basic, burst: 100, rate: 1, period: 10m}
  - {name: pro, burst: 100, rate: 1, period: 10m}
routes:
  - {name: v1, prefix: /v1/, upstream: %s}
ledger: {dir: LEDGER}
`, demoKeyHash, secretFile, ecFile, idp.URL, up.URL)
	g := startGW(t, cfg)
	claims := func(plan string, exp time.Duration) jwt.MapClaims {
		return jwt.MapClaims{"sub": "user-7", "iss": "https://idp.example", "plan": plan, "exp": time.Now().Add(exp).Unix()}
	}
	sign := func(m jwt.SigningMethod, k any, kid string, c jwt.MapClaims) map[string]string {
		tok := jwt.NewWithClaims(m, c)
		if kid != "" {
			tok.Header["kid"] = kid
		}
		s, err := tok.SignedString(k)
		if err != nil {
			t.Fatal(err)
		}
		noteSecret(s)
		return map[string]string{"Authorization": "Bearer " + s}
	}
	for name, tc := range map[string]struct {
		hdr      map[string]string
		status   int
		tier     string
		errorStr string
	}{
		"api key":          {key("demo-key"), 200, "basic", ""},
		"wrong api key":    {key("nope"), 401, "", "invalid_api_key"},
		"no credentials":   {nil, 401, "", "missing_credentials"},
		"HS256":            {sign(jwt.SigningMethodHS256, secret, "", claims("pro", time.Hour)), 200, "pro", ""},
		"ES256 file key":   {sign(jwt.SigningMethodES256, ek, "", claims("basic", time.Hour)), 200, "basic", ""},
		"RS256 JWKS":       {sign(jwt.SigningMethodRS256, rk1, "r1", claims("pro", time.Hour)), 200, "pro", ""},
		"expired":          {sign(jwt.SigningMethodHS256, secret, "", claims("pro", -time.Hour)), 401, "", "token_expired"},
		"unknown tier":     {sign(jwt.SigningMethodHS256, secret, "", claims("gold", time.Hour)), 401, "", "unknown_tier"},
		"bad signature":    {sign(jwt.SigningMethodHS256, []byte("another-secret-of-at-least-32-bytes!!"), "", claims("pro", time.Hour)), 401, "", "invalid_token"},
		"not bearer":       {map[string]string{"Authorization": "Basic dXNlcjpwYXNz"}, 401, "", "invalid_token"},
		"wrong api key 2":  {key("not-a-known-key"), 401, "", "invalid_api_key"},
		"RS256 rotated in": {nil, 0, "", ""},
	} {
		if tc.status == 0 {
			continue
		}
		r := do(t, "GET", g.url+"/v1/me", nil, tc.hdr)
		if r.status != tc.status {
			t.Errorf("%s: status %d %s, want %d", name, r.status, r.raw, tc.status)
			continue
		}
		if tc.status == 200 && r.body["tier"] != tc.tier {
			t.Errorf("%s: upstream saw tier %v, want %s", name, r.body["tier"], tc.tier)
		}
		if tc.status == 401 && (r.body["error"] != tc.errorStr || r.header.Get("Content-Type") != "application/json") {
			t.Errorf("%s: body %s, want error %q", name, r.raw, tc.errorStr)
		}
	}
	// kid rotation: the provider publishes r2; a token with kid r2 makes the
	// gateway refetch the set.
	mu.Lock()
	jwks = []map[string]string{rsaJWK("r2", &rk2.PublicKey)}
	mu.Unlock()
	if r := do(t, "GET", g.url+"/v1/me", nil, sign(jwt.SigningMethodRS256, rk2, "r2", claims("basic", time.Hour))); r.status != 200 {
		t.Errorf("rotated key r2: %d %s", r.status, r.raw)
	}
	if r := do(t, "GET", g.url+"/v1/me", nil, sign(jwt.SigningMethodRS256, rk1, "r1", claims("basic", time.Hour))); r.status != 401 {
		t.Errorf("retired key r1: %d %s", r.status, r.raw)
	}
	recs := g.stop()
	n401 := 0
	for _, rec := range recs {
		if rec.Status == 401 {
			n401 += int(rec.Requests()) // one record per client and second, with a count
			if rec.Decision != "unauthenticated" {
				t.Errorf("401 recorded as %q", rec.Decision)
			}
		}
	}
	if n401 != 8 {
		t.Errorf("ledger has %d 401s, want 8", n401)
	}
}

func rsaJWK(kid string, k *rsa.PublicKey) map[string]string {
	return map[string]string{"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
		"n": base64.RawURLEncoding.EncodeToString(k.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.E)).Bytes())}
}

func TestCORSPreflightIsNeverCharged(t *testing.T) {
	up := newUpstream(t)
	cfg := fmt.Sprintf(`
auth:
  api_keys:
    keys: [{sha256: %s, tier: basic}]
tiers:
  - {name: basic, burst: 1, rate: 1, period: 10m}
routes:
  - name: v1
    prefix: /v1/
    methods: [GET, POST]
    upstream: %s
    cors:
      allow_origins: [https://app.example]
      max_age: 1m
ledger: {dir: LEDGER}
`, demoKeyHash, up.URL)
	g := startGW(t, cfg)
	pre := map[string]string{"Origin": "https://app.example", "Access-Control-Request-Method": "POST",
		"Access-Control-Request-Headers": "content-type, x-api-key"}
	for i := 0; i < 5; i++ {
		r := do(t, "OPTIONS", g.url+"/v1/items", nil, pre)
		if r.status != 204 || r.header.Get("Access-Control-Allow-Origin") != "https://app.example" ||
			!strings.Contains(r.header.Get("Access-Control-Allow-Methods"), "POST") || r.header.Get("Access-Control-Max-Age") != "60" {
			t.Fatalf("preflight %d: %d %v", i, r.status, r.header)
		}
	}
	bad := map[string]string{"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
	if r := do(t, "OPTIONS", g.url+"/v1/items", nil, bad); r.status != 403 || r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("foreign origin preflight: %d %v", r.status, r.header)
	}
	hdr := map[string]string{"X-API-Key": "demo-key", "Origin": "https://app.example"}
	r := do(t, "POST", g.url+"/v1/items", strings.NewReader("{}"), hdr)
	if r.status != 200 {
		t.Fatalf("first POST after 6 preflights: %d %s (preflights were charged?)", r.status, r.raw)
	}
	if r.header.Get("Access-Control-Allow-Origin") != "https://app.example" || !strings.Contains(r.header.Get("Access-Control-Expose-Headers"), "RateLimit") {
		t.Errorf("CORS response headers %v", r.header)
	}
	r = do(t, "POST", g.url+"/v1/items", strings.NewReader("{}"), hdr)
	if r.status != 429 || r.header.Get("Access-Control-Allow-Origin") != "https://app.example" {
		t.Errorf("second POST: %d, ACAO %q (a browser must be able to read the 429)", r.status, r.header.Get("Access-Control-Allow-Origin"))
	}
	if up.count() != 1 {
		t.Errorf("upstream saw %d requests, want 1 (preflights answered at the gateway)", up.count())
	}
	for _, rec := range g.stop() {
		if rec.Decision == "preflight" && rec.CostCharged != 0 {
			t.Errorf("preflight charged: %+v", rec)
		}
	}
}

func TestBodyAndTimeoutLimits(t *testing.T) {
	up := newUpstream(t)
	cfg := basicConfig(up.URL, `server:
  max_body_bytes: 1024
`)
	cfg = strings.Replace(cfg, "    upstream: "+up.URL, "    upstream: "+up.URL+"\n    timeout: 2s", 1)
	g := startGW(t, cfg)
	if r := do(t, "POST", g.url+"/v1/upload", bytes.NewReader(make([]byte, 1024)), key("demo-key")); r.status != 200 || r.body["body_bytes"] != float64(1024) {
		t.Fatalf("1024-byte body: %d %s", r.status, r.raw)
	}
	r := do(t, "POST", g.url+"/v1/upload", bytes.NewReader(make([]byte, 4096)), key("demo-key"))
	if r.status != 413 || r.body["error"] != "body_too_large" {
		t.Errorf("declared 4096-byte body: %d %s", r.status, r.raw)
	}
	// No Content-Length: the limit trips while streaming to the upstream.
	r = do(t, "POST", g.url+"/v1/upload", io.MultiReader(bytes.NewReader(make([]byte, 4096))), key("demo-key"))
	if r.status != 413 || r.body["error"] != "body_too_large" {
		t.Errorf("chunked 4096-byte body: %d %s", r.status, r.raw)
	}
	r = do(t, "GET", g.url+"/v1/slow?delay=30s", nil, key("demo-key"))
	if r.status != 504 || r.body["error"] != "upstream_timeout" {
		t.Errorf("slow upstream: %d %s, want 504", r.status, r.raw)
	}
	recs := g.stop()
	statuses := map[int]int{}
	for _, rec := range recs {
		statuses[rec.Status]++
	}
	if statuses[413] != 2 || statuses[504] != 1 || statuses[200] != 1 {
		t.Errorf("ledger statuses %v", statuses)
	}
}

func TestSlowClientHeaderTimeout(t *testing.T) {
	up := newUpstream(t)
	g := startGW(t, basicConfig(up.URL, "server:\n  read_header_timeout: 200ms\n"))
	conn, err := (&netDialer{}).dial(strings.TrimPrefix(g.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Half a request line, then silence: the server must close the connection.
	if _, err := conn.Write([]byte("GET /v1/x HTTP/1.1\r\nHost: x\r\n")); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	buf := make([]byte, 512)
	n, err := conn.Read(buf)
	if err == nil && !strings.Contains(string(buf[:n]), "408") {
		t.Errorf("slow client got %q, want the connection closed or a 408", buf[:n])
	}
	if ne, ok := err.(interface{ Timeout() bool }); ok && ne.Timeout() {
		t.Error("server kept a slow client's connection open past read_header_timeout")
	}
}

func TestPenaltyBoxShadowAndOperational(t *testing.T) {
	up := newUpstream(t)
	cfg := fmt.Sprintf(`
auth:
  api_keys:
    keys: [{sha256: %s, tier: basic}]
tiers:
  - name: basic
    burst: 4
    rate: 1
    period: 10m
    operational: {burst: 50, rate: 1}
    shadow: {algorithm: gcra, burst: 2}
routes:
  - {name: v1, prefix: /v1/, upstream: %s}
  - {name: health, prefix: /v1/health, upstream: %s, operational: true}
penalty: {threshold: 2, window: 1h, cooldown: 1h}
ledger: {dir: LEDGER}
`, demoKeyHash, up.URL, up.URL)
	g := startGW(t, cfg)
	// Operational route: its own bucket, never the tier's budget.
	for i := 0; i < 10; i++ {
		if r := do(t, "GET", g.url+"/v1/health", nil, key("demo-key")); r.status != 200 || !strings.Contains(r.header.Get("RateLimit-Policy"), `"basic-ops"`) {
			t.Fatalf("health %d: %d policy %q", i, r.status, r.header.Get("RateLimit-Policy"))
		}
	}
	want := []int{200, 200, 200, 200, 429, 429, 429, 429}
	codes := []string{"", "", "", "", "rate_limited", "rate_limited", "rate_limited", "penalty_box"}
	for i, w := range want {
		r := do(t, "GET", g.url+"/v1/x", nil, key("demo-key"))
		if r.status != w || (codes[i] != "" && r.body["error"] != codes[i]) {
			t.Errorf("request %d: %d %s, want %d %s", i+1, r.status, r.raw, w, codes[i])
		}
	}
	// Shadow: the candidate (burst 2) would have refused requests 3 and 4.
	if d := g.metric("gatewayd_shadow_disagreements_total", "route", "v1", "tier", "basic", "decision", "limited"); d != 2 {
		t.Errorf("shadow disagreements = %v, want 2", d)
	}
	recs := g.stop()
	var dis, boxed int
	for _, rec := range recs {
		if rec.ShadowDisagrees {
			dis++
		}
		if rec.Decision == "penalty" {
			boxed++
		}
	}
	if dis != 2 || boxed != 1 {
		t.Errorf("ledger: %d disagreements, %d penalty refusals; want 2 and 1", dis, boxed)
	}
}

func TestInFlightLimitSheds(t *testing.T) {
	up := newUpstream(t)
	g := startGW(t, basicConfig(up.URL, "server:\n  max_in_flight: 2\n"))
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("GET", g.url+"/v1/hold?hold=1&k="+strconv.Itoa(i), nil)
			req.Header.Set("X-API-Key", "demo-key")
			resp, err := client.Do(req)
			if err == nil {
				resp.Body.Close()
			}
		}()
	}
	// Drain the arrival signals until both slow requests are at the upstream.
	waitFor(t, "two requests at the upstream", func() bool { return up.count() >= 2 })
	r := do(t, "GET", g.url+"/v1/x", nil, key("demo-key"))
	if r.status != 503 || r.body["error"] != "overloaded" || r.header.Get("Retry-After") == "" {
		t.Errorf("third request: %d %s, want a fast 503", r.status, r.raw)
	}
	up.release()
	wg.Wait()
}

func TestSIGTERMDuringLoad(t *testing.T) {
	up := newUpstream(t)
	g := startGW(t, basicConfig(up.URL, "shutdown: {drain_delay: 300ms, grace: 30s}\n"))
	// The basic tier admits 10 and refuses the rest with 429: both kinds of
	// answer must reach the ledger; the slow admitted ones must survive the drain.
	type outcome struct {
		start  time.Time
		status int
		err    error
	}
	var mu sync.Mutex
	var outs []outcome
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for c := 0; c < 8; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := &http.Client{Timeout: 30 * time.Second}
			for {
				select {
				case <-stop:
					return
				default:
				}
				req, _ := http.NewRequest("GET", g.url+"/v1/work?delay=400ms", nil)
				req.Header.Set("X-API-Key", "demo-key")
				st := time.Now()
				resp, err := cl.Do(req)
				o := outcome{start: st, err: err}
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					o.status = resp.StatusCode
				}
				mu.Lock()
				outs = append(outs, o)
				mu.Unlock()
				if err != nil {
					return // the listener is closed: this client is done
				}
			}
		}()
	}
	// Wait until requests are in flight at the upstream, then SIGTERM.
	waitFor(t, "requests in flight", func() bool { return up.count() >= 8 })
	sigAt := time.Now()
	g.signal(syscall.SIGTERM)
	waitFor(t, "readyz 503", func() bool {
		resp, err := http.Get(g.admin + "/readyz")
		if err != nil {
			return true // already gone
		}
		resp.Body.Close()
		return resp.StatusCode == 503
	})
	code := g.wait()
	close(stop)
	wg.Wait()
	if code != 0 {
		t.Fatalf("exit code %d", code)
	}
	answered := 0
	for _, o := range outs {
		if o.err == nil {
			answered++
			if o.status != 200 && o.status != 429 {
				t.Errorf("a request got %d", o.status)
			}
		} else if o.start.Before(sigAt) {
			t.Errorf("a request sent before SIGTERM failed: %v", o.err)
		}
	}
	recs, _, err := schema.ReadLedgerAll(g.ledger)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != answered {
		t.Errorf("ledger has %d records, clients got %d answers", len(recs), answered)
	}
	if answered < 8 {
		t.Errorf("only %d answers", answered)
	}
	if !strings.Contains(g.log.String(), "draining") {
		t.Error("no draining log line")
	}
}

func TestSIGHUPReload(t *testing.T) {
	up := newUpstream(t)
	g := startGW(t, basicConfig(up.URL, ""))
	if r := do(t, "GET", g.url+"/v2/x", nil, key("demo-key")); r.status != 404 {
		t.Fatalf("/v2 before reload: %d", r.status)
	}
	cfg := strings.Replace(basicConfig(up.URL, ""), "routes:\n", fmt.Sprintf("routes:\n  - {name: v2, prefix: /v2/, upstream: %s}\n", up.URL), 1)
	cfg = strings.ReplaceAll(cfg, "LEDGER", g.ledger)
	if err := os.WriteFile(g.cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	g.signal(syscall.SIGHUP)
	waitFor(t, "reload applied", func() bool { return g.metric("gatewayd_config_reloads_total", "decision", "applied") == 1 })
	if r := do(t, "GET", g.url+"/v2/x", nil, key("demo-key")); r.status != 200 {
		t.Fatalf("/v2 after reload: %d %s", r.status, r.raw)
	}
	// Budgets survive a reload: 1 request used on /v2, 9 left on the same key.
	if lim, _ := headers.ParseList(do(t, "GET", g.url+"/v1/x", nil, key("demo-key")).header.Get("RateLimit")); len(lim) == 1 {
		if rem, _ := lim[0].Int("r"); rem != 8 {
			t.Errorf("remaining after reload = %d, want 8 (state kept across reload)", rem)
		}
	}
	bad := strings.Replace(cfg, "burst: 10", "burst: -3", 1) + "bogus_field: 1\n"
	if err := os.WriteFile(g.cfgPath, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	g.signal(syscall.SIGHUP)
	waitFor(t, "reload refused", func() bool { return g.metric("gatewayd_config_reloads_total", "decision", "refused") == 1 })
	// The log line may land after the metric moves: wait for it.
	waitFor(t, "the refusal's reason in the log", func() bool {
		return strings.Contains(g.log.String(), "reload refused") && strings.Contains(g.log.String(), "bogus_field")
	})
	// Every problem at once: the decode error does not hide the validation one.
	if !strings.Contains(g.log.String(), "tiers[0].burst: must be > 0, got -3") {
		t.Errorf("validation problem hidden behind the decode error:\n%s", g.log.String())
	}
	if r := do(t, "GET", g.url+"/v2/x", nil, key("demo-key")); r.status != 200 {
		t.Errorf("/v2 after a refused reload: %d (the old config must stay)", r.status)
	}
	semantic := strings.Replace(cfg, "burst: 10", "burst: -3", 1)
	if err := os.WriteFile(g.cfgPath, []byte(semantic), 0o600); err != nil {
		t.Fatal(err)
	}
	g.signal(syscall.SIGHUP)
	waitFor(t, "second refusal", func() bool { return g.metric("gatewayd_config_reloads_total", "decision", "refused") == 2 })
	waitFor(t, "the second refusal's reason in the log", func() bool {
		return strings.Count(g.log.String(), "tiers[0].burst: must be > 0, got -3") == 2
	})
	g.stop()
}

func TestCheckAndHelpFlags(t *testing.T) {
	out, err := execOut(gatewaydBin, "-help")
	if err != nil {
		t.Fatalf("-help: %v", err)
	}
	for _, f := range []string{"-config", "-listen", "-admin-listen", "-log-level", "-log-format", "-check", "SIGHUP", "SIGTERM"} {
		if !strings.Contains(out, f) {
			t.Errorf("-help does not explain %s", f)
		}
	}
	if out, err := execOut(gatewaydBin, "-check", "-config", "example.yaml"); err != nil {
		t.Errorf("example.yaml: %v %s", err, out)
	}
	bad := writeFile(t, t.TempDir(), "bad.yaml", []byte("listen: nope\ntiers: []\n"))
	out, err = execOut(gatewaydBin, "-check", "-config", bad)
	if err == nil || !strings.Contains(out, `listen: must be host:port, got "nope"`) || !strings.Contains(out, "tiers: at least one tier") {
		t.Errorf("bad config: err %v, output %s", err, out)
	}
}

func TestObservedLatencySettlesTheCost(t *testing.T) {
	up := newUpstream(t)
	cfg := fmt.Sprintf(`
auth:
  api_keys:
    keys: [{sha256: %s, tier: basic}]
tiers:
  - {name: basic, burst: 20, rate: 1, period: 10m}
routes:
  - {name: v1, prefix: /v1/, upstream: %s, cost: 1, reference: 100ms, timeout: 5s}
  - {name: flaky, prefix: /flaky/, upstream: http://127.0.0.1:1, cost: 2}
pricing: {dynamic: true, min_multiplier: 0.5, max_multiplier: 4}
ledger: {dir: LEDGER}
`, demoKeyHash, up.URL)
	g := startGW(t, cfg)
	// 300 ms of service time against a 100 ms reference: reserve 1, settle to
	// between 3 and 4 (the max multiplier) tokens.
	if r := do(t, "GET", g.url+"/v1/report?delay=300ms", nil, key("demo-key")); r.status != 200 {
		t.Fatalf("slow request: %d %s", r.status, r.raw)
	}
	r := do(t, "GET", g.url+"/v1/next", nil, key("demo-key"))
	lim, _ := headers.ParseList(r.header.Get("RateLimit"))
	if len(lim) != 1 {
		t.Fatalf("RateLimit %q", r.header.Get("RateLimit"))
	}
	// 20 - (3..4) - (the next request's reservation of about 1, the
	// price having moved at most one step) leaves at most 16.
	if rem, _ := lim[0].Int("r"); rem > 16 {
		t.Errorf("remaining %d after a 300 ms request: the settle did not debit the observed cost", rem)
	}
	// An unreachable upstream: 502, reserved cost refunded.
	if r := do(t, "GET", g.url+"/flaky/x", nil, key("demo-key")); r.status != 502 || r.body["error"] != "upstream_unavailable" {
		t.Errorf("unreachable upstream: %d %s", r.status, r.raw)
	}
	recs := g.stop()
	var slow, flaky *schema.LedgerRecord
	for i := range recs {
		switch recs[i].Path {
		case "/v1/report":
			slow = &recs[i]
		case "/flaky/x":
			flaky = &recs[i]
		}
	}
	if slow == nil || slow.CostCharged != 1 || slow.CostSettled < 3 || slow.CostSettled > 4 || slow.UpstreamMS < 300 {
		t.Errorf("slow request record %+v: want charged 1, settled in [3, 4], upstream >= 300 ms", slow)
	}
	if flaky == nil || flaky.CostCharged != 2 || flaky.CostSettled != 0 || flaky.Status != 502 {
		t.Errorf("failed request record %+v: want charged 2, settled 0", flaky)
	}
}
