package engine

import "testing"

// TestGCRAFarFutureTATDoesNotOverflow replays a caller whose clock is three
// hours behind the one that wrote a GCRA state at the largest rate: before the
// clamp, (tat-now)*rate overflowed int64 and admitted the request with a
// remaining balance thousands of times the limit.
func TestGCRAFarFutureTATDoesNotOverflow(t *testing.T) {
	p := MustCompile(Limit{Name: "g", Algorithm: GCRA, Capacity: MaxCapacity, Rate: MaxRatePerSecond})
	now0 := int64(1_795_000_000_000_000)
	s, write, _, d := Step(p, State{}, false, now0, Acquire, Tokens(MaxCapacity))
	if !d.Allowed || !write {
		t.Fatalf("first acquire of the whole capacity: %+v", d)
	}
	back := now0 - 3*3600*1_000_000
	_, write, _, d = Step(p, s, true, back, Acquire, Tokens(1))
	if d.Allowed || write {
		t.Fatalf("acquire 3h behind the writer's clock: allowed=%v write=%v, want a denial", d.Allowed, write)
	}
	if d.Remaining != 0 || d.Remaining > p.CapMilli || d.RetryAfterUS <= 0 {
		t.Fatalf("acquire 3h behind: remaining=%d retry=%d, want 0 remaining and a positive wait", d.Remaining, d.RetryAfterUS)
	}
	_, _, _, d = Step(p, s, true, back, Settle, -Tokens(MaxCapacity))
	if d.Remaining < 0 || d.Remaining > p.CapMilli {
		t.Fatalf("settle 3h behind: remaining=%d out of [0, %d]", d.Remaining, p.CapMilli)
	}
}
