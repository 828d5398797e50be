package sim

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"tollgate/engine"
	"tollgate/engine/memstore"
)

// TestTableMatchesMemstore drives the same random operations through the
// simulator's state table and the engine's memstore: every decision must be
// identical, for every algorithm and for multi-policy plans.
func TestTableMatchesMemstore(t *testing.T) {
	for _, alg := range engine.Algorithms() {
		t.Run(string(alg), func(t *testing.T) {
			main := engine.MustCompile(engine.Limit{Name: "main", Algorithm: alg, Capacity: 5, Rate: 3, Period: time.Second})
			hour := engine.MustCompile(engine.Limit{Name: "hour", Algorithm: engine.FixedWindow, Capacity: 40, Calendar: engine.CalendarHour})
			plans := []*planRef{
				{plan: engine.NewPlan(main), slots: []int{0}},
				{plan: engine.NewPlan(main, hour), slots: []int{0, 1}},
			}
			tab := newTable(4, 2)
			ms := memstore.New(memstore.Options{})
			r := rand.New(rand.NewPCG(11, 12))
			now := int64(1_767_225_600_000_000)
			for i := 0; i < 20000; i++ {
				now += int64(r.IntN(400_000))
				if r.IntN(50) == 0 {
					now -= int64(r.IntN(300_000)) // a clock behind the last writer
				}
				key := int32(r.IntN(4))
				pr := plans[r.IntN(2)]
				kind := engine.Acquire
				cost := int64(r.IntN(3000))
				switch r.IntN(10) {
				case 0:
					kind = engine.Settle
					cost -= 1500
				case 1:
					kind = engine.Release
				}
				want, err := ms.Apply(context.Background(), engine.Op{Kind: kind, Key: fmt.Sprint(key), Plan: pr.plan, Cost: cost, Now: now})
				if err != nil {
					t.Fatal(err)
				}
				got := tab.apply(key, pr, now, kind, cost)
				if got.Allowed != want.Allowed || got.RetryAfterUS != want.RetryAfterUS || got.Policy != want.Policy || got.Permanent != want.Permanent {
					t.Fatalf("op %d (%s key %d cost %d now %d): table %+v, memstore %+v", i, kind, key, cost, now, got, want.Decision)
				}
			}
		})
	}
}
