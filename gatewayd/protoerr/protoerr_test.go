package protoerr

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestServerErrorsCaught runs a real http.Server on a wrapped loopback
// listener: the server's own 400 is reported and rewritten as JSON, a
// handler's 400 passes untouched, on one keep-alive connection.
func TestServerErrorsCaught(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var seen []int
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			Handled(r.Context())
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(400)
			fmt.Fprint(w, "the handler's own 400")
		}),
		ConnState:   ConnState(nil),
		ConnContext: ConnContext,
	}
	go srv.Serve(Wrap(ln, func(status int, _ string) { mu.Lock(); seen = append(seen, status); mu.Unlock() }))
	defer srv.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	fmt.Fprint(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 400 || resp.Header.Get("Content-Type") != "text/plain" {
		t.Fatalf("handler's response: %v %v", resp, err)
	}
	b, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(b), "handler's own") {
		t.Errorf("handler's body %q", b)
	}
	fmt.Fprint(c, "GET / HTTP/1.1\r\n\r\n") // no Host: the server's own 400
	resp, err = http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 400 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("server's response: %v %v", resp, err)
	}
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body["error"] != "bad_request" {
		t.Errorf("body %v %v", body, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 1 || seen[0] != 400 {
		t.Errorf("reported %v, want [400]", seen)
	}
}
