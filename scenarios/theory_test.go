package scenarios

import (
	"fmt"
	"math"
	"testing"

	"tollgate/engine"
	"tollgate/schema"
)

func mustParse(t *testing.T, name, y string) *Scenario {
	t.Helper()
	sc, err := Parse(name+".yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

func mustRun(t *testing.T, sc *Scenario) *schema.Summary {
	t.Helper()
	s, err := Run(sc, RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// station is one gateway node with c workers and exponential service of mean
// 1ms, fed Poisson traffic at lambda, with no network and no limiting that
// binds: the gateway latency is the M/M/c sojourn time.
func station(c int, lambda float64, seconds int) string {
	return fmt.Sprintf(`
name: mmc
seed: 42
duration: %ds
warmup: 100s
topology: {zones: [a], nodes_per_zone: 1, concurrency: %d, service_time: 1ms, service_dist: exponential, queue_limit: 1000000}
network: {client: 1ns, intra_zone: 1ns, cross_zone: 1ns}
redis: {mode: embedded}
tiers: [{name: open, burst: 1000000, rate: 1000000}]
routes: [{name: /, cost: 1, latency: 1ns, dist: deterministic}]
traffic:
  groups: [{name: g, tier: open, keys: 1000, rate: %v, retry: none}]
`, seconds, c, lambda)
}

// erlangC is the probability an arrival waits in an M/M/c queue with offered
// load a = lambda/mu.
func erlangC(c int, a float64) float64 {
	sum, term := 0.0, 1.0
	for k := 0; k < c; k++ {
		if k > 0 {
			term *= a / float64(k)
		}
		sum += term
	}
	last := term * a / float64(c) // a^c / c!
	rho := a / float64(c)
	top := last / (1 - rho)
	return top / (sum + top)
}

// TestMMcMeanWait: the node station reproduces the analytical mean wait of
// M/M/1 (Wq = rho/(mu - lambda)) and M/M/2 (Erlang C) within 2%.
func TestMMcMeanWait(t *testing.T) {
	const mu = 1000.0 // per second
	for _, tc := range []struct {
		c      int
		lambda float64
	}{{1, 700}, {2, 1400}} {
		t.Run(fmt.Sprintf("M/M/%d", tc.c), func(t *testing.T) {
			seconds := 1500
			if testing.Short() {
				seconds = 600
			}
			s := mustRun(t, mustParse(t, "mmc", station(tc.c, tc.lambda, seconds)))
			a := tc.lambda / mu
			wq := erlangC(tc.c, a) / (float64(tc.c)*mu - tc.lambda) * 1000 // ms
			got := s.GatewayLatencyMS.Mean - 1000/mu                       // sojourn minus mean service
			tol := 0.02
			if testing.Short() {
				tol = 0.05
			}
			t.Logf("seed 42: mean wait %.4f ms, analytical %.4f ms (%.2f%% off), %d requests", got, wq, 100*math.Abs(got-wq)/wq, s.Requests.Total)
			if math.Abs(got-wq)/wq > tol {
				t.Errorf("mean wait %.4f ms, analytical %.4f ms (%.2f%% off, tolerance %.0f%%), %d requests",
					got, wq, 100*math.Abs(got-wq)/wq, 100*tol, s.Requests.Total)
			}
		})
	}
}

// TestPoissonThroughTokenBucket: Poisson arrivals at lambda through a token
// bucket of rate r admit min(lambda, r) within 1%.
func TestPoissonThroughTokenBucket(t *testing.T) {
	const r = 500.0
	for _, lambda := range []float64{250, 1000, 3000} {
		t.Run(fmt.Sprint(lambda), func(t *testing.T) {
			sc := mustParse(t, "bucket", fmt.Sprintf(`
name: bucket
seed: 7
duration: 400s
warmup: 10s
topology: {zones: [a], nodes_per_zone: 1, concurrency: 64}
redis: {mode: redis, zone: a}
tiers: [{name: one, algorithm: token-bucket, burst: 50, rate: %v}]
routes: [{name: /, cost: 1, latency: 1ms}]
traffic:
  groups: [{name: g, tier: one, keys: 1, rate: %v, retry: none}]
`, r, lambda))
			s := mustRun(t, sc)
			got := float64(s.Requests.Admitted) / s.DurationS
			want := math.Min(lambda, r)
			if math.Abs(got-want)/want > 0.01 {
				t.Errorf("admitted %.2f/s, want min(%v, %v) = %v within 1%%", got, lambda, r, want)
			}
		})
	}
}

// TestFixedWindowBoundary: a client idle until just before a window boundary
// that then floods gets up to twice the limit admitted across the boundary
// from the fixed window, and at most the limit plus the refill over the
// flood from every other algorithm.
func TestFixedWindowBoundary(t *testing.T) {
	const limit = 100
	for _, alg := range []engine.Algorithm{engine.FixedWindow, engine.SlidingWindow, engine.TokenBucket, engine.GCRA, engine.PTBCWD} {
		t.Run(string(alg), func(t *testing.T) {
			// 20 ms flood from 10 ms before the boundary at t=2s, after idle;
			// as a trace replayed through the simulator.
			sc := mustParse(t, "boundary", fmt.Sprintf(`
name: boundary
seed: 1
duration: 3s
interval: 1s
topology: {zones: [a], nodes_per_zone: 1, concurrency: 64, queue_limit: 100000}
network: {client: 1ns, intra_zone: 1ns, cross_zone: 1ns}
redis: {mode: embedded}
tiers: [{name: one, algorithm: %s, burst: %d, rate: %d, period: 1s, refill_cap: 1}]
routes: [{name: /, cost: 1, latency: 1ms}]
traffic: {source: trace, trace: %s}
`, alg, limit, limit, writeFlood(t, limit)))
			s := mustRun(t, sc)
			got := s.Requests.Admitted - 1 // the anchor record at t=0
			if alg == engine.FixedWindow {
				if got != 2*limit {
					t.Errorf("fixed window admitted %d across the boundary, want 2x%d", got, limit)
				}
				return
			}
			// the limit plus 20 ms of refill at limit per second, rounded up
			if max := int64(limit + limit*20/1000 + 1); got > max {
				t.Errorf("%s admitted %d across the boundary, want at most %d", alg, got, max)
			}
		})
	}
}
