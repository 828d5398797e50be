package limiter

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"tollgate/engine"
	"tollgate/engine/lease"
	"tollgate/engine/memstore"
)

// manualClock is a clock the test moves by hand.
type manualClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// flakyStore is a real memstore behind a switch that makes it unreachable,
// the way a Redis outage looks to the limiter.
type flakyStore struct {
	inner *memstore.Store
	mu    sync.Mutex
	down  bool
	calls int
}

func (s *flakyStore) setDown(v bool) { s.mu.Lock(); s.down = v; s.mu.Unlock() }

func (s *flakyStore) Apply(ctx context.Context, op engine.Op) (engine.Result, error) {
	s.mu.Lock()
	s.calls++
	down := s.down
	s.mu.Unlock()
	if down {
		return engine.Result{}, errors.New("dial tcp 127.0.0.1:1: connection refused")
	}
	return s.inner.Apply(ctx, op)
}

func (s *flakyStore) ApplyBatch(ctx context.Context, ops []engine.Op) ([]engine.Result, error) {
	out := make([]engine.Result, 0, len(ops))
	for _, op := range ops {
		r, err := s.Apply(ctx, op)
		if err != nil {
			return out, err
		}
		out = append(out, r)
	}
	return out, nil
}

func (s *flakyStore) Calls() int { s.mu.Lock(); defer s.mu.Unlock(); return s.calls }

// hangingStore never answers until the context ends, like a Redis behind a
// black-holed network.
type hangingStore struct{}

func (hangingStore) Apply(ctx context.Context, _ engine.Op) (engine.Result, error) {
	<-ctx.Done()
	return engine.Result{}, ctx.Err()
}

func (hangingStore) ApplyBatch(ctx context.Context, _ []engine.Op) ([]engine.Result, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

var start = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func plan(t *testing.T, burst float64) *engine.Plan {
	t.Helper()
	p, err := engine.Compile(engine.Limit{Name: "basic", Algorithm: engine.TokenBucket, Capacity: burst, Rate: 1})
	if err != nil {
		t.Fatal(err)
	}
	return engine.NewPlan(p)
}

func TestHealthyStoreDecides(t *testing.T) {
	clk := &manualClock{t: start}
	l := New(memstore.New(memstore.Options{}), clk, Options{})
	pl := plan(t, 2)
	ctx := context.Background()
	var got []bool
	for i := 0; i < 3; i++ {
		out := l.Acquire(ctx, Request{Key: "a", Plan: pl, Cost: 1000, FailOpen: true})
		if out.Err != nil || out.Unmetered {
			t.Fatalf("healthy store: %+v", out)
		}
		got = append(got, out.Allowed)
	}
	if !got[0] || !got[1] || got[2] {
		t.Fatalf("decisions %v, want [true true false]", got)
	}
	if out := l.Acquire(ctx, Request{Key: "a", Plan: pl, Cost: 1000}); out.RetryAfterUS != 1_000_000 || out.NowUS != engine.Micros(start) {
		t.Fatalf("denial: %+v (the limiter must pass the clock's now)", out.Decision)
	}
	clk.Advance(time.Second)
	if out := l.Acquire(ctx, Request{Key: "a", Plan: pl, Cost: 1000}); !out.Allowed {
		t.Fatal("refill after 1s of clock time not seen")
	}
	if l.Unmetered() != 0 || l.StoreErrors() != 0 {
		t.Fatal("counters moved on a healthy store")
	}
}

func TestFailurePolicy(t *testing.T) {
	clk := &manualClock{t: start}
	st := &flakyStore{inner: memstore.New(memstore.Options{})}
	l := New(st, clk, Options{Breaker: BreakerConfig{Failures: 3, Cooldown: engine.Duration(10 * time.Second)}})
	pl := plan(t, 100)
	ctx := context.Background()
	st.setDown(true)

	open := l.Acquire(ctx, Request{Key: "a", Plan: pl, Cost: 1000, FailOpen: true})
	if !open.Allowed || !open.Unmetered || !errors.Is(open.Err, engine.ErrStoreUnavailable) || open.Policy != "basic" {
		t.Fatalf("fail-open: %+v", open)
	}
	closed := l.Acquire(ctx, Request{Key: "a", Plan: pl, Cost: 1000, FailOpen: false})
	if closed.Allowed || closed.Unmetered || !errors.Is(closed.Err, engine.ErrStoreUnavailable) {
		t.Fatalf("fail-closed: %+v", closed)
	}
	if l.Unmetered() != 1 || l.StoreErrors() != 2 || l.FailClosed() != 1 {
		t.Fatalf("counters: unmetered %d store errors %d refused %d", l.Unmetered(), l.StoreErrors(), l.FailClosed())
	}
	// Third failure opens the breaker: the store is no longer called.
	l.Acquire(ctx, Request{Key: "a", Plan: pl, Cost: 1000, FailOpen: true})
	if l.Breaker().State() != StateOpen {
		t.Fatalf("breaker %s after 3 failures", l.Breaker().State())
	}
	calls := st.Calls()
	for i := 0; i < 10; i++ {
		out := l.Acquire(ctx, Request{Key: "a", Plan: pl, Cost: 1000, FailOpen: i%2 == 0})
		if !errors.Is(out.Err, ErrBreakerOpen) || out.Allowed != (i%2 == 0) {
			t.Fatalf("open breaker, request %d: %+v", i, out)
		}
		if i%2 == 1 && out.RetryAfterUS != 10_000_000 {
			t.Fatalf("fail-closed retry-after %d, want the remaining cooldown 10s", out.RetryAfterUS)
		}
	}
	if st.Calls() != calls {
		t.Fatalf("store called %d times while the breaker was open", st.Calls()-calls)
	}
	if l.Unmetered() != 2+5 || l.StoreErrors() != 3 {
		t.Fatalf("counters: unmetered %d store errors %d", l.Unmetered(), l.StoreErrors())
	}
	// After the cooldown one probe goes through; the store is back, so it closes.
	st.setDown(false)
	clk.Advance(10 * time.Second)
	out := l.Acquire(ctx, Request{Key: "a", Plan: pl, Cost: 1000})
	if out.Err != nil || !out.Allowed || out.Unmetered {
		t.Fatalf("probe: %+v", out)
	}
	if l.Breaker().State() != StateClosed {
		t.Fatalf("breaker %s after a good probe", l.Breaker().State())
	}
	// The unmetered admissions were not charged: 100 - 1 (probe) remaining.
	if out.Remaining != 99_000 {
		t.Fatalf("remaining %d: fail-open admissions must not reach the store", out.Remaining)
	}
}

func TestTimeout(t *testing.T) {
	clk := &manualClock{t: start}
	l := New(hangingStore{}, clk, Options{Timeout: time.Millisecond})
	out := l.Acquire(context.Background(), Request{Key: "a", Plan: plan(t, 1), Cost: 1000, FailOpen: true})
	if !out.Allowed || !out.Unmetered || !errors.Is(out.Err, context.DeadlineExceeded) || !errors.Is(out.Err, engine.ErrStoreUnavailable) {
		t.Fatalf("hanging store: %+v", out)
	}
	if l.StoreErrors() != 1 {
		t.Fatalf("store errors %d", l.StoreErrors())
	}
}

func TestCallerCancelIsNotAStoreFailure(t *testing.T) {
	clk := &manualClock{t: start}
	l := New(hangingStore{}, clk, Options{Timeout: time.Hour, Breaker: BreakerConfig{Failures: 1}})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	out := l.Acquire(ctx, Request{Key: "a", Plan: plan(t, 1), Cost: 1000, FailOpen: true})
	if out.Allowed || out.Unmetered || !errors.Is(out.Err, context.Canceled) {
		t.Fatalf("cancelled caller: %+v", out)
	}
	if l.StoreErrors() != 0 || l.Breaker().State() != StateClosed {
		t.Fatal("a caller's cancellation counted against the store")
	}
}

func TestBadRequestIsRefusedNotFailOpen(t *testing.T) {
	clk := &manualClock{t: start}
	l := New(memstore.New(memstore.Options{}), clk, Options{Breaker: BreakerConfig{Failures: 1}})
	out := l.Acquire(context.Background(), Request{Key: "", Plan: plan(t, 1), Cost: 1000, FailOpen: true})
	if out.Allowed || out.Unmetered || !errors.Is(out.Err, engine.ErrInvalid) {
		t.Fatalf("bad request: %+v", out)
	}
	if l.Breaker().State() != StateClosed || l.StoreErrors() != 0 {
		t.Fatal("a bad request opened the breaker")
	}
}

func TestSettleAndRelease(t *testing.T) {
	clk := &manualClock{t: start}
	ms := memstore.New(memstore.Options{})
	l := New(ms, clk, Options{})
	tb, _ := engine.Compile(engine.Limit{Name: "b", Algorithm: engine.TokenBucket, Capacity: 10, Rate: 1})
	cc, _ := engine.Compile(engine.Limit{Name: "c", Algorithm: engine.Concurrency, Capacity: 2})
	pl := engine.NewPlan(tb, cc)
	ctx := context.Background()
	req := Request{Key: "k", Plan: pl, Cost: 2000}
	if out := l.Acquire(ctx, req); !out.Allowed {
		t.Fatal(out)
	}
	if out := l.Acquire(ctx, Request{Key: "k", Plan: pl, Cost: 1000}); out.Allowed || out.Policy != "c" {
		t.Fatalf("second in flight admitted: %+v", out.Decision)
	}
	if err := l.Settle(ctx, req, 5000); err != nil { // the real cost was 7
		t.Fatal(err)
	}
	if err := l.Release(ctx, req); err != nil {
		t.Fatal(err)
	}
	out := l.Acquire(ctx, Request{Key: "k", Plan: pl, Cost: 1000})
	if !out.Allowed || out.Policies[0].Remaining != 2000 {
		t.Fatalf("after settle+release: %+v, want allowed with 10-7-1 = 2 remaining", out.Policies)
	}
	st := &flakyStore{inner: ms, down: true}
	l2 := New(st, clk, Options{})
	if err := l2.Settle(ctx, req, 1000); !errors.Is(err, engine.ErrStoreUnavailable) {
		t.Fatalf("settle on a failing store: %v", err)
	}
	if err := l2.Release(ctx, Request{Key: "k", Plan: engine.NewPlan(tb), Cost: 1}); err != nil || st.Calls() != 1 {
		t.Fatalf("release without a concurrency policy must not call the store: %v, %d calls", err, st.Calls())
	}
}

func TestBreaker(t *testing.T) {
	b := NewBreaker(BreakerConfig{Failures: 2, Cooldown: engine.Duration(5 * time.Second)})
	at := func(s float64) time.Time { return start.Add(time.Duration(s * float64(time.Second))) }
	steps := []struct {
		at    float64
		do    string // allow, ok, fail
		want  bool   // Allow's answer
		state string // state after
	}{
		{0, "allow", true, StateClosed},
		{0, "fail", false, StateClosed},
		{1, "ok", false, StateClosed}, // success resets the count
		{2, "fail", false, StateClosed},
		{3, "fail", false, StateOpen},
		{4, "allow", false, StateOpen},
		{7.9, "allow", false, StateOpen},
		{8, "allow", true, StateHalfOpen},  // the probe
		{8, "allow", false, StateHalfOpen}, // only one
		{9, "fail", false, StateOpen},      // probe failed: open again from 9
		{13, "allow", false, StateOpen},
		{14, "allow", true, StateHalfOpen},
		{18.9, "allow", false, StateHalfOpen},
		{19, "allow", true, StateHalfOpen}, // lost probe replaced after a cooldown
		{19, "ok", false, StateClosed},
		{19, "allow", true, StateClosed},
	}
	for i, s := range steps {
		switch s.do {
		case "allow":
			if got := b.Allow(at(s.at)); got != s.want {
				t.Fatalf("step %d at %vs: Allow = %v, want %v", i, s.at, got, s.want)
			}
		case "ok":
			b.Success(at(s.at))
		case "fail":
			b.Failure(at(s.at))
		}
		if b.State() != s.state {
			t.Fatalf("step %d at %vs: state %s, want %s", i, s.at, b.State(), s.state)
		}
	}
	d := NewBreaker(BreakerConfig{})
	if d.Config().Failures != DefaultFailures || d.Config().Cooldown.D() != DefaultCooldown {
		t.Fatalf("defaults %+v", d.Config())
	}
}

// TestOpenBreakerSpendsLiveLeases: with a Leaser as the store, tokens a node
// already holds keep being spent while the breaker is open (they were charged
// to the store when leased); once the lease is spent the failure policy
// applies, and the store is never called while the breaker is open.
func TestOpenBreakerSpendsLiveLeases(t *testing.T) {
	clk := &manualClock{t: start}
	st := &flakyStore{inner: memstore.New(memstore.Options{})}
	lz := lease.New(st, lease.Options{Batch: 5, TTL: time.Minute})
	l := New(lz, clk, Options{Breaker: BreakerConfig{Failures: 3, Cooldown: engine.Duration(10 * time.Second)}})
	pl := plan(t, 100)
	ctx := context.Background()
	if out := l.Acquire(ctx, Request{Key: "a", Plan: pl, Cost: 1000}); !out.Allowed || out.Err != nil {
		t.Fatalf("first request: %+v", out)
	}
	st.setDown(true)
	for i := 0; i < 3; i++ { // key b holds no lease: three failures open the breaker
		l.Acquire(ctx, Request{Key: "b", Plan: pl, Cost: 1000})
	}
	if l.Breaker().State() != StateOpen {
		t.Fatalf("breaker %s after 3 failures", l.Breaker().State())
	}
	calls := st.Calls()
	for i := 0; i < 4; i++ {
		out := l.Acquire(ctx, Request{Key: "a", Plan: pl, Cost: 1000})
		if !out.Allowed || out.Err != nil || out.Unmetered {
			t.Fatalf("leased request %d with the breaker open: %+v", i, out)
		}
	}
	out := l.Acquire(ctx, Request{Key: "a", Plan: pl, Cost: 1000})
	if out.Allowed || !errors.Is(out.Err, ErrBreakerOpen) {
		t.Fatalf("after the lease is spent: %+v, want fail-closed with the breaker open", out)
	}
	if st.Calls() != calls {
		t.Fatalf("store called %d times while the breaker was open", st.Calls()-calls)
	}
	if lz.LocalHits() != 4 { // the first request took the batch from the store
		t.Fatalf("local hits %d, want 4", lz.LocalHits())
	}
}
