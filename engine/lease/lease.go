// Package lease lets a node take a batch of tokens from the shared store in
// one call and spend it locally, trading store round trips for a bounded
// over-admission.
//
// A Leaser keeps one lease per (key, plan). An Acquire that fits in a live
// lease is answered locally. Otherwise the leftover of the old lease is
// dropped and the Leaser acquires max(Batch, cost) from the store; if the
// store refuses a whole batch it retries with the request's own cost, so near
// the limit a leaser degrades to one call per request instead of refusing
// what the store could still admit. A lease expires TTL after it was taken,
// which bounds how stale a node's view of the budget can get.
//
// Over-admission bound. The store's token bucket admits at most
// burst + rate x (t2 - t1) over any interval [t1, t2] (engine's invariant),
// and every token a leaser spends in the interval was either charged to the
// store inside it or was already held in a lease at t1. So, over all leasers
// sharing a key,
//
//	admitted cost in [t1, t2] <= burst + rate x (t2 - t1) + outstanding lease tokens at t1
//	                          <= burst + rate x (t2 - t1) + leasers x Batch.
//
// Tokens never spent before a lease expires are lost: leases only ever make
// the limit stricter over the long run, never looser. The bound and the cut in
// store calls are tested in lease_test.go.
//
// Plans with a concurrency policy pass through to the store, as do Settle and
// Release: a batch of concurrency slots would never be released.
package lease

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"tollgate/engine"
)

// Defaults for zero Options fields.
const (
	DefaultBatch = 10
	DefaultTTL   = time.Second
)

// Options configure a Leaser.
type Options struct {
	// Batch is how many tokens one store call takes (default 10).
	Batch float64
	// TTL is how long a lease may be spent (default 1s).
	TTL time.Duration
}

type leaseKey struct {
	key  string
	plan *engine.Plan
}

type lease struct {
	mu      sync.Mutex
	tokens  int64 // millitokens left
	expires int64 // microseconds
	last    engine.Result
	// near is set when the store last refused a whole batch: the key is at
	// its limit, so the next calls ask for the request's own cost only (one
	// call per request instead of a refused batch and then the request).
	// It clears when the store again has room for a batch.
	near bool
}

// Leaser spends store batches locally. It implements engine.Store and is safe
// for concurrent use.
type Leaser struct {
	store engine.Store
	batch int64 // millitokens
	ttl   int64 // microseconds

	mu     sync.Mutex
	leases map[leaseKey]*lease
	ops    int

	storeCalls atomic.Int64
	localHits  atomic.Int64
}

var _ engine.Store = (*Leaser)(nil)

// Validate reports bad options (NaN or negative Batch, negative TTL), naming
// the field and value. New treats such values as zero (the default); call
// Validate on configuration input first.
func (o Options) Validate() error {
	var errs []error
	if math.IsNaN(o.Batch) || o.Batch < 0 || o.Batch > engine.MaxCapacity {
		errs = append(errs, fmt.Errorf("%w: lease.batch: must be in [0, %d], got %v", engine.ErrInvalid, engine.MaxCapacity, o.Batch))
	}
	if o.TTL < 0 {
		errs = append(errs, fmt.Errorf("%w: lease.ttl: must be >= 0, got %v", engine.ErrInvalid, o.TTL))
	}
	return errors.Join(errs...)
}

// New returns a Leaser over store. Zero or invalid option fields take the
// defaults (see Options.Validate).
func New(store engine.Store, opts Options) *Leaser {
	if math.IsNaN(opts.Batch) || opts.Batch <= 0 || opts.Batch > engine.MaxCapacity {
		opts.Batch = DefaultBatch
	}
	if opts.TTL <= 0 {
		opts.TTL = DefaultTTL
	}
	return &Leaser{store: store, batch: max(1, engine.Tokens(opts.Batch)), ttl: max(1, opts.TTL.Microseconds()),
		leases: make(map[leaseKey]*lease)}
}

// StoreCalls returns how many calls went to the store.
func (l *Leaser) StoreCalls() int64 { return l.storeCalls.Load() }

// LocalHits returns how many Acquires were answered from a lease.
func (l *Leaser) LocalHits() int64 { return l.localHits.Load() }

// Outstanding returns the unspent tokens, in millitokens, of the leases live
// at now (microseconds): what this node may still admit without asking.
func (l *Leaser) Outstanding(now int64) int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	var n int64
	for _, ls := range l.leases {
		ls.mu.Lock()
		if ls.expires > now {
			n += ls.tokens
		}
		ls.mu.Unlock()
	}
	return n
}

func hasConcurrency(pl *engine.Plan) bool {
	for _, p := range pl.Policies {
		if p != nil && p.Algorithm == engine.Concurrency {
			return true
		}
	}
	return false
}

func (l *Leaser) apply(ctx context.Context, op engine.Op) (engine.Result, error) {
	l.storeCalls.Add(1)
	return l.store.Apply(ctx, op)
}

// planCeiling is the most one Acquire of the plan can ever take: the
// smallest capacity among its policies (for ptb-cwd, its refill ceiling). A
// batch above it would always be refused and cost a second call per lease.
func planCeiling(pl *engine.Plan) int64 {
	c := int64(math.MaxInt64)
	for _, p := range pl.Policies {
		if p == nil {
			continue
		}
		c = min(c, p.CapMilli)
		if p.Algorithm == engine.PTBCWD && p.CeilNano > 0 {
			c = min(c, p.CeilNano/(engine.NanoPerToken/engine.MilliPerToken))
		}
	}
	return max(1, c)
}

// sweepEvery is how many lease lookups pass between sweeps of expired leases.
const sweepEvery = 4096

func (l *Leaser) get(k leaseKey, now int64) *lease {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ops++
	if l.ops >= sweepEvery && l.ops >= len(l.leases) {
		l.ops = 0
		for kk, ls := range l.leases {
			if ls.mu.TryLock() {
				if ls.expires <= now {
					delete(l.leases, kk)
				}
				ls.mu.Unlock()
			}
		}
	}
	ls, ok := l.leases[k]
	if !ok {
		ls = &lease{}
		l.leases[k] = ls
	}
	return ls
}

// Acquire decides an operation: an Acquire from the key's lease when it
// covers the cost, otherwise from the store as described in the package
// comment. Other kinds, and plans with a concurrency policy, go to the store.
// Once a batch has been refused, the key's next calls ask for the request's
// cost alone until the store reports room for a batch again, so a key held at
// its limit costs one store call per request, not two.
func (l *Leaser) Acquire(ctx context.Context, op engine.Op) (engine.Result, error) {
	if op.Kind != engine.Acquire {
		return l.apply(ctx, op)
	}
	if err := op.Validate(); err != nil {
		return engine.Result{}, fmt.Errorf("lease: %w", err)
	}
	if hasConcurrency(op.Plan) {
		return l.apply(ctx, op)
	}
	ls := l.get(leaseKey{op.Key, op.Plan}, op.Now)
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if ls.expires > op.Now && ls.tokens >= op.Cost {
		ls.tokens -= op.Cost
		l.localHits.Add(1)
		return ls.local(op), nil
	}
	ls.tokens, ls.expires = 0, 0
	batch := max(min(l.batch, planCeiling(op.Plan)), op.Cost)
	take := batch
	if ls.near {
		take = op.Cost
	}
	bop := op
	bop.Cost = take
	res, err := l.apply(ctx, bop)
	if err != nil {
		return res, err
	}
	if !res.Allowed && take > op.Cost {
		// The store cannot give a whole batch: the key is near its limit.
		// It may still admit the request alone.
		ls.near = true
		return l.apply(ctx, op)
	}
	if res.Allowed {
		if ls.near && res.Remaining >= batch {
			ls.near = false // room for a batch again
		}
		ls.tokens, ls.expires, ls.last = take-op.Cost, op.Now+l.ttl, res
		return ls.local(op), nil
	}
	return res, nil
}

// TryLocal answers an Acquire from the key's live lease when it covers the
// cost, without calling the store; ok is false (and nothing changes)
// otherwise. limiter.Limiter uses it while its breaker is open.
func (l *Leaser) TryLocal(op engine.Op) (engine.Result, bool) {
	if op.Kind != engine.Acquire || op.Plan == nil || op.Cost < 0 || hasConcurrency(op.Plan) {
		return engine.Result{}, false
	}
	l.mu.Lock()
	ls, ok := l.leases[leaseKey{op.Key, op.Plan}]
	l.mu.Unlock()
	if !ok {
		return engine.Result{}, false
	}
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if ls.expires <= op.Now || ls.tokens < op.Cost {
		return engine.Result{}, false
	}
	ls.tokens -= op.Cost
	l.localHits.Add(1)
	return ls.local(op), true
}

// local builds the result of an Acquire answered from the lease: the last
// store result with this request's charge, and the lease's leftover added to
// what remains.
func (ls *lease) local(op engine.Op) engine.Result {
	r := ls.last
	r.NowUS = op.Now
	r.Policies = append([]engine.Decision(nil), ls.last.Policies...)
	fix := func(d *engine.Decision) {
		d.Allowed, d.Permanent, d.RetryAfterUS, d.Charged = true, false, 0, op.Cost
		d.Remaining = min(d.Limit, d.Remaining+ls.tokens)
	}
	fix(&r.Decision)
	for i := range r.Policies {
		fix(&r.Policies[i])
	}
	return r
}

// Apply is Acquire, so a Leaser can stand wherever an engine.Store does (for
// example under a limiter.Limiter).
func (l *Leaser) Apply(ctx context.Context, op engine.Op) (engine.Result, error) {
	return l.Acquire(ctx, op)
}

// ApplyBatch applies each operation in order.
func (l *Leaser) ApplyBatch(ctx context.Context, ops []engine.Op) ([]engine.Result, error) {
	out := make([]engine.Result, 0, len(ops))
	for i, op := range ops {
		r, err := l.Acquire(ctx, op)
		if err != nil {
			return out, fmt.Errorf("lease: batch op %d: %w", i, err)
		}
		out = append(out, r)
	}
	return out, nil
}
