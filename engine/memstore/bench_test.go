package memstore

import (
	"context"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"tollgate/engine"
)

// The benchmarks compare one memstore decision with the fair in-process
// equivalent built on golang.org/x/time/rate: a map of *rate.Limiter keyed
// by tenant under a mutex (or sync.Map for the parallel run), AllowN with an
// explicit time. Both sides use the same keys, the same token bucket (burst
// 100, 1000 per second), the same advancing clock, and cost 1.

const benchKeys = 10_000

func benchKeyNames(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = "tenant-" + strconv.Itoa(i)
	}
	return keys
}

func benchPlan() *engine.Plan {
	return engine.NewPlan(engine.MustCompile(engine.Limit{Name: "basic", Algorithm: engine.TokenBucket, Capacity: 100, Rate: 1000}))
}

var benchStart = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// rateMap is x/time/rate keyed by tenant: the baseline.
type rateMap struct {
	mu sync.Mutex
	m  map[string]*rate.Limiter
}

func (r *rateMap) allow(key string, t time.Time) bool {
	r.mu.Lock()
	l, ok := r.m[key]
	if !ok {
		l = rate.NewLimiter(1000, 100)
		r.m[key] = l
	}
	r.mu.Unlock()
	return l.AllowN(t, 1)
}

func BenchmarkDecision(b *testing.B) {
	keys := benchKeyNames(benchKeys)
	b.Run("impl=xtimerate-map", func(b *testing.B) {
		rm := &rateMap{m: make(map[string]*rate.Limiter)}
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			rm.allow(keys[i%benchKeys], benchStart.Add(time.Duration(i)*time.Microsecond))
		}
	})
	b.Run("impl=memstore", func(b *testing.B) {
		s := New(Options{})
		plan := benchPlan()
		ctx := context.Background()
		now := engine.Micros(benchStart)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, err := s.Apply(ctx, engine.Op{Kind: engine.Acquire, Key: keys[i%benchKeys], Plan: plan, Cost: 1000, Now: now + int64(i)}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("impl=memstore-tier", func(b *testing.B) {
		// a realistic tier plan: burst bucket + hour and month quotas
		s := New(Options{})
		plan := engine.NewPlan(
			engine.MustCompile(engine.Limit{Name: "basic", Algorithm: engine.TokenBucket, Capacity: 100, Rate: 1000}),
			engine.MustCompile(engine.Limit{Name: "basic-hour", Algorithm: engine.FixedWindow, Capacity: 1e6, Calendar: engine.CalendarHour}),
			engine.MustCompile(engine.Limit{Name: "basic-month", Algorithm: engine.FixedWindow, Capacity: 1e6, Calendar: engine.CalendarMonth}))
		ctx := context.Background()
		now := engine.Micros(benchStart)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, err := s.Apply(ctx, engine.Op{Kind: engine.Acquire, Key: keys[i%benchKeys], Plan: plan, Cost: 1000, Now: now + int64(i)}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkParallel runs decisions from GOMAXPROCS goroutines (2 on CI's
// machine) over random keys.
func BenchmarkParallel(b *testing.B) {
	keys := benchKeyNames(benchKeys)
	b.Run("impl=xtimerate-syncmap", func(b *testing.B) {
		var m sync.Map
		var seq atomic.Int64
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			i := int(seq.Add(1)) * 7919
			for pb.Next() {
				i++
				k := keys[i%benchKeys]
				v, ok := m.Load(k)
				if !ok {
					v, _ = m.LoadOrStore(k, rate.NewLimiter(1000, 100))
				}
				v.(*rate.Limiter).AllowN(benchStart.Add(time.Duration(i)*time.Microsecond), 1)
			}
		})
	})
	b.Run("impl=xtimerate-map", func(b *testing.B) {
		rm := &rateMap{m: make(map[string]*rate.Limiter)}
		var seq atomic.Int64
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			i := int(seq.Add(1)) * 7919
			for pb.Next() {
				i++
				rm.allow(keys[i%benchKeys], benchStart.Add(time.Duration(i)*time.Microsecond))
			}
		})
	})
	b.Run("impl=memstore", func(b *testing.B) {
		s := New(Options{})
		plan := benchPlan()
		ctx := context.Background()
		now := engine.Micros(benchStart)
		var seq atomic.Int64
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			i := int(seq.Add(1)) * 7919
			for pb.Next() {
				i++
				if _, err := s.Apply(ctx, engine.Op{Kind: engine.Acquire, Key: keys[i%benchKeys], Plan: plan, Cost: 1000, Now: now + int64(i)}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkBytesPerKey stores one token-bucket state for each of 1M keys and
// reports the heap growth per key (runtime.MemStats after a GC, before and
// after; the key strings are allocated before the first reading, as the
// caller holds them anyway).
func BenchmarkBytesPerKey(b *testing.B) {
	const n = 1_000_000
	keys := benchKeyNames(n)
	plan := benchPlan()
	ctx := context.Background()
	now := engine.Micros(benchStart)
	for it := 0; it < b.N; it++ {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		s := New(Options{})
		for i, k := range keys {
			if _, err := s.Apply(ctx, engine.Op{Kind: engine.Acquire, Key: k, Plan: plan, Cost: 1000, Now: now + int64(i)}); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		if s.Len() != n {
			b.Fatalf("stored %d states, want %d", s.Len(), n)
		}
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "bytes/key")
		runtime.KeepAlive(s)
	}
}

// BenchmarkInterleaved measures the memstore against the x/time/rate map in
// alternating blocks of 256 decisions, so that load from other processes on
// a shared machine hits both alike. It reports each side's mean ns per
// decision and their ratio, and the same from each side's fastest block
// (min-*): a block is short enough (tens of microseconds) to run between
// two preemptions, so the fastest block is the uncontended speed.
func BenchmarkInterleaved(b *testing.B) {
	keys := benchKeyNames(benchKeys)
	rm := &rateMap{m: make(map[string]*rate.Limiter)}
	s := New(Options{})
	plan := benchPlan()
	ctx := context.Background()
	now := engine.Micros(benchStart)
	const block = 256
	// warm both: every key present
	for j := 0; j < benchKeys; j++ {
		rm.allow(keys[j], benchStart)
		if _, err := s.Apply(ctx, engine.Op{Kind: engine.Acquire, Key: keys[j], Plan: plan, Cost: 1000, Now: now}); err != nil {
			b.Fatal(err)
		}
	}
	var tRate, tMem time.Duration
	minRate, minMem := time.Duration(1<<62), time.Duration(1<<62)
	ops := 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += block {
		t0 := time.Now()
		for j := i; j < i+block; j++ {
			rm.allow(keys[j%benchKeys], benchStart.Add(time.Duration(j)*time.Microsecond))
		}
		t1 := time.Now()
		for j := i; j < i+block; j++ {
			if _, err := s.Apply(ctx, engine.Op{Kind: engine.Acquire, Key: keys[j%benchKeys], Plan: plan, Cost: 1000, Now: now + int64(j)}); err != nil {
				b.Fatal(err)
			}
		}
		t2 := time.Now()
		tRate += t1.Sub(t0)
		tMem += t2.Sub(t1)
		minRate, minMem = min(minRate, t1.Sub(t0)), min(minMem, t2.Sub(t1))
		ops += block
	}
	b.ReportMetric(float64(tRate.Nanoseconds())/float64(ops), "xtimerate-ns/op")
	b.ReportMetric(float64(tMem.Nanoseconds())/float64(ops), "memstore-ns/op")
	b.ReportMetric(float64(tMem)/float64(tRate), "ratio")
	b.ReportMetric(float64(minRate.Nanoseconds())/block, "min-xtimerate-ns/op")
	b.ReportMetric(float64(minMem.Nanoseconds())/block, "min-memstore-ns/op")
	b.ReportMetric(float64(minMem)/float64(minRate), "min-ratio")
}

// BenchmarkParallelInterleaved runs GOMAXPROCS goroutines (2 on CI's machine)
// through alternating phases: in each, every goroutine makes 1024 decisions
// on its own key sequence with one implementation, then all meet at a
// barrier. It reports the aggregate throughput of each implementation (mean
// over all phases, and from its fastest phase, when no other process took a
// core) and the memstore's as a fraction of x/time/rate's. x/time/rate runs
// as a sync.Map of limiters, the fair concurrent equivalent of the map.
func BenchmarkParallelInterleaved(b *testing.B) {
	keys := benchKeyNames(benchKeys)
	var sm sync.Map
	s := New(Options{})
	plan := benchPlan()
	ctx := context.Background()
	now := engine.Micros(benchStart)
	for j := 0; j < benchKeys; j++ {
		sm.Store(keys[j], rate.NewLimiter(1000, 100))
		if _, err := s.Apply(ctx, engine.Op{Kind: engine.Acquire, Key: keys[j], Plan: plan, Cost: 1000, Now: now}); err != nil {
			b.Fatal(err)
		}
	}
	g := runtime.GOMAXPROCS(0)
	const per = 1024
	phases := max(1, b.N/(per*g))
	var tRate, tMem time.Duration
	minRate, minMem := time.Duration(1<<62), time.Duration(1<<62)
	run := func(impl, phase int) time.Duration {
		var wg sync.WaitGroup
		start := time.Now()
		for w := 0; w < g; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				base := (phase*g + w) * per * 7919
				for j := base; j < base+per; j++ {
					k := keys[j%benchKeys]
					if impl == 0 {
						v, _ := sm.Load(k)
						v.(*rate.Limiter).AllowN(benchStart.Add(time.Duration(j)*time.Microsecond), 1)
					} else {
						s.Apply(ctx, engine.Op{Kind: engine.Acquire, Key: k, Plan: plan, Cost: 1000, Now: now + int64(j)})
					}
				}
			}(w)
		}
		wg.Wait()
		return time.Since(start)
	}
	b.ResetTimer()
	for p := 0; p < phases; p++ {
		dr, dm := run(0, p), run(1, p)
		tRate, tMem = tRate+dr, tMem+dm
		minRate, minMem = min(minRate, dr), min(minMem, dm)
	}
	ops := float64(phases * per * g)
	b.ReportMetric(ops/tRate.Seconds(), "xtimerate-ops/s")
	b.ReportMetric(ops/tMem.Seconds(), "memstore-ops/s")
	b.ReportMetric(float64(per*g)/minRate.Seconds(), "best-xtimerate-ops/s")
	b.ReportMetric(float64(per*g)/minMem.Seconds(), "best-memstore-ops/s")
	b.ReportMetric(minRate.Seconds()/minMem.Seconds(), "best-throughput-ratio")
}
