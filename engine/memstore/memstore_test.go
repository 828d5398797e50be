package memstore

import (
	"context"
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
