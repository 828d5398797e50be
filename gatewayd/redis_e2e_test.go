package main

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

	"tollgate/gatewayd/auth"
	"tollgate/gatewayd/internal/testredis"
)

func TestRedisTwoNodesShareOneBudget(t *testing.T) {
	rs := testredis.Start(t)
	up := newUpstream(t)
	cfg := basicConfig(up.URL, fmt.Sprintf(`store:
  kind: redis
  redis: {addr: %s, timeout: 5s}
`, rs.Addr))
	a, b := startGW(t, cfg), startGW(t, cfg)
	var admitted, refused, other atomic.Int64
	var wg sync.WaitGroup
	for c := 0; c < 8; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			node := a
			if c%2 == 1 {
				node = b
			}
			for i := 0; i < 5; i++ {
				req, _ := http.NewRequest("GET", node.url+"/v1/x", nil)
				req.Header.Set("X-API-Key", "demo-key")
				resp, err := client.Do(req)
				if err != nil {
					other.Add(1)
					continue
				}
				resp.Body.Close()
				switch resp.StatusCode {
				case 200:
					admitted.Add(1)
				case 429:
					refused.Add(1)
				default:
					other.Add(1)
				}
			}
		}(c)
	}
	wg.Wait()
	// Burst 10, refill 1 per 10 minutes: the two nodes together admit 10.
	if admitted.Load() != 10 || refused.Load() != 30 || other.Load() != 0 {
		t.Errorf("admitted %d, refused %d, other %d; want 10, 30, 0", admitted.Load(), refused.Load(), other.Load())
	}
	na, nb := len(a.stop()), len(b.stop())
	if na+nb != 40 {
		t.Errorf("ledgers hold %d + %d records, want 40", na, nb)
	}
}

func TestRedisKilledFailOpenAndClosed(t *testing.T) {
	rs := testredis.Start(t)
	up := newUpstream(t)
	cfg := fmt.Sprintf(`
store:
  kind: redis
  redis: {addr: %s, timeout: 2s}
  breaker: {failures: 2, cooldown: 200ms}
auth:
  api_keys:
    keys:
      - {sha256: %s, tier: open}
      - {sha256: %s, tier: closed}
tiers:
  - {name: open, burst: 100, rate: 1, period: 10m, fail_open: true}
  - {name: closed, burst: 100, rate: 1, period: 10m, fail_open: false}
routes:
  - {name: v1, prefix: /v1/, upstream: %s}
ledger:
  dir: LEDGER
  redis_stream: {key: "tollgate:ledger:test"}
`, rs.Addr, demoKeyHash, hashOf("closed-key"), up.URL)
	g := startGW(t, cfg)
	for _, k := range []string{"demo-key", "closed-key"} {
		if r := do(t, "GET", g.url+"/v1/x", nil, key(k)); r.status != 200 || r.header.Get("RateLimit") == "" {
			t.Fatalf("%s with redis up: %d %s", k, r.status, r.raw)
		}
	}
	// The ledger's stream sink has the records once they are flushed.
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr})
	waitFor(t, "ledger records in the redis stream", func() bool {
		n, err := rdb.XLen(context.Background(), "tollgate:ledger:test").Result()
		return err == nil && n >= 2
	})
	rdb.Close()

	rs.Kill()
	for i := 0; i < 5; i++ {
		if r := do(t, "GET", g.url+"/v1/x", nil, key("demo-key")); r.status != 200 {
			t.Errorf("fail-open tier with redis down: %d %s", r.status, r.raw)
		}
		r := do(t, "GET", g.url+"/v1/x", nil, key("closed-key"))
		if r.status != 503 || r.body["error"] != "limiter_unavailable" || r.header.Get("Retry-After") == "" {
			t.Errorf("fail-closed tier with redis down: %d %s", r.status, r.raw)
		}
	}
	if n := g.metric("gatewayd_unmetered_total", "tier", "open"); n != 5 {
		t.Errorf("unmetered = %v, want 5", n)
	}
	recs := g.stop()
	var unmetered, unavailable int
	for _, rec := range recs {
		if rec.Unmetered {
			unmetered++
			if rec.Tier != "open" || rec.Status != 200 {
				t.Errorf("unmetered record %+v", rec)
			}
		}
		if rec.Decision == "unavailable" {
			unavailable++
		}
	}
	if unmetered != 5 || unavailable != 5 || len(recs) != 12 {
		t.Errorf("ledger: %d unmetered, %d unavailable, %d records; want 5, 5, 12", unmetered, unavailable, len(recs))
	}
}

func hashOf(k string) string { return auth.HashKey(k) }
