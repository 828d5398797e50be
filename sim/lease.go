package sim

import (
	"context"
	"strconv"

	"tollgate/engine"
	"tollgate/engine/lease"
)

// leaseStore is the engine.Store a node's engine/lease Leaser calls: each
// Apply is one Redis round trip from the node, in virtual time, through the
// node's circuit breaker. It is set up before each Acquire and read after.
type leaseStore struct {
	m    *model
	n    *node
	key  int32
	pr   *planRef
	at   int64 // virtual ns the next call leaves the node
	ops  int64
	fail bool
}

func (s *leaseStore) Apply(_ context.Context, op engine.Op) (engine.Result, error) {
	if !s.n.brkClean && !s.n.breaker.Allow(s.m.wall(s.at)) {
		s.fail = true
		return engine.Result{}, engine.ErrStoreUnavailable
	}
	d, decided, _, failed, applied := s.m.redisCall(s.n, s.key, s.pr, op.Kind, op.Cost, s.at)
	if applied {
		s.ops++
	}
	s.at = decided
	if failed {
		s.fail = true
		return engine.Result{}, engine.ErrStoreUnavailable
	}
	return engine.Result{Decision: d, Policies: []engine.Decision{d}, NowUS: op.Now}, nil
}

func (s *leaseStore) ApplyBatch(ctx context.Context, ops []engine.Op) ([]engine.Result, error) {
	out := make([]engine.Result, 0, len(ops))
	for _, op := range ops {
		r, err := s.Apply(ctx, op)
		if err != nil {
			return out, err
		}
		out = append(out, r)
	}
	return out, nil
}

// keyName is the engine key string of key id k (leases key by string).
func (m *model) keyName(k int32) string {
	for int(k) >= len(m.keyNames) {
		m.keyNames = append(m.keyNames, "k"+strconv.Itoa(len(m.keyNames)))
	}
	return m.keyNames[k]
}

// viaLease decides through the node's Leaser: answered locally from a live
// lease (no Redis call), or by one or two Redis calls for a new batch.
func (m *model) viaLease(n *node, key int32, pr *planRef, cost, done int64) (d engine.Decision, decided int64, failed bool, ops int64) {
	ls := n.leaseStore
	ls.key, ls.pr, ls.at, ls.ops, ls.fail = key, pr, done, 0, false
	now := m.start + n.clock(done)/1000
	res, err := n.leaser.Acquire(context.Background(), engine.Op{Kind: engine.Acquire, Key: m.keyName(key), Plan: pr.plan, Cost: cost, Now: now})
	decided = ls.at
	if err != nil || ls.fail {
		return d, decided, true, ls.ops
	}
	if res.Allowed {
		m.reference(key, pr, m.trueUS(decided), cost)
	}
	return res.Decision, decided, false, ls.ops
}

func newLeaser(m *model, n *node) {
	if !m.cfg.Engine.Lease.Enabled() || !m.redisMode {
		return
	}
	n.leaseStore = &leaseStore{m: m, n: n}
	n.leaser = lease.New(n.leaseStore, m.cfg.Engine.Lease.Options())
}
