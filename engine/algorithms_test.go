package engine

import (
	"math"
	"strings"
	"testing"
	"time"
)

// T0 is 2026-01-01T00:00:00Z in microseconds: aligned to the hour, day and
// month, so window tables read in seconds from the start of a window.
const T0 = int64(1_767_225_600_000_000)

const sec = int64(1_000_000)

// driver applies operations to a plan's states the way every store does:
// Eval, then write the states it says to write. It ignores TTLs (a state past
// its TTL behaves as a fresh one; FuzzInvariants checks that).
type driver struct {
	pl     *Plan
	states []State
	exists []bool
}

func newDriver(ps ...*Policy) *driver {
	return &driver{pl: NewPlan(ps...), states: make([]State, len(ps)), exists: make([]bool, len(ps))}
}

func (d *driver) do(now int64, kind OpKind, cost int64) Result {
	ns, w, _, res := Eval(d.pl, d.states, d.exists, now, kind, cost)
	for i := range w {
		if w[i] {
			d.states[i], d.exists[i] = ns[i], true
		}
	}
	return res
}

// row is one step of a table test, in the x/time/rate form: at (seconds
// from T0), cost (tokens), and the expected decision. kind defaults to Acquire.
type row struct {
	at            float64
	cost          float64
	wantAllowed   bool
	wantRemaining float64 // tokens
	wantRetry     float64 // seconds; checked when >= 0 (use -1 to skip)
	wantPermanent bool
	kind          OpKind
}

func us(s float64) int64 { return int64(math.Round(s * float64(sec))) }

func runTable(t *testing.T, l Limit, rows []row) {
	t.Helper()
	p, err := Compile(l)
	if err != nil {
		t.Fatal(err)
	}
	d := newDriver(p)
	for i, r := range rows {
		kind := r.kind
		if kind == 0 {
			kind = Acquire
		}
		res := d.do(T0+us(r.at), kind, Tokens(r.cost))
		got := res.Decision
		if got.Allowed != r.wantAllowed || got.Remaining != Tokens(r.wantRemaining) || got.Permanent != r.wantPermanent ||
			(r.wantRetry >= 0 && got.RetryAfterUS != us(r.wantRetry)) {
			t.Fatalf("row %d (%s at %vs cost %v): got allowed=%v remaining=%v retry=%v permanent=%v, want allowed=%v remaining=%v retry=%v permanent=%v",
				i, kind, r.at, r.cost, got.Allowed, MilliToTokens(got.Remaining), float64(got.RetryAfterUS)/float64(sec), got.Permanent,
				r.wantAllowed, r.wantRemaining, r.wantRetry, r.wantPermanent)
		}
		if got.Policy != l.Name || got.Limit != Tokens(l.Capacity) {
			t.Fatalf("row %d: policy %q limit %d", i, got.Policy, got.Limit)
		}
		switch {
		case kind == Acquire && got.Allowed && got.Charged != Tokens(r.cost):
			t.Fatalf("row %d: charged %d, want %d", i, got.Charged, Tokens(r.cost))
		case kind == Acquire && !got.Allowed && got.Charged != 0:
			t.Fatalf("row %d: denied but charged %d", i, got.Charged)
		}
	}
}

func bucketRows() []row {
	// capacity 3, 1 token per second
	return []row{
		{at: 0, cost: 1, wantAllowed: true, wantRemaining: 2},
		{at: 0, cost: 1, wantAllowed: true, wantRemaining: 1},
		{at: 0, cost: 1, wantAllowed: true, wantRemaining: 0},
		{at: 0, cost: 1, wantAllowed: false, wantRemaining: 0, wantRetry: 1},
		{at: 0.5, cost: 1, wantAllowed: false, wantRemaining: 0.5, wantRetry: 0.5},
		{at: 1, cost: 1, wantAllowed: true, wantRemaining: 0},
		{at: 1.25, cost: 0.25, wantAllowed: true, wantRemaining: 0},
		{at: 1.25, cost: 0.001, wantAllowed: false, wantRemaining: 0, wantRetry: 0.001},
		{at: 10, cost: 0.5, wantAllowed: true, wantRemaining: 2.5}, // refill stops at capacity
		{at: 10, cost: 4, wantAllowed: false, wantRemaining: 2.5, wantPermanent: true},
		{at: 10, cost: 2.5, wantAllowed: true, wantRemaining: 0},
		{at: 9, cost: 1, wantAllowed: false, wantRemaining: 0, wantRetry: 1}, // time going back refills nothing
	}
}

func TestTokenBucketTable(t *testing.T) {
	runTable(t, Limit{Name: "tb", Algorithm: TokenBucket, Capacity: 3, Rate: 1, Period: time.Second}, bucketRows())
}

func TestGCRATable(t *testing.T) {
	runTable(t, Limit{Name: "gcra", Algorithm: GCRA, Capacity: 3, Rate: 1, Period: time.Second}, bucketRows()[:11])
}

func TestRatePerPeriod(t *testing.T) {
	// 6 per minute is 0.1 per second.
	runTable(t, Limit{Name: "tb", Algorithm: TokenBucket, Capacity: 1, Rate: 6, Period: time.Minute}, []row{
		{at: 0, cost: 1, wantAllowed: true, wantRemaining: 0},
		{at: 5, cost: 1, wantAllowed: false, wantRemaining: 0.5, wantRetry: 5},
		{at: 10, cost: 1, wantAllowed: true, wantRemaining: 0},
	})
}

func TestPTBCWDTable(t *testing.T) {
	// capacity 10, refill cap 0.8: the balance refills to 8 and no further.
	runTable(t, Limit{Name: "ptb", Algorithm: PTBCWD, Capacity: 10, Rate: 1}, []row{
		{at: 0, cost: 8, wantAllowed: true, wantRemaining: 0}, // a fresh key starts at the ceiling
		{at: 2, cost: 0.5, wantAllowed: true, wantRemaining: 1.5},
		{at: 1000, cost: 0, wantAllowed: true, wantRemaining: 8}, // idle: capped at 8, not 10
		{at: 1000, cost: 9, wantAllowed: false, wantRemaining: 8, wantPermanent: true},
		{at: 1000, cost: -2, wantAllowed: true, wantRemaining: 10, wantRetry: 0, kind: Settle}, // a refund may lift it to capacity
		{at: 1001, cost: 0, wantAllowed: true, wantRemaining: 9},                               // and decays back at the refill rate
		{at: 1002.5, cost: 0, wantAllowed: true, wantRemaining: 8},
		{at: 1003, cost: 0, wantAllowed: true, wantRemaining: 8},
		{at: 1003, cost: 8.5, wantAllowed: false, wantRemaining: 8, wantPermanent: true},
	})
}

func TestFixedWindowTable(t *testing.T) {
	runTable(t, Limit{Name: "fw", Algorithm: FixedWindow, Capacity: 3, Period: 10 * time.Second}, []row{
		{at: 0, cost: 2, wantAllowed: true, wantRemaining: 1},
		{at: 9, cost: 1, wantAllowed: true, wantRemaining: 0},
		{at: 9.5, cost: 1, wantAllowed: false, wantRemaining: 0, wantRetry: 0.5},
		{at: 10, cost: 3, wantAllowed: true, wantRemaining: 0}, // new window: 4 tokens in 1 s
		{at: 19.999999, cost: 0.001, wantAllowed: false, wantRemaining: 0, wantRetry: 0.000001},
		{at: 25, cost: 4, wantAllowed: false, wantRemaining: 3, wantPermanent: true},
		{at: 25, cost: 3, wantAllowed: true, wantRemaining: 0},
	})
}

func TestSlidingWindowTable(t *testing.T) {
	runTable(t, Limit{Name: "sw", Algorithm: SlidingWindow, Capacity: 10, Period: 10 * time.Second}, []row{
		{at: 0, cost: 10, wantAllowed: true, wantRemaining: 0},
		{at: 10, cost: 1, wantAllowed: false, wantRemaining: 0, wantRetry: 1}, // previous window weighs 100%
		{at: 11, cost: 1, wantAllowed: true, wantRemaining: 0},                // 90% of 10 + 1
		{at: 15, cost: 4, wantAllowed: true, wantRemaining: 0},                // 50% of 10 + 1 + 4
		{at: 15, cost: 1, wantAllowed: false, wantRemaining: 0, wantRetry: 1},
		{at: 20, cost: 5, wantAllowed: true, wantRemaining: 0}, // 100% of 5 + 5
		{at: 40, cost: 10, wantAllowed: true, wantRemaining: 0},
		{at: 40, cost: 11, wantAllowed: false, wantRemaining: 0, wantPermanent: true},
	})
}

func TestConcurrencyTable(t *testing.T) {
	runTable(t, Limit{Name: "cc", Algorithm: Concurrency, Capacity: 2}, []row{
		{at: 0, cost: 1, wantAllowed: true, wantRemaining: 1},
		{at: 0, cost: 1, wantAllowed: true, wantRemaining: 0},
		{at: 1, cost: 1, wantAllowed: false, wantRemaining: 0, wantRetry: 0},
		{at: 1, cost: 1, wantAllowed: true, wantRemaining: 1, wantRetry: 0, kind: Release},
		{at: 2, cost: 1, wantAllowed: true, wantRemaining: 0},
		{at: 2, cost: 3, wantAllowed: false, wantRemaining: 0, wantPermanent: true},
		{at: 3, cost: 5, wantAllowed: true, wantRemaining: 2, wantRetry: 0, kind: Release}, // never below 0
	})
}

// TestReserveThenSettle: charge an estimate, then settle the difference; a
// debit beyond the balance is debt that blocks later requests until refilled.
func TestReserveThenSettle(t *testing.T) {
	for _, alg := range []Algorithm{TokenBucket, GCRA} {
		t.Run(string(alg), func(t *testing.T) {
			runTable(t, Limit{Name: "b", Algorithm: alg, Capacity: 10, Rate: 1}, []row{
				{at: 0, cost: 5, wantAllowed: true, wantRemaining: 5},                              // reserve the estimate
				{at: 0, cost: -3, wantAllowed: true, wantRemaining: 8, wantRetry: 0, kind: Settle}, // real cost 2: refund 3
				{at: 0, cost: 9, wantAllowed: true, wantRemaining: 0, wantRetry: 0, kind: Settle},  // real cost 11: 1 token of debt
				{at: 0, cost: 1, wantAllowed: false, wantRemaining: 0, wantRetry: 2},               // debt blocks: 2 s to reach 1
				{at: 1.5, cost: 1, wantAllowed: false, wantRemaining: 0.5, wantRetry: 0.5},
				{at: 2, cost: 1, wantAllowed: true, wantRemaining: 0},
				{at: 2, cost: 100, wantAllowed: true, wantRemaining: 0, wantRetry: 0, kind: Settle}, // debt is capped at -capacity
				{at: 2, cost: 1, wantAllowed: false, wantRemaining: 0, wantRetry: 11},
				{at: 100, cost: -50, wantAllowed: true, wantRemaining: 10, wantRetry: 0, kind: Settle}, // refunds never exceed capacity
			})
		})
	}
	t.Run("fixed-window", func(t *testing.T) {
		runTable(t, Limit{Name: "b", Algorithm: FixedWindow, Capacity: 10, Period: time.Minute}, []row{
			{at: 0, cost: 4, wantAllowed: true, wantRemaining: 6},
			{at: 1, cost: 8, wantAllowed: true, wantRemaining: 0, wantRetry: 0, kind: Settle},
			{at: 2, cost: 1, wantAllowed: false, wantRemaining: 0, wantRetry: 58},
			{at: 3, cost: -5, wantAllowed: true, wantRemaining: 3, wantRetry: 0, kind: Settle},
			{at: 60, cost: 10, wantAllowed: true, wantRemaining: 0}, // debt does not cross windows
		})
	})
}

// TestPlanAllOrNothing: a plan admits only if every policy does; a denial
// charges nothing anywhere and reports the pre-charge balances.
func TestPlanAllOrNothing(t *testing.T) {
	burst := MustCompile(Limit{Name: "burst", Algorithm: TokenBucket, Capacity: 5, Rate: 1})
	hour := MustCompile(Limit{Name: "hour", Algorithm: FixedWindow, Capacity: 3, Calendar: CalendarHour})
	d := newDriver(burst, hour)
	for i := 0; i < 3; i++ {
		if r := d.do(T0, Acquire, 1000); !r.Allowed {
			t.Fatalf("request %d refused", i)
		}
	}
	r := d.do(T0+sec, Acquire, 1000)
	if r.Allowed || r.Policy != "hour" || r.RetryAfterUS != 3599*sec {
		t.Fatalf("4th: %+v, want denied by hour with 3599s", r.Decision)
	}
	if r.Policies[0].Policy != "burst" || !r.Policies[0].Allowed || r.Policies[0].Remaining != 3000 || r.Policies[0].Charged != 0 {
		t.Fatalf("burst decision on a plan denial: %+v (want pre-charge 2+1 refilled = 3 tokens, uncharged)", r.Policies[0])
	}
	// burst was not charged by the denial: still 3 tokens.
	if d.states[0][0] != 2*NanoPerToken {
		t.Fatalf("denied plan charged the burst policy: state %v", d.states[0])
	}
	// binding policy when allowed: least remaining relative to limit.
	d2 := newDriver(burst, MustCompile(Limit{Name: "day", Algorithm: FixedWindow, Capacity: 100, Calendar: CalendarDay}))
	if r := d2.do(T0, Acquire, 4000); !r.Allowed || r.Policy != "burst" || r.Remaining != 1000 {
		t.Fatalf("binding: %+v", r.Decision)
	}
	// a permanent denial binds before a longer wait
	if r := d2.do(T0, Acquire, 6000); r.Allowed || !r.Permanent || r.Policy != "burst" {
		t.Fatalf("permanent binding: %+v", r.Decision)
	}
}

func TestBadParameters(t *testing.T) {
	cases := []struct {
		name string
		l    Limit
		want []string
	}{
		{"negative rate", Limit{Name: "a", Algorithm: TokenBucket, Capacity: 1, Rate: -2}, []string{"rate: must be > 0, got -2"}},
		{"NaN rate", Limit{Name: "a", Algorithm: GCRA, Capacity: 1, Rate: math.NaN()}, []string{"rate: must be > 0, got NaN"}},
		{"zero capacity", Limit{Name: "a", Algorithm: TokenBucket, Capacity: 0, Rate: 1}, []string{"capacity: must be > 0 and <= 1000000, got 0"}},
		{"NaN capacity", Limit{Name: "a", Algorithm: FixedWindow, Capacity: math.NaN(), Period: time.Second}, []string{"capacity: must be > 0 and <= 1000000, got NaN"}},
		{"tiny capacity", Limit{Name: "a", Algorithm: FixedWindow, Capacity: 0.0001, Period: time.Second}, []string{"capacity: must be at least 0.001, got 0.0001"}},
		{"unknown algorithm", Limit{Name: "a", Algorithm: "leaky-bucket", Capacity: 1, Rate: 1}, []string{`algorithm: engine: unknown algorithm: "leaky-bucket"`}},
		{"bad calendar", Limit{Name: "a", Algorithm: FixedWindow, Capacity: 1, Calendar: "week"}, []string{`calendar: must be one of hour, day, month, got "week"`}},
		{"calendar on bucket", Limit{Name: "a", Algorithm: TokenBucket, Capacity: 1, Rate: 1, Calendar: CalendarDay}, []string{`calendar: only fixed-window supports a calendar window, got algorithm "token-bucket"`}},
		{"negative period", Limit{Name: "a", Algorithm: TokenBucket, Capacity: 1, Rate: 1, Period: -time.Second}, []string{"period: must be >= 0, got -1s"}},
		{"tiny window", Limit{Name: "a", Algorithm: FixedWindow, Capacity: 1, Period: time.Microsecond}, []string{"period: window must be >= 1ms, got 1µs"}},
		{"long sliding", Limit{Name: "a", Algorithm: SlidingWindow, Capacity: 1, Period: 2 * time.Hour}, []string{"period: sliding window must be <= 1h0m0s"}},
		{"refill cap", Limit{Name: "a", Algorithm: PTBCWD, Capacity: 1, Rate: 1, RefillCap: 1.5}, []string{"refill_cap: must be in (0, 1], got 1.5"}},
		{"huge rate", Limit{Name: "a", Algorithm: TokenBucket, Capacity: 1, Rate: 2e6}, []string{"rate: must be <= 1000000 tokens per second, got 2e+06 per 1s"}},
		{"name", Limit{Name: "a b", Algorithm: TokenBucket, Capacity: 1, Rate: 1}, []string{`name: must be at most 64 characters`, `got "a b"`}},
		{"all at once", Limit{Name: "", Algorithm: "x", Capacity: -1, Period: -1, RefillCap: -1},
			[]string{"name: must not be empty", `unknown algorithm: "x"`, "capacity: must be > 0 and <= 1000000, got -1", "period: must be >= 0, got -1ns", "refill_cap: must be in (0, 1], got -1"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Compile(tc.l)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\nlacks %q", err, w)
				}
			}
		})
	}
	for _, tc := range []struct {
		cost float64
		want string
	}{
		{math.NaN(), "cost: must be a finite number, got NaN"},
		{math.Inf(1), "cost: must be a finite number, got +Inf"},
		{-1, "cost: must be >= 0, got -1"},
		{2e6, "cost: must be <= 1000000, got 2e+06"},
	} {
		if _, err := ParseCost(tc.cost); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseCost(%v) = %v, want %q", tc.cost, err, tc.want)
		}
	}
	if c, err := ParseCost(1.2345); err != nil || c != 1235 {
		t.Errorf("ParseCost(1.2345) = %d, %v", c, err)
	}
	pl := NewPlan(MustCompile(Limit{Name: "a", Algorithm: TokenBucket, Capacity: 1, Rate: 1}))
	for _, tc := range []struct {
		op   Op
		want string
	}{
		{Op{Kind: Acquire, Key: "k", Plan: pl, Cost: -5}, "op.cost: must be >= 0 for acquire, got -5"},
		{Op{Kind: 9, Key: "k", Plan: pl}, "op.kind: unknown 9"},
		{Op{Kind: Acquire, Key: "", Plan: pl}, "op.key: must be 1 to 256 bytes, got 0"},
		{Op{Kind: Acquire, Key: "k", Plan: pl, Now: -1}, "op.now: must be >= 0, got -1"},
		{Op{Kind: Acquire, Key: "k"}, "plan: must have at least one policy"},
		{Op{Kind: Acquire, Key: "k", Plan: NewPlan(pl.Policies[0], pl.Policies[0])}, `plan.policies[1].name: duplicate "a"`},
		{Op{Kind: Settle, Key: "k", Plan: pl, Cost: -3e9}, "op.cost: out of range, got -3000000000"},
	} {
		if err := tc.op.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate(%+v) = %v, want %q", tc.op, err, tc.want)
		}
	}
	if _, err := ParseAlgorithm("nope"); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("ParseAlgorithm: %v", err)
	}
}
