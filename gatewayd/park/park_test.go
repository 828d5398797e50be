//go:build linux

package park

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func serve(t *testing.T, idle time.Duration) (*Listener, *http.Server, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pl := Wrap(ln, idle).(*Listener)
	srv := &http.Server{ConnState: ConnState, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s %d", r.Method, r.URL.Path, len(b))
	})}
	go func() { _ = srv.Serve(pl) }()
	t.Cleanup(func() { _ = srv.Close() })
	return pl, srv, ln.Addr().String()
}

func waitParked(t *testing.T, pl *Listener, n int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for pl.Parked() != n {
		if time.Now().After(deadline) {
			t.Fatalf("parked = %d, want %d", pl.Parked(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestKeepAliveConnectionParksBetweenRequests(t *testing.T) {
	pl, _, addr := serve(t, time.Minute)
	var dials int
	var mu sync.Mutex
	tr := &http.Transport{DialContext: func(ctx context.Context, network, a string) (net.Conn, error) {
		mu.Lock()
		dials++
		mu.Unlock()
		return (&net.Dialer{}).DialContext(ctx, network, a)
	}}
	cl := &http.Client{Transport: tr}
	for i := 0; i < 50; i++ {
		body := strings.Repeat("x", i*100)
		resp, err := cl.Post("http://"+addr+fmt.Sprintf("/r%d", i), "text/plain", strings.NewReader(body))
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if want := fmt.Sprintf("POST /r%d %d", i, len(body)); string(b) != want {
			t.Fatalf("request %d: %q, want %q", i, b, want)
		}
		waitParked(t, pl, 1)
	}
	if dials != 1 {
		t.Errorf("client dialled %d times, want 1 keep-alive connection", dials)
	}
}

func TestPipelinedRequests(t *testing.T) {
	_, _, addr := serve(t, time.Minute)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var req strings.Builder
	for i := 0; i < 5; i++ {
		fmt.Fprintf(&req, "GET /p%d HTTP/1.1\r\nHost: x\r\n\r\n", i)
	}
	if _, err := c.Write([]byte(req.String())); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	for i := 0; i < 5; i++ {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if want := fmt.Sprintf("GET /p%d 0", i); string(b) != want {
			t.Fatalf("response %d: %q, want %q", i, b, want)
		}
	}
}

func TestIdleTimeoutAndShutdownCloseParked(t *testing.T) {
	pl, srv, addr := serve(t, 1500*time.Millisecond)
	open := func() net.Conn {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return c
	}
	c1 := open()
	defer c1.Close()
	waitParked(t, pl, 1)
	// The idle timeout closes it: the client reads EOF.
	_ = c1.SetReadDeadline(time.Now().Add(20 * time.Second))
	if n, err := c1.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("idle connection: read %d, %v; want EOF", n, err)
	}
	waitParked(t, pl, 0)
	c2 := open()
	defer c2.Close()
	waitParked(t, pl, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	_ = c2.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := c2.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("parked connection after shutdown: %v, want EOF", err)
	}
}
