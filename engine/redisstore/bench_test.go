package redisstore

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"

	"tollgate/engine"
	"tollgate/engine/internal/redistest"
)

// benchClients is the number of concurrent client goroutines every variant
// of BenchmarkRedisDecisions uses, so the variants are comparable.
const benchClients = 32

// benchKeys is how many distinct keys the benchmark spreads decisions over.
const benchKeys = 10_000

// drive runs b.N operations on benchClients goroutines and reports
// decisions per second; each operation decides perOp requests.
func drive(b *testing.B, perOp int, fn func(ctx context.Context, i int) error) {
	b.Helper()
	ctx := context.Background()
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Bool
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for w := 0; w < benchClients; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= b.N || failed.Load() {
					return
				}
				if err := fn(ctx, i); err != nil {
					if !failed.Swap(true) {
						b.Error(err)
					}
					return
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N*perOp)/el.Seconds(), "decisions/s")
}

// BenchmarkRedisDecisions measures decisions per second on one redis-server
// on loopback, with benchClients concurrent callers for every variant:
//
//	store:         our store, one script call per decision (a GCRA policy)
//	redis_rate:    go-redis/redis_rate v10's GCRA Allow, one script call per decision
//	evalsha:       a trivial EVALSHA ("return 1"), the one-call-per-decision ceiling
//	batch32:       our ApplyBatch, 32 decisions in one script call
//	batch32x8:     our ApplyBatch, 32 decisions in 4 pipelined script calls of 8
//
// make bench-redis runs it and prints the ratios; -count interleaves the
// variants so they share the machine's conditions.
func BenchmarkRedisDecisions(b *testing.B) {
	addr := redistest.Start(b)
	rdb := redis.NewClient(&redis.Options{Addr: addr, PoolSize: benchClients})
	defer rdb.Close()
	ctx := context.Background()
	keys := make([]string, benchKeys)
	for i := range keys {
		keys[i] = fmt.Sprintf("tenant-%d", i)
	}
	// A limit that always admits, so every variant writes its state each time.
	const perSecond = 1_000_000
	plan := engine.NewPlan(engine.MustCompile(engine.Limit{Name: "gcra", Algorithm: engine.GCRA, Capacity: perSecond, Rate: perSecond, Period: time.Second}))
	check := func(r engine.Result) error {
		if !r.Allowed {
			return fmt.Errorf("denied: %+v", r.Decision)
		}
		return nil
	}

	b.Run("store", func(b *testing.B) {
		s, err := New(rdb, Options{})
		if err != nil {
			b.Fatal(err)
		}
		drive(b, 1, func(ctx context.Context, i int) error {
			r, err := s.Apply(ctx, engine.Op{Kind: engine.Acquire, Key: keys[i%benchKeys], Plan: plan, Cost: engine.MilliPerToken})
			if err != nil {
				return err
			}
			return check(r)
		})
	})
	b.Run("redis_rate", func(b *testing.B) {
		lim := redis_rate.NewLimiter(rdb)
		limit := redis_rate.Limit{Rate: perSecond, Burst: perSecond, Period: time.Second}
		drive(b, 1, func(ctx context.Context, i int) error {
			r, err := lim.Allow(ctx, keys[i%benchKeys], limit)
			if err != nil {
				return err
			}
			if r.Allowed != 1 {
				return fmt.Errorf("redis_rate denied: %+v", r)
			}
			return nil
		})
	})
	b.Run("evalsha", func(b *testing.B) {
		sha, err := rdb.ScriptLoad(ctx, "return 1").Result()
		if err != nil {
			b.Fatal(err)
		}
		drive(b, 1, func(ctx context.Context, i int) error {
			return rdb.EvalSha(ctx, sha, []string{keys[i%benchKeys]}).Err()
		})
	})
	for _, v := range []struct {
		name     string
		maxBatch int
	}{{"batch32", 64}, {"batch32x8", 8}} {
		b.Run(v.name, func(b *testing.B) {
			s, err := New(rdb, Options{MaxBatch: v.maxBatch})
			if err != nil {
				b.Fatal(err)
			}
			const size = 32
			var pool sync.Pool
			drive(b, size, func(ctx context.Context, i int) error {
				ops, _ := pool.Get().([]engine.Op)
				if ops == nil {
					ops = make([]engine.Op, size)
				}
				for j := range ops {
					ops[j] = engine.Op{Kind: engine.Acquire, Key: keys[(i*size+j)%benchKeys], Plan: plan, Cost: engine.MilliPerToken}
				}
				rs, err := s.ApplyBatch(ctx, ops)
				pool.Put(ops)
				if err != nil {
					return err
				}
				for _, r := range rs {
					if err := check(r); err != nil {
						return err
					}
				}
				return nil
			})
		})
	}
}
