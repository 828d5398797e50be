// Package memstore is the in-process engine.Store: the embedded default of
// gatewayd and the store the simulator runs on virtual time. States live in a
// sharded map under per-shard locks; each key's entry expires at the TTL the
// transition returns, when its state is equivalent to a fresh one, so memory
// stays bounded by the keys active within their TTLs.
//
// Layout, for speed and memory (about 70 bytes per stored state, see
// docs/benchmarks/engine.md): a state is found by a 128-bit keyed hash of
// (key, policy name) rather than by the strings themselves, so the map holds
// no strings and a lookup allocates nothing. Two different (key, policy)
// pairs share a state only if both 64-bit halves collide, with per-store
// random seeds (maphash): about 2^-128 per pair, i.e. never in practice. An
// entry keeps the first three words of engine.State, all any algorithm uses
// (the Redis store keeps the same three).
package memstore

import (
	"context"
	"fmt"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"unsafe"

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

// hkey identifies one policy's state of one key: a 128-bit keyed hash of
// the key and the policy name.
type hkey struct{ a, b uint64 }

// entry is one policy's state for one key.
type entry struct {
	s0, s1, s2 int64
	// expires is the time, in microseconds, after which the entry is treated
	// as absent.
	expires int64
}

type shard struct {
	mu sync.Mutex
	m  map[hkey]*entry
	// ops counts operations since the last sweep of this shard.
	ops int
	// slab is the unused tail of a block of decisions that results' Policies
	// slices are cut from, so an operation does not allocate one of its own.
	slab []engine.Decision
	_    [16]byte // keep shards on separate cache lines
}

// slabSize is how many decisions one slab block holds: one allocation per
// slabSize policies decided. A result retains its block (about 9 KB) while
// the caller holds it.
const slabSize = 128

// decisions returns n zeroed decisions from the shard's slab. The caller
// holds sh.mu. The slice's capacity is n, so appending to a result's
// Policies never writes into another result's.
func (sh *shard) decisions(n int) []engine.Decision {
	if n > slabSize/4 {
		return make([]engine.Decision, n)
	}
	if len(sh.slab) < n {
		sh.slab = make([]engine.Decision, slabSize)
	}
	d := sh.slab[:n:n]
	sh.slab = sh.slab[n:]
	return d
}

// Store is an in-memory engine.Store. It is safe for concurrent use. Time is
// whatever each Op says; the store never reads a clock.
type Store struct {
	// seeds: key half a, policy half a, key half b, policy half b.
	seeds  [4]maphash.Seed
	shards []shard
	mask   uint64
	// polCache caches the hash halves of policy names by policy pointer
	// (policies are immutable), a direct-mapped cache that only saves work:
	// a miss hashes the name.
	polCache [polCacheSize]atomic.Pointer[polHash]
}

const polCacheSize = 256

type polHash struct {
	p    *engine.Policy
	a, b uint64
}

// policyHash returns the two hash halves of a policy's name.
func (s *Store) policyHash(p *engine.Policy) (uint64, uint64) {
	slot := &s.polCache[(uintptr(unsafe.Pointer(p))>>4)%polCacheSize]
	if h := slot.Load(); h != nil && h.p == p {
		return h.a, h.b
	}
	h := &polHash{p: p, a: maphash.String(s.seeds[1], p.Name), b: maphash.String(s.seeds[3], p.Name)}
	slot.Store(h)
	return h.a, h.b
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
	s := &Store{shards: make([]shard, p), mask: uint64(p - 1)}
	for i := range s.seeds {
		s.seeds[i] = maphash.MakeSeed()
	}
	for i := range s.shards {
		s.shards[i].m = make(map[hkey]*entry)
	}
	return s
}

// sweepEvery is how many operations a shard takes between sweeps of its
// expired entries; a sweep visits the whole shard only when the shard has
// taken at least as many operations as it holds entries, so the cost per
// operation stays constant.
const sweepEvery = 4096

// inline is how many policies a plan may have before Apply's buffers move
// from the stack to the heap.
const inline = 6

// Apply applies one operation atomically. It allocates nothing per
// operation but a new entry per new state (and, amortised, one slab block of
// decisions per slabSize policies decided).
func (s *Store) Apply(_ context.Context, op engine.Op) (engine.Result, error) {
	if err := op.Validate(); err != nil {
		return engine.Result{}, fmt.Errorf("memstore: %w", err)
	}
	pols := op.Plan.Policies
	n := len(pols)
	ka := maphash.String(s.seeds[0], op.Key)
	kb := maphash.String(s.seeds[2], op.Key)
	sh := &s.shards[ka&s.mask]
	if n == 1 {
		// One policy: EvalInto's result for a single policy (its decision is
		// the plan's; a denial writes nothing), without the buffers.
		// TestApplyMatchesEval holds both paths to engine.Eval.
		var res engine.Result
		p := pols[0]
		pa, pb := s.policyHash(p)
		k := hkey{ka ^ pa, kb ^ pb}
		sh.mu.Lock()
		e := sh.m[k]
		var st engine.State
		exists := e != nil && e.expires > op.Now
		if exists {
			st = engine.State{e.s0, e.s1, e.s2}
		}
		ns, write, ttl := engine.StepInto(p, st, exists, op.Now, op.Kind, op.Cost, &res.Decision)
		if write && res.Allowed {
			if e != nil {
				e.s0, e.s1, e.s2, e.expires = ns[0], ns[1], ns[2], op.Now+ttl
			} else {
				sh.m[k] = &entry{s0: ns[0], s1: ns[1], s2: ns[2], expires: op.Now + ttl}
			}
		}
		res.Policies = sh.decisions(1)
		res.Policies[0] = res.Decision
		sh.tick(op.Now)
		sh.mu.Unlock()
		res.NowUS = op.Now
		return res, nil
	}
	var (
		stBuf  [inline]engine.State
		nsBuf  [inline]engine.State
		exBuf  [inline]bool
		wBuf   [inline]bool
		ttlBuf [inline]int64
		keyBuf [inline]hkey
		entBuf [inline]*entry
	)
	states, newStates, exists, write, ttls, keys, ents := stBuf[:], nsBuf[:], exBuf[:], wBuf[:], ttlBuf[:], keyBuf[:], entBuf[:]
	if n > inline {
		states, newStates = make([]engine.State, n), make([]engine.State, n)
		exists, write, ttls = make([]bool, n), make([]bool, n), make([]int64, n)
		keys, ents = make([]hkey, n), make([]*entry, n)
	}
	for i, p := range pols {
		pa, pb := s.policyHash(p)
		keys[i] = hkey{ka ^ pa, kb ^ pb}
	}
	sh.mu.Lock()
	decisions := sh.decisions(n)
	for i := 0; i < n; i++ {
		e := sh.m[keys[i]]
		ents[i] = e
		if e != nil && e.expires > op.Now {
			states[i] = engine.State{e.s0, e.s1, e.s2}
			exists[i] = true
		}
	}
	res := engine.EvalInto(op.Plan, states[:n], exists[:n], op.Now, op.Kind, op.Cost, newStates, write, ttls, decisions)
	for i := 0; i < n; i++ {
		if !write[i] {
			continue
		}
		ns := newStates[i]
		if e := ents[i]; e != nil {
			e.s0, e.s1, e.s2, e.expires = ns[0], ns[1], ns[2], op.Now+ttls[i]
		} else {
			sh.m[keys[i]] = &entry{s0: ns[0], s1: ns[1], s2: ns[2], expires: op.Now + ttls[i]}
		}
	}
	sh.tick(op.Now)
	sh.mu.Unlock()
	return res, nil
}

// tick counts an operation and sweeps the shard's expired entries when due.
// The caller holds sh.mu.
func (sh *shard) tick(now int64) {
	sh.ops++
	if sh.ops >= sweepEvery && sh.ops >= len(sh.m) {
		sh.ops = 0
		for k, e := range sh.m {
			if e.expires <= now {
				delete(sh.m, k)
			}
		}
	}
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
