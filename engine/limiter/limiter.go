// Package limiter is the shell between a request and an engine.Store: it takes
// now from a Clock, calls the store with a short timeout behind a circuit
// breaker, and applies the tier's failure policy when the store cannot answer.
//
// Fail-open requests are admitted when the store fails or the breaker is open,
// and every such admission is counted as unmetered (Unmetered) so billing
// knows what was given away; fail-closed requests are refused. Either way
// Outcome.Err says why.
//
// Example:
//
//	lim := limiter.New(store, engine.ClockFunc(time.Now), limiter.Options{})
//	out := lim.Acquire(ctx, limiter.Request{Key: tenant, Plan: plan, Cost: engine.Tokens(2), FailOpen: true})
//	if !out.Allowed { ... 429 or 503 ... }
package limiter

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"tollgate/engine"
)

// DefaultTimeout is the default store timeout per call: long enough for a
// loopback or same-zone Redis round trip, short enough that a dead store
// does not stall requests (envoyproxy/ratelimit#462 shows what a 10 s default does).
const DefaultTimeout = 50 * time.Millisecond

// ErrBreakerOpen is returned (wrapping engine.ErrStoreUnavailable) when the
// breaker refuses to call the store.
var ErrBreakerOpen = fmt.Errorf("limiter: circuit breaker open: %w", engine.ErrStoreUnavailable)

// Options configure a Limiter. The zero value takes the defaults.
type Options struct {
	// Timeout bounds each store call (default 50ms).
	Timeout time.Duration
	// Breaker configures the circuit breaker.
	Breaker BreakerConfig
}

// Request is one request to limit.
type Request struct {
	// Key identifies the client (tenant, API key hash).
	Key string
	// Plan is the set of policies to check.
	Plan *engine.Plan
	// Cost in millitokens (engine.Tokens), >= 0.
	Cost int64
	// FailOpen admits the request, unmetered, when the store fails.
	FailOpen bool
}

// Outcome is a limiter decision.
type Outcome struct {
	// Result is the store's result; on a store failure, a synthetic one:
	// Allowed per the failure policy, Policy and Limit of the plan's first
	// policy, Remaining 0, RetryAfterUS the breaker's remaining cooldown.
	engine.Result
	// Unmetered reports a fail-open admission the store did not count.
	Unmetered bool
	// Err is the store failure (wrapping engine.ErrStoreUnavailable or the
	// store's error) or a bad request (engine.ErrInvalid); nil when the store
	// decided. A non-nil Err with Allowed true is a fail-open admission.
	Err error
}

// Limiter applies requests to a store. It is safe for concurrent use.
type Limiter struct {
	store   engine.Store
	clock   engine.Clock
	timeout time.Duration
	breaker *Breaker

	unmetered   atomic.Int64
	storeErrors atomic.Int64
	refused     atomic.Int64
}

// New returns a Limiter over store, taking now from clock.
func New(store engine.Store, clock engine.Clock, opts Options) *Limiter {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	return &Limiter{store: store, clock: clock, timeout: opts.Timeout, breaker: NewBreaker(opts.Breaker)}
}

// Breaker returns the limiter's breaker (for state reporting).
func (l *Limiter) Breaker() *Breaker { return l.breaker }

// Unmetered returns how many requests were admitted fail-open without the
// store counting them.
func (l *Limiter) Unmetered() int64 { return l.unmetered.Load() }

// StoreErrors returns how many store calls failed (timeouts included; calls
// the open breaker refused are not store errors).
func (l *Limiter) StoreErrors() int64 { return l.storeErrors.Load() }

// FailClosed returns how many requests were refused because the store could
// not decide.
func (l *Limiter) FailClosed() int64 { return l.refused.Load() }

// Local is implemented by stores that can decide some operations without a
// store round trip (engine/lease's Leaser, from a live lease). While the
// breaker is open the limiter still offers each operation to it, so tokens a
// node already holds keep being spent when the shared store is down, as they
// would be if the breaker had not opened.
type Local interface {
	// TryLocal decides op if it can without a round trip; ok is false
	// otherwise, and then nothing was changed.
	TryLocal(op engine.Op) (res engine.Result, ok bool)
}

// call runs one op through the breaker and the timeout, taking now from the
// clock. Store failures come back wrapping engine.ErrStoreUnavailable.
func (l *Limiter) call(ctx context.Context, op engine.Op) (engine.Result, error) {
	now := l.clock.Now()
	op.Now = engine.Micros(now)
	if !l.breaker.Allow(now) {
		if lc, ok := l.store.(Local); ok {
			if res, ok := lc.TryLocal(op); ok {
				return res, nil
			}
		}
		return engine.Result{}, ErrBreakerOpen
	}
	cctx, cancel := context.WithTimeout(ctx, l.timeout)
	res, err := l.store.Apply(cctx, op)
	cancel()
	switch {
	case err == nil:
		l.breaker.Success(l.clock.Now())
	case errors.Is(err, engine.ErrInvalid) || errors.Is(err, engine.ErrUnknownAlgorithm):
		// The request was bad, not the store: the store answered.
		l.breaker.Success(l.clock.Now())
	case ctx.Err() != nil:
		// The caller gave up (client gone); not the store's fault.
	default:
		l.storeErrors.Add(1)
		l.breaker.Failure(l.clock.Now())
		if !errors.Is(err, engine.ErrStoreUnavailable) {
			err = fmt.Errorf("%w: %w", engine.ErrStoreUnavailable, err)
		}
	}
	return res, err
}

// Acquire decides a request. It never blocks longer than the timeout.
func (l *Limiter) Acquire(ctx context.Context, req Request) Outcome {
	res, err := l.call(ctx, engine.Op{Kind: engine.Acquire, Key: req.Key, Plan: req.Plan, Cost: req.Cost})
	if err == nil {
		return Outcome{Result: res}
	}
	if !errors.Is(err, engine.ErrStoreUnavailable) {
		return Outcome{Err: err} // bad request or caller gone: refused, never fail-open
	}
	now := l.clock.Now()
	if req.FailOpen {
		l.unmetered.Add(1)
	} else {
		l.refused.Add(1)
	}
	d := FailureDecision(req.Plan, req.FailOpen, l.breaker.RetryAfter(now))
	return Outcome{Err: err, Unmetered: req.FailOpen, Result: engine.Result{Decision: d, NowUS: engine.Micros(now)}}
}

// FailureDecision is the failure policy: the decision for a request the
// store could not decide (it failed, timed out, or the breaker is open).
// Fail-open admits it (the caller counts it as unmetered); fail-closed
// refuses it with Retry-After the breaker's remaining cooldown (retryAfter).
// Policy and Limit are the plan's first policy's. gatewayd (through Acquire)
// and the simulator both decide store failures here.
func FailureDecision(plan *engine.Plan, failOpen bool, retryAfter time.Duration) engine.Decision {
	var d engine.Decision
	if plan != nil && len(plan.Policies) > 0 && plan.Policies[0] != nil {
		d.Policy, d.Limit = plan.Policies[0].Name, plan.Policies[0].CapMilli
	}
	if failOpen {
		d.Allowed = true
	} else {
		d.RetryAfterUS = retryAfter.Microseconds()
	}
	return d
}

// Settle adjusts a reservation by delta millitokens (positive debits more,
// negative refunds), best effort with the same timeout and breaker.
func (l *Limiter) Settle(ctx context.Context, req Request, delta int64) error {
	if delta == 0 {
		return nil
	}
	_, err := l.call(ctx, engine.Op{Kind: engine.Settle, Key: req.Key, Plan: req.Plan, Cost: delta})
	return err
}

// Release returns req.Cost to the plan's concurrency policies, best effort
// with the same timeout and breaker. Plans without one need no Release.
func (l *Limiter) Release(ctx context.Context, req Request) error {
	if !hasConcurrency(req.Plan) {
		return nil
	}
	_, err := l.call(ctx, engine.Op{Kind: engine.Release, Key: req.Key, Plan: req.Plan, Cost: req.Cost})
	return err
}

func hasConcurrency(pl *engine.Plan) bool {
	if pl == nil {
		return false
	}
	for _, p := range pl.Policies {
		if p != nil && p.Algorithm == engine.Concurrency {
			return true
		}
	}
	return false
}
