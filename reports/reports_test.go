package reports

import (
	"bytes"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tollgate/reports/cost"
	"tollgate/schema"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// fixture is a ten-minute spot-loss run at a billion requests a month
// (1,369,863 requests an hour, 228,311 in ten minutes) on one on-demand and
// two spot c7g.medium nodes, one of them interrupted at 300 s.
func fixture() *schema.Summary {
	var tl []schema.Interval
	for i := range 60 {
		total := int64(3805)
		rej := int64(38 + (i%7)*3)
		errs := int64(0)
		if i >= 30 && i < 33 {
			errs = int64(40 - 12*(i-30))
		}
		tl = append(tl, schema.Interval{StartS: float64(i * 10), Total: total, Admitted: total - rej - errs, Rejected: rej, Errors: errs,
			Rate429: float64(rej) / float64(total), P99MS: 20 + float64(i%5)})
	}
	var cdf []schema.CDFPoint
	for i := 0; i <= 40; i++ {
		f := float64(i) / 40
		cdf = append(cdf, schema.CDFPoint{ValueMS: 2 * math.Exp(4*f*f), Fraction: f})
	}
	return &schema.Summary{
		Version: schema.SummaryVersion, Scenario: "spot-loss", Seed: 42, Algorithm: "gcra", Clock: "server", Deployment: "self-hosted",
		DurationS: 600, WarmupS: 60,
		Requests:           schema.Requests{Total: 228311, Admitted: 225700, Rejected: 2533, Errors: 78, Retries: 310},
		LatencyMS:          schema.Percentiles{P50: 5.44, P90: 22.1, P99: 48.9, P999: 97.3, Mean: 9.8, Max: 109.2},
		GatewayLatencyMS:   schema.Percentiles{P50: 0.61, P90: 1.2, P99: 3.9, P999: 12.5, Mean: 0.8, Max: 31},
		LatencyCDF:         cdf,
		Rate429:            schema.Rate429{Overall: 0.011094, PerTier: map[string]float64{"pro": 0.004, "basic": 0.02, "enterprise": 0}},
		False429:           schema.Count{Count: 12, Rate: 0.0000526},
		OverAdmission:      schema.OverAdmission{Tokens: 41.5, Ratio: 0.00018, Keys: 3},
		Availability:       0.999658,
		Unmetered:          0,
		Faults:             []schema.Fault{{Kind: "spot-interruption", Target: "az-b/node-2", StartS: 300, EndS: 420, Errors: 78, ErrorWindowS: 21.5, RecoveryS: 30}},
		Timeline:           tl,
		IntervalS:          10,
		RedisOpsPerRequest: 1,
		Fleet: schema.Fleet{
			Nodes: []schema.NodeHours{
				{InstanceType: "c7g.medium", Market: "on-demand", Hours: 600.0 / 3600},
				{InstanceType: "c7g.medium", Market: "spot", Hours: 2 * 600.0 / 3600},
			},
			LoadBalancerHours: 600.0 / 3600, RedisNodeHours: 2 * 600.0 / 3600, RedisNodeType: "cache.t4g.small",
			CrossAZGB: 0.0457, EgressGB: 0.913, Requests: 228311, Interruptions: 1,
		},
		SLO: schema.SLO{P99MS: 60, Max429Rate: 0.02, MaxFalse429Rate: 0.001, MaxOverAdmission: 0.01, MinAvailability: 0.9999, MaxCostPerBillion: 600},
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -update writes it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file; diff it against %s or run go test -update\n--- got ---\n%s", name, path, got)
	}
}

func TestWriteRunGolden(t *testing.T) {
	dir := t.TempDir()
	if err := WriteRun(dir, fixture(), Options{}); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "run_report.md", md)
	for _, f := range []string{"report.html", "latency_cdf.png", "latency_cdf.svg", "rate_429.png", "rate_429.svg", "cost_breakdown.png", "cost_breakdown.svg"} {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	h, err := os.ReadFile(filepath.Join(dir, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	html := string(h)
	// Self-contained: three inline SVG figures, no scripts, no remote assets.
	if n := strings.Count(html, "<svg"); n != 3 {
		t.Errorf("%d inline svgs, want 3", n)
	}
	for _, bad := range []string{"<script", "src=\"http", "href=\"http", "<link", "@import", "<?xml"} {
		if strings.Contains(html, bad) {
			t.Errorf("report.html contains %q", bad)
		}
	}
	// Same summary, same bytes.
	dir2 := t.TempDir()
	if err := WriteRun(dir2, fixture(), Options{}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"report.md", "report.html", "rate_429.png"} {
		a, _ := os.ReadFile(filepath.Join(dir, f))
		b, _ := os.ReadFile(filepath.Join(dir2, f))
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs between two writes of the same summary", f)
		}
	}
}

// TestRunReportAnswers checks the figures the report must state, from the
// cost model directly (not from the golden file).
func TestRunReportAnswers(t *testing.T) {
	s := fixture()
	rc, err := PriceRun(s, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(rc.Usage.Requests-1e9) > 1e4 {
		t.Fatalf("monthly requests %v, want 1e9", rc.Usage.Requests)
	}
	// REST for a billion: the worked example's $3,033.10 plus egress.
	if got := rc.REST.Line(cost.CRequests); math.Abs(got-3033.10) > 0.01 {
		t.Errorf("REST = %v", got)
	}
	// S2 compute at a month: $35.99 (docs/reports.md, worked example).
	if got := rc.Fleet.Line(cost.CCompute); math.Abs(got-35.99) > 0.01 {
		t.Errorf("compute = %v", got)
	}
	dir := t.TempDir()
	if err := WriteRun(dir, s, Options{NoFigures: true}); err != nil {
		t.Fatal(err)
	}
	md, _ := os.ReadFile(filepath.Join(dir, "report.md"))
	for _, want := range []string{
		"**FAIL**: 1 of the scenario's objectives are breached.",
		"| availability | >= 99.99000% | 99.96580% | BREACH |",
		"does **not** meet 99.99%",
		"not 90%",
		"| API Gateway REST API | $3,384 |",
		"1B requests a month",
	} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "latency_cdf.png")); err == nil {
		t.Errorf("NoFigures wrote figures")
	}
}

func TestWriteComparison(t *testing.T) {
	var ss []*schema.Summary
	for i, alg := range []string{"fixed-window", "token-bucket", "gcra"} {
		s := fixture()
		s.Algorithm = alg
		s.LatencyMS.P99 = 48.9 - 5*float64(i)
		s.Availability = 0.9998 + 0.00008*float64(i)
		s.Fleet.Nodes[1].Hours *= 1 + 0.5*float64(i)
		ss = append(ss, s)
	}
	dir := t.TempDir()
	for i, s := range ss {
		sub := filepath.Join(dir, s.Algorithm)
		if err := os.MkdirAll(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := schema.WriteSummary(filepath.Join(sub, "summary.json"), ss[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := WriteComparisonDir(dir, Options{Param: "algorithm"}); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "compare_report.md", md)
	if !strings.Contains(string(md), "**Cheapest run at 99.99% or better:** gcra") {
		t.Errorf("cheapest four-nines run not named:\n%s", md)
	}
	for _, f := range []string{"compare.png", "frontier.svg", "latency_cdf.png", "report.html"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	if _, _, _, err := ReadComparison(t.TempDir()); err == nil {
		t.Error("empty dir: no error")
	}
	// With compare.json (a sweep), its order, names and path win.
	cj := &schema.Comparison{Scenario: "spot-loss", Seed: 42, Kind: schema.CompareSweep, Path: "topology.market", Variants: []schema.Variant{
		{Name: "spot", Summary: "gcra/summary.json", Requests: 1}, {Name: "on-demand", Summary: "fixed-window/summary.json"}}}
	if err := schema.WriteComparison(filepath.Join(dir, schema.CompareFile), cj); err != nil {
		t.Fatal(err)
	}
	got, labels, param, err := ReadComparison(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || labels[0] != "spot" || got[0].Algorithm != "gcra" || param != "topology.market" {
		t.Errorf("compare.json: %d runs, labels %v, param %q", len(got), labels, param)
	}
	if err := os.WriteFile(filepath.Join(dir, "compare.json"), []byte(`{"scenario":"s","kind":"algorithms","variants":[{"name":"x","summary":"../../etc/passwd"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := ReadComparison(dir); err == nil || !strings.Contains(err.Error(), "variants[0].summary") {
		t.Errorf("escaping path: %v", err)
	}
}

func TestDefaultPrices(t *testing.T) {
	sh, err := DefaultPrices()
	if err != nil {
		t.Fatal(err)
	}
	file, err := LoadPrices("prices.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if sh.Date != file.Date || len(sh.Instances) != len(file.Instances) {
		t.Errorf("embedded sheet differs from prices.yaml")
	}
	if _, err := LoadPrices(filepath.Join(t.TempDir(), "none.yaml")); err == nil {
		t.Error("missing sheet accepted")
	}
}

func TestInline(t *testing.T) {
	for in, want := range map[string]string{
		"a **b** c":     "a <strong>b</strong> c",
		"<x> & `y`":     "&lt;x&gt; &amp; <code>y</code>",
		"odd ** mark":   "odd ** mark",
		"**a** and **b": "<strong>a</strong> and **b",
	} {
		if got := inline(in); got != want {
			t.Errorf("inline(%q) = %q, want %q", in, got, want)
		}
	}
}

func BenchmarkWriteRun(b *testing.B) {
	s := fixture()
	for _, c := range []struct {
		name string
		opts Options
	}{{"markdown+html", Options{NoFigures: true}}, {"with-figures", Options{}}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			dir := b.TempDir()
			for b.Loop() {
				if err := WriteRun(dir, s, c.opts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestUnpricedAndManaged: a fleet the sheet cannot price still gets a report
// saying why; a managed run is priced at the scenario's own flat price.
func TestUnpricedAndManaged(t *testing.T) {
	s := fixture()
	s.Fleet.Nodes[0].InstanceType = "z9.huge"
	dir := t.TempDir()
	if err := WriteRun(dir, s, Options{NoFigures: true}); err != nil {
		t.Fatal(err)
	}
	md, _ := os.ReadFile(filepath.Join(dir, "report.md"))
	if !strings.Contains(string(md), "**Cost not computed:**") || !strings.Contains(string(md), `"z9.huge"`) {
		t.Errorf("unpriced run:\n%s", md)
	}
	if _, err := CostPerBillion(s, Options{}); err == nil {
		t.Error("CostPerBillion priced an unknown instance type")
	}

	m := fixture()
	m.Deployment = "managed"
	m.Fleet = schema.Fleet{Requests: m.Requests.Total, ManagedPricePerMillionUSD: 1.0, EgressGB: 0.913}
	rc, err := PriceRun(m, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := rc.Own().Line(cost.CRequests); math.Abs(got-1000) > 0.05 {
		t.Errorf("managed at $1/M for 1B = %v, want ~1000", got)
	}
	if err := WriteRun(t.TempDir(), m, Options{NoFigures: true}); err != nil {
		t.Fatal(err)
	}
}

// replicatedFixture is fixture() replicated: intervals around its figures,
// the p99 interval straddling the SLO's 50 ms.
func replicatedFixture() *schema.Summary {
	s := fixture()
	e := func(m, h float64) schema.Estimate { return schema.Estimate{Mean: m, Lower: m - h, Upper: m + h} }
	cost := e(61.25, 1.5)
	s.Intervals = &schema.Intervals{Replications: 8, Confidence: 0.95, Seeds: []uint64{42, 11, 12, 13, 14, 15, 16, 17},
		Availability: e(0.99966, 0.0001), P50MS: e(5.5, 0.2), P99MS: e(49.5, 2.5), Rate429: e(0.0111, 0.001),
		False429Rate: e(0.00005, 0.00002), OverAdmission: e(0.0002, 0.00005), CostPerBillion: &cost, PriceSheet: "us-east-1 2026-09-20"}
	s.SLO.P99MS = 50
	return s
}

// TestReplicatedReports: a replicated run's report shows mean [lower,
// upper], judges each objective at its unfavourable bound and calls a
// straddling one undecided; a comparison of replicated runs shows the
// intervals in its table.
func TestReplicatedReports(t *testing.T) {
	s := replicatedFixture()
	d, _, err := runDocument(s, Options{NoFigures: true})
	if err != nil {
		t.Fatal(err)
	}
	md := d.markdown()
	for _, want := range []string{
		"Replicated run: 8 independent replications (seeds 42, 11, 12, ..., 17), 95% confidence intervals",
		"| objective | target | mean [lower, upper] | judged at | status |",
		"| p99_ms | <= 50 ms | 49.5 ms [47 ms, 52 ms] | 52 ms | UNDECIDED: the interval straddles the limit |",
		// availability breaches even at its favourable (upper) bound
		"| availability | >= 99.99000% | 99.96600% [99.95600%, 99.97600%] | 99.97600% | BREACH |",
		"**FAIL**: 2 of the scenario's objectives are not met with confidence, 1 of them undecided.",
		"| figure | replication 0 (seed 42) | mean [lower, upper], 95%, 8 replications |",
		"| p99 latency, ms | 48.9 | 49.5 [47.0, 52.0] |",
		"| USD per billion (us-east-1 2026-09-20 sheet) |",
		"$61.25 [$59.75, $62.75]",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("run report lacks %q:\n%s", want, md)
		}
	}
	plain, _, err := runDocument(fixture(), Options{NoFigures: true})
	if err != nil {
		t.Fatal(err)
	}
	if pm := plain.markdown(); strings.Contains(pm, "mean [lower, upper]") || strings.Contains(pm, "Replicated run") {
		t.Error("a plain run's report shows intervals")
	}
	other := replicatedFixture()
	other.Algorithm = "fixed-window"
	cd, _, err := comparisonDocument([]*schema.Summary{s, other}, Options{NoFigures: true})
	if err != nil {
		t.Fatal(err)
	}
	cmd := cd.markdown()
	for _, want := range []string{"Replicated runs: cells with brackets", "49.5 [47.0, 52.0]", "99.9660% [99.9560%, 99.9760%]", "$61.25 [$59.75, $62.75]"} {
		if !strings.Contains(cmd, want) {
			t.Errorf("comparison report lacks %q:\n%s", want, cmd)
		}
	}
}
