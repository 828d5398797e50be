package redisstore

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"tollgate/engine"
	"tollgate/engine/memstore"
	"tollgate/internal/redistest"
)

var (
	conformanceSeed = flag.Uint64("conformance.seed", 20261123, "seed of TestConformance's random sequences")
	conformanceOps  = flag.Int("conformance.ops", 2500, "operations per algorithm and run in TestConformance")
)

// logNoRedis says once per run that the real server is missing.
var logNoRedis sync.Once

// namedStore is one store under test.
type namedStore struct {
	name string
	st   engine.Store
}

// clientStores returns a miniredis store and, when redis-server is installed
// (or required), a real one, both in client clock mode so they run on the
// test's virtual time. Keys get a TTL floor of a day: the server's real
// clock must not expire keys the virtual clock still holds; the stored
// expiry decides instead, as memstore's does.
func clientStores(t *testing.T, prefix string) []namedStore {
	t.Helper()
	mr := miniredis.RunT(t)
	out := []namedStore{{"miniredis", newTestStore(t, redis.NewClient(&redis.Options{Addr: mr.Addr()}), Options{Prefix: prefix, Clock: ClockClient})}}
	if redistest.Installed() || redistest.Required() {
		addr := redistest.Start(t)
		out = append(out, namedStore{"redis-server", newTestStore(t, redis.NewClient(&redis.Options{Addr: addr}), Options{Prefix: prefix, Clock: ClockClient})})
	} else {
		logNoRedis.Do(func() {
			t.Log("redis-server not on PATH: comparing memstore with miniredis only (set TOLLGATE_REQUIRE_REDIS=1 to require it)")
		})
	}
	return out
}

func newTestStore(t *testing.T, rdb *redis.Client, opts Options) *Store {
	t.Helper()
	t.Cleanup(func() { _ = rdb.Close() })
	s, err := New(rdb, opts)
	if err != nil {
		t.Fatal(err)
	}
	s.minTTLms = 86_400_000
	return s
}

// gen draws random limits, plans and operations from one seeded stream.
type gen struct {
	r *rand.Rand
}

func (g gen) pick(xs ...float64) float64 { return xs[g.r.IntN(len(xs))] }

// limit draws a valid limit of algorithm a.
func (g gen) limit(name string, a engine.Algorithm) engine.Limit {
	l := engine.Limit{Name: name, Algorithm: a}
	l.Capacity = g.pick(0.001, 0.5, 1, 2.5, 3, 10, 99.999, 1000, 123456.789)
	switch a {
	case engine.TokenBucket, engine.GCRA, engine.PTBCWD:
		l.Rate = g.pick(0.001, 0.37, 1, 3, 10, 250.5, 1000, 50000)
		l.Period = time.Duration(g.pick(0, float64(time.Millisecond), float64(time.Second), float64(time.Minute), float64(time.Hour)))
		if a == engine.PTBCWD {
			l.RefillCap = g.pick(0, 0.5, 0.8, 0.999, 1)
		}
	case engine.FixedWindow:
		switch g.r.IntN(5) {
		case 0:
			l.Calendar = engine.CalendarHour
		case 1:
			l.Calendar = engine.CalendarDay
		case 2:
			l.Calendar = engine.CalendarMonth
		default:
			l.Period = time.Duration(g.pick(float64(time.Millisecond), float64(time.Second), 7*float64(time.Second), float64(time.Minute)))
		}
	case engine.SlidingWindow:
		l.Period = time.Duration(g.pick(float64(time.Millisecond), float64(time.Second), 7*float64(time.Second), float64(time.Minute), float64(time.Hour)))
	case engine.Concurrency:
		l.Period = time.Duration(g.pick(0, float64(time.Millisecond), float64(time.Second), float64(time.Minute)))
	}
	return l
}

// plan draws a plan of n policies (1-3 when n is 0) whose first policy uses
// algorithm a. Limits that do not compile (a rate too high for a tiny
// capacity) are redrawn.
func (g gen) plan(a engine.Algorithm, n int) *engine.Plan {
	if n == 0 {
		n = 1 + g.r.IntN(3)
	}
	all := engine.Algorithms()
	var ps []*engine.Policy
	for i := 0; i < n; i++ {
		alg := a
		if i > 0 {
			alg = all[g.r.IntN(len(all))]
		}
		for {
			p, err := engine.Compile(g.limit(fmt.Sprintf("p%d-%s", i, alg), alg))
			if err == nil {
				ps = append(ps, p)
				break
			}
		}
	}
	return engine.NewPlan(ps...)
}

// step draws a time step in microseconds: often zero, mostly small, now and
// then hours or days (crossing calendar windows and TTLs), sometimes
// backwards.
func (g gen) step() int64 {
	switch x := g.r.IntN(100); {
	case x < 20:
		return 0
	case x < 50:
		return g.r.Int64N(1000)
	case x < 75:
		return g.r.Int64N(1_000_000)
	case x < 88:
		return g.r.Int64N(60_000_000)
	case x < 93:
		return g.r.Int64N(3 * 3_600_000_000)
	case x < 95:
		return g.r.Int64N(10 * 86_400_000_000)
	case x < 99:
		return -g.r.Int64N(2_000_000)
	default:
		// A clock hours behind: GCRA's TAT far ahead of now.
		return -g.r.Int64N(3 * 3_600_000_000)
	}
}

// cost draws a cost for kind against the plan's first policy.
func (g gen) cost(kind engine.OpKind, p *engine.Policy) int64 {
	c := p.CapMilli
	var v int64
	switch x := g.r.IntN(100); {
	case x < 10:
		v = 0
	case x < 40:
		v = 1000 * (1 + g.r.Int64N(3))
	case x < 80:
		v = 1 + g.r.Int64N(max(1, c/3))
	case x < 92:
		v = 1 + g.r.Int64N(c)
	default:
		v = c + 1 + g.r.Int64N(c+1)
	}
	if kind == engine.Settle && g.r.IntN(2) == 0 {
		v = -v
	}
	return v
}

func (g gen) kind() engine.OpKind {
	switch x := g.r.IntN(100); {
	case x < 70:
		return engine.Acquire
	case x < 85:
		return engine.Settle
	}
	return engine.Release
}

// starts are the sequences' start times: ordinary days, month ends (31, 30,
// 28 and 29 days) and a year end.
var starts = []time.Time{
	time.Date(2026, 11, 23, 6, 14, 11, 123456000, time.UTC),
	time.Date(2026, 1, 31, 23, 58, 0, 0, time.UTC),
	time.Date(2026, 2, 28, 23, 59, 30, 0, time.UTC),
	time.Date(2028, 2, 29, 23, 0, 0, 0, time.UTC),
	time.Date(2026, 4, 30, 23, 59, 59, 999000000, time.UTC),
	time.Date(2026, 12, 15, 0, 0, 0, 0, time.UTC),
	time.Date(2026, 12, 31, 23, 59, 59, 0, time.UTC),
	time.Date(2099, 12, 31, 12, 0, 0, 0, time.UTC),
}

// keys the sequences touch; braces and '%' exercise the key escaping.
var keys = []string{"alice", "bob", "{carol}", "d%7B"}

// genOps draws n operations for algorithm a from seed: a few plans, a few
// keys, restarting from a new start time now and then.
func genOps(seed uint64, a engine.Algorithm, n int) []engine.Op {
	g := gen{rand.New(rand.NewPCG(seed, uint64(a.Code())))}
	// The first plan has one policy, so every sequence has Acquires that
	// take the lean script (fast.lua) and others that take the general one.
	plans := make([]*engine.Plan, 3)
	for i := range plans {
		plans[i] = g.plan(a, min(i, 1)*0+map[bool]int{true: 1, false: 0}[i == 0])
	}
	now := engine.Micros(starts[g.r.IntN(len(starts))])
	ops := make([]engine.Op, 0, n)
	for len(ops) < n {
		if g.r.IntN(150) == 0 {
			// A fresh start far from the last: every state is expired or
			// from the past.
			now = max(now, engine.Micros(starts[g.r.IntN(len(starts))]))
		}
		now = max(0, now+g.step())
		pl := plans[g.r.IntN(len(plans))]
		kind := g.kind()
		ops = append(ops, engine.Op{
			Kind: kind,
			Key:  keys[g.r.IntN(len(keys))],
			Plan: pl,
			Cost: g.cost(kind, pl.Policies[0]),
			Now:  now,
		})
	}
	return ops
}

func describe(op engine.Op) string {
	s := fmt.Sprintf("%s key=%q cost=%d now=%d (%s) plan=[", op.Kind, op.Key, op.Cost, op.Now, engine.FromMicros(op.Now).Format(time.RFC3339Nano))
	for i, p := range op.Plan.Policies {
		if i > 0 {
			s += " "
		}
		s += fmt.Sprintf("%s{cap=%d capn=%d ceil=%d rate=%d win=%d cal=%q}", p.Name, p.CapMilli, p.CapNano, p.CeilNano, p.Rate, p.WindowUS, p.Calendar)
	}
	return s + "]"
}

// TestConformance drives seeded random sequences of operations through the
// memory store, miniredis and a real redis-server and requires identical
// results, for every algorithm.
func TestConformance(t *testing.T) {
	seed := *conformanceSeed
	n := *conformanceOps
	if testing.Short() {
		n /= 5
	}
	t.Logf("seed %d (rerun with -conformance.seed=%d), %d ops per algorithm", seed, seed, n)
	ctx := context.Background()
	for _, a := range engine.Algorithms() {
		t.Run(string(a), func(t *testing.T) {
			mem := memstore.New(memstore.Options{})
			stores := clientStores(t, "tg")
			ops := genOps(seed, a, n)
			allowed, denied, fast := 0, 0, 0
			for i, op := range ops {
				if fastPath(op) {
					fast++
				}
				want, err := mem.Apply(ctx, op)
				if err != nil {
					t.Fatalf("seed %d op %d: memstore: %v", seed, i, err)
				}
				if op.Kind == engine.Acquire {
					if want.Allowed {
						allowed++
					} else {
						denied++
					}
				}
				for _, s := range stores {
					got, err := s.st.Apply(ctx, op)
					if err != nil {
						t.Fatalf("seed %d op %d %s: %s: %v", seed, i, describe(op), s.name, err)
					}
					if !reflect.DeepEqual(got, want) {
						t.Fatalf("seed %d op %d %s:\n%s: %+v\nmemstore:  %+v", seed, i, describe(op), s.name, got, want)
					}
				}
			}
			// A sequence that never admits or never denies tests little.
			if allowed == 0 || denied == 0 {
				t.Fatalf("seed %d: %d acquires allowed, %d denied: the generator is degenerate", seed, allowed, denied)
			}
			// Every algorithm's lean script path must be exercised (the
			// month-aligned fixed window aside, which the general script
			// takes; other fixed-window plans are drawn too).
			if fast < len(ops)/20 {
				t.Fatalf("seed %d: only %d of %d ops took the lean script", seed, fast, len(ops))
			}
			t.Logf("%d ops: %d acquires allowed, %d denied, %d through the lean script", len(ops), allowed, denied, fast)
		})
	}
}

// TestRedisClusterConformance runs the conformance sequences against a real
// three-master Redis Cluster: the store groups each plan's keys in one slot
// by hash tag and splits batches by slot, and every result, one operation at
// a time and in pipelined batches, must equal memstore's. The keys are spread
// so every master holds some.
func TestRedisClusterConformance(t *testing.T) {
	if !redistest.Installed() && !redistest.Required() {
		t.Skip("redis-server not on PATH (set TOLLGATE_REQUIRE_REDIS=1 to fail instead)")
	}
	addrs := redistest.StartCluster(t, 3)
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
	t.Cleanup(func() { _ = rdb.Close() })
	ctx := context.Background()
	newStore := func(prefix string) *Store {
		s, err := New(rdb, Options{Prefix: prefix, Clock: ClockClient, MaxBatch: 7})
		if err != nil {
			t.Fatal(err)
		}
		if s.group == nil {
			t.Fatal("a cluster client must group by slot")
		}
		s.minTTLms = 86_400_000
		return s
	}
	spread := func(ops []engine.Op) []engine.Op {
		out := append([]engine.Op(nil), ops...)
		for i := range out {
			out[i].Key = fmt.Sprintf("%s/%d", out[i].Key, out[i].Now%11)
		}
		return out
	}
	n := *conformanceOps / 5
	for _, a := range engine.Algorithms() {
		t.Run(string(a), func(t *testing.T) {
			ops := spread(genOps(*conformanceSeed, a, n))
			one, mem := newStore("c1-"+string(a)), memstore.New(memstore.Options{})
			for i, op := range ops {
				want, _ := mem.Apply(ctx, op)
				got, err := one.Apply(ctx, op)
				if err != nil {
					t.Fatalf("op %d %s: %v", i, describe(op), err)
				}
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("op %d %s:\ncluster:  %+v\nmemstore: %+v", i, describe(op), got, want)
				}
			}
			batch, mem2 := newStore("c2-"+string(a)), memstore.New(memstore.Options{})
			for lo := 0; lo < len(ops); {
				k := min(len(ops)-lo, 1+int(ops[lo].Now%40))
				got, err := batch.ApplyBatch(ctx, ops[lo:lo+k])
				if err != nil {
					t.Fatalf("batch at %d: %v", lo, err)
				}
				for i, op := range ops[lo : lo+k] {
					want, _ := mem2.Apply(ctx, op)
					if !reflect.DeepEqual(got[i], want) {
						t.Fatalf("batch op %d %s:\ncluster:  %+v\nmemstore: %+v", lo+i, describe(op), got[i], want)
					}
				}
				lo += k
			}
		})
	}
	// Every master holds keys: the plans really were spread over slots.
	for _, a := range addrs {
		n, err := redistest.Command(a, "DBSIZE")
		if err != nil || n == "0" {
			t.Errorf("master %s holds %s keys (%v): the test did not spread over the cluster", a, n, err)
		}
	}
}

// TestKeySlotMatchesRedis: KeySlot, which the simulator places keys on
// cluster shards by, is the slot a real Redis Cluster computes (CLUSTER
// KEYSLOT) for the store's state keys, hash-tag escapes included.
func TestKeySlotMatchesRedis(t *testing.T) {
	if !redistest.Installed() && !redistest.Required() {
		t.Skip("redis-server not on PATH (set TOLLGATE_REQUIRE_REDIS=1 to fail instead)")
	}
	addrs := redistest.StartCluster(t, 1)
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
	t.Cleanup(func() { _ = rdb.Close() })
	s, err := New(rdb, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	keys := []string{"123456789", "k:0a1b", "a{b}c", "{", "}{", "100%", "s|/items|k:ff"}
	for i := 0; i < 200; i++ {
		keys = append(keys, fmt.Sprintf("k%d", i))
	}
	for _, k := range keys {
		want, err := rdb.ClusterKeySlot(ctx, s.StateKey(k, "p")).Result()
		if err != nil {
			t.Fatal(err)
		}
		if got := KeySlot(k); int64(got) != want {
			t.Fatalf("KeySlot(%q) = %d, CLUSTER KEYSLOT %q = %d", k, got, s.StateKey(k, "p"), want)
		}
	}
}
