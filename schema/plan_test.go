package schema

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func fixturePlan() *Plan {
	cfg := PlanConfig{InstanceType: "c7g.medium", Arch: "arm64", Zones: 3, NodesPerZone: 1, Spot: 3, Redis: "replica",
		Algorithm: "gcra", HealthInterval: "10s", Fall: 2, Drain: true}
	ev := Evaluated{Index: 0, Name: "3x1 c7g.medium spot", Config: cfg, MonthlyUSD: 123.45, PerBillionUSD: 123.45,
		Bill:         []BillLine{{Component: "compute", Detail: "2190 h", USD: 14.2}},
		Availability: Estimate{Mean: 0.99995, Lower: 0.99992, Upper: 0.99998}, ErrorMinutes: Estimate{Mean: 2.19, Lower: 0.8, Upper: 3.5},
		P99MS: Estimate{Mean: 25, Lower: 24, Upper: 26}, Faults: []FaultImpact{{Kind: "az-outage", PerMonth: 0.25, Replications: 5,
			ErrorsPerEvent: Estimate{Mean: 1e4, Lower: 8e3, Upper: 1.2e4}, WindowS: 3600}},
		Replications: 5, Simulations: 15, Verdict: VerdictMeets, Reason: "every objective holds"}
	return &Plan{
		PlanHeader: PlanHeader{Version: PlanVersion, Spec: "seed-claim", SpecSHA256: "ab12", Seed: 1, PricesDate: "2026-09-20",
			Region: "us-east-1", RequestsPerMonth: 1e9, HoursPerMonth: 730, Confidence: 0.95,
			Objectives: PlanObjectives{Availability: 0.9999, P99MS: 50},
			FaultModel: []FaultRate{{Kind: "az-outage", Rate: 1, Unit: "per zone-year", Detail: "log-normal", Source: "spec"}},
			Budget:     PlanBudget{MinReplications: 5, MaxReplications: 30, Batch: 5}, Candidates: 1, Method: "m"},
		Choice:           &Choice{Index: 0, Name: ev.Name, Config: cfg, MonthlyUSD: ev.MonthlyUSD, PerBillionUSD: ev.PerBillionUSD, Bill: ev.Bill, Availability: ev.Availability, P99MS: ev.P99MS},
		Answer:           "a",
		CheaperUndecided: []int{},
		Evaluated:        []Evaluated{ev},
	}
}

// TestPlanRoundTrip: what EncodePlan writes, ReadPlan reads back equal, and
// re-encoding gives the same bytes.
func TestPlanRoundTrip(t *testing.T) {
	p := fixturePlan()
	var b bytes.Buffer
	if err := EncodePlan(&b, p); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "plan.json")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := ReadPlan(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, p) {
		t.Fatalf("round trip differs:\n%+v\n%+v", got, p)
	}
	var b2 bytes.Buffer
	if err := EncodePlan(&b2, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b.Bytes(), b2.Bytes()) {
		t.Fatal("re-encoding changed the bytes")
	}
	for _, key := range []string{`"choice"`, `"config"`, `"monthly_usd"`, `"availability"`, `"mean"`, `"lower"`, `"upper"`, `"evaluated"`} {
		if !bytes.Contains(b.Bytes(), []byte(key)) {
			t.Errorf("plan.json lacks %s", key)
		}
	}
}

func TestPartialRoundTripAndRefusals(t *testing.T) {
	p := fixturePlan()
	part := &PlanPartial{PlanHeader: p.PlanHeader, Shard: 1, Shards: 2, Evaluated: p.Evaluated}
	var b bytes.Buffer
	if err := EncodePartial(&b, part); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "partial.json")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := ReadPartial(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, part) {
		t.Fatalf("round trip differs")
	}
	bad := map[string]string{
		"unknown field": strings.Replace(b.String(), `"shard": 1`, `"shard": 1, "bogus": 2`, 1),
		"shard range":   strings.Replace(b.String(), `"shard": 1`, `"shard": 5`, 1),
		"version":       strings.Replace(b.String(), `"version": 1`, `"version": 9`, 1),
		"trailing":      b.String() + "{}",
	}
	for name, s := range bad {
		if _, err := DecodePartial(strings.NewReader(s)); !errors.Is(err, ErrPlan) {
			t.Errorf("%s: want ErrPlan, got %v", name, err)
		}
	}
}
