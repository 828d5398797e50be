package scenarios

import (
	"fmt"
	"math"
	"strconv"

	"tollgate/schema"
	"tollgate/sim/kernel"
	"tollgate/stats"
)

// DefaultConfidence is the two-sided level of a replicated run's intervals
// when none is asked for.
const DefaultConfidence = 0.95

// ReplicationSeed is the seed of replication r of a run whose seed is base:
// base itself for r = 0, so replication 0 is the run a single `gwlab run`
// makes; for r >= 1 the first draw of kernel.Stream(base, "replication/<r>"),
// a PCG stream of its own per replication, kept to 53 bits so every JSON
// reader (jq, JavaScript) reads summary.json's seeds exactly, and never 0,
// which RunOptions reads as "keep the scenario's seed". The seeds depend on base and r alone, so
// every variant of a comparison run from the same base seed gets the same
// seed in replication r: common random numbers.
func ReplicationSeed(base uint64, r int) uint64 {
	if r == 0 {
		return base
	}
	s := kernel.Stream(base, "replication/"+strconv.Itoa(r)).Uint64() & (1<<53 - 1)
	if s == 0 {
		s = 1
	}
	return s
}

// RunReplicated runs each scenario n times, replication r with
// ReplicationSeed(seed, r) where seed is opts.Seed if set, else the
// scenario's own; at most parallel simulations at once, over all scenarios
// and replications. It returns out[i][r], the summary of replication r of
// scs[i], and errs[i], the first error of scs[i]'s replications. Each
// simulation is deterministic and single-threaded, so the summaries do not
// depend on parallel.
func RunReplicated(scs []*Scenario, opts RunOptions, n, parallel int) ([][]*schema.Summary, []error) {
	n = max(n, 1)
	var jobs []job
	for _, sc := range scs {
		base := sc.Config.Seed
		if opts.Seed != 0 {
			base = opts.Seed
		}
		for r := range n {
			o := opts
			o.Seed = ReplicationSeed(base, r)
			jobs = append(jobs, job{sc, o})
		}
	}
	flat, flatErrs := runJobs(jobs, opts.Progress, parallel)
	out := make([][]*schema.Summary, len(scs))
	errs := make([]error, len(scs))
	for i := range scs {
		out[i] = flat[i*n : (i+1)*n]
		for r, err := range flatErrs[i*n : (i+1)*n] {
			if err != nil && errs[i] == nil {
				errs[i] = fmt.Errorf("replication %d (seed %d): %w", r, jobs[i*n+r].opts.Seed, err)
			}
		}
	}
	return out, errs
}

// Replicated returns replication 0's summary with the intervals of the
// headline figures over all of reps at confidence conf (stats.MeanInterval:
// Student-t on n-1 degrees of freedom, the replications being independent).
// costs, when not nil, holds each replication's cost per billion priced with
// the sheet named sheet; a NaN among them leaves the cost interval out. With
// a single replication the summary is returned as it is, without intervals.
func Replicated(reps []*schema.Summary, costs []float64, conf float64, sheet string) (*schema.Summary, error) {
	if len(reps) == 0 {
		return nil, fmt.Errorf("scenarios: replicated: no replications")
	}
	if !(conf > 0 && conf < 1) {
		return nil, fmt.Errorf("scenarios: replicated: confidence must be in (0, 1), got %v", conf)
	}
	if costs != nil && len(costs) != len(reps) {
		return nil, fmt.Errorf("scenarios: replicated: %d costs for %d replications", len(costs), len(reps))
	}
	if len(reps) == 1 {
		return reps[0], nil
	}
	col := func(get func(*schema.Summary) float64) []float64 {
		xs := make([]float64, len(reps))
		for i, s := range reps {
			xs[i] = get(s)
		}
		return xs
	}
	est := func(xs []float64) schema.Estimate {
		m, lo, hi := stats.MeanInterval(conf, xs)
		return schema.Estimate{Mean: m, Lower: lo, Upper: hi}
	}
	iv := &schema.Intervals{Replications: len(reps), Confidence: conf,
		Availability:  est(col(func(s *schema.Summary) float64 { return s.Availability })),
		P50MS:         est(col(func(s *schema.Summary) float64 { return s.LatencyMS.P50 })),
		P99MS:         est(col(func(s *schema.Summary) float64 { return s.LatencyMS.P99 })),
		Rate429:       est(col(func(s *schema.Summary) float64 { return s.Rate429.Overall })),
		False429Rate:  est(col(func(s *schema.Summary) float64 { return s.False429.Rate })),
		OverAdmission: est(col(func(s *schema.Summary) float64 { return s.OverAdmission.Ratio })),
	}
	for _, s := range reps {
		iv.Seeds = append(iv.Seeds, s.Seed)
	}
	priced := costs != nil
	for _, c := range costs {
		priced = priced && !math.IsNaN(c) && !math.IsInf(c, 0)
	}
	if priced {
		e := est(costs)
		iv.CostPerBillion, iv.PriceSheet = &e, sheet
	}
	if err := iv.Validate(); err != nil {
		return nil, fmt.Errorf("scenarios: replicated %s: %w", reps[0].Scenario, err)
	}
	out := *reps[0]
	out.Intervals = iv
	return &out, nil
}
