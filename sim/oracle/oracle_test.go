package oracle

import (
	"math/rand/v2"
	"testing"
	"time"

	"tollgate/engine"
)

const t0 = 1_767_225_600_000_000 // 2026-01-01T00:00:00Z in microseconds

type step struct {
	name    string
	at      int64 // microseconds after t0
	cost    int64 // millitokens; negative: release -cost
	allowed bool
}

func run(t *testing.T, p *Plan, steps []step) {
	t.Helper()
	k := NewKeys(p, 1)
	for _, s := range steps {
		if s.cost < 0 {
			k.Release(0, -s.cost)
			continue
		}
		if got := k.Acquire(0, t0+s.at, s.cost); got != s.allowed {
			t.Errorf("%s: at +%dus cost %d: allowed %v, want %v", s.name, s.at, s.cost, got, s.allowed)
		}
	}
}

func mustPlan(t *testing.T, ls ...engine.Limit) *Plan {
	t.Helper()
	p, err := NewPlan(ls...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReferences(t *testing.T) {
	const s = 1_000_000
	cases := []struct {
		name  string
		lim   []engine.Limit
		steps []step
	}{
		{"token bucket: burst then refill", []engine.Limit{{Name: "b", Algorithm: engine.TokenBucket, Capacity: 2, Rate: 1}}, []step{
			{"first", 0, 1000, true}, {"second", 0, 1000, true}, {"empty", 0, 1000, false},
			{"half refilled", s / 2, 1000, false}, {"refilled", s, 1000, true}, {"too big", 10 * s, 3000, false}}},
		{"gcra: fractional cost", []engine.Limit{{Name: "g", Algorithm: engine.GCRA, Capacity: 1, Rate: 10}}, []step{
			{"half", 0, 500, true}, {"half again", 0, 500, true}, {"none left", 0, 1, false},
			{"a tenth refilled", s / 100, 1000, false}, {"a tenth is 100", s / 100, 100, true}}},
		{"ptb-cwd: burst is the refill ceiling", []engine.Limit{{Name: "p", Algorithm: engine.PTBCWD, Capacity: 10, Rate: 1, RefillCap: 0.5}}, []step{
			{"ceiling", 0, 5000, true}, {"above ceiling", 0, 1, false}}},
		{"fixed window: resets at the boundary", []engine.Limit{{Name: "f", Algorithm: engine.FixedWindow, Capacity: 2, Period: time.Second}}, []step{
			{"1", s - 2, 1000, true}, {"2", s - 1, 1000, true}, {"3", s - 1, 1000, false}, {"next window", s, 2000, true}, {"full", s + 1, 1, false}}},
		{"fixed window: calendar month", []engine.Limit{{Name: "m", Algorithm: engine.FixedWindow, Capacity: 1, Calendar: engine.CalendarMonth}}, []step{
			{"january", 0, 1000, true}, {"still january", 30 * 86400 * s, 1000, false}, {"february", 31 * 86400 * s, 1000, true}}},
		{"fixed window: calendar hour", []engine.Limit{{Name: "h", Algorithm: engine.FixedWindow, Capacity: 1, Calendar: engine.CalendarHour}}, []step{
			{"a", 3599 * s, 1000, true}, {"b", 3599 * s, 1000, false}, {"next hour", 3600 * s, 1000, true}}},
		{"sliding window: exact log", []engine.Limit{{Name: "w", Algorithm: engine.SlidingWindow, Capacity: 2, Period: time.Second}}, []step{
			{"1", 900_000, 1000, true}, {"2", 950_000, 1000, true}, {"window boundary is no reset", s + 100, 1000, false},
			{"first left", s + 900_000, 1000, true}, {"full again", s + 900_001, 1000, false}, {"second left", s + 950_000, 1000, true}}},
		{"concurrency: in flight", []engine.Limit{{Name: "c", Algorithm: engine.Concurrency, Capacity: 2}}, []step{
			{"1", 0, 1000, true}, {"2", 0, 1000, true}, {"3", 0, 1000, false}, {"release", 0, -1000, false}, {"after release", 0, 1000, true}}},
		{"plan: all or nothing", []engine.Limit{
			{Name: "b", Algorithm: engine.TokenBucket, Capacity: 5, Rate: 5},
			{Name: "q", Algorithm: engine.FixedWindow, Capacity: 2, Period: time.Hour}}, []step{
			{"1", 0, 1000, true}, {"2", 0, 1000, true}, {"quota", 0, 1000, false}, {"quota again", 0, 1000, false}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { run(t, mustPlan(t, c.lim...), c.steps) })
	}
}

// A refusal by the quota must not charge the bucket: after the quota's
// window rolls over, the bucket still holds its burst.
func TestRefusalChargesNothing(t *testing.T) {
	p := mustPlan(t, engine.Limit{Name: "b", Algorithm: engine.TokenBucket, Capacity: 3, Rate: 0.001},
		engine.Limit{Name: "q", Algorithm: engine.FixedWindow, Capacity: 1, Period: time.Second})
	k := NewKeys(p, 0)
	if !k.Acquire(5, t0, 1000) {
		t.Fatal("first acquire refused")
	}
	for i := 0; i < 10; i++ {
		if k.Acquire(5, t0+1, 1000) {
			t.Fatal("quota did not refuse")
		}
	}
	if !k.Acquire(5, t0+1_000_000, 1000) || !k.Acquire(5, t0+2_000_000, 1000) {
		t.Fatal("refused acquires charged the bucket")
	}
}

func TestUnsupported(t *testing.T) {
	for _, l := range []engine.Limit{
		{Name: "x", Algorithm: "nope", Capacity: 1},
		{Name: "x", Algorithm: engine.TokenBucket, Capacity: 1},
		{Name: "x", Algorithm: engine.FixedWindow, Capacity: 0, Period: time.Second},
	} {
		if _, err := NewPlan(l); err == nil {
			t.Errorf("%+v: no error", l)
		}
	}
}

// TestAgreesWithEngine: on random sequences the references and the engine's
// transitions decide alike (the engine is exact; the bucket reference is
// float64 with a microsecond of slack, so it may only admit where the engine
// was within that slack). This is the check that the two, written apart,
// mean the same policy.
func TestAgreesWithEngine(t *testing.T) {
	lims := []engine.Limit{
		{Name: "tb", Algorithm: engine.TokenBucket, Capacity: 20, Rate: 7},
		{Name: "gcra", Algorithm: engine.GCRA, Capacity: 5, Rate: 3, Period: time.Second},
		{Name: "ptb", Algorithm: engine.PTBCWD, Capacity: 10, Rate: 4},
		{Name: "fw", Algorithm: engine.FixedWindow, Capacity: 12, Period: 700 * time.Millisecond},
		{Name: "day", Algorithm: engine.FixedWindow, Capacity: 50, Calendar: engine.CalendarDay},
	}
	for _, l := range lims {
		t.Run(l.Name, func(t *testing.T) {
			pol := engine.MustCompile(l)
			ref := NewKeys(mustPlan(t, l), 1)
			rng := rand.New(rand.NewPCG(1, uint64(len(l.Name))))
			var st engine.State
			var exp int64
			now := int64(t0 + 3_600_000_000*23)
			for i := 0; i < 20000; i++ {
				now += rng.Int64N(400_000)
				cost := 250 * (1 + rng.Int64N(8))
				ns, wr, ttl, d := engine.Step(pol, st, exp > now, now, engine.Acquire, cost)
				if d.Allowed && wr {
					st, exp = ns, now+ttl
				}
				if got := ref.Acquire(0, now, cost); got != d.Allowed {
					t.Fatalf("step %d at %d cost %d: reference %v, engine %v", i, now, cost, got, d.Allowed)
				}
			}
		})
	}
}
