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
	return sample{total: s.Requests.Total, errors: s.Requests.Errors, rejected: s.Requests.Rejected,
		retries: s.Requests.Retries, false429: s.False429.Rate, overAdmission: s.OverAdmission.Ratio,
		p99MS: s.LatencyMS.P99, windowS: s.DurationS, interruptions: s.Fleet.Interruptions}
}
