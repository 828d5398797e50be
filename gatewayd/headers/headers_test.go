package headers

import (
	"context"
	"testing"
	"time"

	"tollgate/engine"
	"tollgate/engine/memstore"
)

func basicPlan(t *testing.T) *engine.Plan {
	t.Helper()
	p, err := engine.Compile(engine.Limit{Name: "basic", Algorithm: engine.TokenBucket, Capacity: 10, Rate: 1, Period: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return engine.NewPlan(p)
}

func TestPolicyAndLimitValues(t *testing.T) {
	pl := basicPlan(t)
	if got, want := PolicyValue(pl), `"basic";q=10;w=10`; got != want {
		t.Errorf("policy = %q, want %q", got, want)
	}
	st := memstore.New(memstore.Options{})
	now := engine.Micros(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	var res engine.Result
	for i := 0; i < 7; i++ {
		var err error
		res, err = st.Apply(context.Background(), engine.Op{Kind: engine.Acquire, Key: "k", Plan: pl, Cost: engine.Tokens(1), Now: now})
		if err != nil {
			t.Fatal(err)
		}
	}
	if got, want := LimitValue(pl, res), `"basic";r=3;t=1`; got != want {
		t.Errorf("after 7 requests: %q, want %q", got, want)
	}
	for i := 0; i < 3; i++ {
		res, _ = st.Apply(context.Background(), engine.Op{Kind: engine.Acquire, Key: "k", Plan: pl, Cost: engine.Tokens(1), Now: now})
	}
	res, _ = st.Apply(context.Background(), engine.Op{Kind: engine.Acquire, Key: "k", Plan: pl, Cost: engine.Tokens(1), Now: now + 250_000})
	if res.Allowed {
		t.Fatal("11th request allowed")
	}
	if got := RetryAfterSeconds(res.Decision); got != 1 {
		t.Errorf("retry-after = %d, want 1 (0.75 s rounded up)", got)
	}
	if got, want := LimitValue(pl, res), `"basic";r=0;t=1`; got != want {
		t.Errorf("denied: %q, want %q", got, want)
	}
	items, err := ParseList(LimitValue(pl, res))
	if err != nil || len(items) != 1 || items[0].Name != "basic" {
		t.Fatalf("parse: %v %v", items, err)
	}
	if r, ok := items[0].Int("r"); !ok || r != 0 {
		t.Errorf("r = %d %v", r, ok)
	}
}

func TestParseList(t *testing.T) {
	items, err := ParseList(`"burst";q=100;w=60,"daily";q=1000;w=86400, "c";q=5;qu="concurrent-requests"`)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 3 || items[1].Name != "daily" || items[2].Params["qu"] != "concurrent-requests" {
		t.Fatalf("items = %+v", items)
	}
	for _, bad := range []string{"", `basic;q=1`, `"basic";q=`, `"basic";q=1 x`, `"unterminated`, `"a";=1`} {
		if _, err := ParseList(bad); err == nil {
			t.Errorf("ParseList(%q) accepted", bad)
		}
	}
}

func FuzzParseList(f *testing.F) {
	f.Add(`"basic";q=10;w=1`)
	f.Add(`"a";r=0;t=1,"b";r=5`)
	f.Add(`"x\"y";qu="requests"`)
	f.Fuzz(func(t *testing.T, s string) {
		items, err := ParseList(s)
		if err == nil && len(items) == 0 {
			t.Fatal("no error and no items")
		}
	})
}
