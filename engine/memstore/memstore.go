// Package memstore is the in-process engine.Store: the embedded default of
// gatewayd and the store the simulator runs on virtual time. States live in a
// sharded map under per-shard locks; each key's entry expires at the TTL the
// transition returns, when its state is equivalent to a fresh one, so memory
// stays bounded by the keys active within their TTLs.
package memstore

import (
	"context"
	"fmt"
	"hash/maphash"
	"sync"

	"tollgate/engine"
)

// DefaultShards is the default number of lock shards.
const DefaultShards = 64

// Options configure a Store. The zero value is usable.
type Options struct {
	// Shards is the number of lock shards, rounded up to a power of two;
	// 0 means DefaultShards.
	Shards int
}

// entry is one policy's state for one key.
type entry struct {
	state engine.State
	// expires is the time, in microseconds, after which the entry is treated
	// as absent.
	expires int64
}

type shard struct {
	mu sync.Mutex
	m  map[string]*entry
	// ops counts operations since the last sweep of this shard.
	ops int
}

// Store is an in-memory engine.Store. It is safe for concurrent use. Time is
// whatever each Op says; the store never reads a clock.
type Store struct {
	seed   maphash.Seed
	shards []shard
	mask   uint64
}

var _ engine.Store = (*Store)(nil)

// New returns an empty store.
func New(opts Options) *Store {
	n := opts.Shards
	if n <= 0 {
		n = DefaultShards
	}
	p := 1
	for p < n {
		p <<= 1
	}
	s := &Store{seed: maphash.MakeSeed(), shards: make([]shard, p), mask: uint64(p - 1)}
	for i := range s.shards {
		s.shards[i].m = make(map[string]*entry)
	}
	return s
}

// stateKey names one policy's state of one key. The separator cannot appear in
// a policy name.
func stateKey(key, policy string) string { return key + "\x00" + policy }

// sweepEvery is how many operations a shard takes between sweeps of its
// expired entries; a sweep visits the whole shard, so the cost per operation
// stays constant.
const sweepEvery = 4096

// Apply applies one operation atomically.
func (s *Store) Apply(_ context.Context, op engine.Op) (engine.Result, error) {
	if err := op.Validate(); err != nil {
		return engine.Result{}, fmt.Errorf("memstore: %w", err)
	}
	sh := &s.shards[maphash.String(s.seed, op.Key)&s.mask]
	n := len(op.Plan.Policies)
	var stBuf [4]engine.State
	var exBuf [4]bool
	var keyBuf [4]string
	states, exists, keys := stBuf[:0], exBuf[:0], keyBuf[:0]
	for _, p := range op.Plan.Policies {
		keys = append(keys, stateKey(op.Key, p.Name))
	}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	for i := 0; i < n; i++ {
		e, ok := sh.m[keys[i]]
		if ok && e.expires <= op.Now {
			ok = false
		}
		if ok {
			states = append(states, e.state)
		} else {
			states = append(states, engine.State{})
		}
		exists = append(exists, ok)
	}
	newStates, write, ttls, res := engine.Eval(op.Plan, states, exists, op.Now, op.Kind, op.Cost)
	for i := 0; i < n; i++ {
		if !write[i] {
			continue
		}
		if e, ok := sh.m[keys[i]]; ok {
			e.state, e.expires = newStates[i], op.Now+ttls[i]
		} else {
			sh.m[keys[i]] = &entry{state: newStates[i], expires: op.Now + ttls[i]}
		}
	}
	sh.ops++
	if sh.ops >= sweepEvery && sh.ops >= len(sh.m) {
		sh.ops = 0
		for k, e := range sh.m {
			if e.expires <= op.Now {
				delete(sh.m, k)
			}
		}
	}
	return res, nil
}

// ApplyBatch applies each operation in order; each is atomic on its own.
func (s *Store) ApplyBatch(ctx context.Context, ops []engine.Op) ([]engine.Result, error) {
	out := make([]engine.Result, len(ops))
	for i, op := range ops {
		r, err := s.Apply(ctx, op)
		if err != nil {
			return out[:i], fmt.Errorf("memstore: batch op %d: %w", i, err)
		}
		out[i] = r
	}
	return out, nil
}

// Len returns the number of stored states, expired or not.
func (s *Store) Len() int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		n += len(sh.m)
		sh.mu.Unlock()
	}
	return n
}

// Sweep deletes every entry expired at now (microseconds) and returns how
// many it deleted.
func (s *Store) Sweep(now int64) int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		for k, e := range sh.m {
			if e.expires <= now {
				delete(sh.m, k)
				n++
			}
		}
		sh.mu.Unlock()
	}
	return n
}
