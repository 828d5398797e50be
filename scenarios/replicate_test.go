package scenarios

import (
	"bytes"
	"fmt"
	"math"
	"testing"

	"tollgate/schema"
)

// TestReplicationSeed: replication 0 keeps the base seed; the others are
// distinct, non-zero, and a function of base and r alone.
func TestReplicationSeed(t *testing.T) {
	seen := map[uint64]int{}
	for r := range 50 {
		s := ReplicationSeed(9, r)
		if r == 0 && s != 9 {
			t.Errorf("replication 0: seed %d, want the base seed 9", s)
		}
		if s == 0 || s >= 1<<53 {
			t.Errorf("replication %d: seed %d, want in [1, 2^53)", r, s)
		}
		if j, dup := seen[s]; dup {
			t.Errorf("replications %d and %d share seed %d", j, r, s)
		}
		seen[s] = r
		if ReplicationSeed(9, r) != s {
			t.Errorf("replication %d: seed not reproducible", r)
		}
	}
	if ReplicationSeed(9, 1) == ReplicationSeed(10, 1) {
		t.Error("replication 1 of bases 9 and 10 share a seed")
	}
}

// TestRunReplicatedIndependentOfWorkers: replicated runs of two variants
// give byte-identical summaries (intervals included) on one worker and on
// four; replication 0 is the plain run; replication r of both variants ran
// with the same seed (common random numbers).
func TestRunReplicatedIndependentOfWorkers(t *testing.T) {
	base := short(t, "skewed-clock", "duration", "3s", "warmup", "0s")
	var scs []*Scenario
	for _, a := range []string{"gcra", "fixed-window"} {
		sc := base.Clone()
		if err := sc.Set("engine.algorithm", a); err != nil {
			t.Fatal(err)
		}
		scs = append(scs, sc)
	}
	const n = 3
	replicated := func(parallel int) [][]byte {
		reps, errs := RunReplicated(scs, RunOptions{}, n, parallel)
		var out [][]byte
		for i := range scs {
			if errs[i] != nil {
				t.Fatal(errs[i])
			}
			s, err := Replicated(reps[i], nil, DefaultConfidence, "")
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, encode(t, s))
		}
		return out
	}
	one, four := replicated(1), replicated(4)
	for i := range scs {
		if !bytes.Equal(one[i], four[i]) {
			t.Errorf("%s: summaries differ between 1 and 4 workers", scs[i].Config.Engine.Algorithm)
		}
	}
	reps, _ := RunReplicated(scs, RunOptions{}, n, 2)
	for i, sc := range scs {
		plain, err := Run(sc, RunOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(encode(t, reps[i][0]), encode(t, plain)) {
			t.Errorf("%s: replication 0 differs from the plain run", sc.Config.Engine.Algorithm)
		}
		for r := range n {
			if got, want := reps[i][r].Seed, ReplicationSeed(base.Config.Seed, r); got != want {
				t.Errorf("%s replication %d: seed %d, want %d", sc.Config.Engine.Algorithm, r, got, want)
			}
		}
	}
	if reps[0][1].Seed != reps[1][1].Seed || bytes.Equal(encode(t, reps[0][1]), encode(t, reps[0][2])) {
		t.Error("want the same seed per replication across variants and different runs across replications")
	}
	// A single replication is the plain summary, without intervals.
	s, err := Replicated(reps[0][:1], nil, DefaultConfidence, "")
	if err != nil || s.Intervals != nil || s != reps[0][0] {
		t.Errorf("one replication: %v, intervals %v", err, s.Intervals)
	}
}

// TestReplicatedIntervals: the intervals are mean +- t * s / sqrt(n) of the
// replications' figures, computed here by hand from the three summaries
// (t(0.975, 2) = 4.302652730 from any t table); a NaN cost leaves the cost
// interval out; bad input is refused with the reason.
func TestReplicatedIntervals(t *testing.T) {
	mk := func(seed uint64, p99, avail float64) *schema.Summary {
		return &schema.Summary{Scenario: "x", Seed: seed, Availability: avail, LatencyMS: schema.Percentiles{P50: 1, P99: p99}}
	}
	reps := []*schema.Summary{mk(5, 10, 0.999), mk(6, 12, 0.998), mk(7, 14, 0.9995)}
	s, err := Replicated(reps, []float64{40, 44, 42}, 0.95, "sheet")
	if err != nil {
		t.Fatal(err)
	}
	iv := s.Intervals
	h := 4.302652730 * 2 / math.Sqrt(3) // p99: mean 12, s = 2
	if math.Abs(iv.P99MS.Mean-12) > 1e-12 || math.Abs(iv.P99MS.Lower-(12-h)) > 1e-8 || math.Abs(iv.P99MS.Upper-(12+h)) > 1e-8 {
		t.Errorf("p99 interval %+v, want 12 +- %v", iv.P99MS, h)
	}
	if iv.CostPerBillion == nil || math.Abs(iv.CostPerBillion.Upper-(42+h)) > 1e-8 || iv.PriceSheet != "sheet" {
		t.Errorf("cost interval %+v (%q), want 42 +- %v", iv.CostPerBillion, iv.PriceSheet, h)
	}
	if iv.P50MS.Lower != 1 || iv.P50MS.Upper != 1 {
		t.Errorf("constant p50: interval %+v, want [1, 1]", iv.P50MS)
	}
	if fmt.Sprint(iv.Seeds) != "[5 6 7]" || iv.Replications != 3 || s.Seed != 5 || s.LatencyMS.P99 != 10 {
		t.Errorf("seeds %v, replications %d, summary seed %d p99 %v: want replication 0's", iv.Seeds, iv.Replications, s.Seed, s.LatencyMS.P99)
	}
	s, err = Replicated(reps, []float64{40, math.NaN(), 42}, 0.95, "sheet")
	if err != nil || s.Intervals.CostPerBillion != nil || s.Intervals.PriceSheet != "" {
		t.Errorf("an unpriced replication: %v, cost %+v", err, s.Intervals.CostPerBillion)
	}
	if _, err := Replicated(reps, nil, 1.5, ""); err == nil {
		t.Error("confidence 1.5: no error")
	}
	if _, err := Replicated(reps, []float64{1}, 0.95, ""); err == nil {
		t.Error("one cost for three replications: no error")
	}
	if _, err := Replicated(nil, nil, 0.95, ""); err == nil {
		t.Error("no replications: no error")
	}
}

// TestReplicatedCoversMM1: one gateway node with one worker, exponential
// service at mu = 1000/s, Poisson arrivals at lambda = 700/s and nothing
// else that takes time is an M/M/1 queue, whose FCFS sojourn time is
// exponential with rate mu - lambda (Kleinrock, Queueing Systems I, 3.2):
// its p-quantile is -ln(1-p)/(mu-lambda), 2.310 ms at p50 and 15.35 ms at
// p99, a reference sharing no code with the simulator. trials independent
// sets of n replications (base seeds 1..trials) must give 95% intervals
// that hold it in about 95% of the sets. With true 95% coverage the count of
// misses over 60 sets is Binomial(60, 0.05): mean 3, and P(misses >= 9) is
// 0.0039, so more than 8 misses fails (an interval sqrt(n) too narrow, s/n
// in place of s/sqrt(n), misses P(|T_4| > 1.24) = 28%, 17 of 60); the seeds
// are fixed, so the test is deterministic. Warm-up: the M/M/1
// relaxation time at rho = 0.7 is about 1/(mu (1-sqrt(rho))^2) = 37 ms, so
// 2 s of warm-up leaves no start-up bias; HDR histograms hold 3 significant
// digits (0.1%), small beside the intervals' half-widths. Intervals wide
// enough would cover without telling anything: their mean half-width must
// stay under 25% of the value (measured: 7% at p50 and 15% at p99 with 8 s
// replications, 11% and 20% with -short's 4 s).
func TestReplicatedCoversMM1(t *testing.T) {
	const (
		mu, lambda = 1000.0, 700.0
		n          = 5
		trials     = 60
		maxMisses  = 8
	)
	seconds := 8
	if testing.Short() {
		seconds = 4
	}
	y := fmt.Sprintf(`
name: mm1
seed: 1
duration: %ds
warmup: 2s
topology: {zones: [a], nodes_per_zone: 1, concurrency: 1, service_time: 1ms, service_dist: exponential, queue_limit: 1000000}
network: {client: 1ns, intra_zone: 1ns, cross_zone: 1ns}
redis: {mode: embedded}
tiers: [{name: open, burst: 1000000, rate: 1000000}]
routes: [{name: /, cost: 1, latency: 1ns, dist: deterministic}]
traffic:
  groups: [{name: g, tier: open, keys: 1000, rate: %v, retry: none}]
`, seconds, lambda)
	want := map[string]float64{"p50": math.Ln2 / (mu - lambda) * 1000, "p99": math.Log(100) / (mu - lambda) * 1000}
	var scs []*Scenario
	for i := range trials {
		sc := mustParse(t, "mm1", y)
		sc.Config.Seed = uint64(i + 1)
		scs = append(scs, sc)
	}
	reps, errs := RunReplicated(scs, RunOptions{}, n, 2)
	misses, width := map[string]int{}, map[string]float64{}
	for i := range scs {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		s, err := Replicated(reps[i], nil, 0.95, "")
		if err != nil {
			t.Fatal(err)
		}
		for name, e := range map[string]schema.Estimate{"p50": s.Intervals.P50MS, "p99": s.Intervals.P99MS} {
			if !(e.Lower <= want[name] && want[name] <= e.Upper) {
				misses[name]++
			}
			width[name] += (e.Upper - e.Lower) / 2 / want[name] / trials
		}
	}
	for _, name := range []string{"p50", "p99"} {
		t.Logf("%s: %d of %d 95%% intervals missed the M/M/1 value %.3f ms; mean half-width %.1f%% of it", name, misses[name], trials, want[name], 100*width[name])
		if !(width[name] < 0.25) {
			t.Errorf("%s: mean half-width %.1f%% of the value: intervals that wide cover without telling anything", name, 100*width[name])
		}
		if misses[name] > maxMisses {
			t.Errorf("%s: %d of %d 95%% intervals missed the M/M/1 value %.3f ms, want at most %d", name, misses[name], trials, want[name], maxMisses)
		}
	}
}
