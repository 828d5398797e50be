// Package penalty is the penalty box: a key that collects more than
// Threshold 429s within one Window is refused outright for Cooldown, from
// memory, without touching the rate-limit store. It protects the store (and
// Redis round trips) from clients that ignore Retry-After.
//
// Counting uses fixed windows per key starting at the key's first 429. The
// box never reads a clock: callers pass now. Safe for concurrent use.
package penalty

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"
)

const shards = 64

type entry struct {
	start time.Time // current counting window's start
	count int
	until time.Time // boxed until
}

type shard struct {
	mu sync.Mutex
	m  map[string]*entry
}

// Box is a penalty box. The zero value is not usable; use New.
type Box struct {
	threshold int
	window    time.Duration
	cooldown  time.Duration
	seed      maphash.Seed
	shards    [shards]shard
	shared    atomic.Bool // a Put happened: Boxed must look even with threshold 0
}

// New returns a box; threshold 0 disables it (Boxed is always false).
func New(threshold int, window, cooldown time.Duration) *Box {
	b := &Box{threshold: threshold, window: window, cooldown: cooldown, seed: maphash.MakeSeed()}
	for i := range b.shards {
		b.shards[i].m = map[string]*entry{}
	}
	return b
}

func (b *Box) shard(key string) *shard {
	return &b.shards[maphash.String(b.seed, key)%shards]
}

// Boxed reports whether key is in the box at now and for how much longer.
func (b *Box) Boxed(key string, now time.Time) (time.Duration, bool) {
	if b.threshold <= 0 && !b.shared.Load() {
		return 0, false
	}
	s := b.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[key]
	if !ok || !now.Before(e.until) {
		return 0, false
	}
	return e.until.Sub(now), true
}

// Limited records a 429 for key at now and reports whether it put the key in
// the box.
func (b *Box) Limited(key string, now time.Time) bool {
	if b.threshold <= 0 {
		return false
	}
	s := b.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	e := b.entryLocked(s, key, now)
	if now.Sub(e.start) >= b.window {
		e.start, e.count = now, 0
	}
	e.count++
	if e.count > b.threshold && !now.Before(e.until) {
		e.until = now.Add(b.cooldown)
		e.start, e.count = now, 0
		return true
	}
	return false
}

// Put boxes key from now for d (another node's verdict, for a box shared
// across nodes); a key already boxed longer stays so. It works even when this
// box's threshold is 0.
func (b *Box) Put(key string, now time.Time, d time.Duration) {
	if d <= 0 {
		return
	}
	b.shared.Store(true)
	s := b.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	e := b.entryLocked(s, key, now)
	if until := now.Add(d); until.After(e.until) {
		e.until = until
	}
}

// entryLocked returns key's entry in s, creating it (and sweeping a large
// shard first); s.mu is held.
func (b *Box) entryLocked(s *shard, key string, now time.Time) *entry {
	e, ok := s.m[key]
	if !ok {
		if len(s.m) > 4096 {
			b.sweepLocked(s, now)
		}
		e = &entry{start: now}
		s.m[key] = e
	}
	return e
}

// sweepLocked drops entries whose window and box have both expired.
func (b *Box) sweepLocked(s *shard, now time.Time) {
	for k, e := range s.m {
		if now.Sub(e.start) >= b.window && !now.Before(e.until) {
			delete(s.m, k)
		}
	}
}
