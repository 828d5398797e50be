package testcontainers

import (
	"math"
	"testing"
	"time"

	"tollgate/schema"
)

// TestPredictTheory runs the simulator on the suite's topology without a
// real run (a nominal calibration) and checks the one-seed prediction
// against what the tiers and the health check imply. An over-limit tenant
// sending at a constant rate is admitted at its tier's rate, so the 429
// rate is sum(max(0, offered - rate)) / sum(offered), less the initial
// bursts and less the over-limit tenants' requests that failed at the cut
// node before reaching the limiter. The cut node errs until the balancer
// drops it: half a check spacing to the first check after the cut, then
// fall checks each concluding at the check timeout, inter apart.
func TestPredictTheory(t *testing.T) {
	spec := DefaultSpec()
	d := runLength
	cal := Calibration{Gateway: 300 * time.Microsecond, Client: 200 * time.Microsecond}
	var over, total, overOffered, burst float64
	for _, tn := range spec.Tenants {
		tier, _ := spec.TierOf(tn.Tier)
		total += tn.Rate
		if tn.Rate > tier.Rate {
			over += tn.Rate - tier.Rate
			overOffered += tn.Rate
			burst += tier.Burst
		}
	}
	theory := func(errors float64) float64 {
		return (over*d.Seconds() - burst - errors*overOffered/total) / (total * d.Seconds())
	}

	cut := &Fault{Kind: FaultCut, Zone: "a", At: faultAt, Duration: repairAt - faultAt}
	cfg, err := SimConfig(spec, cal, d, cut)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Predict1(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h := spec.Health
	detect := (h.Interval/2 + h.Timeout + time.Duration(h.Fall-1)*(h.Interval+h.Timeout)).Seconds()
	// requests reach the cut node every len(zones)/total seconds: the first
	// error comes up to one such gap after the cut, the last up to one
	// before the node is dropped
	gap := float64(len(spec.Zones)) / total
	t.Logf("cut, one seed: 429 rate %.4f (theory %.4f); error window %.4fs (theory %.4fs less up to %.3fs), %.0f errors; p99 %.2fms",
		p.Rate429, theory(p.Errors), p.ErrorWindowS, detect, 2*gap, p.Errors, p.P99MS)
	if want := theory(p.Errors); math.Abs(p.Rate429-want) > 0.01*want {
		t.Errorf("predicted 429 rate %.4f, theory %.4f", p.Rate429, want)
	}
	if p.Errors == 0 || p.ErrorWindowS > detect || p.ErrorWindowS < detect-2*gap {
		t.Errorf("node crash: %.0f errors over %.4fs, want some, over %.4fs less up to %.3fs", p.Errors, p.ErrorWindowS, detect, 2*gap)
	}

	// One seed suffices: the spread over seeds (the clients' phases and the
	// service-time draws) is far inside the suite's 10% tolerances.
	m, err := PredictMean(cfg, 8)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("cut, 8 seeds: 429 rate [%.4f, %.4f], error window [%.4f, %.4f]s, p99 [%.2f, %.2f]ms",
		m.Rate429Min, m.Rate429Max, m.ErrorWindowMin, m.ErrorWindowMax, m.P99Min, m.P99Max)
	if m.Rate429Max-m.Rate429Min > 0.01*m.Rate429 || m.ErrorWindowMax-m.ErrorWindowMin > 0.05*m.ErrorWindowS {
		t.Errorf("spread over 8 seeds: 429 rate [%.4f, %.4f], error window [%.4f, %.4f]s: one seed is not enough",
			m.Rate429Min, m.Rate429Max, m.ErrorWindowMin, m.ErrorWindowMax)
	}
	if _, err := PredictMean(cfg, 0); err == nil {
		t.Error("PredictMean with 0 seeds accepted")
	}

	// A spot notice with a drain longer than the balancer's detection: no
	// errors, and the 429 rate is the theory's.
	spot := &Fault{Kind: FaultSpot, Zone: "b", At: faultAt}
	cfg, err = SimConfig(spec, cal, d, spot)
	if err != nil {
		t.Fatal(err)
	}
	if p, err = Predict1(cfg); err != nil {
		t.Fatal(err)
	}
	t.Logf("spot notice: %.0f errors, error window %.3fs, 429 rate %.4f (theory %.4f), p99 %.2fms", p.Errors, p.ErrorWindowS, p.Rate429, theory(0), p.P99MS)
	if p.Errors != 0 {
		t.Errorf("a drained spot node caused %.0f errors in the simulator, want 0", p.Errors)
	}
	if want := theory(0); math.Abs(p.Rate429-want) > 0.01*want {
		t.Errorf("spot notice: predicted 429 rate %.4f, theory %.4f", p.Rate429, want)
	}
	for _, bad := range []*Fault{{Kind: "meteor", Zone: "a"}, {Kind: FaultCut, Zone: "z"}} {
		if _, err := SimConfig(spec, cal, d, bad); err == nil {
			t.Errorf("SimConfig accepted fault %+v", bad)
		}
	}
}

// ledgerRecord keeps the table below short.
type ledgerRecord = schema.LedgerRecord

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
