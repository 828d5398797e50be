package gateway

import (
	"context"
	"errors"
	"sync"
	"time"

	"tollgate/engine"
)

// batcher is an engine.Store in front of a remote store (Redis) that
// coalesces concurrent calls into one round trip, as a database's group
// commit does. A call that finds no round trip in flight goes straight to the
// inner store's Apply, exactly as without the batcher, so an unloaded gateway
// adds nothing. Calls that arrive while one is in flight queue up; when it
// returns, everything queued goes in one ApplyBatch (one pipelined round trip
// and a few script runs on the server instead of one of each per request).
// Each operation stays atomic on its own, operations on one key keep their
// order, and one budget shared by several gateways is unchanged. A CPU
// profile of gatewayd at saturation with the Redis store showed the per
// request round trip (go-redis write, read and its bookkeeping) as a quarter
// of the gateway's CPU, with redis-server's script runs on top.
//
// A queued call whose context ends before its batch is sent is not sent. A
// batch that fails fails each of its calls with the store's error, as each
// would have failed on its own. Safe for concurrent use.
type batcher struct {
	inner   engine.Store
	timeout time.Duration // bounds one batch's round trip

	mu    sync.Mutex
	busy  bool // a round trip is in flight or a drain is running
	queue []*pendingOp
}

type pendingOp struct {
	ctx  context.Context
	op   engine.Op
	res  engine.Result
	err  error
	done chan struct{}
}

var _ engine.Store = (*batcher)(nil)

func newBatcher(inner engine.Store, timeout time.Duration) *batcher {
	if timeout <= 0 {
		timeout = time.Second
	}
	return &batcher{inner: inner, timeout: timeout}
}

// Apply applies op, alone if the store is idle, else in the next batch.
func (b *batcher) Apply(ctx context.Context, op engine.Op) (engine.Result, error) {
	if op.Validate() != nil {
		return b.inner.Apply(ctx, op) // refused there, with the store's own error
	}
	b.mu.Lock()
	if !b.busy {
		b.busy = true
		b.mu.Unlock()
		res, err := b.inner.Apply(ctx, op)
		b.release()
		return res, err
	}
	p := &pendingOp{ctx: ctx, op: op, done: make(chan struct{})}
	b.queue = append(b.queue, p)
	b.mu.Unlock()
	select {
	case <-p.done:
		return p.res, p.err
	case <-ctx.Done():
		return engine.Result{}, ctx.Err()
	}
}

// ApplyBatch passes a caller's own batch straight through.
func (b *batcher) ApplyBatch(ctx context.Context, ops []engine.Op) ([]engine.Result, error) {
	return b.inner.ApplyBatch(ctx, ops)
}

// release ends a round trip: idle again if nothing queued, else a drain
// (on its own goroutine, so the caller's request does not wait for others).
func (b *batcher) release() {
	b.mu.Lock()
	if len(b.queue) == 0 {
		b.busy = false
		b.mu.Unlock()
		return
	}
	b.mu.Unlock()
	go b.drain()
}

// drain sends the queue in batches until it is empty, then marks the
// batcher idle.
func (b *batcher) drain() {
	for {
		b.mu.Lock()
		q := b.queue
		b.queue = nil
		if len(q) == 0 {
			b.busy = false
			b.mu.Unlock()
			return
		}
		b.mu.Unlock()
		live := q[:0]
		for _, p := range q {
			if err := p.ctx.Err(); err != nil {
				p.err = err
				close(p.done)
				continue
			}
			live = append(live, p)
		}
		if len(live) == 0 {
			continue
		}
		ops := make([]engine.Op, len(live))
		for i, p := range live {
			ops[i] = p.op
		}
		ctx, cancel := context.WithTimeout(context.Background(), b.timeout)
		res, err := b.inner.ApplyBatch(ctx, ops)
		if err != nil && errors.Is(err, engine.ErrInvalid) {
			// Not expected (each op was validated), but never let one op's
			// refusal fail the others: apply them one by one.
			for _, p := range live {
				p.res, p.err = b.inner.Apply(ctx, p.op)
				close(p.done)
			}
			cancel()
			continue
		}
		cancel()
		for i, p := range live {
			if err != nil || i >= len(res) {
				p.err = err
				if p.err == nil {
					p.err = errors.New("gateway: store batch returned too few results")
				}
			} else {
				p.res = res[i]
			}
			close(p.done)
		}
	}
}
