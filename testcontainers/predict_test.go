package testcontainers

import (
	"math"
	"testing"
	"time"

	"tollgate/gatewayd/ledger"
)

// TestPredictTheory runs the simulator on the suite's topology without a
// real run (a nominal calibration) and checks the prediction against what
// the tiers imply: an over-limit tenant is admitted at its tier's rate, so
// the 429 rate is sum(max(0, offered - rate)) / sum(offered), less the
// initial bursts; the cut node errs only until the balancer takes it out,
// about fall checks after the cut.
func TestPredictTheory(t *testing.T) {
	spec := DefaultSpec()
	d := runLength
	cal := Calibration{Gateway: 300 * time.Microsecond, Client: 200 * time.Microsecond}
	cut := &Fault{Kind: FaultCut, Zone: "a", At: faultAt, Duration: repairAt - faultAt}
	cfg, err := SimConfig(spec, cal, d, cut)
	if err != nil {
		t.Fatal(err)
	}
	p, err := PredictMean(cfg, 16)
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
	t.Logf("predicted over %d seeds: 429 rate %.4f [%.4f, %.4f] (theory %.4f); error window %.3fs [%.3f, %.3f], %.1f errors; p99 %.2fms",
		p.Seeds, p.Rate429, p.Rate429Min, p.Rate429Max, want, p.ErrorWindowS, p.ErrorWindowMin, p.ErrorWindowMax, p.Errors, p.P99MS)
	if math.Abs(p.Rate429-want) > 0.05*want {
		t.Errorf("predicted 429 rate %.4f, theory %.4f", p.Rate429, want)
	}
	spacing := (spec.Health.Interval + spec.Health.Timeout).Seconds()
	detect := float64(spec.Health.Fall-1)*spacing + spacing/2 + spec.Health.Timeout.Seconds()
	if p.Errors == 0 || math.Abs(p.ErrorWindowS-detect) > spacing {
		t.Errorf("node crash: %.1f errors over %.3fs, want some, over about %.3fs", p.Errors, p.ErrorWindowS, detect)
	}
	if _, err := PredictMean(cfg, 0); err == nil {
		t.Error("PredictMean with 0 seeds accepted")
	}

	// A spot notice with a drain longer than the balancer's detection: no errors.
	spot := &Fault{Kind: FaultSpot, Zone: "b", At: faultAt}
	cfg, err = SimConfig(spec, cal, d, spot)
	if err != nil {
		t.Fatal(err)
	}
	if p, err = PredictMean(cfg, 4); err != nil {
		t.Fatal(err)
	}
	t.Logf("spot notice: %.1f errors, error window %.3fs, 429 rate %.4f", p.Errors, p.ErrorWindowS, p.Rate429)
	if p.Errors != 0 {
		t.Errorf("a drained spot node caused %.1f errors in the simulator, want 0", p.Errors)
	}
	for _, bad := range []*Fault{{Kind: "meteor", Zone: "a"}, {Kind: FaultCut, Zone: "z"}} {
		if _, err := SimConfig(spec, cal, d, bad); err == nil {
			t.Errorf("SimConfig accepted fault %+v", bad)
		}
	}
}

// ledgerRecord keeps the table below short.
type ledgerRecord = ledger.Record

func TestCalibrate(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	run := &Run{Tenants: []string{"x"}}
	var recs []ledgerRecord
	for i := 0; i < 10; i++ {
		id := string(rune('a' + i))
		// upstream 10ms, span 12ms (2ms gateway), client 16ms (2ms each way)
		run.Samples = append(run.Samples, Sample{Latency: 16 * time.Millisecond, Code: 200, ID: id})
		recs = append(recs, ledgerRecord{ID: id, Route: "fast", Decision: "allowed", UpstreamMS: 10,
			Start: t0, End: t0.Add(12 * time.Millisecond)})
	}
	run.Samples = append(run.Samples, Sample{Latency: time.Second, Code: 429, ID: "z"})
	c, err := Calibrate(run, recs)
	if err != nil {
		t.Fatal(err)
	}
	f := c.Routes["fast"]
	if c.Requests != 10 || f.N != 10 || f.Mean != 10*time.Millisecond || f.Sigma > 1e-9 ||
		c.Gateway != 2*time.Millisecond || c.Client != 2*time.Millisecond {
		t.Fatalf("Calibrate = %+v", c)
	}
	if _, err := Calibrate(&Run{}, nil); err == nil {
		t.Fatal("calibration from nothing accepted")
	}
}
