package redisstore

import (
	"context"
	"errors"
	"fmt"
	"net"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"tollgate/engine"
	"tollgate/engine/memstore"
	"tollgate/internal/redistest"
)

func tokenBucketPlan(t *testing.T) *engine.Plan {
	t.Helper()
	return engine.NewPlan(engine.MustCompile(engine.Limit{Name: "burst", Algorithm: engine.TokenBucket, Capacity: 10, Rate: 1, Period: time.Second}))
}

func TestNewOptions(t *testing.T) {
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	for _, tc := range []struct {
		name string
		opts Options
		want string // substring of the error, "" for success
	}{
		{"zero value", Options{}, ""},
		{"client clock", Options{Clock: ClockClient, MaxBatch: 8, Prefix: "x"}, ""},
		{"brace in prefix", Options{Prefix: "a{b"}, `prefix: must be at most 64 bytes without braces or whitespace, got "a{b"`},
		{"bad clock", Options{Clock: 7}, "clock: must be server or client, got 7"},
		{"negative batch", Options{MaxBatch: -1}, "max_batch: must be in [1, 1024], got -1"},
		{"huge batch", Options{MaxBatch: 5000}, "max_batch: must be in [1, 1024], got 5000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(rdb, tc.opts)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, engine.ErrInvalid) {
				t.Fatalf("New: got %v, want an engine.ErrInvalid containing %q", err, tc.want)
			}
		})
	}
	if _, err := New(nil, Options{}); err == nil || !strings.Contains(err.Error(), "client: must not be nil") {
		t.Fatalf("New(nil): got %v", err)
	}
}

func TestInvalidOp(t *testing.T) {
	mr := miniredis.RunT(t)
	s := newTestStore(t, redis.NewClient(&redis.Options{Addr: mr.Addr()}), Options{})
	ctx := context.Background()
	bad := engine.Op{Kind: engine.Acquire, Key: "", Plan: tokenBucketPlan(t), Cost: 1}
	if _, err := s.Apply(ctx, bad); !errors.Is(err, engine.ErrInvalid) {
		t.Fatalf("Apply with empty key: got %v, want engine.ErrInvalid", err)
	}
	good := bad
	good.Key = "k"
	if _, err := s.ApplyBatch(ctx, []engine.Op{good, bad}); !errors.Is(err, engine.ErrInvalid) || !strings.Contains(err.Error(), "batch op 1") {
		t.Fatalf("ApplyBatch with op 1 invalid: got %v", err)
	}
	if len(mr.Keys()) != 0 {
		t.Fatalf("an invalid batch wrote keys: %v", mr.Keys())
	}
}

// TestRedisServerClockMiniredis: in server clock mode now is Redis's TIME
// (miniredis's SetTime), whatever Op.Now says.
func TestRedisServerClockMiniredis(t *testing.T) {
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	s := newTestStore(t, rdb, Options{})
	ctx := context.Background()
	plan := tokenBucketPlan(t)
	t0 := time.Date(2026, 11, 23, 6, 0, 0, 123456000, time.UTC)
	mr.SetTime(t0)
	for i := 0; i < 10; i++ {
		r, err := s.Apply(ctx, engine.Op{Kind: engine.Acquire, Key: "k", Plan: plan, Cost: engine.Tokens(1), Now: 42})
		if err != nil {
			t.Fatal(err)
		}
		if !r.Allowed || r.NowUS != engine.Micros(t0) {
			t.Fatalf("acquire %d: allowed=%v now=%d, want allowed at %d", i, r.Allowed, r.NowUS, engine.Micros(t0))
		}
	}
	r, err := s.Apply(ctx, engine.Op{Kind: engine.Acquire, Key: "k", Plan: plan, Cost: engine.Tokens(1), Now: engine.Micros(t0.Add(time.Hour))})
	if err != nil {
		t.Fatal(err)
	}
	if r.Allowed || r.RetryAfterUS != 1_000_000 {
		t.Fatalf("11th acquire with a caller's now an hour ahead: %+v, want denied with retry 1s (server time rules)", r.Decision)
	}
	mr.SetTime(t0.Add(2500 * time.Millisecond))
	r, err = s.Apply(ctx, engine.Op{Kind: engine.Acquire, Key: "k", Plan: plan, Cost: engine.Tokens(2), Now: 0})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Allowed || r.Remaining != 500 || r.NowUS != engine.Micros(t0)+2_500_000 {
		t.Fatalf("after the server's clock moved 2.5s: %+v now=%d, want allowed, 0.5 token left", r.Decision, r.NowUS)
	}
}

// TestRedisServerClockReal: against a real server, NowUS is the server's
// TIME, within the test's wall-clock bounds (same machine, same clock).
func TestRedisServerClockReal(t *testing.T) {
	addr := redistest.Start(t)
	s := newTestStore(t, redis.NewClient(&redis.Options{Addr: addr}), Options{})
	ctx := context.Background()
	plan := tokenBucketPlan(t)
	for i := 0; i < 3; i++ {
		before := engine.Micros(time.Now())
		r, err := s.Apply(ctx, engine.Op{Kind: engine.Acquire, Key: "k", Plan: plan, Cost: 1000, Now: 1})
		after := engine.Micros(time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if r.NowUS < before || r.NowUS > after+1 {
			t.Fatalf("NowUS %d outside [%d, %d]", r.NowUS, before, after)
		}
		rs, err := s.ApplyBatch(ctx, []engine.Op{{Kind: engine.Acquire, Key: "k", Plan: plan, Cost: 1000}, {Kind: engine.Settle, Key: "j", Plan: plan, Cost: -1000}})
		after = engine.Micros(time.Now())
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			if r.NowUS < before || r.NowUS > after+1 {
				t.Fatalf("batch NowUS %d outside [%d, %d]", r.NowUS, before, after)
			}
		}
	}
}

// noScriptCase runs Apply and ApplyBatch with SCRIPT FLUSH between calls and
// checks the state carries on as if nothing happened.
func noScriptCase(t *testing.T, rdb *redis.Client) {
	t.Helper()
	s := newTestStore(t, rdb, Options{Clock: ClockClient, MaxBatch: 2})
	mem := memstore.New(memstore.Options{})
	ctx := context.Background()
	plan := tokenBucketPlan(t)
	two := engine.NewPlan(plan.Policies[0], engine.MustCompile(engine.Limit{Name: "g", Algorithm: engine.GCRA, Capacity: 3, Rate: 1}))
	now := engine.Micros(time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC))
	for i := 0; i < 6; i++ {
		if err := rdb.ScriptFlush(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		op := engine.Op{Kind: engine.Acquire, Key: "k", Plan: plan, Cost: 1500, Now: now + int64(i)*100_000}
		got, err := s.Apply(ctx, op)
		if err != nil {
			t.Fatalf("Apply after SCRIPT FLUSH: %v", err)
		}
		want, _ := mem.Apply(ctx, op)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("after SCRIPT FLUSH: got %+v, want %+v", got, want)
		}
		// A one-policy Acquire runs the lean script, and only that.
		if ok, err := rdb.ScriptExists(ctx, fastSHA, scriptSHA).Result(); err != nil || !ok[0] || ok[1] {
			t.Fatalf("EVAL fallback: lean, general script loaded = %v, want [true false] (err %v)", ok, err)
		}
		// A two-policy Acquire and a Settle run the general script.
		for _, op2 := range []engine.Op{
			{Kind: engine.Acquire, Key: "k2", Plan: two, Cost: 700, Now: op.Now},
			{Kind: engine.Settle, Key: "k", Plan: plan, Cost: -200, Now: op.Now},
		} {
			if err := rdb.ScriptFlush(ctx).Err(); err != nil {
				t.Fatal(err)
			}
			got, err := s.Apply(ctx, op2)
			if err != nil {
				t.Fatalf("Apply %s after SCRIPT FLUSH: %v", op2.Kind, err)
			}
			want, _ := mem.Apply(ctx, op2)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%s after SCRIPT FLUSH: got %+v, want %+v", op2.Kind, got, want)
			}
			if ok, err := rdb.ScriptExists(ctx, fastSHA, scriptSHA).Result(); err != nil || ok[0] || !ok[1] {
				t.Fatalf("EVAL fallback for %s: lean, general script loaded = %v, want [false true] (err %v)", op2.Kind, ok, err)
			}
		}
		if err := rdb.ScriptFlush(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		ops := []engine.Op{op, op, op, {Kind: engine.Settle, Key: "k", Plan: plan, Cost: -2000, Now: op.Now}, op}
		gots, err := s.ApplyBatch(ctx, ops)
		if err != nil {
			t.Fatalf("ApplyBatch after SCRIPT FLUSH: %v", err)
		}
		wants, _ := mem.ApplyBatch(ctx, ops)
		if !reflect.DeepEqual(gots, wants) {
			t.Fatalf("batch after SCRIPT FLUSH: got %+v, want %+v", gots, wants)
		}
	}
}

func TestRedisNoScriptFallback(t *testing.T) {
	t.Run("miniredis", func(t *testing.T) {
		mr := miniredis.RunT(t)
		noScriptCase(t, redis.NewClient(&redis.Options{Addr: mr.Addr()}))
	})
	t.Run("redis-server", func(t *testing.T) {
		noScriptCase(t, redis.NewClient(&redis.Options{Addr: redistest.Start(t)}))
	})
}

// allAlgorithmsPlan has one policy of every algorithm.
func allAlgorithmsPlan(t *testing.T) *engine.Plan {
	t.Helper()
	var ps []*engine.Policy
	for _, l := range []engine.Limit{
		{Name: "fw", Algorithm: engine.FixedWindow, Capacity: 100, Period: time.Minute},
		{Name: "month", Algorithm: engine.FixedWindow, Capacity: 1000, Calendar: engine.CalendarMonth},
		{Name: "sw", Algorithm: engine.SlidingWindow, Capacity: 100, Period: time.Second},
		{Name: "tb", Algorithm: engine.TokenBucket, Capacity: 100, Rate: 10},
		{Name: "gcra", Algorithm: engine.GCRA, Capacity: 100, Rate: 10},
		{Name: "ptb", Algorithm: engine.PTBCWD, Capacity: 100, Rate: 10},
		{Name: "conc", Algorithm: engine.Concurrency, Capacity: 100, Period: 30 * time.Second},
	} {
		ps = append(ps, engine.MustCompile(l))
	}
	return engine.NewPlan(ps...)
}

// keyLayoutCase checks every written key: its name, its hash tag and its TTL.
func keyLayoutCase(t *testing.T, rdb *redis.Client) {
	t.Helper()
	s, err := New(rdb, Options{Prefix: "lay"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	plan := allAlgorithmsPlan(t)
	if _, err := s.Apply(ctx, engine.Op{Kind: engine.Acquire, Key: "tenant-1", Plan: plan, Cost: 1000}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Apply(ctx, engine.Op{Kind: engine.Acquire, Key: "we{ir}d%", Plan: plan, Cost: 1000}); err != nil {
		t.Fatal(err)
	}
	got, err := rdb.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, k := range []string{"tenant-1", "we%7Bir%7Dd%25"} {
		for _, p := range plan.Policies {
			want["lay:{"+k+"}:"+p.Name] = true
		}
	}
	if len(got) != len(want) {
		t.Fatalf("keys %v, want %d keys", got, len(want))
	}
	for _, k := range got {
		if !want[k] {
			t.Fatalf("unexpected key %q (want %v)", k, want)
		}
		ttl, err := rdb.PTTL(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		if ttl <= 0 {
			t.Fatalf("key %q has no TTL (PTTL %v)", k, ttl)
		}
		v, err := rdb.Get(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		want := 3 // expiry, s0, s1
		switch {
		case strings.HasSuffix(k, ":sw"):
			want = 4 // the sliding window also keeps s2
		case strings.HasSuffix(k, ":gcra"):
			want = 2 // GCRA needs no expiry, and keeps tat alone when rem is 0 (see script.lua)
		}
		if f := strings.Fields(v); (len(f) != want && !(want == 2 && len(f) == 1)) || strings.ContainsAny(v, ".e+") {
			t.Fatalf("key %q holds %q, want %d integers", k, v, want)
		}
	}
	// The concurrency slot's TTL is the lease timeout.
	if ttl := rdb.PTTL(ctx, "lay:{tenant-1}:conc").Val(); ttl > 30*time.Second || ttl < 29*time.Second {
		t.Fatalf("concurrency key TTL %v, want the 30s lease timeout", ttl)
	}
}

func TestRedisKeyLayoutAndTTL(t *testing.T) {
	t.Run("miniredis", func(t *testing.T) {
		mr := miniredis.RunT(t)
		keyLayoutCase(t, redis.NewClient(&redis.Options{Addr: mr.Addr()}))
	})
	t.Run("redis-server", func(t *testing.T) {
		keyLayoutCase(t, redis.NewClient(&redis.Options{Addr: redistest.Start(t)}))
	})
}

// TestRedisTTLOnEveryKey runs a random sequence over every algorithm and
// then requires a TTL on every key in the server.
func TestRedisTTLOnEveryKey(t *testing.T) {
	addr := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	s, err := New(rdb, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, a := range engine.Algorithms() {
		for _, op := range genOps(7, a, 200) {
			if _, err := s.Apply(ctx, op); err != nil {
				t.Fatal(err)
			}
		}
	}
	keys, err := rdb.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) < 10 {
		t.Fatalf("only %d keys written", len(keys))
	}
	for _, k := range keys {
		if ttl := rdb.PTTL(ctx, k).Val(); ttl <= 0 {
			t.Fatalf("key %q: PTTL %v, want > 0", k, ttl)
		}
		if !strings.HasPrefix(k, "tg:{") {
			t.Fatalf("key %q lacks the prefix and hash tag", k)
		}
	}
}

func TestSlot(t *testing.T) {
	// CRC16/XMODEM check value of "123456789" is 0x31C3; Redis Cluster's
	// specification gives the slot of "123456789" as 12739.
	if got := slot("123456789"); got != 12739 {
		t.Fatalf("slot(123456789) = %d, want 12739", got)
	}
}

// TestRedisBatchEqualsSequential: ApplyBatch in several pipelined script
// calls gives the results the memory store gives one operation at a time,
// with and without grouping by cluster slot.
func TestRedisBatchEqualsSequential(t *testing.T) {
	ctx := context.Background()
	for _, grouped := range []bool{false, true} {
		for _, st := range clientStores(t, map[bool]string{false: "b", true: "g"}[grouped]) {
			s := st.st.(*Store)
			s.maxBatch = 7
			if grouped {
				s.group = func(key string) string { return string(rune('0' + slot(escapeKey(key))%2)) }
			}
			for _, a := range engine.Algorithms() {
				mem := memstore.New(memstore.Options{})
				ops := genOps(99, a, 300)
				for lo := 0; lo < len(ops); {
					n := min(len(ops)-lo, 1+int(ops[lo].Now%40))
					batch := ops[lo : lo+n]
					got, err := s.ApplyBatch(ctx, batch)
					if err != nil {
						t.Fatalf("%s %s: %v", st.name, a, err)
					}
					for i, op := range batch {
						want, _ := mem.Apply(ctx, op)
						if !reflect.DeepEqual(got[i], want) {
							t.Fatalf("%s grouped=%v %s op %d %s:\nbatch:      %+v\nsequential: %+v", st.name, grouped, a, lo+i, describe(op), got[i], want)
						}
					}
					lo += n
				}
				// Each algorithm's keys start fresh: remove what this one wrote.
				if err := s.rdb.FlushDB(ctx).Err(); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}

// TestRedisUnavailable: a dead server, a refused connection and a server
// that never answers all give errors wrapping engine.ErrStoreUnavailable,
// and the store recovers when the server comes back (empty, so through the
// NOSCRIPT fallback).
func TestRedisUnavailable(t *testing.T) {
	ctx := context.Background()
	plan := tokenBucketPlan(t)
	op := engine.Op{Kind: engine.Acquire, Key: "k", Plan: plan, Cost: 1000}
	check := func(t *testing.T, s *Store) {
		t.Helper()
		if _, err := s.Apply(ctx, op); !errors.Is(err, engine.ErrStoreUnavailable) {
			t.Fatalf("Apply: got %v, want engine.ErrStoreUnavailable", err)
		}
		if _, err := s.ApplyBatch(ctx, []engine.Op{op, op}); !errors.Is(err, engine.ErrStoreUnavailable) {
			t.Fatalf("ApplyBatch: got %v, want engine.ErrStoreUnavailable", err)
		}
	}
	t.Run("refused", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		check(t, newTestStore(t, redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1}), Options{}))
	})
	t.Run("silent", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				defer c.Close() // hold the connection open, never answer
			}
		}()
		check(t, newTestStore(t, redis.NewClient(&redis.Options{Addr: l.Addr().String(), MaxRetries: -1,
			ReadTimeout: 50 * time.Millisecond, WriteTimeout: 50 * time.Millisecond, DialTimeout: 50 * time.Millisecond}), Options{}))
	})
	t.Run("killed", func(t *testing.T) {
		srv := redistest.StartServer(t)
		s := newTestStore(t, redis.NewClient(&redis.Options{Addr: srv.Addr(), MaxRetries: -1}), Options{})
		if _, err := s.Apply(ctx, op); err != nil {
			t.Fatal(err)
		}
		srv.Kill()
		check(t, s)
		srv.Restart()
		var r engine.Result
		var err error
		// The pool may hand out one more dead connection per idle slot.
		for i := 0; i < 20; i++ {
			if r, err = s.Apply(ctx, op); err == nil {
				break
			}
		}
		if err != nil || !r.Allowed || r.Remaining != 9000 {
			t.Fatalf("after restart: %+v %v, want allowed with 9 left (fresh state)", r.Decision, err)
		}
	})
	t.Run("script error is not unavailability", func(t *testing.T) {
		mr := miniredis.RunT(t)
		rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
		s := newTestStore(t, rdb, Options{})
		if err := rdb.HSet(ctx, s.StateKey("k", "burst"), "f", "v").Err(); err != nil {
			t.Fatal(err)
		}
		_, err := s.Apply(ctx, op)
		if err == nil || errors.Is(err, engine.ErrStoreUnavailable) {
			t.Fatalf("Apply on a key of the wrong type: got %v, want an error that is not unavailability", err)
		}
	})
}

// TestRedisConcurrentAtomic: many callers racing on one key through Apply
// and ApplyBatch admit exactly the capacity, no more, no less: each script
// call is atomic.
func TestRedisConcurrentAtomic(t *testing.T) {
	addr := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: addr, PoolSize: 16})
	defer rdb.Close()
	s, err := New(rdb, Options{MaxBatch: 4})
	if err != nil {
		t.Fatal(err)
	}
	plan := engine.NewPlan(
		engine.MustCompile(engine.Limit{Name: "slots", Algorithm: engine.Concurrency, Capacity: 50}),
		engine.MustCompile(engine.Limit{Name: "day", Algorithm: engine.FixedWindow, Capacity: 1e6, Calendar: engine.CalendarDay}),
	)
	ctx := context.Background()
	const workers, each = 8, 20
	var mu sync.Mutex
	admitted := 0
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			op := engine.Op{Kind: engine.Acquire, Key: "shared", Plan: plan, Cost: 1000}
			n := 0
			for i := 0; i < each; i++ {
				if w%2 == 0 {
					r, err := s.Apply(ctx, op)
					if err != nil {
						t.Error(err)
						return
					}
					if r.Allowed {
						n++
					}
					continue
				}
				rs, err := s.ApplyBatch(ctx, []engine.Op{op, op, op})
				if err != nil {
					t.Error(err)
					return
				}
				for _, r := range rs {
					if r.Allowed {
						n++
					}
				}
			}
			mu.Lock()
			admitted += n
			mu.Unlock()
		}()
	}
	wg.Wait()
	if admitted != 50 {
		t.Fatalf("admitted %d, want exactly the capacity 50", admitted)
	}
	r, err := s.Apply(ctx, engine.Op{Kind: engine.Release, Key: "shared", Plan: plan, Cost: 50_000})
	if err != nil || r.Policies[0].Remaining != 50_000 || r.Policies[1].Remaining != 1e9-50_000 {
		t.Fatalf("release all: %+v %v, want 50 slots free and 50 of the day's quota used", r.Policies, err)
	}
}

// gcraFormsCase checks GCRA's two stored forms, "tat" when rem is 0 and
// "tat rem" otherwise, each written and read by both scripts (a one-policy
// Acquire runs fast.lua, a two-policy one script.lua) with the memory
// store's decisions.
func gcraFormsCase(t *testing.T, rdb *redis.Client) {
	t.Helper()
	s := newTestStore(t, rdb, Options{Clock: ClockClient})
	mem := memstore.New(memstore.Options{})
	ctx := context.Background()
	now := engine.Micros(time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC))
	for _, tc := range []struct {
		rate   float64
		fields int
	}{{1, 1}, {0.37, 2}} {
		g := engine.MustCompile(engine.Limit{Name: "g", Algorithm: engine.GCRA, Capacity: 3, Rate: tc.rate})
		one := engine.NewPlan(g)
		two := engine.NewPlan(g, engine.MustCompile(engine.Limit{Name: "c", Algorithm: engine.Concurrency, Capacity: 1000}))
		key := fmt.Sprintf("forms-%v", tc.rate)
		for i := 0; i < 8; i++ {
			pl := one
			if i%2 == 1 {
				pl = two
			}
			op := engine.Op{Kind: engine.Acquire, Key: key, Plan: pl, Cost: 1000, Now: now + int64(i)*700_000}
			got, err := s.Apply(ctx, op)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := mem.Apply(ctx, op)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("rate %v op %d: got %+v, want %+v", tc.rate, i, got, want)
			}
			v := rdb.Get(ctx, s.StateKey(key, "g")).Val()
			if f := strings.Fields(v); len(f) != tc.fields {
				t.Fatalf("rate %v op %d: GCRA state %q, want %d integer(s)", tc.rate, i, v, tc.fields)
			}
		}
	}
}

func TestRedisGCRAStoredForms(t *testing.T) {
	t.Run("miniredis", func(t *testing.T) {
		mr := miniredis.RunT(t)
		gcraFormsCase(t, redis.NewClient(&redis.Options{Addr: mr.Addr()}))
	})
	t.Run("redis-server", func(t *testing.T) {
		gcraFormsCase(t, redis.NewClient(&redis.Options{Addr: redistest.Start(t)}))
	})
}
