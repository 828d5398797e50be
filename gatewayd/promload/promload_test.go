package promload

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"tollgate/internal/promtest"
)

type counts struct {
	mu       sync.Mutex
	queries  map[string]int
	failures map[string]int
}

func (c *counts) Query(route string, _ time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.queries[route]++
}

func (c *counts) Failure(route string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.failures[route]++
}

func (c *counts) get(m map[string]int, route string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return m[route]
}

// Against a real Prometheus: a query's answer is cached and used, a query
// with no sample or several is refused, and a route falls back (not ok) while
// its query fails.
func TestSourceAgainstPrometheus(t *testing.T) {
	p := promtest.Start(t, promtest.Options{})
	obs := &counts{queries: map[string]int{}, failures: map[string]int{}}
	s, err := New(Options{URL: p.URL, TTL: time.Hour, Observer: obs, Queries: map[string]string{
		"ok":    "vector(0.42)",
		"empty": "gatewayd_no_such_series",
		"many":  `label_replace(vector(1), "a", "1", "", "") or label_replace(vector(2), "a", "2", "", "")`,
	}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if v, err := s.Refresh(ctx, "ok"); err != nil || v != 0.42 {
		t.Fatalf("Refresh(ok) = %v, %v; want 0.42", v, err)
	}
	for _, r := range []string{"empty", "many"} {
		if _, err := s.Refresh(ctx, r); !errors.Is(err, ErrNoSample) {
			t.Errorf("Refresh(%s) error %v, want ErrNoSample", r, err)
		}
	}
	// Load: the first call starts the query in the background and falls back.
	now := time.Now()
	if _, ok := s.Load("ok", now); ok {
		t.Fatal("Load before any answer reported ok")
	}
	promtest.Eventually(t, 10*time.Second, "the cached answer", func() (bool, string) {
		v, ok := s.Load("ok", now)
		return ok && v == 0.42, ""
	})
	n := obs.get(obs.queries, "ok")
	for i := 0; i < 10; i++ { // within the TTL: answered from the cache
		s.Load("ok", now.Add(time.Minute))
	}
	if got := obs.get(obs.queries, "ok"); got != n {
		t.Errorf("%d queries within the TTL, want none after the first (%d)", got-n, n)
	}
	s.Load("empty", now)
	promtest.Eventually(t, 10*time.Second, "the empty query's failure counted", func() (bool, string) {
		return obs.get(obs.failures, "empty") >= 1, ""
	})
	if _, ok := s.Load("empty", now); ok {
		t.Error("a route whose query gives no sample reports ok")
	}
	if _, ok := s.Load("unknown", now); ok {
		t.Error("a route without a query reports ok")
	}
}

// A Prometheus that is not there: every query fails and is counted.
func TestSourceUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	obs := &counts{queries: map[string]int{}, failures: map[string]int{}}
	s, err := New(Options{URL: "http://" + addr, TTL: time.Millisecond, Timeout: time.Second, Observer: obs,
		Queries: map[string]string{"r": "vector(1)"}})
	if err != nil {
		t.Fatal(err)
	}
	promtest.Eventually(t, 10*time.Second, "two failures counted", func() (bool, string) {
		_, ok := s.Load("r", time.Now())
		if ok {
			t.Fatal("ok from an unreachable Prometheus")
		}
		return obs.get(obs.failures, "r") >= 2, ""
	})
	if _, err := New(Options{URL: "http://x", TTL: 0}); err == nil {
		t.Error("New accepted a zero TTL")
	}
}
