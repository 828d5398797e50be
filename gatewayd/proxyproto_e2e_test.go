package main

import (
	"bufio"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// rawGet sends one GET over a fresh connection from localIP, after the given
// PROXY protocol header ("" for none), and returns the status (0 and the
// error when the gateway does not answer).
func rawGet(t *testing.T, addr, localIP, header, path string) (int, error) {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(localIP)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte(header + "GET " + path + " HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n")); err != nil {
		return 0, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// TestProxyProtocol: behind an L4 balancer that sends a PROXY header, each
// client keeps its own per-IP budget on a public route; the trusted balancer
// must send the header, and any other peer must not.
func TestProxyProtocol(t *testing.T) {
	up := newUpstream(t)
	g := startGW(t, anonConfig(up.URL, "trusted_proxies: [127.0.0.1], proxy_protocol: true"))
	addr := strings.TrimPrefix(g.url, "http://")
	hdr := func(client string) string { return "PROXY TCP4 " + client + " 127.0.0.1 40000 8080\r\n" }
	for i := 1; i <= 3; i++ {
		if code, err := rawGet(t, addr, "127.0.0.1", hdr("203.0.113.9"), "/public/x"); code != 200 {
			t.Fatalf("client A request %d: %d %v", i, code, err)
		}
	}
	if code, err := rawGet(t, addr, "127.0.0.1", hdr("203.0.113.9"), "/public/x"); code != 429 {
		t.Fatalf("client A's 4th request: %d %v, want 429", code, err)
	}
	if code, err := rawGet(t, addr, "127.0.0.1", "PROXY TCP4 203.0.113.10 127.0.0.1 40001 8080\r\n", "/public/x"); code != 200 {
		t.Fatalf("client B: %d %v, want 200 (its own budget)", code, err)
	}
	// A v2 header works too: 12-byte signature, v2 PROXY, TCP over IPv4,
	// 12 bytes of addresses and ports.
	v2 := string([]byte{0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A, 0x21, 0x11, 0x00, 0x0C,
		198, 51, 100, 7, 127, 0, 0, 1, 0x9C, 0x40, 0x1F, 0x90})
	if code, err := rawGet(t, addr, "127.0.0.1", v2, "/public/x"); code != 200 {
		t.Fatalf("client C over PROXY v2: %d %v, want 200", code, err)
	}
	// The trusted balancer without a header: refused.
	if code, err := rawGet(t, addr, "127.0.0.1", "", "/public/x"); code != 0 {
		t.Fatalf("the trusted peer without a PROXY header was served: %d", code)
	} else {
		t.Logf("trusted peer without a header: %v", err)
	}
	// Another peer claiming an address: refused; the same peer without a
	// header is served as itself.
	if code, _ := rawGet(t, addr, "127.0.0.2", hdr("203.0.113.77"), "/public/x"); code != 0 {
		t.Fatalf("an untrusted peer's PROXY header was accepted: %d", code)
	}
	if code, err := rawGet(t, addr, "127.0.0.2", "", "/public/x"); code != 200 {
		t.Fatalf("an untrusted peer without a header: %d %v, want 200", code, err)
	}
	g.stop()
}
