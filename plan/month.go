package plan

import (
	"fmt"
	"math"
	"runtime"
	"time"

	"tollgate/schema"
	"tollgate/sim"
	"tollgate/sim/kernel"
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
	// Faults is the month's scheduled faults (a zone outage, a Redis
	// failover) as the simulator ran them.
	Faults []sim.Fault
	// Predicted is the estimator's prediction interval for a month with
	// exactly those interruptions and faults.
	Predicted schema.Estimate
	// Estimate is the configuration's evaluation behind Predicted.
	Estimate schema.Evaluated
}

// MonthCheck simulates configuration c for a whole month (MonthScenario: the
// sheet's hours_per_month, no warm-up, random spot interruptions at the fault
// model's rate, one zone outage of the model's longest duration on day 10, one
// Redis failover on day 20) with the given seed, and holds the month's
// availability against the estimator's prediction interval for a month with
// the same faults. The estimator averages over the time of day and the zone
// (or shard) a fault strikes, so the check draws both from the seed, as the
// short simulations do, rather than MonthScenario's worst case (the diurnal
// peak, the store's zone): the month is then one draw of what the estimator
// predicts.
func (p *Planner) MonthCheck(c schema.PlanConfig, seed uint64) (MonthResult, error) {
	cfg, err := p.MonthScenario(c, "month-check")
	if err != nil {
		return MonthResult{}, err
	}
	cfg.Seed = seed
	rng := kernel.Stream(seed, "plan/month-check")
	const day = 24 * time.Hour
	for i := range cfg.Faults {
		f := &cfg.Faults[i]
		start := f.At.D().Truncate(day)
		f.At = sim.Duration(start + time.Duration(rng.Float64()*float64(day)).Truncate(time.Second))
		switch {
		case f.Kind == sim.FaultAZ:
			zs := cfg.Topology.Zones
			f.Target = zs[pick(rng.Float64(), len(zs))]
		case f.Kind == sim.FaultRedisFailover && cfg.Redis.Mode == sim.RedisCluster:
			n := cfg.Redis.Shards
			f.Target = sim.ShardName(pick(rng.Float64(), n))
		}
	}
	if err := cfg.Validate(); err != nil {
		return MonthResult{}, fmt.Errorf("plan: month of %s: %w", Name(c), err)
	}
	s, err := simulate(&cfg)
	if err != nil {
		return MonthResult{}, fmt.Errorf("plan: month of %s: %w", Name(c), err)
	}
	r := MonthResult{Requests: s.total, Errors: s.errors, Interruptions: s.interruptions, Faults: cfg.Faults}
	r.Availability = 1
	if s.total > 0 {
		r.Availability = 1 - float64(s.errors)/float64(s.total)
	}
	counts := map[string]float64{kindSpot: float64(s.interruptions)}
	var zone *sim.Fault
	for i, f := range cfg.Faults {
		switch f.Kind {
		case sim.FaultAZ:
			counts[kindZone]++
			zone = &cfg.Faults[i]
		case sim.FaultRedisFailover:
			counts[kindRedis]++
		}
	}
	ev, samples, err := p.evaluate(0, c, counts, newPool(runtime.GOMAXPROCS(0)))
	if err != nil {
		return MonthResult{}, err
	}
	r.Estimate = ev
	r.Predicted = p.predictMonth(samples, counts, p.zoneControl(&cfg), zone, float64(s.total))
	return r, nil
}

// predictMonth is the prediction interval of the availability of one month
// of total requests with counts[kind] occurrences of each fault: the steady
// error share plus each fault's errors over total, with the estimate's
// variance and the month's own. n spot interruptions (or Redis failovers)
// add n times the mean errors per occurrence and vary as n independent
// occurrences do (n s^2); the zone outage (one, of known duration and zone)
// adds the control-variate regression of errors on the control read at its
// control value, and varies about it as the regression's residuals do.
func (p *Planner) predictMonth(samples map[string][]sample, counts map[string]float64, zc zoneCV, zone *sim.Fault, total float64) schema.Estimate {
	es := stats.MeanOf(errorShares(samples[kindSteady]))
	parts := []stats.Component{es}
	weights := []float64{1}
	for _, k := range faultKinds {
		n := counts[k]
		ss := samples[k]
		if n <= 0 || len(ss) == 0 {
			continue
		}
		excess := excessErrors(ss, es.Mean)
		// a spot interruption or a Redis failover: the mean and one
		// occurrence's spread (no control); the zone outage: the line of
		// its errors on its control, read at this outage's
		var ctl []float64
		at := 0.0
		if k == kindZone && zone != nil {
			ctl = zc.values(ss)
			if zc.storeZone == "" || zone.Target == zc.storeZone {
				at = zone.Duration.D().Seconds()
			}
		}
		line, own := stats.Prediction(excess, ctl, at)
		parts = append(parts, line, own)
		weights = append(weights, n/total, math.Sqrt(n)/total)
	}
	m, lo, hi := stats.Interval(p.spec.Estimate.Confidence, parts, weights)
	clamp := func(v float64) float64 { return math.Max(0, math.Min(1, v)) }
	return schema.Estimate{Mean: clamp(1 - m), Lower: clamp(1 - hi), Upper: clamp(1 - lo)}
}
