package redisstore

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"

	"tollgate/engine"
	"tollgate/internal/redistest"
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

// variant is one way of deciding, for the benchmarks: fn decides perOp
// requests (one script call, redis_rate call or batch) for iteration i.
type variant struct {
	name  string
	perOp int
	fn    func(ctx context.Context, i int) error
}

// benchVariants starts a redis-server and returns the variants compared, all
// on one client with a pool of benchClients connections:
//
//	store:      our store, one script call per decision (a GCRA policy: the lean script)
//	redis_rate: go-redis/redis_rate v10's GCRA Allow, one script call per decision
//	evalsha:    a trivial EVALSHA ("return 1"), the one-call-per-decision ceiling
//	batch32:    our ApplyBatch, 32 decisions in one script call
//	batch32x8:  our ApplyBatch, 32 decisions in 4 pipelined script calls of 8
//
// Every variant spreads its decisions over benchKeys keys, under a limit
// that always admits, so every decision writes its state.
func benchVariants(b *testing.B) ([]variant, *redistest.Server) {
	srv := redistest.StartServer(b)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr(), PoolSize: benchClients})
	b.Cleanup(func() { _ = rdb.Close() })
	ctx := context.Background()
	keys := make([]string, benchKeys)
	for i := range keys {
		keys[i] = fmt.Sprintf("tenant-%d", i)
	}
	const perSecond = 1_000_000
	plan := engine.NewPlan(engine.MustCompile(engine.Limit{Name: "gcra", Algorithm: engine.GCRA, Capacity: perSecond, Rate: perSecond, Period: time.Second}))
	check := func(r engine.Result) error {
		if !r.Allowed {
			return fmt.Errorf("denied: %+v", r.Decision)
		}
		return nil
	}
	s, err := New(rdb, Options{})
	if err != nil {
		b.Fatal(err)
	}
	lim := redis_rate.NewLimiter(rdb)
	limit := redis_rate.Limit{Rate: perSecond, Burst: perSecond, Period: time.Second}
	sha, err := rdb.ScriptLoad(ctx, "return 1").Result()
	if err != nil {
		b.Fatal(err)
	}
	vs := []variant{
		{"store", 1, func(ctx context.Context, i int) error {
			r, err := s.Apply(ctx, engine.Op{Kind: engine.Acquire, Key: keys[i%benchKeys], Plan: plan, Cost: engine.MilliPerToken})
			if err != nil {
				return err
			}
			return check(r)
		}},
		{"redis_rate", 1, func(ctx context.Context, i int) error {
			r, err := lim.Allow(ctx, keys[i%benchKeys], limit)
			if err != nil {
				return err
			}
			if r.Allowed != 1 {
				return fmt.Errorf("redis_rate denied: %+v", r)
			}
			return nil
		}},
		{"evalsha", 1, func(ctx context.Context, i int) error {
			return rdb.EvalSha(ctx, sha, []string{keys[i%benchKeys]}).Err()
		}},
	}
	for _, bv := range []struct {
		name     string
		maxBatch int
	}{{"batch32", 64}, {"batch32x8", 8}} {
		bs, err := New(rdb, Options{MaxBatch: bv.maxBatch})
		if err != nil {
			b.Fatal(err)
		}
		const size = 32
		var pool sync.Pool
		vs = append(vs, variant{bv.name, size, func(ctx context.Context, i int) error {
			ops, _ := pool.Get().([]engine.Op)
			if ops == nil {
				ops = make([]engine.Op, size)
			}
			for j := range ops {
				ops[j] = engine.Op{Kind: engine.Acquire, Key: keys[(i*size+j)%benchKeys], Plan: plan, Cost: engine.MilliPerToken}
			}
			rs, err := bs.ApplyBatch(ctx, ops)
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
		}})
	}
	// Load every script once, outside the measurement.
	for _, v := range vs {
		if err := v.fn(ctx, 0); err != nil {
			b.Fatal(err)
		}
	}
	return vs, srv
}

// BenchmarkRedisDecisions measures decisions per second of each variant (see
// benchVariants) on one redis-server on loopback, with benchClients
// concurrent callers each. On a quiet machine compare commits with
// benchstat; on a loaded one use BenchmarkRedisInterleaved.
func BenchmarkRedisDecisions(b *testing.B) {
	vs, _ := benchVariants(b)
	for _, v := range vs {
		b.Run(v.name, func(b *testing.B) { drive(b, v.perOp, v.fn) })
	}
}

// blockDecisions is how many decisions one block of BenchmarkRedisInterleaved
// takes per variant.
const blockDecisions = 2048

// BenchmarkRedisInterleaved runs the variants (see benchVariants) in
// alternating blocks of blockDecisions decisions, b.N rounds, rotating which
// goes first, so all of them see the same machine. It reports, per variant:
//
//	<name>-mean/s   decisions per second over all its blocks
//	<name>-best/s   decisions per second of its best block
//	<name>-srv-ns   redis-server CPU time per decision (Linux: schedstat)
//	<name>-cpu-ns   CPU time per decision of server and client together
//
// Wall-clock rates on a shared, loaded machine swing by 10-20% between runs;
// CPU time per decision does not depend on what else runs, and the server's
// is what bounds one Redis's throughput. make bench-redis prints the ratios.
func BenchmarkRedisInterleaved(b *testing.B) {
	vs, srv := benchVariants(b)
	ctx := context.Background()
	best := make([]float64, len(vs))
	total := make([]time.Duration, len(vs))
	srvCPU := make([]time.Duration, len(vs))
	allCPU := make([]time.Duration, len(vs))
	next := make([]int, len(vs))
	pid := srv.Pid()
	b.ResetTimer()
	for r := 0; r < b.N; r++ {
		for k := range vs {
			j := (r + k) % len(vs)
			v := vs[j]
			n := blockDecisions / v.perOp
			s0, c0 := serverCPU(pid), selfCPU()
			el, err := block(ctx, n, next[j], v.fn)
			if err != nil {
				b.Fatal(err)
			}
			ds := serverCPU(pid) - s0
			srvCPU[j] += ds
			allCPU[j] += ds + selfCPU() - c0
			next[j] += n
			total[j] += el
			if rate := float64(n*v.perOp) / el.Seconds(); rate > best[j] {
				best[j] = rate
			}
		}
	}
	b.StopTimer()
	decisions := float64(b.N * blockDecisions)
	for j, v := range vs {
		b.ReportMetric(decisions/total[j].Seconds(), v.name+"-mean/s")
		b.ReportMetric(best[j], v.name+"-best/s")
		if srvCPU[j] > 0 {
			b.ReportMetric(float64(srvCPU[j].Nanoseconds())/decisions, v.name+"-srv-ns")
			b.ReportMetric(float64(allCPU[j].Nanoseconds())/decisions, v.name+"-cpu-ns")
		}
	}
}

// serverCPU returns the CPU time the process pid has run, from Linux's
// /proc/<pid>/schedstat (nanoseconds), or 0 where that is not available.
// redis-server decides on its main thread, the thread group leader.
func serverCPU(pid int) time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/schedstat", pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(raw))
	if len(f) == 0 {
		return 0
	}
	ns, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil {
		return 0
	}
	return time.Duration(ns)
}

// block runs n operations, from, from+1, ..., on benchClients goroutines and
// returns how long they took.
func block(ctx context.Context, n, from int, fn func(ctx context.Context, i int) error) (time.Duration, error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	start := time.Now()
	for w := 0; w < benchClients; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := fn(ctx, from+i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					next.Store(int64(n))
					return
				}
			}
		}()
	}
	wg.Wait()
	return time.Since(start), first
}
