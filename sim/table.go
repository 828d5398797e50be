package sim

import (
	"tollgate/engine"
	"tollgate/sim/oracle"
)

// slot is one policy's stored state for one key, as a store keeps it.
type slot struct {
	st engine.State
	// exp is the time (engine microseconds) after which the state is absent;
	// 0 means never written.
	exp int64
}

// table is a store's per-key state: dense, indexed by key id and the
// policy's slot within the key's tier. It applies operations with the
// engine's own plan evaluation (engine.EvalInto), as memstore does, without
// allocating; a test holds its decisions identical to memstore's.
type table struct {
	slots []slot
	// per is the number of slots per key.
	per int
}

func newTable(keys, per int) *table {
	return &table{slots: make([]slot, keys*per), per: per}
}

// grow makes room for key ids below keys.
func (t *table) grow(keys int) {
	if need := keys * t.per; need > len(t.slots) {
		n := max(need, 2*len(t.slots))
		s := make([]slot, n)
		copy(s, t.slots)
		t.slots = s
	}
}

// maxPlan is the most policies a plan may have in the simulator.
const maxPlan = 8

// planRef is a plan with the slot of each of its policies.
type planRef struct {
	plan  *engine.Plan
	slots []int
	// concurrency is the cost index of a concurrency policy (-1 if none).
	concurrency int
	// ref is the plan's independent reference (sim/oracle) for every key,
	// on true time.
	ref *oracle.Keys
}

// apply applies one operation for key at now (engine microseconds) and
// returns the binding decision with Allowed for the whole plan: the plan is
// evaluated by engine.EvalInto, the code every store runs, into buffers on
// the stack.
func (t *table) apply(key int32, pr *planRef, now int64, kind engine.OpKind, cost int64) engine.Decision {
	base := int(key) * t.per
	n := len(pr.plan.Policies)
	var st, ns [maxPlan]engine.State
	var ex, wr [maxPlan]bool
	var ttl [maxPlan]int64
	var ds [maxPlan]engine.Decision
	for i := 0; i < n; i++ {
		s := &t.slots[base+pr.slots[i]]
		st[i], ex[i] = s.st, s.exp > now
	}
	res := engine.EvalInto(pr.plan, st[:n], ex[:n], now, kind, cost, ns[:n], wr[:n], ttl[:n], ds[:n])
	for i := 0; i < n; i++ {
		if wr[i] {
			s := &t.slots[base+pr.slots[i]]
			s.st, s.exp = ns[i], now+ttl[i]
		}
	}
	// res.Decision, read out of the buffer: returning the field of res
	// (which holds ds) would move ds to the heap on every call, 276,000
	// allocations per baseline run and half the simulator's speed
	return ds[engine.Binding(ds[:n], res.Allowed)]
}

// check reports whether an Acquire of cost would be allowed, without
// changing the state.
func (t *table) check(key int32, pr *planRef, now int64, cost int64) bool {
	base := int(key) * t.per
	for i, p := range pr.plan.Policies {
		s := &t.slots[base+pr.slots[i]]
		_, _, _, d := engine.Step(p, s.st, s.exp > now, now, engine.Acquire, cost)
		if !d.Allowed {
			return false
		}
	}
	return true
}
