package schema

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func fixturePlan() *Plan {
	cfg := PlanConfig{InstanceType: "c7g.medium", Arch: "arm64", Zones: 3, NodesPerZone: 1, Spot: 3, Redis: "replica",
		Algorithm: "gcra", HealthInterval: "10s", Fall: 2, Drain: true}
	ev := Evaluated{Index: 0, Name: "3x1 c7g.medium spot", Config: cfg, MonthlyUSD: 123.45, PerBillionUSD: 123.45,
		Bill:         []BillLine{{Component: "compute", Detail: "2190 h", USD: 14.2}},
		Availability: Estimate{Mean: 0.99995, Lower: 0.99992, Upper: 0.99998}, ErrorMinutes: Estimate{Mean: 2.19, Lower: 0.8, Upper: 3.5},
		P99MS: Estimate{Mean: 25, Lower: 24, Upper: 26}, Faults: []FaultImpact{{Kind: "az-outage", PerMonth: 0.25, Replications: 5,
			ErrorsPerEvent: Estimate{Mean: 1e4, Lower: 8e3, Upper: 1.2e4}, WindowS: 3600}},
		MonthSpread:  &MonthSpread{Months: 4000, P05: 0.99981, Median: 0.99999, Meeting: 0.93},
		Replications: 5, Simulations: 15, Verdict: VerdictMeets, Reason: "every objective holds"}
	clCfg := cfg
	clCfg.Redis, clCfg.RedisShards = "cluster", 3
	cl := Evaluated{Index: 1, Name: "3x1 c7g.medium spot redis:cluster/3", Config: clCfg, MonthlyUSD: 150, PerBillionUSD: 150,
		Availability: Estimate{Mean: 0.99996, Lower: 0.99993, Upper: 0.99999}, Replications: 5, Simulations: 15,
		Verdict: VerdictMeets, Reason: "every objective holds"}
	return &Plan{
		PlanHeader: PlanHeader{Version: PlanVersion, Spec: "seed-claim", SpecSHA256: "ab12", Seed: 1, PricesDate: "2026-09-20",
			Region: "us-east-1", RequestsPerMonth: 1e9, HoursPerMonth: 730, Confidence: 0.95,
			Objectives: PlanObjectives{Availability: 0.9999, P99MS: 50},
			FaultModel: []FaultRate{{Kind: "az-outage", Rate: 1, Unit: "per zone-year", Detail: "log-normal", Source: "spec"}},
			Budget:     PlanBudget{MinReplications: 5, MaxReplications: 30, Batch: 5}, Candidates: 2, Method: "m"},
		Choice:           &Choice{Index: 0, Name: ev.Name, Config: cfg, MonthlyUSD: ev.MonthlyUSD, PerBillionUSD: ev.PerBillionUSD, Bill: ev.Bill, Availability: ev.Availability, P99MS: ev.P99MS, MonthSpread: ev.MonthSpread},
		Answer:           "a",
		CheaperUndecided: []int{},
		Evaluated:        []Evaluated{ev, cl},
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
	for _, key := range []string{`"choice"`, `"config"`, `"monthly_usd"`, `"availability"`, `"mean"`, `"lower"`, `"upper"`, `"evaluated"`,
		`"month_spread"`, `"p05"`, `"median"`, `"meeting"`} {
		if !bytes.Contains(b.Bytes(), []byte(key)) {
			t.Errorf("plan.json lacks %s", key)
		}
	}
	// a month spread is written where there is one (the first configuration
	// and the choice), and only there
	if n := bytes.Count(b.Bytes(), []byte(`"month_spread"`)); n != 2 {
		t.Errorf("plan.json has month_spread %d times, want twice", n)
	}
	// a cluster's shard count is written with it, and only with it
	if n := bytes.Count(b.Bytes(), []byte(`"redis_shards": 3`)); n != 1 {
		t.Errorf("plan.json has redis_shards %d times, want once (the cluster candidate's)", n)
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
		"version":       strings.Replace(b.String(), fmt.Sprintf(`"version": %d`, PlanVersion), `"version": 9`, 1),
		"trailing":      b.String() + "{}",
	}
	for name, s := range bad {
		if _, err := DecodePartial(strings.NewReader(s)); !errors.Is(err, ErrPlan) {
			t.Errorf("%s: want ErrPlan, got %v", name, err)
		}
	}
}

// TestPlanRoundTripTrafficFit: a plan whose traffic was fitted to a ledger
// carries traffic_fit through EncodePlan and ReadPlan unchanged, every field
// set; a plan without one has no traffic_fit key.
func TestPlanRoundTripTrafficFit(t *testing.T) {
	p := fixturePlan()
	first := time.Date(2026, 5, 4, 10, 0, 0, 123000000, time.UTC)
	p.TrafficFit = &TrafficFit{Ledger: "ledger/", Files: 2, Records: 1010, Requests: 1000,
		Skipped: map[string]int64{"aggregate": 4, "unidentified": 6, "no_route": 0, "method_not_allowed": 0},
		First:   first, Last: first.Add(49 * time.Hour), SpanS: 49 * 3600, RecordedPerSecond: 2.01, ScaleFactor: 191.9,
		Tiers: []TierFit{{Tier: "free", Requests: 600, Share: 0.6, Rate: 231.5, Keys: 2000, ScaledKeys: 383800, Zipf: 0.9, ZipfSE: 0.001,
			Dispersion: 1.002, DispersionZ: 0.6, Arrival: "poisson"},
			{Tier: "pro", Requests: 400, Share: 0.4, Rate: 154.4, Keys: 300, ScaledKeys: 57570, Zipf: 0.7, ZipfSE: 0.0016,
				Dispersion: 2.5, DispersionZ: 440, Arrival: "mmpp", BurstFactor: 9.98, HighTimeS: 5.0, LowTimeS: 44.9}},
		Routes:  []RouteFit{{Route: "/items", Method: "GET", Requests: 900, Weight: 0.9}},
		Diurnal: DiurnalFit{Fitted: true, Hours: 48, Amplitude: 0.4, AmplitudeSE: 0.006, PeriodS: 86400, PhaseS: 10800},
		Notes:   []string{"n"}}
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
		t.Fatalf("round trip differs:\n%+v\n%+v", got.TrafficFit, p.TrafficFit)
	}
	for _, key := range []string{`"traffic_fit"`, `"ledger"`, `"scale_factor"`, `"scaled_keys"`, `"zipf"`, `"burst_factor"`, `"high_time_s"`,
		`"dispersion"`, `"diurnal"`, `"amplitude"`, `"phase_s"`, `"skipped"`, `"span_s"`} {
		if !bytes.Contains(b.Bytes(), []byte(key)) {
			t.Errorf("plan.json lacks %s", key)
		}
	}
	var plain bytes.Buffer
	if err := EncodePlan(&plain, fixturePlan()); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(plain.Bytes(), []byte(`"traffic_fit"`)) {
		t.Error("a plan without a ledger writes traffic_fit")
	}
}
