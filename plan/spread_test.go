package plan

import (
	"math"
	"testing"

	"tollgate/schema"
)

// TestMonthSpreadPoisson holds the bootstrap against the Poisson law worked
// by hand: one fault kind at 1.5 a month, every occurrence costing 50 errors
// of a million-request month (5e-5 of it), no steady errors. A month meets
// 99.99% with at most two occurrences: P(N <= 2) = e^-1.5 (1 + 1.5 + 1.125)
// = 0.8088; the median month has one (P(N <= 0) = 0.223, P(N <= 1) = 0.558),
// availability 0.99995; the 5th percentile four (P(N <= 3) = 0.934, P(N <=
// 4) = 0.981), 0.9998. 4000 months: the meeting share's standard deviation
// is sqrt(0.81 x 0.19 / 4000) = 0.0062, so 0.025 is four of them; the
// quantiles' counts are 4 standard deviations from the neighbouring ones.
func TestMonthSpreadPoisson(t *testing.T) {
	p := &Planner{spec: &Spec{Seed: 7}}
	p.spec.SLO.Availability = 0.9999
	ss := make([]sample, 10)
	for i := range ss {
		ss[i] = sample{errors: 50}
	}
	got := p.monthSpread(map[string]float64{kindSpot: 1.5}, map[string][]float64{kindSpot: excessErrors(ss, 0)}, 0, 1e6)
	want := math.Exp(-1.5) * (1 + 1.5 + 1.5*1.5/2)
	if got.Months != spreadMonths || math.Abs(got.Meeting-want) > 0.025 {
		t.Errorf("meeting %.4f of %d months, want %.4f", got.Meeting, got.Months, want)
	}
	if math.Abs(got.Median-0.99995) > 1e-12 || math.Abs(got.P05-0.9998) > 1e-12 {
		t.Errorf("median %.6f p05 %.6f, want 0.99995 and 0.9998", got.Median, got.P05)
	}
	// a kind whose occurrences differ: each month's errors are draws of them
	for i := range ss {
		ss[i].errors = int64(20 * i) // mean 90
	}
	mix := p.monthSpread(map[string]float64{kindSpot: 1.5}, map[string][]float64{kindSpot: excessErrors(ss, 1e-5)}, 1e-5, 1e6)
	// expected unavailability 1e-5 + 1.5 x 90 / 1e6 = 1.45e-4; a month's
	// is never below the steady share
	if mix.Median > 1-1e-5 || mix.P05 >= mix.Median || mix.Meeting <= 0 || mix.Meeting >= 1 {
		t.Errorf("mixed: %+v", mix)
	}
}

// TestFalse429AddsFaults: the month's false-429 rate is the steady rate plus
// each fault's false 429s beyond it, weighted by its occurrences a month:
// 0.001 + 3 x (0.011 - 0.001) x 2000 / 1e7 = 0.001006.
func TestFalse429AddsFaults(t *testing.T) {
	p, _ := tinyPlanner(t, tinySpec)
	steady := []sample{{total: 1000, false429: 0.001}, {total: 1000, false429: 0.001}, {total: 1000, false429: 0.001}, {total: 1000, false429: 0.001}}
	spot := []sample{{total: 2000, false429: 0.011}, {total: 2000, false429: 0.011}, {total: 2000, false429: 0.011}, {total: 2000, false429: 0.011}}
	var ev schema.Evaluated
	p.figures(&ev, []string{kindSteady, kindSpot}, map[string]float64{kindSpot: 3},
		map[string][]sample{kindSteady: steady, kindSpot: spot}, zoneCV{})
	if got := ev.False429Rate.Mean; math.Abs(got-0.001006) > 1e-12 {
		t.Errorf("false-429 rate %.9f, want 0.001006", got)
	}
}
