package plan

import (
	"tollgate/schema"
	"tollgate/sim"
)

// sample is what the estimator takes from one simulation's summary. It is
// the only place the planner reads the summary schema.
type sample struct {
	total, errors, rejected, retries int64
	false429, overAdmission, p99MS   float64
	windowS                          float64
	interruptions                    int64
	// target is the fault's target (a zone outage's zone, a cluster
	// failover's shard).
	target string
	// durationS is a zone outage's drawn duration in seconds (its control
	// variate), which the simulation may have cut at estimate.zone_cap.
	durationS float64
	// timeline is the per-interval counts (start in measured seconds).
	timeline  []point
	intervalS float64
}

// point is one timeline interval's counts.
type point struct {
	startS        float64
	total, errors int64
}

// rates returns requests and errors per second over the timeline intervals
// lying wholly inside [from, to) measured seconds, and whether any does.
func (s sample) rates(from, to float64) (total, errors float64, ok bool) {
	var n, e int64
	secs := 0.0
	for _, p := range s.timeline {
		if p.startS >= from && p.startS+s.intervalS <= to {
			n += p.total
			e += p.errors
			secs += s.intervalS
		}
	}
	if secs == 0 {
		return 0, 0, false
	}
	return float64(n) / secs, float64(e) / secs, true
}

// simulate runs one validated simulator configuration.
func simulate(cfg *sim.Config) (sample, error) {
	s, err := sim.Run(cfg, sim.Options{})
	if err != nil {
		return sample{}, err
	}
	return fromSummary(s), nil
}

func fromSummary(s *schema.Summary) sample {
	tl := make([]point, len(s.Timeline))
	for i, iv := range s.Timeline {
		tl[i] = point{startS: iv.StartS, total: iv.Total, errors: iv.Errors}
	}
	return sample{timeline: tl, intervalS: s.IntervalS, total: s.Requests.Total, errors: s.Requests.Errors, rejected: s.Requests.Rejected,
		retries: s.Requests.Retries, false429: s.False429.Rate, overAdmission: s.OverAdmission.Ratio,
		p99MS: s.LatencyMS.P99, windowS: s.DurationS, interruptions: s.Fleet.Interruptions}
}

// errorShares is each sample's errors over its requests (0 without any).
func errorShares(ss []sample) []float64 {
	out := make([]float64, len(ss))
	for i, s := range ss {
		if s.total > 0 {
			out[i] = float64(s.errors) / float64(s.total)
		}
	}
	return out
}

// excessErrors is each fault sample's errors beyond the steady error share
// of its requests: what the fault added.
func excessErrors(ss []sample, steadyShare float64) []float64 {
	out := make([]float64, len(ss))
	for i, s := range ss {
		out[i] = float64(s.errors) - steadyShare*float64(s.total)
	}
	return out
}
