package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

	"tollgate/gatewayd/auth"
	"tollgate/internal/redistest"
)

func TestRedisTwoNodesShareOneBudget(t *testing.T) {
	rs := redistest.StartServer(t)
	up := newUpstream(t)
	cfg := basicConfig(up.URL, fmt.Sprintf(`store:
  kind: redis
  redis: {addr: %s, timeout: 5s}
`, rs.Addr()))
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

// TestRedisClusterTwoNodesShareOneBudget: the same as with one server, on a
// real three-master Redis Cluster (store.redis.cluster_addrs): two nodes
// admit exactly the burst of 10 between them, whichever node owns the slot.
func TestRedisClusterTwoNodesShareOneBudget(t *testing.T) {
	addrs := redistest.StartCluster(t, 3)
	up := newUpstream(t)
	cfg := basicConfig(up.URL, fmt.Sprintf(`store:
  kind: redis
  redis: {cluster_addrs: [%s], timeout: 5s}
`, strings.Join(addrs, ", ")))
	a, b := startGW(t, cfg), startGW(t, cfg)
	admitted, refused := 0, 0
	for i := 0; i < 30; i++ {
		g := a
		if i%2 == 1 {
			g = b
		}
		switch r := do(t, "GET", g.url+"/v1/x", nil, key("demo-key")); r.status {
		case 200:
			admitted++
		case 429:
			refused++
		default:
			t.Fatalf("request %d: status %d: %s", i, r.status, r.raw)
		}
	}
	if admitted != 10 || refused != 20 {
		t.Errorf("admitted %d, refused %d; want 10 and 20", admitted, refused)
	}
	if a.metric("gatewayd_store_errors") != 0 || b.metric("gatewayd_store_errors") != 0 {
		t.Errorf("store errors on a healthy cluster: %v and %v", a.metric("gatewayd_store_errors"), b.metric("gatewayd_store_errors"))
	}
	if na, nb := len(a.stop()), len(b.stop()); na+nb != 30 {
		t.Errorf("ledgers hold %d + %d records, want 30", na, nb)
	}
}

// TestRedisSharedPenaltyBox: node A boxes a key that keeps ignoring its
// 429s; with penalty.shared node B refuses the key from its own box at once,
// before B ever saw a 429 for it, and without a store call.
func TestRedisSharedPenaltyBox(t *testing.T) {
	rs := redistest.StartServer(t)
	up := newUpstream(t)
	cfg := basicConfig(up.URL, fmt.Sprintf(`store:
  kind: redis
  redis: {addr: %s, timeout: 5s}
penalty: {threshold: 2, window: 1m, cooldown: 1m, shared: true}
`, rs.Addr()))
	cfg = strings.Replace(cfg, "burst: 10", "burst: 1", 1)
	a, b := startGW(t, cfg), startGW(t, cfg)
	want := []int{200, 429, 429, 429, 429}
	codes := []string{"", "rate_limited", "rate_limited", "rate_limited", "penalty_box"}
	for i, w := range want {
		r := do(t, "GET", a.url+"/v1/x", nil, key("demo-key"))
		if r.status != w || (codes[i] != "" && r.body["error"] != codes[i]) {
			t.Fatalf("node A request %d: %d %v, want %d %s", i+1, r.status, r.body["error"], w, codes[i])
		}
	}
	// A boxed the key on its third 429 and published it; B applies it.
	waitFor(t, "node B to receive the shared box", func() bool { return b.metric("gatewayd_penalty_shared_received") >= 1 })
	r := do(t, "GET", b.url+"/v1/x", nil, key("demo-key"))
	if r.status != 429 || r.body["error"] != "penalty_box" || r.header.Get("Retry-After") == "" {
		t.Fatalf("node B's first request for the boxed key: %d %v Retry-After %q, want 429 penalty_box", r.status, r.body["error"], r.header.Get("Retry-After"))
	}
	recs := b.stop()
	if len(recs) != 1 || recs[0].Decision != "penalty" {
		t.Errorf("node B's ledger: %+v, want one penalty record", recs)
	}
	a.stop()
}

// TestRedisLeasesShareOneBudget: two nodes lease batches of 3 tokens from one
// redis-server (burst 10, no refill to speak of). Leased tokens leave the
// shared budget when taken, so the nodes together still admit exactly 10, and
// the requests answered from a lease make no store call.
func TestRedisLeasesShareOneBudget(t *testing.T) {
	rs := redistest.StartServer(t)
	up := newUpstream(t)
	cfg := basicConfig(up.URL, fmt.Sprintf(`store:
  kind: redis
  redis: {addr: %s, timeout: 5s}
  lease: {batch: 3, ttl: 10m}
`, rs.Addr()))
	a, b := startGW(t, cfg), startGW(t, cfg)
	send := func(g *gw, n int) (ok, refused int) {
		for i := 0; i < n; i++ {
			switch r := do(t, "GET", g.url+"/v1/x", nil, key("demo-key")); r.status {
			case 200:
				ok++
			case 429:
				refused++
			default:
				t.Fatalf("status %d: %s", r.status, r.raw)
			}
		}
		return ok, refused
	}
	// A: batch (10 -> 7), 2 local, batch (7 -> 4), 1 local; A holds 1 token.
	if ok, no := send(a, 5); ok != 5 || no != 0 {
		t.Fatalf("node A: %d admitted, %d refused; want 5, 0", ok, no)
	}
	// B: batch (4 -> 1), 2 local, a batch of 3 refused so 1 token alone, then
	// the store is empty.
	if ok, no := send(b, 10); ok != 4 || no != 6 {
		t.Fatalf("node B: %d admitted, %d refused; want 4, 6", ok, no)
	}
	// A spends the token it still holds, then is refused like B.
	if ok, no := send(a, 2); ok != 1 || no != 1 {
		t.Fatalf("node A again: %d admitted, %d refused; want 1, 1", ok, no)
	}
	if la, lb := a.metric("gatewayd_lease_local_admissions"), b.metric("gatewayd_lease_local_admissions"); la != 4 || lb != 2 {
		t.Errorf("local admissions A %v, B %v; want 4 and 2", la, lb)
	}
	if ca := a.metric("gatewayd_lease_store_calls"); ca != 4 {
		t.Errorf("node A store calls %v, want 4 (two batches; then a refused batch and a refused single)", ca)
	}
	// B: a batch, a refused batch and the admitted single, then one call per
	// refused request: at its limit a key costs one call per request.
	if cb := b.metric("gatewayd_lease_store_calls"); cb != 9 {
		t.Errorf("node B store calls %v, want 9", cb)
	}
	if na, nb := len(a.stop()), len(b.stop()); na+nb != 17 {
		t.Errorf("ledgers hold %d + %d records, want 17", na, nb)
	}
}

func TestRedisKilledFailOpenAndClosed(t *testing.T) {
	rs := redistest.StartServer(t)
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
`, rs.Addr(), demoKeyHash, hashOf("closed-key"), up.URL)
	g := startGW(t, cfg)
	for _, k := range []string{"demo-key", "closed-key"} {
		if r := do(t, "GET", g.url+"/v1/x", nil, key(k)); r.status != 200 || r.header.Get("RateLimit") == "" {
			t.Fatalf("%s with redis up: %d %s", k, r.status, r.raw)
		}
	}
	// The ledger's stream sink has the records once they are flushed.
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr()})
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

// TestRedisPasswordFileReachesLedgerStream: with the Redis password given as
// store.redis.password_file, both the limiter and the ledger's Redis Stream
// sink authenticate (the sink used to read only store.redis.password, so its
// every append failed with NOAUTH).
func TestRedisPasswordFileReachesLedgerStream(t *testing.T) {
	rs := redistest.StartServer(t)
	const pass = "stream-sink-pass-7f3a"
	noteSecret(pass)
	admin := redis.NewClient(&redis.Options{Addr: rs.Addr()})
	if err := admin.ConfigSet(context.Background(), "requirepass", pass).Err(); err != nil {
		t.Fatal(err)
	}
	admin.Close()
	pwFile := filepath.Join(t.TempDir(), "redis.pass")
	if err := os.WriteFile(pwFile, []byte(pass+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	up := newUpstream(t)
	g := startGW(t, fmt.Sprintf(`
store:
  kind: redis
  redis: {addr: %s, password_file: %s}
auth:
  api_keys:
    keys:
      - {sha256: %s, tier: open}
tiers:
  - {name: open, burst: 100, rate: 10}
routes:
  - {name: v1, prefix: /v1/, upstream: %s}
ledger:
  dir: LEDGER
  redis_stream: {key: "tollgate:ledger:pw"}
`, rs.Addr(), pwFile, demoKeyHash, up.URL))
	if r := do(t, "GET", g.url+"/v1/x", nil, key("demo-key")); r.status != 200 {
		t.Fatalf("limiter with password_file: %d %s", r.status, r.raw)
	}
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr(), Password: pass})
	defer rdb.Close()
	waitFor(t, "the record in the password-protected redis stream", func() bool {
		n, err := rdb.XLen(context.Background(), "tollgate:ledger:pw").Result()
		return err == nil && n >= 1
	})
	g.stop()
}
