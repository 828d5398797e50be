package plan

import (
	"fmt"
	"math"
	"runtime"
	"time"

	"tollgate/schema"
	"tollgate/stats"
)

// MonthResult is a full simulated month of one configuration beside the
// estimator's prediction for that month.
type MonthResult struct {
	// Availability, Requests and Errors are the simulated month's.
	Availability     float64
	Requests, Errors int64
	// Interruptions is the spot interruptions the month drew.
	Interruptions int64
	// Predicted is the estimator's prediction interval for a month with
	// exactly those interruptions and no zone outage or Redis failover.
	Predicted schema.Estimate
	// Estimate is the configuration's evaluation behind Predicted.
	Estimate schema.Evaluated
}

// MonthCheck simulates configuration c for a whole month (the sheet's
// hours_per_month, no warm-up, one seed) with random spot interruptions at
// the fault model's rate, the way the month-1b scenario does, and holds the
// month's availability against the estimator's interval for a month with the
// same number of interruptions. Zone outages and Redis failovers are not
// drawn in the month (the simulator has no random ones), so the prediction
// counts none of them.
func (p *Planner) MonthCheck(c schema.PlanConfig, seed uint64) (MonthResult, error) {
	cfg, err := Build(&p.base, p.sheet, c)
	if err != nil {
		return MonthResult{}, err
	}
	rates, err := p.perMonth(c, len(spotNodes(&cfg)))
	if err != nil {
		return MonthResult{}, err
	}
	cfg.Seed = seed
	cfg.Spot.InterruptionsPerNodeHour = rates[kindSpot] / float64(max(c.Spot, 1)) / p.sheet.HoursPerMonth
	month := time.Duration(p.sheet.HoursPerMonth * float64(time.Hour))
	setWindow(&cfg, 0, month)
	cfg.Interval = 3600e9
	s, err := simulate(&cfg)
	if err != nil {
		return MonthResult{}, fmt.Errorf("plan: month of %s: %w", Name(c), err)
	}
	r := MonthResult{Requests: s.total, Errors: s.errors, Interruptions: s.interruptions}
	r.Availability = 1
	if s.total > 0 {
		r.Availability = 1 - float64(s.errors)/float64(s.total)
	}
	n := float64(s.interruptions)
	counts := map[string]float64{kindSpot: n, kindZone: 0, kindRedis: 0}
	ev, samples, err := p.evaluate(0, c, counts, newPool(runtime.GOMAXPROCS(0)))
	if err != nil {
		return MonthResult{}, err
	}
	r.Estimate = ev
	r.Predicted = p.predictMonth(samples, n, float64(s.total))
	return r, nil
}

// predictMonth is the prediction interval of the unavailability of one month
// of total requests with n spot interruptions: the steady error share plus n
// times the mean errors per interruption over total, with the estimate's
// variance (steady share and mean) and the month's own: n independent
// interruptions, each varying as the replications do (n s^2 / total^2).
func (p *Planner) predictMonth(samples map[string][]sample, n, total float64) schema.Estimate {
	steady := samples[kindSteady]
	shares := make([]float64, len(steady))
	for i, s := range steady {
		if s.total > 0 {
			shares[i] = float64(s.errors) / float64(s.total)
		}
	}
	es := stats.MeanOf(shares)
	spot := samples[kindSpot]
	excess := make([]float64, len(spot))
	for i, s := range spot {
		excess[i] = float64(s.errors) - es.Mean*float64(s.total)
	}
	x := stats.MeanOf(excess)
	own := stats.Component{Mean: 0, VarMean: x.VarMean * float64(len(excess)), DF: x.DF} // s^2: one interruption's variance
	parts := []stats.Component{es, x, own}
	weights := []float64{1, n / total, math.Sqrt(n) / total}
	m, lo, hi := stats.Interval(p.spec.Estimate.Confidence, parts, weights)
	clamp := func(v float64) float64 { return math.Max(0, math.Min(1, v)) }
	return schema.Estimate{Mean: clamp(1 - m), Lower: clamp(1 - hi), Upper: clamp(1 - lo)}
}
