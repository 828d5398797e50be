package plan

import (
	"flag"
	"strconv"
	"strings"
	"testing"

	"tollgate/sim"
)

var monthRequests = flag.Float64("month.requests", 1e7, "requests a month for TestMonthInsideInterval (CI: 1e8)")

// monthSpec has frequent spot interruptions (0.01 per instance-hour: about 22
// in a month on three spot nodes) on nodes that do not drain, so each one
// costs errors until the health checks notice; the month also has a 20-minute
// zone outage (the model's longest, past the 10-minute cap the short
// simulations extend from) and a Redis failover.
const monthSpec = `
name: month-check
seed: 11
traffic: {requests_per_month: REQ, scenario: month-1b}
slo: {availability: 0.999}
faults:
  spot: {per_instance_hour: 0.01}
  zone_outages: {per_zone_year: 1, median: 5m, sigma: 0.6, max: 20m}
  redis_failovers: {per_month: 1}
search:
  instance_types: [c7g.medium]
  zones: [3]
  redis: [replica]
  drain: [false]
estimate: {warmup: 1m, steady: 5m, min_replications: 30, max_replications: 30, batch: 5}
`

// TestMonthInsideInterval is the estimator's check against a full simulated
// month: the month's availability falls inside the interval the replicated
// short simulations predict for a month with as many interruptions, its zone
// outage and its Redis failover.
func TestMonthInsideInterval(t *testing.T) {
	if testing.Short() {
		t.Skip("simulates a whole month")
	}
	p, _ := tinyPlanner(t, strings.Replace(monthSpec, "REQ", strings.TrimSpace(flagFloat(*monthRequests)), 1))
	c := p.Candidates()
	if len(c) != 1 {
		t.Fatalf("want one configuration, got %d", len(c))
	}
	r, err := p.MonthCheck(c[0], 5)
	if err != nil {
		t.Fatal(err)
	}
	pr := r.Predicted
	t.Logf("%s: month of %d requests, %d spot interruptions, faults %+v, %d errors: availability %.6f; predicted %.6f [%.6f, %.6f] from %d replications",
		Name(c[0]), r.Requests, r.Interruptions, r.Faults, r.Errors, r.Availability, pr.Mean, pr.Lower, pr.Upper, r.Estimate.Replications)
	for _, f := range r.Estimate.Faults {
		t.Logf("  %s: errors per occurrence %.1f [%.1f, %.1f]", f.Kind, f.ErrorsPerEvent.Mean, f.ErrorsPerEvent.Lower, f.ErrorsPerEvent.Upper)
	}
	if len(r.Faults) != 2 || r.Faults[0].Kind != sim.FaultAZ || r.Faults[1].Kind != sim.FaultRedisFailover {
		t.Fatalf("month faults %+v, want a zone outage and a Redis failover", r.Faults)
	}
	if len(r.Estimate.Faults) != 3 {
		t.Fatalf("prediction from %d fault kinds, want spot, zone and Redis", len(r.Estimate.Faults))
	}
	if r.Interruptions < 5 {
		t.Fatalf("only %d interruptions in the month: the check says little", r.Interruptions)
	}
	if r.Errors == 0 || pr.Mean >= 1 {
		t.Fatalf("no errors (month %d, predicted %v): the check says nothing", r.Errors, pr)
	}
	if r.Availability < pr.Lower || r.Availability > pr.Upper {
		t.Errorf("month availability %.6f outside the predicted interval [%.6f, %.6f]", r.Availability, pr.Lower, pr.Upper)
	}
}

func flagFloat(x float64) string { return fmtG(x) }

func fmtG(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }
