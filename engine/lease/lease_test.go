package lease

import (
	"context"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"tollgate/engine"
	"tollgate/engine/memstore"
)

const t0 = int64(1_767_225_600_000_000) // 2026-01-01T00:00:00Z in microseconds

func bucket(t *testing.T, capacity, rate float64) *engine.Plan {
	t.Helper()
	p, err := engine.Compile(engine.Limit{Name: "b", Algorithm: engine.TokenBucket, Capacity: capacity, Rate: rate})
	if err != nil {
		t.Fatal(err)
	}
	return engine.NewPlan(p)
}

// TestOverAdmissionBound: several leasers share one memstore key under random
// traffic. Over every interval [t_i, t_j] of the event sequence, the admitted
// cost stays within burst + rate x (t_j - t_i) + the leases outstanding just
// before t_i; and leases do over-admit against the bare bucket bound (else the
// test would prove nothing about them).
func TestOverAdmissionBound(t *testing.T) {
	sawOver := 0
	for seed := uint64(1); seed <= 6; seed++ {
		rng := rand.New(rand.NewPCG(seed, 11))
		const capTokens, rate = 20.0, 10.0
		pl := bucket(t, capTokens, rate)
		pol := pl.Policies[0]
		store := memstore.New(memstore.Options{})
		nLeasers := 2 + rng.IntN(4)
		batch := float64(2 + rng.IntN(8))
		ttl := time.Duration(500+rng.IntN(3000)) * time.Millisecond
		ls := make([]*Leaser, nLeasers)
		for i := range ls {
			ls[i] = New(store, Options{Batch: batch, TTL: ttl})
		}
		type ev struct {
			at, admitted, outstanding int64
		}
		var evs []ev
		now := t0
		for i := 0; i < 1500; i++ {
			now += int64(rng.ExpFloat64() * 20_000) // mean 20ms: ~50 req/s against 10/s
			if rng.IntN(40) == 0 {
				now += int64(rng.IntN(3_000_000)) // idle gaps let the bucket refill under live leases
			}
			var out int64
			for _, l := range ls {
				out += l.Outstanding(now)
			}
			cost := int64(1+rng.IntN(3)) * engine.MilliPerToken
			r, err := ls[rng.IntN(nLeasers)].Acquire(context.Background(), engine.Op{Kind: engine.Acquire, Key: "tenant", Plan: pl, Cost: cost, Now: now})
			if err != nil {
				t.Fatal(err)
			}
			var adm int64
			if r.Allowed {
				adm = cost
				if r.Charged != cost {
					t.Fatalf("seed %d: charged %d for cost %d", seed, r.Charged, cost)
				}
			}
			evs = append(evs, ev{now, adm, out})
		}
		prefix := make([]int64, len(evs)+1)
		for i, e := range evs {
			prefix[i+1] = prefix[i] + e.admitted
		}
		overBare := false
		for i := range evs {
			for j := i; j < len(evs); j++ {
				adm := (prefix[j+1] - prefix[i]) * 1_000_000 // nanotokens
				bare := pol.CapNano + pol.Rate*(evs[j].at-evs[i].at)
				if adm > bare+evs[i].outstanding*1_000_000 {
					t.Fatalf("seed %d (%d leasers, batch %v, ttl %v): events %d..%d admitted %d milli > burst+rate*w %d + outstanding %d",
						seed, nLeasers, batch, ttl, i, j, adm/1_000_000, bare/1_000_000, evs[i].outstanding)
				}
				if adm > bare {
					overBare = true
				}
				if nL := int64(nLeasers) * engine.Tokens(batch) * 1_000_000; adm > bare+nL {
					t.Fatalf("seed %d: over the coarse bound leasers x batch", seed)
				}
			}
		}
		if overBare {
			sawOver++
		}
	}
	if sawOver == 0 {
		t.Fatal("no seed over-admitted beyond burst + rate x window: the traffic does not exercise the lease term")
	}
	t.Logf("%d of 6 seeds needed the lease term of the bound", sawOver)
}

// TestLeasesDoOverAdmit pins a case where the bound's lease term is needed:
// two leasers each hold a batch when the bucket refills.
func TestLeasesDoOverAdmit(t *testing.T) {
	pl := bucket(t, 10, 1)
	store := memstore.New(memstore.Options{})
	a := New(store, Options{Batch: 5, TTL: time.Hour})
	b := New(store, Options{Batch: 5, TTL: time.Hour})
	ctx := context.Background()
	acq := func(l *Leaser, at int64) bool {
		r, err := l.Acquire(ctx, engine.Op{Kind: engine.Acquire, Key: "k", Plan: pl, Cost: 1000, Now: at})
		if err != nil {
			t.Fatal(err)
		}
		return r.Allowed
	}
	// Both take a batch of 5 at t0 and spend 1: 10 taken, 8 outstanding.
	if !acq(a, t0) || !acq(b, t0) {
		t.Fatal("first requests refused")
	}
	if out := a.Outstanding(t0) + b.Outstanding(t0); out != 8000 {
		t.Fatalf("outstanding %d, want 8000", out)
	}
	// 10 s later the bucket is full again, and the leases are still live: in
	// the instant t0+10s, 10 (store) + 8 (leases) tokens can be admitted.
	at := t0 + 10_000_000
	n := 0
	for i := 0; i < 40; i++ {
		if acq(a, at) {
			n++
		}
		if acq(b, at) {
			n++
		}
	}
	if n != 18 {
		t.Fatalf("admitted %d in one instant, want burst 10 + outstanding 8", n)
	}
}

// TestStoreCallReduction: with batch B and unit costs under the limit, one
// store call serves B requests.
func TestStoreCallReduction(t *testing.T) {
	pl := bucket(t, 1000, 1000)
	store := memstore.New(memstore.Options{})
	l := New(store, Options{Batch: 10, TTL: time.Second})
	ctx := context.Background()
	for i := 0; i < 1000; i++ {
		r, err := l.Acquire(ctx, engine.Op{Kind: engine.Acquire, Key: "k", Plan: pl, Cost: 1000, Now: t0 + int64(i)*100})
		if err != nil || !r.Allowed {
			t.Fatalf("request %d: %v %v", i, r.Allowed, err)
		}
	}
	if l.StoreCalls() != 100 || l.LocalHits() != 900 {
		t.Fatalf("store calls %d local hits %d, want 100 and 900", l.StoreCalls(), l.LocalHits())
	}
	// Random traffic over many keys, some expiry: still far fewer calls.
	rng := rand.New(rand.NewPCG(3, 3))
	l2 := New(store, Options{Batch: 20, TTL: 2 * time.Second})
	now := t0
	const n = 20000
	for i := 0; i < n; i++ {
		now += int64(rng.IntN(1000))
		key := "t" + string(rune('a'+rng.IntN(10)))
		if _, err := l2.Acquire(ctx, engine.Op{Kind: engine.Acquire, Key: key, Plan: pl, Cost: int64(1+rng.IntN(2)) * 1000, Now: now}); err != nil {
			t.Fatal(err)
		}
	}
	ratio := float64(l2.StoreCalls()) / n
	t.Logf("batch 20: %d store calls for %d requests (%.3f per request)", l2.StoreCalls(), n, ratio)
	if ratio > 0.1 {
		t.Fatalf("%.3f store calls per request, want < 0.1 with batch 20", ratio)
	}
}

func TestExpiryAndFallback(t *testing.T) {
	pl := bucket(t, 3, 1)
	store := memstore.New(memstore.Options{})
	l := New(store, Options{Batch: 2, TTL: time.Second})
	ctx := context.Background()
	acq := func(at int64, cost int64) engine.Result {
		r, err := l.Acquire(ctx, engine.Op{Kind: engine.Acquire, Key: "k", Plan: pl, Cost: cost, Now: at})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := acq(t0, 1000); !r.Allowed || l.StoreCalls() != 1 {
		t.Fatal("first batch")
	}
	// The lease (1 token left) expires: the leftover is dropped, a new batch taken.
	if r := acq(t0+2_000_000, 1000); !r.Allowed || l.StoreCalls() != 2 {
		t.Fatalf("after expiry: allowed %v, %d calls", r.Allowed, l.StoreCalls())
	}
	// Store has 3-2+2-2 = 1 token (refill 2 over 2 s, capped at 3): the lease
	// has 1; spend it, then a batch of 2 is refused but a single token is not.
	if r := acq(t0+2_000_000, 1000); !r.Allowed || l.StoreCalls() != 2 {
		t.Fatal("local spend")
	}
	if r := acq(t0+2_000_000, 1000); !r.Allowed || l.StoreCalls() != 4 {
		t.Fatalf("near the limit the leaser must fall back to the request's cost: %+v, %d calls", r.Decision, l.StoreCalls())
	}
	if r := acq(t0+2_000_000, 1000); r.Allowed || r.RetryAfterUS <= 0 {
		t.Fatalf("empty store: %+v", r.Decision)
	}
	// A cost above the batch is taken whole.
	if r := acq(t0+10_000_000, 3000); !r.Allowed {
		t.Fatalf("cost 3 > batch 2: %+v", r.Decision)
	}
}

func TestPassThrough(t *testing.T) {
	tb, _ := engine.Compile(engine.Limit{Name: "b", Algorithm: engine.TokenBucket, Capacity: 10, Rate: 1})
	cc, _ := engine.Compile(engine.Limit{Name: "c", Algorithm: engine.Concurrency, Capacity: 1})
	pl := engine.NewPlan(tb, cc)
	store := memstore.New(memstore.Options{})
	l := New(store, Options{Batch: 5})
	ctx := context.Background()
	op := engine.Op{Kind: engine.Acquire, Key: "k", Plan: pl, Cost: 1000, Now: t0}
	if r, _ := l.Apply(ctx, op); !r.Allowed {
		t.Fatal("first")
	}
	if r, _ := l.Apply(ctx, op); r.Allowed {
		t.Fatal("a concurrency plan must not be leased: second in flight admitted")
	}
	op.Kind = engine.Release
	if _, err := l.Apply(ctx, op); err != nil {
		t.Fatal(err)
	}
	op.Kind = engine.Acquire
	rs, err := l.ApplyBatch(ctx, []engine.Op{op})
	if err != nil || !rs[0].Allowed {
		t.Fatalf("after release: %v %v", rs, err)
	}
	if l.StoreCalls() != 4 || l.LocalHits() != 0 {
		t.Fatalf("calls %d hits %d", l.StoreCalls(), l.LocalHits())
	}
	if _, err := l.Acquire(ctx, engine.Op{Kind: engine.Acquire, Key: "", Plan: pl, Cost: 1, Now: t0}); err == nil || !strings.Contains(err.Error(), "op.key") {
		t.Fatalf("bad op: %v", err)
	}
}

func TestOptions(t *testing.T) {
	if err := (Options{Batch: -1, TTL: -time.Second}).Validate(); err == nil ||
		!strings.Contains(err.Error(), "lease.batch: must be in [0, 1000000], got -1") || !strings.Contains(err.Error(), "lease.ttl: must be >= 0, got -1s") {
		t.Fatalf("validate: %v", err)
	}
	l := New(memstore.New(memstore.Options{}), Options{Batch: -1})
	if l.batch != DefaultBatch*1000 || l.ttl != DefaultTTL.Microseconds() {
		t.Fatalf("defaults: %d %d", l.batch, l.ttl)
	}
}

// TestConcurrentLeaser: goroutines sharing one Leaser at a fixed instant
// admit exactly the bucket's capacity between them: batches are never
// double-spent and leftovers of cost-1 requests are never dropped.
func TestConcurrentLeaser(t *testing.T) {
	pl := bucket(t, 100, 1)
	l := New(memstore.New(memstore.Options{}), Options{Batch: 7, TTL: time.Hour})
	var admitted atomic.Int64
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				r, err := l.Acquire(context.Background(), engine.Op{Kind: engine.Acquire, Key: "k", Plan: pl, Cost: 1000, Now: t0})
				if err != nil {
					t.Error(err)
					return
				}
				if r.Allowed {
					admitted.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if admitted.Load() != 100 {
		t.Fatalf("admitted %d, want exactly the capacity 100", admitted.Load())
	}
}

// TestBatchClampedToCapacity: a batch larger than the plan's smallest capacity
// (here a burst of 5 under a batch of 50) would always be refused whole and
// cost a second store call per lease; the leaser takes the capacity instead.
func TestBatchClampedToCapacity(t *testing.T) {
	pl := bucket(t, 5, 1000)
	store := memstore.New(memstore.Options{})
	l := New(store, Options{Batch: 50, TTL: time.Second})
	ctx := context.Background()
	for i := 0; i < 5; i++ {
		r, err := l.Acquire(ctx, engine.Op{Kind: engine.Acquire, Key: "k", Plan: pl, Cost: 1000, Now: t0})
		if err != nil || !r.Allowed {
			t.Fatalf("request %d: %+v %v", i, r.Decision, err)
		}
	}
	if l.StoreCalls() != 1 || l.LocalHits() != 4 {
		t.Fatalf("store calls %d local hits %d, want 1 and 4 (one batch of the whole burst)", l.StoreCalls(), l.LocalHits())
	}
	if r, _ := l.Acquire(ctx, engine.Op{Kind: engine.Acquire, Key: "k", Plan: pl, Cost: 1000, Now: t0}); r.Allowed {
		t.Fatal("a sixth request in the same instant was admitted past a burst of 5")
	}
	// ptb-cwd: the refill ceiling (half the capacity) bounds the batch.
	p, err := engine.Compile(engine.Limit{Name: "c", Algorithm: engine.PTBCWD, Capacity: 10, Rate: 1000, RefillCap: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	if got := planCeiling(engine.NewPlan(p)); got != 5000 {
		t.Fatalf("ptb-cwd ceiling %d millitokens, want 5000", got)
	}
}

// TestTryLocal answers only from a live lease that covers the cost, and never
// calls the store.
func TestTryLocal(t *testing.T) {
	pl := bucket(t, 100, 1)
	store := memstore.New(memstore.Options{})
	l := New(store, Options{Batch: 3, TTL: time.Second})
	op := engine.Op{Kind: engine.Acquire, Key: "k", Plan: pl, Cost: 1000, Now: t0}
	if _, ok := l.TryLocal(op); ok {
		t.Fatal("no lease yet, yet TryLocal answered")
	}
	if r, err := l.Acquire(context.Background(), op); err != nil || !r.Allowed {
		t.Fatal(err)
	}
	calls := l.StoreCalls()
	for i := 0; i < 2; i++ {
		if r, ok := l.TryLocal(op); !ok || !r.Allowed || r.Charged != 1000 {
			t.Fatalf("spend %d: %v %+v", i, ok, r.Decision)
		}
	}
	if _, ok := l.TryLocal(op); ok {
		t.Fatal("the lease is spent, yet TryLocal answered")
	}
	if r, err := l.Acquire(context.Background(), op); err != nil || !r.Allowed {
		t.Fatal(err)
	}
	late := op
	late.Now = t0 + 2_000_000
	if _, ok := l.TryLocal(late); ok {
		t.Fatal("the lease expired, yet TryLocal answered")
	}
	big := op
	big.Cost = 5000
	if _, ok := l.TryLocal(big); ok {
		t.Fatal("a cost above the lease was answered locally")
	}
	if l.StoreCalls() != calls+1 {
		t.Fatalf("TryLocal called the store: %d calls, want %d", l.StoreCalls(), calls+1)
	}
}

// TestNearLimitOneCallPerRequest: once a batch is refused, a key held at its
// limit costs one store call per request (not a refused batch and then the
// request), and batches come back once the store has room for one.
func TestNearLimitOneCallPerRequest(t *testing.T) {
	pl := bucket(t, 10, 1)
	store := memstore.New(memstore.Options{})
	l := New(store, Options{Batch: 4, TTL: time.Minute})
	ctx := context.Background()
	acq := func(at int64) engine.Result {
		r, err := l.Acquire(ctx, engine.Op{Kind: engine.Acquire, Key: "k", Plan: pl, Cost: 1000, Now: at})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	admitted := 0
	for i := 0; i < 10; i++ {
		if acq(t0).Allowed {
			admitted++
		}
	}
	if admitted != 10 {
		t.Fatalf("admitted %d of the burst of 10", admitted)
	}
	calls := l.StoreCalls()
	for i := 0; i < 20; i++ {
		if acq(t0).Allowed {
			t.Fatal("admitted past the burst")
		}
	}
	if got := l.StoreCalls() - calls; got != 20 {
		t.Fatalf("20 refused requests at the limit made %d store calls, want 20", got)
	}
	// Ten seconds refill the bucket: one single-cost call sees the room and
	// the next takes a batch again (3 of the following requests are local).
	calls, hits := l.StoreCalls(), l.LocalHits()
	for i := 0; i < 5; i++ {
		if !acq(t0 + 10_000_000).Allowed {
			t.Fatalf("request %d after the refill refused", i)
		}
	}
	if l.StoreCalls()-calls != 2 || l.LocalHits()-hits != 3 {
		t.Fatalf("after the refill: %d store calls and %d local hits for 5 requests, want 2 and 3",
			l.StoreCalls()-calls, l.LocalHits()-hits)
	}
}
