package testcontainers

import (
	"math"
	"testing"
	"time"
)

// TestPredictTheory runs the simulator on the suite's topology without a
// real run (a nominal calibration) and checks the prediction against what
// the tiers imply: an over-limit tenant is admitted at its tier's rate, so
// the 429 rate is sum(max(0, offered - rate)) / sum(offered), less the
// initial bursts; the cut node errs only until the balancer takes it out.
func TestPredictTheory(t *testing.T) {
	spec := DefaultSpec()
	d := runLength
	cal := Calibration{Gateway: 300 * time.Microsecond, Client: 200 * time.Microsecond}
	crash := &NodeCrash{Zone: "a", At: faultAt, Duration: repairAt - faultAt}
	cfg, err := SimConfig(spec, cal, d, crash)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Predict(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var over, total, burst float64
	for _, tn := range spec.Tenants {
		tier, _ := spec.TierOf(tn.Tier)
		total += tn.Rate
		if tn.Rate > tier.Rate {
			over += tn.Rate - tier.Rate
			burst += tier.Burst
		}
	}
	want := (over*d.Seconds() - burst) / (total * d.Seconds())
	t.Logf("predicted: %d requests, 429 rate %.4f (theory %.4f), p99 %.2fms, faults %+v", s.Requests.Total,
		s.Rate429.Overall, want, s.LatencyMS.P99, s.Faults)
	if math.Abs(s.Rate429.Overall-want) > 0.1*want {
		t.Errorf("predicted 429 rate %.4f, theory %.4f", s.Rate429.Overall, want)
	}
	f, ok := faultWindow(s, "node-crash")
	if !ok {
		t.Fatalf("no node-crash fault in the summary: %+v", s.Faults)
	}
	detect := float64(spec.Health.Fall) * spec.Health.Interval.Seconds()
	if f.Errors == 0 || f.ErrorWindowS > detect+spec.Health.Interval.Seconds() {
		t.Errorf("node crash: %d errors over %.2fs, want some, within about fall x interval = %.2fs", f.Errors, f.ErrorWindowS, detect)
	}
}
