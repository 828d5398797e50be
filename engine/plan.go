package engine

import (
	"context"
	"fmt"
)

// Plan is the ordered set of policies one request must satisfy together, for
// example a tier's burst bucket, its hourly and monthly quotas and a per-method
// limit. An Acquire is all or nothing: admitted only if every policy admits it,
// and then charged to every policy. Plans are immutable and safe for concurrent
// use.
type Plan struct {
	Policies []*Policy
}

// NewPlan returns a plan of the given policies. Policy names must be unique
// within a plan: they name the per-key state.
func NewPlan(policies ...*Policy) *Plan { return &Plan{Policies: policies} }

// Validate checks the plan has at least one policy and unique names.
func (pl *Plan) Validate() error {
	if pl == nil || len(pl.Policies) == 0 {
		return fmt.Errorf("%w: plan: must have at least one policy", ErrInvalid)
	}
	// Plans hold a handful of policies: comparing pairs is cheaper than a
	// map and allocates nothing on the per-operation path.
	for i, p := range pl.Policies {
		if p == nil {
			return fmt.Errorf("%w: plan.policies[%d]: nil policy", ErrInvalid, i)
		}
		for _, q := range pl.Policies[:i] {
			if q.Name == p.Name {
				return fmt.Errorf("%w: plan.policies[%d].name: duplicate %q", ErrInvalid, i, p.Name)
			}
		}
	}
	return nil
}

// Op is one operation for a store to apply atomically.
type Op struct {
	Kind OpKind
	// Key identifies the client being limited (tenant, API key hash...). The
	// state of each policy lives under Key and the policy's name.
	Key string
	// Plan is the set of policies to apply.
	Plan *Plan
	// Cost in millitokens: >= 0 for Acquire and Release, signed for Settle.
	Cost int64
	// Now is the caller's time in microseconds since the epoch. The memory
	// store always uses it; the Redis store uses it only in client clock mode
	// and reads Redis's TIME otherwise.
	Now int64
}

// MaxKeyLength is the longest key an Op may carry.
const MaxKeyLength = 256

// Validate checks an operation's fields.
func (op Op) Validate() error {
	switch op.Kind {
	case Acquire, Release:
		if op.Cost < 0 {
			return fmt.Errorf("%w: op.cost: must be >= 0 for %s, got %d", ErrInvalid, op.Kind, op.Cost)
		}
	case Settle:
	default:
		return fmt.Errorf("%w: op.kind: unknown %d", ErrInvalid, int(op.Kind))
	}
	if op.Key == "" || len(op.Key) > MaxKeyLength {
		return fmt.Errorf("%w: op.key: must be 1 to %d bytes, got %d", ErrInvalid, MaxKeyLength, len(op.Key))
	}
	if op.Cost > 2*MaxCapacity*MilliPerToken || op.Cost < -2*MaxCapacity*MilliPerToken {
		return fmt.Errorf("%w: op.cost: out of range, got %d", ErrInvalid, op.Cost)
	}
	if op.Now < 0 {
		return fmt.Errorf("%w: op.now: must be >= 0, got %d", ErrInvalid, op.Now)
	}
	return op.Plan.Validate()
}

// Store applies operations atomically per key. Implementations: memstore
// (in-process) and redisstore (Redis, one Lua script call per operation or per
// batch). Stores are safe for concurrent use.
type Store interface {
	// Apply applies one operation and returns its result.
	Apply(ctx context.Context, op Op) (Result, error)
	// ApplyBatch applies several operations, each atomically, in order, and
	// returns one result per operation.
	ApplyBatch(ctx context.Context, ops []Op) ([]Result, error)
}

// Eval applies an operation to the plan's states: the pure core every store
// runs (the Redis store in Lua). states and exists hold one entry per policy.
// It returns the new states, which of them to write, their TTLs in
// microseconds, and the result.
func Eval(pl *Plan, states []State, exists []bool, now int64, kind OpKind, cost int64) (newStates []State, write []bool, ttls []int64, res Result) {
	n := len(pl.Policies)
	newStates = make([]State, n)
	write = make([]bool, n)
	ttls = make([]int64, n)
	res = EvalInto(pl, states, exists, now, kind, cost, newStates, write, ttls, make([]Decision, n))
	return newStates, write, ttls, res
}

// EvalInto is Eval writing into buffers the caller provides, so a store can
// decide without allocating: newStates, write, ttls and decisions must each
// have at least len(pl.Policies) entries; the result's Policies is
// decisions[:len(pl.Policies)]. It computes exactly what Eval computes.
func EvalInto(pl *Plan, states []State, exists []bool, now int64, kind OpKind, cost int64,
	newStates []State, write []bool, ttls []int64, decisions []Decision) (res Result) {
	n := len(pl.Policies)
	newStates, write, ttls = newStates[:n], write[:n], ttls[:n]
	res.Policies = decisions[:n]
	res.NowUS = now
	allowed := true
	for i, p := range pl.Policies {
		newStates[i], write[i], ttls[i] = StepInto(p, states[i], exists[i], now, kind, cost, &res.Policies[i])
		if !res.Policies[i].Allowed {
			allowed = false
		}
	}
	if !allowed {
		for i := range write {
			write[i] = false
		}
		// Report pre-charge balances for the policies that would have admitted.
		for i, p := range pl.Policies {
			if res.Policies[i].Allowed && kind == Acquire {
				StepInto(p, states[i], exists[i], now, Acquire, 0, &res.Policies[i])
				res.Policies[i].Allowed = true
			}
		}
	}
	res.Decision = res.Policies[Binding(res.Policies, allowed)]
	res.Allowed = allowed
	return res
}

// Binding returns the index of the decision that governs the result: on a
// denial, the denying decision that is permanent or waits longest; when allowed,
// the one with the least remaining relative to its limit.
func Binding(ds []Decision, allowed bool) int {
	best := 0
	if !allowed {
		best = -1
		for i, d := range ds {
			if d.Allowed {
				continue
			}
			if best < 0 || (d.Permanent && !ds[best].Permanent) ||
				(d.Permanent == ds[best].Permanent && d.RetryAfterUS > ds[best].RetryAfterUS) {
				best = i
			}
		}
		return best
	}
	for i, d := range ds {
		// d.Remaining/d.Limit < b.Remaining/b.Limit, in integers.
		b := ds[best]
		if d.Remaining*b.Limit < b.Remaining*d.Limit {
			best = i
		}
	}
	return best
}
