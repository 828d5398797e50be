package reports

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tollgate/reports/cost"
	"tollgate/schema"
)

func planFixture() *schema.Plan {
	iv := func(m, l, u float64) schema.Estimate { return schema.Estimate{Mean: m, Lower: l, Upper: u} }
	mk := func(i int, zones, spot int, usd float64, a schema.Estimate, verdict string) schema.Evaluated {
		return schema.Evaluated{Index: i, Name: "cfg", Config: schema.PlanConfig{InstanceType: "c7g.medium", Arch: "arm64", Zones: zones,
			NodesPerZone: 1, Spot: spot, OnDemand: zones - spot, Redis: "replica", Algorithm: "gcra", HealthInterval: "10s", Fall: 2, Drain: true},
			MonthlyUSD: usd, PerBillionUSD: usd, Bill: []schema.BillLine{{Component: "compute", Detail: "x", USD: usd - 100},
				{Component: "nlb-hours", Detail: "y", USD: 16.43}, {Component: "egress", Detail: "z", USD: 83.57}},
			Availability: a, ErrorMinutes: iv((1-a.Mean)*43800, (1-a.Upper)*43800, (1-a.Lower)*43800), P99MS: iv(25, 24, 26),
			Verdict: verdict, Reason: "because", Replications: 5}
	}
	ev := []schema.Evaluated{
		mk(0, 1, 1, 120, iv(0.9995, 0.9993, 0.9997), schema.VerdictFails),
		mk(1, 3, 3, 180, iv(0.99996, 0.99994, 0.99998), schema.VerdictMeets),
		mk(2, 3, 2, 200, iv(0.99997, 0.99995, 0.99999), schema.VerdictMeets),
	}
	ev[1].MonthSpread = &schema.MonthSpread{Months: 4000, P05: 0.99981, Median: 0.999985, Meeting: 0.935}
	b := ev[1]
	return &schema.Plan{PlanHeader: schema.PlanHeader{Version: 1, Spec: "fixture", Confidence: 0.95, RequestsPerMonth: 1e9, HoursPerMonth: 730,
		Objectives: schema.PlanObjectives{Availability: 0.9999, P99MS: 50}, Budget: schema.PlanBudget{MaxReplications: 30}, Candidates: 3,
		FaultModel: []schema.FaultRate{{Kind: "az-outage", Rate: 1, Unit: "per zone-year"}}, Method: "the method"},
		Choice: &schema.Choice{Index: 1, Name: b.Name, Config: b.Config, MonthlyUSD: b.MonthlyUSD, PerBillionUSD: b.PerBillionUSD, Bill: b.Bill,
			Availability: b.Availability, P99MS: b.P99MS, MonthSpread: b.MonthSpread},
		Answer: "the answer", CheaperUndecided: []int{}, Evaluated: ev}
}

func TestWritePlan(t *testing.T) {
	dir := t.TempDir()
	if err := WritePlan(dir, planFixture(), Options{}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	md := string(b)
	for _, want := range []string{"**the answer**", "## The configuration", "$180.00", "per billion requests",
		"## What the $40 claim leaves out", "internet egress $83.57", "4.5x the claim's $40", "The claim's shape, three spot c7g.medium in three zones (#1",
		"## Every configuration evaluated", "0.999960 [0.999940, 0.999980]",
		"one month in twenty is below 0.999810", "93.5% of months meet 0.999900", "months meeting", "minutes of full outage a month", "plan_availability", "the method"} {
		if !strings.Contains(md, want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
	for _, f := range []string{"report.html", "plan_availability.png", "plan_p99.svg"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	// The claim's shape failing on its steady state is told as such, not
	// as an availability estimate.
	p := planFixture()
	p.Evaluated[1].Availability, p.Evaluated[1].Verdict = schema.Estimate{}, schema.VerdictFails
	p.Evaluated[1].Reason = "over-admission 0.0180 [0.0032, 0.0328] misses 0.0010; availability not estimated (the steady state already fails)"
	d, _, err := planDocument(p, mustSheet(t))
	if err != nil {
		t.Fatal(err)
	}
	if md := d.markdown(); !strings.Contains(md, "(#1, Redis replica) fails without a fault: over-admission 0.0180 [0.0032, 0.0328] misses 0.0010.") {
		t.Errorf("steady-state failure of the claim's shape not told:\n%s", md)
	}
	// Without a choice the report says so.
	p = planFixture()
	p.Choice = nil
	d, _, err = planDocument(p, mustSheet(t))
	if err != nil {
		t.Fatal(err)
	}
	if md := d.markdown(); !strings.Contains(md, "No configuration met the objectives") {
		t.Errorf("no-choice report: %s", md)
	}
}

func mustSheet(t *testing.T) *cost.Sheet {
	t.Helper()
	sh, err := DefaultPrices()
	if err != nil {
		t.Fatal(err)
	}
	return sh
}

// TestPlanTrafficFit: a plan whose traffic was fitted to a ledger reports
// the fit: the ledger, the scale factor, a row per tier with its arrival,
// the route mix, the daily shape's peak and the notes.
func TestPlanTrafficFit(t *testing.T) {
	p := planFixture()
	first := time.Date(2026, 5, 4, 0, 0, 0, 0, time.UTC)
	p.TrafficFit = &schema.TrafficFit{Ledger: "ledger/", Files: 1, Records: 1010, Requests: 1000,
		Skipped: map[string]int64{"aggregate": 4, "unidentified": 6}, First: first, Last: first.Add(48 * time.Hour), SpanS: 48 * 3600,
		RecordedPerSecond: 2, ScaleFactor: 193,
		Tiers: []schema.TierFit{{Tier: "pro", Share: 0.4, Rate: 154.4, Keys: 300, ScaledKeys: 57900, Zipf: 0.7, ZipfSE: 0.002,
			Dispersion: 2.5, DispersionZ: 440, Arrival: "mmpp", BurstFactor: 10, HighTimeS: 5, LowTimeS: 45}},
		Routes:  []schema.RouteFit{{Route: "/items", Method: "GET", Weight: 0.9}, {Route: "/healthz", Method: "GET", Weight: 0.1}},
		Diurnal: schema.DiurnalFit{Fitted: true, Hours: 48, Amplitude: 0.4, AmplitudeSE: 0.006, PeriodS: 86400, PhaseS: 10800},
		Notes:   []string{"a note"}}
	d, _, err := planDocument(p, mustSheet(t))
	if err != nil {
		t.Fatal(err)
	}
	md := d.markdown()
	// phase 3 h: 1 + A sin(w (t + 3h)) peaks at t = 6h - 3h = 03:00 UTC
	for _, want := range []string{"## Traffic fitted to a ledger", "`ledger/`", "skipped 4 aggregate, 6 unidentified", "193x",
		"| pro |", "57900", "mmpp: x10 for 5s, then 45s", "GET /items 90.0%", "peak at 03:00 UTC", "- a note"} {
		if !strings.Contains(md, want) {
			t.Errorf("report.md lacks %q:\n%s", want, md)
		}
	}
	if md := mustDoc(t, planFixture()); strings.Contains(md, "Traffic fitted") {
		t.Error("a plan without a ledger reports a fit")
	}
}

func mustDoc(t *testing.T, p *schema.Plan) string {
	t.Helper()
	d, _, err := planDocument(p, mustSheet(t))
	if err != nil {
		t.Fatal(err)
	}
	return d.markdown()
}
