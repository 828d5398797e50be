package memstore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"tollgate/engine"
)

func TestTokenBucketBasic(t *testing.T) {
	s := New(Options{})
	plan := engine.NewPlan(engine.MustCompile(engine.Limit{Name: "basic", Algorithm: engine.TokenBucket, Capacity: 10, Rate: 1, Period: time.Second}))
	now := engine.Micros(time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC))
	ctx := context.Background()
	for i := 0; i < 10; i++ {
		r, err := s.Apply(ctx, engine.Op{Kind: engine.Acquire, Key: "k", Plan: plan, Cost: engine.Tokens(1), Now: now})
		if err != nil || !r.Allowed {
			t.Fatalf("request %d: allowed=%v err=%v", i+1, r.Allowed, err)
		}
		if want := int64(9-i) * engine.MilliPerToken; r.Remaining != want {
			t.Fatalf("request %d: remaining %d, want %d", i+1, r.Remaining, want)
		}
	}
	r, _ := s.Apply(ctx, engine.Op{Kind: engine.Acquire, Key: "k", Plan: plan, Cost: engine.Tokens(1), Now: now})
	if r.Allowed || r.RetryAfterUS != 1_000_000 {
		t.Fatalf("11th: allowed=%v retry=%d, want denied with 1s", r.Allowed, r.RetryAfterUS)
	}
	r, _ = s.Apply(ctx, engine.Op{Kind: engine.Acquire, Key: "k", Plan: plan, Cost: engine.Tokens(1), Now: now + 1_000_000})
	if !r.Allowed {
		t.Fatalf("after 1s: denied")
	}
	r, _ = s.Apply(ctx, engine.Op{Kind: engine.Acquire, Key: "k", Plan: plan, Cost: engine.Tokens(11), Now: now + 1_000_000})
	if r.Allowed || !r.Permanent || r.RetryAfterUS != 0 {
		t.Fatalf("cost over capacity: %+v, want permanent denial", r.Decision)
	}
}

// refStore is the reference the memstore must equal: engine.Eval over states
// kept by (key, policy name) as strings, with the TTL expiry every store has.
type refStore struct {
	m map[string]refEntry
}

type refEntry struct {
	s       engine.State
	expires int64
}

func (r *refStore) apply(op engine.Op) engine.Result {
	n := len(op.Plan.Policies)
	states, exists := make([]engine.State, n), make([]bool, n)
	for i, p := range op.Plan.Policies {
		if e, ok := r.m[op.Key+"\x00"+p.Name]; ok && e.expires > op.Now {
			states[i], exists[i] = e.s, true
		}
	}
	ns, w, ttls, res := engine.Eval(op.Plan, states, exists, op.Now, op.Kind, op.Cost)
	for i, p := range op.Plan.Policies {
		if w[i] {
			r.m[op.Key+"\x00"+p.Name] = refEntry{ns[i], op.Now + ttls[i]}
		}
	}
	return res
}

// TestApplyMatchesEval drives random operations over plans of one to four
// policies of every algorithm, many keys and times that cross TTLs and
// windows, through the memstore and the reference; every result must be
// identical, including each policy's decision. It covers the single-policy
// fast path, the general path, the hashed keys, expiry and sweeping.
func TestApplyMatchesEval(t *testing.T) {
	rng := rand.New(rand.NewPCG(99, 1))
	mk := func(name string, a engine.Algorithm) *engine.Policy {
		l := engine.Limit{Name: name, Algorithm: a, Capacity: float64(1 + rng.IntN(20)), Rate: float64(1 + rng.IntN(5)), Period: time.Duration(1+rng.IntN(10)) * time.Second}
		if a == engine.FixedWindow && rng.IntN(3) == 0 {
			l.Period, l.Calendar = 0, engine.CalendarHour
		}
		return engine.MustCompile(l)
	}
	algs := engine.Algorithms()
	var plans []*engine.Plan
	for i := 0; i < 12; i++ {
		n := 1 + rng.IntN(4)
		if i < 6 {
			n = 1
		}
		var ps []*engine.Policy
		for j := 0; j < n; j++ {
			ps = append(ps, mk(fmt.Sprintf("p%d", rng.IntN(6)+j*10), algs[rng.IntN(len(algs))]))
		}
		plans = append(plans, engine.NewPlan(ps...))
	}
	s := New(Options{Shards: 4})
	ref := &refStore{m: map[string]refEntry{}}
	now := int64(1_767_225_600_000_000)
	ctx := context.Background()
	for i := 0; i < 60_000; i++ {
		now += int64(rng.ExpFloat64() * 50_000)
		if rng.IntN(500) == 0 {
			now += int64(rng.IntN(3_600_000_000))
		}
		op := engine.Op{Kind: engine.Acquire, Key: fmt.Sprintf("k%d", rng.IntN(300)), Plan: plans[rng.IntN(len(plans))],
			Cost: int64(rng.IntN(5000)), Now: now}
		switch rng.IntN(8) {
		case 0:
			op.Kind, op.Cost = engine.Settle, op.Cost-2500
		case 1:
			op.Kind = engine.Release
		}
		got, err := s.Apply(ctx, op)
		if err != nil {
			t.Fatal(err)
		}
		want := ref.apply(op)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("op %d %+v:\nmemstore %+v\nEval     %+v", i, op, got, want)
		}
	}
	if swept := s.Sweep(now + 10*3_600_000_000); s.Len() != 0 || swept == 0 {
		t.Fatalf("after every TTL: %d states left, %d swept", s.Len(), swept)
	}
}

// TestResultsDoNotShareDecisions: Policies slices cut from a shard's slab
// must not alias: appending to one result leaves the next one intact.
func TestResultsDoNotShareDecisions(t *testing.T) {
	s := New(Options{Shards: 1})
	plan := engine.NewPlan(engine.MustCompile(engine.Limit{Name: "a", Algorithm: engine.TokenBucket, Capacity: 5, Rate: 1}))
	ctx := context.Background()
	r1, _ := s.Apply(ctx, engine.Op{Kind: engine.Acquire, Key: "x", Plan: plan, Cost: 1000, Now: 1})
	r2, _ := s.Apply(ctx, engine.Op{Kind: engine.Acquire, Key: "x", Plan: plan, Cost: 1000, Now: 1})
	_ = append(r1.Policies, engine.Decision{Policy: "clobber"})
	if r2.Policies[0].Policy != "a" || r2.Policies[0].Remaining != 3000 || r1.Policies[0].Remaining != 4000 {
		t.Fatalf("results alias: %+v %+v", r1.Policies, r2.Policies)
	}
}

// TestConcurrentApply: goroutines hammering the same keys at one instant
// admit exactly each key's capacity; the per-shard lock makes each plan
// all-or-nothing even across goroutines (go test -race ./engine/memstore/
// checks the locking).
func TestConcurrentApply(t *testing.T) {
	s := New(Options{Shards: 2})
	plan := engine.NewPlan(
		engine.MustCompile(engine.Limit{Name: "b", Algorithm: engine.TokenBucket, Capacity: 50, Rate: 1}),
		engine.MustCompile(engine.Limit{Name: "d", Algorithm: engine.FixedWindow, Capacity: 40, Calendar: engine.CalendarDay}))
	single := engine.NewPlan(engine.MustCompile(engine.Limit{Name: "g", Algorithm: engine.GCRA, Capacity: 30, Rate: 1}))
	var admitted [2][3]atomic.Int64
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 300; i++ {
				for k := 0; k < 3; k++ {
					for pi, pl := range []*engine.Plan{plan, single} {
						r, err := s.Apply(context.Background(), engine.Op{Kind: engine.Acquire, Key: fmt.Sprint("key", k), Plan: pl, Cost: 1000, Now: 1_767_225_600_000_000})
						if err != nil {
							t.Error(err)
							return
						}
						if r.Allowed {
							admitted[pi][k].Add(1)
						}
					}
				}
				if i%50 == 0 {
					s.Sweep(0)
				}
			}
		}(g)
	}
	wg.Wait()
	for k := 0; k < 3; k++ {
		if a, b := admitted[0][k].Load(), admitted[1][k].Load(); a != 40 || b != 30 {
			t.Fatalf("key%d: admitted %d on the two-policy plan (want 40, the day quota) and %d on gcra (want 30)", k, a, b)
		}
	}
}
