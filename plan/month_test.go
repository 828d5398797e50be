package plan

import (
	"flag"
	"strconv"
	"strings"
	"testing"

	"tollgate/schema"
)

var monthRequests = flag.Float64("month.requests", 1e7, "requests a month for TestMonthInsideInterval (CI: 1e8)")

// monthSpec has frequent spot interruptions (0.01 per instance-hour: about 22
// in a month on three spot nodes) on nodes that do not drain, so each one
// costs errors until the health checks notice.
const monthSpec = `
name: month-check
seed: 11
traffic: {requests_per_month: REQ, scenario: month-1b}
slo: {availability: 0.999}
faults:
  spot: {per_instance_hour: 0.01}
search:
  instance_types: [c7g.medium]
  zones: [3]
  redis: [replica]
  drain: [false]
estimate: {warmup: 1m, steady: 5m, min_replications: 30, max_replications: 30, batch: 5}
`

// TestMonthInsideInterval is the estimator's check against a full simulated
// month: the month's availability falls inside the interval the replicated
// short simulations predict for a month with as many interruptions.
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
	t.Logf("%s: month of %d requests, %d spot interruptions, %d errors: availability %.6f; predicted %.6f [%.6f, %.6f] from %d replications (errors per interruption %.1f [%.1f, %.1f])",
		Name(c[0]), r.Requests, r.Interruptions, r.Errors, r.Availability, pr.Mean, pr.Lower, pr.Upper, r.Estimate.Replications,
		impact(r.Estimate).Mean, impact(r.Estimate).Lower, impact(r.Estimate).Upper)
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

func impact(ev schema.Evaluated) schema.Estimate {
	for _, f := range ev.Faults {
		if f.Kind == kindSpot {
			return f.ErrorsPerEvent
		}
	}
	return schema.Estimate{}
}

func flagFloat(x float64) string { return fmtG(x) }

func fmtG(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }
