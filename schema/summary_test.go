package schema

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// fullSummary returns a summary with every field set to a value that is not
// its zero value, so a field the encoding drops shows as a difference.
func fullSummary() *Summary {
	p := func(b float64) Percentiles {
		return Percentiles{P50: b, P90: b + 1, P99: b + 2, P999: b + 3, Mean: b + 0.5, Max: b + 10}
	}
	return &Summary{
		Version: SummaryVersion, Scenario: "spot-loss", Seed: 42, Algorithm: "gcra", Clock: "server", Deployment: "self-hosted",
		DurationS: 600, WarmupS: 30,
		Requests:         Requests{Total: 1000, Admitted: 900, Rejected: 80, Errors: 20, Retries: 7},
		LatencyMS:        p(3),
		GatewayLatencyMS: p(0.25),
		LatencyCDF:       []CDFPoint{{ValueMS: 1, Fraction: 0.5}, {ValueMS: 9.75, Fraction: 1}},
		Rate429: Rate429{Overall: 0.08, PerTier: map[string]float64{"basic": 0.1, "pro": 0.0625},
			PerRoute: map[string]float64{"api": 0.08}},
		False429:      Count{Count: 3, Rate: 0.003},
		OverAdmission: OverAdmission{Tokens: 12.5, Ratio: 0.0125, Keys: 2},
		Availability:  0.98, Unmetered: 4,
		Faults: []Fault{{Kind: "spot-interruption", Target: "a-1", StartS: 60, EndS: 62, Errors: 20, ErrorWindowS: 1.5, RecoveryS: 3}},
		Timeline: []Interval{{StartS: 10, Total: 100, Admitted: 90, Rejected: 8, Errors: 2, Rate429: 0.08, P99MS: 4.5,
			Rate429PerTier: map[string]float64{"basic": 0.1}}},
		IntervalS:          10,
		RedisOpsPerRequest: 1.25,
		Fleet: Fleet{Nodes: []NodeHours{{InstanceType: "c7g.medium", Market: "spot", Hours: 0.5}}, LoadBalancerHours: 0.17,
			RedisNodeHours: 0.33, RedisNodeType: "cache.t4g.small", CrossAZGB: 0.01, EgressGB: 0.02, Requests: 980, Interruptions: 1,
			ManagedPricePerMillionUSD: 3.5, ManagedCostUSD: 0.00343},
		SLO: SLO{P99MS: 50, Max429Rate: 0.1, MaxFalse429Rate: 0.01, MaxOverAdmission: 0.02, MinAvailability: 0.999, MaxCostPerBillion: 300, ExpectBreach: []string{ObjectiveAvailability}},
		Replay: &Replay{Ledger: "ledger/", Recorded: "a.yaml", Candidate: "b.yaml", Records: 10, Requests: 12, Decided: 9,
			Skipped: map[string]int64{"unauthenticated": 3}, Late: 1, TornLines: 1, DecisionDifferences: 3, NewlyRefused: 2,
			NewlyAdmitted: 1, RecordedAdmitted: 7, RecordedRefused: 2, CandidateAdmitted: 6, CandidateRefused: 3, AdmittedTokens: 6.5,
			ByTier:  map[string]ReplayDiff{"basic": {Decided: 9, Refused: 3, NewlyRefused: 2, NewlyAdmitted: 1}},
			ByRoute: map[string]ReplayDiff{"api": {Decided: 9, Refused: 3, NewlyRefused: 2, NewlyAdmitted: 1}}},
		Intervals: fullIntervals(),
	}
}

// fullIntervals returns intervals with every field set.
func fullIntervals() *Intervals {
	e := func(m, h float64) Estimate { return Estimate{Mean: m, Lower: m - h, Upper: m + h} }
	cost := e(41.5, 2.25)
	return &Intervals{Replications: 3, Confidence: 0.95, Seeds: []uint64{42, 7, 9},
		Availability: e(0.98, 0.005), P50MS: e(3, 0.25), P99MS: e(5, 0.5), Rate429: e(0.08, 0.01),
		False429Rate: e(0.003, 0.001), OverAdmission: e(0.0125, 0.002), CostPerBillion: &cost, PriceSheet: "us-east-1 2026-01-01"}
}

// zeroFields lists the paths of the zero-valued fields in v, descending into
// structs and the first element of slices.
func zeroFields(v reflect.Value, path string) []string {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return []string{path}
		}
		return zeroFields(v.Elem(), path)
	case reflect.Struct:
		var out []string
		for i := 0; i < v.NumField(); i++ {
			out = append(out, zeroFields(v.Field(i), path+"."+v.Type().Field(i).Name)...)
		}
		return out
	case reflect.Slice:
		if v.Len() == 0 {
			return []string{path}
		}
		return zeroFields(v.Index(0), path+"[0]")
	}
	if v.IsZero() {
		return []string{path}
	}
	return nil
}

// TestSummaryRoundTrip writes a summary with WriteSummary and reads it back
// with ReadSummary: every field survives, and the bytes are stable.
func TestSummaryRoundTrip(t *testing.T) {
	want := fullSummary()
	if z := zeroFields(reflect.ValueOf(want), "Summary"); len(z) > 0 {
		t.Fatalf("the test summary leaves fields at zero, so their round trip is untested: %v", z)
	}
	path := filepath.Join(t.TempDir(), "summary.json")
	if err := WriteSummary(path, want); err != nil {
		t.Fatal(err)
	}
	got, err := ReadSummary(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("round trip changed the summary:\n got %+v\nwant %+v", got, want)
	}
	var a, b bytes.Buffer
	if err := EncodeSummary(&a, want); err != nil {
		t.Fatal(err)
	}
	if err := EncodeSummary(&b, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("re-encoding the read summary gave different bytes")
	}
}

func TestDecodeSummaryRejectsUnknownFields(t *testing.T) {
	_, err := DecodeSummary(strings.NewReader(`{"version":1,"scenario":"x","p99":3}`))
	if err == nil || !strings.Contains(err.Error(), `"p99"`) {
		t.Errorf("unknown field: %v", err)
	}
	if _, err := ReadSummary(filepath.Join(t.TempDir(), "missing.json")); err == nil {
		t.Error("missing file: no error")
	}
}

// TestSummaryIntervalsInvalid: a summary whose intervals contradict
// themselves is refused on both sides, with the field named.
func TestSummaryIntervalsInvalid(t *testing.T) {
	for _, c := range []struct {
		break_ func(iv *Intervals)
		want   string
	}{
		{func(iv *Intervals) { iv.Replications = 1; iv.Seeds = iv.Seeds[:1] }, "intervals.replications"},
		{func(iv *Intervals) { iv.Seeds = iv.Seeds[:2] }, "intervals.seeds"},
		{func(iv *Intervals) { iv.Confidence = 95 }, "intervals.confidence"},
		{func(iv *Intervals) { iv.P99MS.Lower = 9 }, "intervals.p99_ms"},
		{func(iv *Intervals) { iv.CostPerBillion.Upper = 1 }, "intervals.cost_per_billion"},
	} {
		s := fullSummary()
		c.break_(s.Intervals)
		var buf bytes.Buffer
		if err := EncodeSummary(&buf, s); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("encode: want an error naming %s, got %v", c.want, err)
		}
		good := fullSummary()
		buf.Reset()
		if err := EncodeSummary(&buf, good); err != nil {
			t.Fatal(err)
		}
		// Break the encoded file by hand: decode, break, marshal without
		// the check.
		bad, _ := DecodeSummary(bytes.NewReader(buf.Bytes()))
		c.break_(bad.Intervals)
		raw, err := json.Marshal(bad)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := DecodeSummary(bytes.NewReader(raw)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("decode: want an error naming %s, got %v", c.want, err)
		}
	}
	if got := fullSummary().Intervals.Get(ObjectiveCostPerBillion); got == nil || got.Mean != 41.5 {
		t.Errorf("Get(cost_per_billion) = %v", got)
	}
	var none *Intervals
	if none.Get(ObjectiveP99MS) != nil || fullSummary().Intervals.Get("nope") != nil {
		t.Error("Get on nil intervals or an unknown name: want nil")
	}
}
