package tier

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"tollgate/engine"
	"tollgate/engine/memstore"
)

func names(pl *engine.Plan) []string {
	var out []string
	for _, p := range pl.Policies {
		out = append(out, p.Name)
	}
	return out
}

func full() Tier {
	return Tier{Name: "pro", Burst: 20, Rate: 10, Period: engine.Duration(time.Second),
		Quotas:      Quotas{Hour: 1000, Day: 10_000, Month: 100_000},
		Methods:     map[string]Rate{"POST": {Burst: 5, Rate: 1}, "delete": {Burst: 1, Rate: 1, Period: engine.Duration(time.Minute)}},
		Concurrency: 4}
}

func TestPlans(t *testing.T) {
	c, err := Compile(full())
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		method string
		want   string
	}{
		{"GET", "pro pro-hour pro-day pro-month pro-concurrency"},
		{"POST", "pro pro-hour pro-day pro-month pro-post pro-concurrency"},
		{"post", "pro pro-hour pro-day pro-month pro-post pro-concurrency"},
		{"DELETE", "pro pro-hour pro-day pro-month pro-delete pro-concurrency"},
		{"", "pro pro-hour pro-day pro-month pro-concurrency"},
	}
	for _, tc := range cases {
		if got := strings.Join(names(c.Plan(tc.method)), " "); got != tc.want {
			t.Errorf("Plan(%q) = %q, want %q", tc.method, got, tc.want)
		}
	}
	if c.Plan("POST") != c.Plan("post") {
		t.Error("Plan is not cached: two pointers for the same method")
	}
	if got := strings.Join(names(c.OperationalPlan()), " "); got != "pro-ops" {
		t.Errorf("OperationalPlan = %q, want pro-ops", got)
	}
	ops := c.OperationalPlan().Policies[0]
	if ops.CapMilli != DefaultOperationalBurst*1000 || ops.Rate != DefaultOperationalRate*1000 {
		t.Errorf("default ops bucket: cap %d rate %d", ops.CapMilli, ops.Rate)
	}
	main := c.Plan("GET").Policies[0]
	if main.Algorithm != engine.TokenBucket || main.CapMilli != 20_000 || main.Rate != 10_000 {
		t.Errorf("main policy %+v", main)
	}
	for _, p := range c.Plan("GET").Policies[1:4] {
		if p.Algorithm != engine.FixedWindow || p.Calendar == engine.CalendarNone {
			t.Errorf("quota %s: %s %q, want calendar fixed-window", p.Name, p.Algorithm, p.Calendar)
		}
	}
	del := c.Plan("DELETE").Policies[4]
	if del.Rate != 17 { // 1 per minute = 16.67 milli/s, rounded to 17
		t.Errorf("delete rate %d milli/s", del.Rate)
	}
	if c.ConcurrencyPolicy() != "pro-concurrency" || c.Tier().Name != "pro" {
		t.Error("accessors")
	}
	minimal, err := Compile(Tier{Name: "free", Burst: 1, Rate: 1})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(names(minimal.Plan("GET")), " "); got != "free" {
		t.Errorf("minimal plan %q", got)
	}
	if minimal.ConcurrencyPolicy() != "" {
		t.Error("no concurrency expected")
	}
}

// TestOperationalBucketIsSeparate: health checks drain the ops bucket, not the
// customer's budget, and vice versa.
func TestOperationalBucketIsSeparate(t *testing.T) {
	c, err := Compile(Tier{Name: "basic", Burst: 3, Rate: 1, Operational: Rate{Burst: 2, Rate: 1}})
	if err != nil {
		t.Fatal(err)
	}
	s := memstore.New(memstore.Options{})
	ctx := context.Background()
	now := engine.Micros(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	acq := func(pl *engine.Plan) bool {
		r, err := s.Apply(ctx, engine.Op{Kind: engine.Acquire, Key: "t1", Plan: pl, Cost: 1000, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		return r.Allowed
	}
	for i := 0; i < 2; i++ {
		if !acq(c.OperationalPlan()) {
			t.Fatalf("health check %d refused", i)
		}
	}
	if acq(c.OperationalPlan()) {
		t.Fatal("third health check admitted beyond the ops burst of 2")
	}
	for i := 0; i < 3; i++ {
		if !acq(c.Plan("GET")) {
			t.Fatalf("request %d refused after health checks: they drained the main budget", i)
		}
	}
	if acq(c.Plan("GET")) {
		t.Fatal("fourth request admitted beyond burst 3")
	}
}

func TestMethodLimitBinds(t *testing.T) {
	c, err := Compile(Tier{Name: "b", Burst: 100, Rate: 100, Methods: map[string]Rate{"POST": {Burst: 2, Rate: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	s := memstore.New(memstore.Options{})
	now := int64(1_700_000_000_000_000)
	var last engine.Result
	admitted := 0
	for i := 0; i < 5; i++ {
		last, err = s.Apply(context.Background(), engine.Op{Kind: engine.Acquire, Key: "k", Plan: c.Plan("post"), Cost: 1000, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		if last.Allowed {
			admitted++
		}
	}
	if admitted != 2 || last.Policy != "b-post" {
		t.Fatalf("admitted %d POSTs (want 2), binding policy %q (want b-post)", admitted, last.Policy)
	}
	r, _ := s.Apply(context.Background(), engine.Op{Kind: engine.Acquire, Key: "k", Plan: c.Plan("GET"), Cost: 1000, Now: now})
	if !r.Allowed {
		t.Fatal("GET refused: the POST limit leaked into other methods")
	}
}

func TestValidateNamesFields(t *testing.T) {
	cases := []struct {
		name string
		tier Tier
		want []string
	}{
		{"negative burst", Tier{Name: "basic", Burst: -5, Rate: 1}, []string{"tiers.basic.burst: must be > 0, got -5"}},
		{"all at once", Tier{Name: "basic", Burst: 0, Rate: math.NaN(), Period: engine.Duration(-time.Second), Quotas: Quotas{Day: -1}},
			[]string{"tiers.basic.burst: must be > 0, got 0", "tiers.basic.rate: must be > 0, got NaN",
				"tiers.basic.period: must be >= 0, got -1s", "tiers.basic.quotas.day: must be >= 0, got -1"}},
		{"unknown algorithm", Tier{Name: "x", Algorithm: "leaky", Burst: 1, Rate: 1}, []string{`tiers.x.algorithm: unknown "leaky"`}},
		{"concurrency main", Tier{Name: "x", Algorithm: engine.Concurrency, Burst: 1, Rate: 1}, []string{"tiers.x.algorithm: the main budget cannot be"}},
		{"empty name", Tier{Burst: 1, Rate: 1}, []string{"tiers.(unnamed).name: must not be empty"}},
		{"bad name", Tier{Name: "a b", Burst: 1, Rate: 1}, []string{`tiers.a b.name: must be at most 40 characters`}},
		{"bad method", Tier{Name: "x", Burst: 1, Rate: 1, Methods: map[string]Rate{"GE T": {Burst: 1, Rate: 1}}}, []string{`tiers.x.methods.GE T: method must be 1 to 32 letters, got "GE T"`}},
		{"dup method", Tier{Name: "x", Burst: 1, Rate: 1, Methods: map[string]Rate{"GET": {Burst: 1, Rate: 1}, "get": {Burst: 1, Rate: 1}}}, []string{`tiers.x.methods.get: duplicate of method "GET"`}},
		{"method rate", Tier{Name: "x", Burst: 1, Rate: 1, Methods: map[string]Rate{"PUT": {Burst: 1, Rate: -2}}}, []string{"tiers.x.methods.PUT.rate: must be > 0, got -2"}},
		{"ops", Tier{Name: "x", Burst: 1, Rate: 1, Operational: Rate{Burst: -1, Rate: 1}}, []string{"tiers.x.operational.burst: must be > 0, got -1"}},
		{"refill cap", Tier{Name: "x", Algorithm: engine.PTBCWD, Burst: 1, Rate: 1, RefillCap: 1.5}, []string{"tiers.x.refill_cap: must be in (0, 1]"}},
		{"refill cap wrong alg", Tier{Name: "x", Burst: 1, Rate: 1, RefillCap: 0.5}, []string{"tiers.x.refill_cap: only applies to ptb-cwd"}},
		{"concurrency", Tier{Name: "x", Burst: 1, Rate: 1, Concurrency: math.Inf(1)}, []string{"tiers.x.concurrency: must be >= 0, got +Inf"}},
		{"engine bound", Tier{Name: "x", Burst: 2e6, Rate: 1}, []string{"tiers.x.burst: ", "capacity: must be > 0 and <= 1000000, got 2e+06"}},
		{"reserved method", Tier{Name: "x", Burst: 1, Rate: 1, Methods: map[string]Rate{"ops": {Burst: 1, Rate: 1}}}, []string{`tiers.x.methods.ops: method name clashes`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Compile(tc.tier)
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, engine.ErrInvalid) {
				t.Errorf("error does not wrap engine.ErrInvalid: %v", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
		})
	}
}

func TestWindowAlgorithmTier(t *testing.T) {
	c, err := Compile(Tier{Name: "legacy", Algorithm: engine.FixedWindow, Burst: 100, Period: engine.Duration(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	p := c.Plan("GET").Policies[0]
	if p.Algorithm != engine.FixedWindow || p.WindowUS != 60_000_000 || p.CapMilli != 100_000 {
		t.Fatalf("policy %+v", p)
	}
}

func TestCompileAll(t *testing.T) {
	m, err := CompileAll([]Tier{{Name: "a", Burst: 1, Rate: 1}, {Name: "b", Burst: 2, Rate: 2}})
	if err != nil || len(m) != 2 || m["b"].Tier().Burst != 2 {
		t.Fatalf("CompileAll: %v %v", m, err)
	}
	_, err = CompileAll([]Tier{{Name: "a", Burst: 1, Rate: 1}, {Name: "a", Burst: 1, Rate: 1}, {Name: "c", Burst: -1, Rate: 1}})
	if err == nil || !strings.Contains(err.Error(), `tiers[1].name: duplicate tier "a"`) || !strings.Contains(err.Error(), "tiers.c.burst") {
		t.Fatalf("CompileAll errors: %v", err)
	}
}

func FuzzCompile(f *testing.F) {
	f.Add("basic", 10.0, 1.0, int64(time.Second), 0.0, 100.0, "GET", 2.0, 0.0)
	f.Add("", -5.0, math.NaN(), int64(-1), 2.0, -1.0, "", -1.0, math.Inf(1))
	f.Fuzz(func(t *testing.T, name string, burst, rate float64, period int64, refill, day float64, method string, mburst, conc float64) {
		tr := Tier{Name: name, Burst: burst, Rate: rate, Period: engine.Duration(period), RefillCap: refill,
			Quotas: Quotas{Day: day}, Methods: map[string]Rate{method: {Burst: mburst, Rate: 1}}, Concurrency: conc}
		c, err := Compile(tr)
		if err != nil {
			if !errors.Is(err, engine.ErrInvalid) && !errors.Is(err, engine.ErrUnknownAlgorithm) {
				t.Fatalf("error does not wrap a sentinel: %v", err)
			}
			return
		}
		for _, pl := range []*engine.Plan{c.Plan(method), c.Plan("GET"), c.OperationalPlan()} {
			if err := pl.Validate(); err != nil {
				t.Fatalf("compiled an invalid plan: %v", err)
			}
		}
	})
}

// TestHeadCountsAsGet: HEAD is checked against the GET limit, on the same
// state, unless the tier names HEAD itself.
func TestHeadCountsAsGet(t *testing.T) {
	c, err := Compile(Tier{Name: "t", Burst: 100, Rate: 1, Methods: map[string]Rate{"GET": {Burst: 2, Rate: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(names(c.Plan("HEAD")), " "); got != "t t-get" {
		t.Errorf("Plan(HEAD) = %q, want %q", got, "t t-get")
	}
	if c.Plan("head") != c.Plan("GET") {
		t.Error("HEAD does not share GET's plan")
	}
	s := memstore.New(memstore.Options{})
	now := engine.Micros(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	allowed := 0
	for i, m := range []string{"GET", "HEAD", "HEAD", "GET"} {
		r, err := s.Apply(context.Background(), engine.Op{Kind: engine.Acquire, Key: "k", Plan: c.Plan(m), Cost: 1000, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		if r.Allowed {
			allowed++
		} else if i < 2 {
			t.Errorf("request %d (%s) refused within the GET burst", i, m)
		}
	}
	if allowed != 2 {
		t.Errorf("GET and HEAD together admitted %d, want the GET burst of 2", allowed)
	}
	own, err := Compile(Tier{Name: "t", Burst: 100, Rate: 1,
		Methods: map[string]Rate{"GET": {Burst: 2, Rate: 1}, "HEAD": {Burst: 50, Rate: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(names(own.Plan("HEAD")), " "); got != "t t-head" {
		t.Errorf("a tier naming HEAD: Plan(HEAD) = %q, want %q", got, "t t-head")
	}
	none, err := Compile(Tier{Name: "t", Burst: 100, Rate: 1})
	if err != nil {
		t.Fatal(err)
	}
	if none.Plan("HEAD") != none.Plan("GET") {
		t.Error("without method limits HEAD and GET differ")
	}
}
