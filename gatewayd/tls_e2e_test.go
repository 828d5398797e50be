package main

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"tollgate/gatewayd/config"
	"tollgate/gatewayd/internal/testcerts"
)

// tlsClient trusts exactly the certificate in c and speaks HTTP/2 when h2.
func tlsClient(t *testing.T, c config.TLS, h2 bool) *http.Client {
	t.Helper()
	pemBytes, err := os.ReadFile(c.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		t.Fatal("no certificate in", c.CertFile)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: h2}
	if !h2 {
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// TestTLSTermination: gatewayd terminates TLS (HTTP/2 and HTTP/1.1) with the
// same headers and limits as in clear text, serves a renewed certificate
// after SIGHUP without a restart, and refuses a reload whose key does not
// match its certificate, keeping the one it serves.
func TestTLSTermination(t *testing.T) {
	up := newUpstream(t)
	dir := t.TempDir()
	first := testcerts.WritePair(t, dir, 101, time.Now().Add(24*time.Hour))
	cfg := basicConfig(up.URL, "server:\n  tls: {cert_file: "+first.CertFile+", key_file: "+first.KeyFile+"}\n")
	g := startGW(t, cfg)
	url := strings.Replace(g.url, "http://", "https://", 1) + "/v1/x"

	get := func(c *http.Client) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("X-API-Key", "demo-key")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	h2, h1 := tlsClient(t, first, true), tlsClient(t, first, false)
	r := get(h2)
	if r.StatusCode != 200 || r.Proto != "HTTP/2.0" || r.Header.Get("RateLimit-Policy") == "" || r.Header.Get("RateLimit") == "" {
		t.Fatalf("HTTP/2: %d %s, RateLimit-Policy %q, RateLimit %q", r.StatusCode, r.Proto, r.Header.Get("RateLimit-Policy"), r.Header.Get("RateLimit"))
	}
	if r.TLS == nil || r.TLS.PeerCertificates[0].SerialNumber.Int64() != 101 {
		t.Fatalf("served certificate %v, want serial 101", r.TLS)
	}
	// Burst 10 over both protocols: nine more admitted, then a 429.
	for i := 2; i <= 10; i++ {
		c := h1
		if i%2 == 0 {
			c = h2
		}
		if r := get(c); r.StatusCode != 200 {
			t.Fatalf("request %d: %d", i, r.StatusCode)
		}
	}
	if r := get(h1); r.StatusCode != 429 || r.Proto != "HTTP/1.1" || r.Header.Get("Retry-After") == "" {
		t.Fatalf("11th request: %d %s Retry-After %q", r.StatusCode, r.Proto, r.Header.Get("Retry-After"))
	}
	// A plain-text request to the TLS port is not served.
	if resp, err := http.Get(g.url + "/v1/x"); err == nil {
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Errorf("clear-text request to the TLS listener: %d, want 400", resp.StatusCode)
		}
	}

	// Renewal: the same paths now hold serial 102; SIGHUP; a new handshake
	// gets it.
	renewed := testcerts.WritePair(t, dir, 102, time.Now().Add(48*time.Hour))
	g.signal(syscall.SIGHUP)
	waitFor(t, "reload applied", func() bool { return g.metric("gatewayd_config_reloads_total", "decision", "applied") == 1 })
	if r := get(tlsClient(t, renewed, false)); r.TLS == nil || r.TLS.PeerCertificates[0].SerialNumber.Int64() != 102 {
		t.Fatalf("after SIGHUP the certificate is %v, want serial 102", r.TLS)
	}

	// A key that does not match: the reload is refused and 102 stays.
	other := testcerts.WritePair(t, t.TempDir(), 103, time.Now().Add(time.Hour))
	key, err := os.ReadFile(other.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(renewed.KeyFile, key, 0o600); err != nil {
		t.Fatal(err)
	}
	g.signal(syscall.SIGHUP)
	waitFor(t, "reload refused", func() bool { return g.metric("gatewayd_config_reloads_total", "decision", "refused") == 1 })
	if !strings.Contains(g.log.String(), "server.tls") {
		t.Errorf("the refusal does not name server.tls:\n%s", g.log.String())
	}
	if r := get(tlsClient(t, renewed, false)); r.TLS == nil || r.TLS.PeerCertificates[0].SerialNumber.Int64() != 102 {
		t.Fatalf("after a refused reload the certificate is %v, want serial 102 still", r.TLS)
	}
	g.stop()
}

// TestTLSCheckRejectsBadPair: -check names the field and the file.
func TestTLSCheckRejectsBadPair(t *testing.T) {
	up := newUpstream(t)
	dir := t.TempDir()
	c := testcerts.WritePair(t, dir, 1, time.Now().Add(time.Hour))
	path := dir + "/gatewayd.yaml"
	cfg := strings.ReplaceAll(basicConfig(up.URL, "server:\n  tls: {cert_file: "+c.CertFile+", key_file: "+dir+"/missing.pem}\n"), "LEDGER", dir+"/ledger")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(gatewaydBin, "-config", path, "-check").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "server.tls") || !strings.Contains(string(out), "missing.pem") {
		t.Fatalf("-check with a missing key file: err %v, output:\n%s", err, out)
	}
}
