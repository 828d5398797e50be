package plan

import (
	"math"
	"math/rand/v2"
	"sort"

	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"

	"tollgate/schema"
	"tollgate/sim/kernel"
)

// spreadMonths is how many months monthSpread draws: the 5th percentile of
// 4000 draws has a standard error of about sqrt(0.05 x 0.95 / 4000) = 0.34
// percentile points.
const spreadMonths = 4000

// monthSpread draws spreadMonths single months of a configuration from its
// fault samples' excess errors (excessErrors, per kind): in each, every fault kind occurs a Poisson number of times at its
// monthly rate, and each occurrence adds the excess errors of one of that
// kind's replications drawn at random (a compound-Poisson bootstrap over the
// simulated occurrences; a zone outage's replications carry the durations
// the model drew). The steady error share is the estimate's mean. Every
// configuration draws from the same stream (common random numbers), so two
// configurations' spreads differ by their samples, not by luck.
func (p *Planner) monthSpread(rates map[string]float64, excess map[string][]float64, steadyShare, month float64) *schema.MonthSpread {
	src := kernel.NewSource(p.spec.Seed, "plan/months")
	rng := rand.New(src)
	type kind struct {
		rate   float64
		excess []float64
	}
	var ks []kind
	for _, k := range faultKinds { // a fixed order: the draws must not follow map order
		if rates[k] > 0 && len(excess[k]) > 0 {
			ks = append(ks, kind{rates[k], excess[k]})
		}
	}
	avail := make([]float64, spreadMonths)
	meeting := 0
	for m := range avail {
		errs := steadyShare * month
		for _, k := range ks {
			n := int(distuv.Poisson{Lambda: k.rate, Src: src}.Rand())
			for range n {
				errs += k.excess[rng.IntN(len(k.excess))]
			}
		}
		a := math.Max(0, math.Min(1, 1-errs/month))
		avail[m] = a
		if a >= p.spec.SLO.Availability {
			meeting++
		}
	}
	sort.Float64s(avail)
	return &schema.MonthSpread{Months: spreadMonths,
		P05:     stat.Quantile(0.05, stat.Empirical, avail, nil),
		Median:  stat.Quantile(0.5, stat.Empirical, avail, nil),
		Meeting: float64(meeting) / spreadMonths}
}
