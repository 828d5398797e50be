package slo

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tollgate/schema"
)

func sampleSummary() *schema.Summary {
	return &schema.Summary{
		Version: schema.SummaryVersion, Scenario: "spot-loss", Seed: 7, Algorithm: "gcra",
		DurationS: 600,
		LatencyMS: schema.Percentiles{P50: 4, P90: 9, P99: 21.5, P999: 60},
		Rate429:   schema.Rate429{Overall: 0.031},
		False429:  schema.Count{Count: 3, Rate: 0.0004},
		OverAdmission: schema.OverAdmission{
			Ratio: 0.002,
		},
		Availability: 0.99995,
		SLO: schema.SLO{P99MS: 50, Max429Rate: 0.05, MaxFalse429Rate: 0.001, MaxOverAdmission: 0.01,
			MinAvailability: 0.9999, MaxCostPerBillion: 200},
	}
}

func runOf(s *schema.Summary, cpb float64) Run {
	return Run{Scenario: s.Scenario, Seed: s.Seed, SLO: s.SLO, Metrics: MetricsOf(s, cpb)}
}

func TestPassesAgainstItself(t *testing.T) {
	s := sampleSummary()
	base := map[string]*Base{s.Scenario: {Seed: s.Seed, Metrics: MetricsOf(s, 110)}}
	rows := Check([]Run{runOf(s, 110)}, base, DefaultTolerances(), false)
	if len(rows) != len(Names) {
		t.Fatalf("%d rows, want %d", len(rows), len(Names))
	}
	for _, r := range rows {
		if r.Failed() {
			t.Errorf("row failed: %+v", r)
		}
	}
	var buf bytes.Buffer
	if err := WriteTable(&buf, rows, false); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "all pass") {
		t.Errorf("table:\n%s", buf.String())
	}
}

// TestTightenedSLOFails tightens every objective below the run and checks the
// table names each breach with its limit and value.
func TestTightenedSLOFails(t *testing.T) {
	s := sampleSummary()
	base := map[string]*Base{s.Scenario: {Seed: s.Seed, Metrics: MetricsOf(s, 110)}}
	s.SLO = schema.SLO{P99MS: 20, Max429Rate: 0.03, MaxFalse429Rate: 0.0001, MaxOverAdmission: 0.001,
		MinAvailability: 0.99999, MaxCostPerBillion: 100}
	rows := Check([]Run{runOf(s, 110)}, base, DefaultTolerances(), false)
	b, g, m := Failures(rows)
	if b != 6 || g != 0 || m != 0 {
		t.Fatalf("breaches %d regressions %d missing %d, want 6 0 0", b, g, m)
	}
	var buf bytes.Buffer
	if err := WriteTable(&buf, rows, true); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"SCENARIO", "spot-loss", "p99_ms", "SLO <= 20 ms, got 21.5 ms",
		"availability", "SLO >= 99.99900%, got 99.99500%",
		"cost_per_billion", "SLO <= $100.00, got $110.00",
		"rate_429", "SLO <= 3.0000%, got 3.1000%",
		"slo: FAIL: 6 breaches, 0 regressions, 0 without baseline (1 scenarios, 6 checks)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	// Every line of the table is aligned: the STATUS column starts at the same offset.
	lines := strings.Split(strings.TrimSpace(out), "\n")
	col := strings.Index(lines[0], "STATUS")
	for _, l := range lines[1 : len(lines)-1] {
		if !strings.HasPrefix(l[col:], "BREACH") {
			t.Errorf("status column misaligned in %q", l)
		}
	}
	t.Logf("\n%s", out)
}

func TestRegression(t *testing.T) {
	s := sampleSummary()
	base := map[string]*Base{s.Scenario: {Seed: s.Seed, Metrics: MetricsOf(s, 110)}}
	cur := *s
	cur.LatencyMS.P99 = s.LatencyMS.P99 * 1.04 // within 5%
	cur.Availability = 0.99989                 // 0.006 pp below the baseline and below the SLO
	cur.Rate429.Overall = 0.0305               // better: never a regression
	rows := Check([]Run{runOf(&cur, 116)}, base, DefaultTolerances(), false)
	got := map[string]string{}
	for _, r := range rows {
		got[r.Metric] = r.Status
	}
	want := map[string]string{P99MS: StatusOK, Availability: StatusBoth, Rate429: StatusOK, CostPerBillion: StatusRegression}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: status %s, want %s", k, got[k], v)
		}
	}
	var buf bytes.Buffer
	_ = WriteTable(&buf, rows, true)
	if !strings.Contains(buf.String(), "worse than baseline $110.00 by $6.00 (tolerance $5.50)") {
		t.Errorf("table:\n%s", buf.String())
	}
}

func TestMissingBaselineAndSeed(t *testing.T) {
	s := sampleSummary()
	rows := Check([]Run{runOf(s, 110)}, nil, DefaultTolerances(), false)
	if _, _, m := Failures(rows); m != len(Names) {
		t.Errorf("missing = %d, want %d", m, len(Names))
	}
	if rows := Check([]Run{runOf(s, 110)}, nil, DefaultTolerances(), true); rows[0].Failed() {
		t.Errorf("allowMissing still fails: %+v", rows[0])
	}
	base := map[string]*Base{s.Scenario: {Seed: 8, Metrics: MetricsOf(s, 110)}}
	rows = Check([]Run{runOf(s, 110)}, base, DefaultTolerances(), false)
	if rows[0].Status != StatusRegression || !strings.Contains(rows[0].Why, "seed changed from 8 to 7") {
		t.Errorf("seed change: %+v", rows[0])
	}
}

func TestBaselineRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "baseline")
	s := sampleSummary()
	tol := DefaultTolerances()
	tol[P99MS] = Tolerance{Rel: 0.1}
	if err := WriteBaseline(dir, []*schema.Summary{s}, tol); err != nil {
		t.Fatal(err)
	}
	got, gotTol, err := ReadBaseline(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got["spot-loss"] == nil || got["spot-loss"].LatencyMS.P99 != 21.5 {
		t.Errorf("baseline = %+v", got)
	}
	if gotTol[P99MS].Rel != 0.1 || gotTol[CostPerBillion] != DefaultTolerances()[CostPerBillion] {
		t.Errorf("tolerances = %+v", gotTol)
	}
	// A baseline file must be named after its scenario.
	if err := os.Rename(filepath.Join(dir, "spot-loss.json"), filepath.Join(dir, "other.json")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ReadBaseline(dir); err == nil || !strings.Contains(err.Error(), `must match the file name "other"`) {
		t.Errorf("misnamed baseline: %v", err)
	}
	// Bad tolerances are refused with the field.
	if err := os.WriteFile(filepath.Join(dir, "tolerances.json"), []byte(`{"p99_ms":{"rel":-1}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ReadBaseline(dir); err == nil || !strings.Contains(err.Error(), "tolerances.p99_ms.rel: must be in [0, 1e6), got -1") {
		t.Errorf("bad tolerance: %v", err)
	}
}

// A breach is reported as a breach even when the baseline is missing.
func TestBreachWithoutBaseline(t *testing.T) {
	s := sampleSummary()
	s.SLO.P99MS = 10
	rows := Check([]Run{runOf(s, 110)}, nil, DefaultTolerances(), false)
	if rows[0].Status != StatusBreach || !strings.Contains(rows[0].Why, "no baseline") {
		t.Errorf("row = %+v", rows[0])
	}
	if b, _, m := Failures(rows); b != 1 || m != len(Names)-1 {
		t.Errorf("breaches %d missing %d", b, m)
	}
	if got := Format(P99MS, 5000); got != "5000 ms" {
		t.Errorf("Format(p99, 5000) = %q", got)
	}
}

// TestCommittedBaseline: reports/baseline decodes, each file is named after
// its scenario, the tolerances are valid, and the baseline checked against
// itself shows no regression.
func TestCommittedBaseline(t *testing.T) {
	base, tol, err := ReadBaseline(filepath.Join("..", "baseline"))
	if err != nil {
		t.Fatal(err)
	}
	if len(base) == 0 {
		t.Fatal("reports/baseline holds no summaries (gwlab slo -update)")
	}
	var runs []Run
	bases := map[string]*Base{}
	for name, s := range base {
		runs = append(runs, Run{Scenario: name, Seed: s.Seed, Metrics: MetricsOf(s, 100)})
		bases[name] = &Base{Seed: s.Seed, Metrics: MetricsOf(s, 100)}
	}
	for _, r := range Check(runs, bases, tol, false) {
		if r.Failed() {
			t.Errorf("%s %s: %s %s", r.Scenario, r.Metric, r.Status, r.Why)
		}
	}
}

// TestExpectBreach: an objective listed in expect_breach passes when it is
// breached and fails when it is met, so a demonstration of a bad design stays
// honest both ways; objectives not listed are checked as usual.
func TestExpectBreach(t *testing.T) {
	s := sampleSummary()
	base := map[string]*Base{s.Scenario: {Seed: s.Seed, Metrics: MetricsOf(s, 110)}}
	cases := []struct {
		name      string
		slo       schema.SLO
		breaches  int
		wantState map[string]string
	}{
		{"breached as expected", schema.SLO{MinAvailability: 0.99999, P99MS: 50, ExpectBreach: []string{Availability}}, 0,
			map[string]string{Availability: StatusExpected, P99MS: StatusOK}},
		{"expected but met", schema.SLO{MinAvailability: 0.999, ExpectBreach: []string{Availability}}, 1,
			map[string]string{Availability: StatusMet}},
		{"another objective still breaches", schema.SLO{MinAvailability: 0.99999, P99MS: 20, ExpectBreach: []string{Availability}}, 1,
			map[string]string{Availability: StatusExpected, P99MS: StatusBreach}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s.SLO = c.slo
			rows := Check([]Run{runOf(s, 110)}, base, DefaultTolerances(), false)
			if b, g, m := Failures(rows); b != c.breaches || g != 0 || m != 0 {
				t.Errorf("failures %d %d %d, want %d 0 0", b, g, m, c.breaches)
			}
			for _, r := range rows {
				if want, ok := c.wantState[r.Metric]; ok && r.Status != want {
					t.Errorf("%s: status %q, want %q (%s)", r.Metric, r.Status, want, r.Why)
				}
			}
			var buf bytes.Buffer
			if err := WriteTable(&buf, rows, false); err != nil {
				t.Fatal(err)
			}
			if c.breaches == 0 && !strings.Contains(buf.String(), StatusExpected) {
				t.Errorf("table does not show the expected breach:\n%s", buf.String())
			}
		})
	}
}

// TestIntervalsJudged: a replicated run is judged on its intervals: met when
// the unfavourable bound meets the objective, breached when even the
// favourable bound breaks it, UNDECIDED (failing, told apart) in between;
// an expect_breach objective must breach at its favourable bound.
func TestIntervalsJudged(t *testing.T) {
	e := func(lo, hi float64) schema.Estimate {
		return schema.Estimate{Mean: (lo + hi) / 2, Lower: lo, Upper: hi}
	}
	for _, c := range []struct {
		name      string
		metric    string
		iv        schema.Estimate
		expect    bool
		status    string
		bound     float64
		breaches  int
		undecided int
	}{
		{"p99 met at its upper bound", P99MS, e(40, 48), false, StatusOK, 48, 0, 0},
		{"p99 straddles", P99MS, e(45, 55), false, StatusUndecided, 55, 1, 1},
		{"p99 breached at its lower bound", P99MS, e(52, 60), false, StatusBreach, 52, 1, 0},
		{"availability met at its lower bound", Availability, e(0.99992, 0.99999), false, StatusOK, 0.99992, 0, 0},
		{"availability straddles", Availability, e(0.99985, 0.99995), false, StatusUndecided, 0.99985, 1, 1},
		{"expected breach, confident", Availability, e(0.9998, 0.99985), true, StatusExpected, 0.99985, 0, 0},
		{"expected breach, straddling", Availability, e(0.99985, 0.99995), true, StatusUndecided, 0.99995, 1, 1},
		{"expected breach, met", Availability, e(0.99991, 0.99995), true, StatusMet, 0.99991, 1, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := sampleSummary()
			s.Intervals = &schema.Intervals{Replications: 5, Confidence: 0.95, Seeds: []uint64{7, 1, 2, 3, 4},
				P99MS: e(21, 22), Availability: e(0.99994, 0.99996), Rate429: e(0.03, 0.032), False429Rate: e(0.0003, 0.0005),
				OverAdmission: e(0.001, 0.003)}
			*s.Intervals.Get(c.metric) = c.iv
			if c.expect {
				s.SLO.ExpectBreach = []string{c.metric}
			}
			run := RunOf(s, 110)
			base := map[string]*Base{s.Scenario: {Seed: s.Seed, Metrics: run.Metrics}}
			rows := Check([]Run{run}, base, DefaultTolerances(), false)
			var row Row
			for _, r := range rows {
				if r.Metric == c.metric {
					row = r
				} else if r.Failed() {
					t.Errorf("%s: %s (%s)", r.Metric, r.Status, r.Why)
				}
			}
			if row.Status != c.status || row.Bound != c.bound || row.Interval == nil || *row.Interval != c.iv {
				t.Errorf("status %q bound %v interval %v, want %q at %v (%s)", row.Status, row.Bound, row.Interval, c.status, c.bound, row.Why)
			}
			if b, g, _ := Failures(rows); b != c.breaches || g != 0 || Undecided(rows) != c.undecided {
				t.Errorf("breaches %d (undecided %d), regressions %d; want %d (%d), 0", b, Undecided(rows), g, c.breaches, c.undecided)
			}
			var buf bytes.Buffer
			if err := WriteTable(&buf, rows, false); err != nil {
				t.Fatal(err)
			}
			if want := FormatActual(row); !strings.Contains(buf.String(), want) || !strings.Contains(want, "[") {
				t.Errorf("table lacks the interval %q:\n%s", want, buf.String())
			}
			if c.undecided > 0 && (!strings.Contains(buf.String(), "straddles it: undecided") || !strings.Contains(buf.String(), "(1 of them undecided)")) {
				t.Errorf("undecided not explained:\n%s", buf.String())
			}
		})
	}
	// The cost interval is judged like the others; a run without intervals
	// is judged on its points as before.
	s := sampleSummary()
	rows := Check([]Run{RunOf(s, 110)}, nil, DefaultTolerances(), true)
	for _, r := range rows {
		if r.Interval != nil || r.Bound != r.Actual {
			t.Errorf("%s: no intervals, but interval %v bound %v (actual %v)", r.Metric, r.Interval, r.Bound, r.Actual)
		}
	}
	cost := e(190, 210)
	s.Intervals = &schema.Intervals{Replications: 2, Confidence: 0.9, Seeds: []uint64{7, 8}, P99MS: e(21, 22),
		Availability: e(0.99994, 0.99996), Rate429: e(0.03, 0.032), False429Rate: e(0.0003, 0.0005), OverAdmission: e(0.001, 0.003), CostPerBillion: &cost}
	rows = Check([]Run{RunOf(s, 110)}, nil, DefaultTolerances(), true)
	if r := rows[5]; r.Metric != CostPerBillion || r.Status != StatusUndecided || !strings.Contains(r.Why, "90% interval $200.00 [$190.00, $210.00]") {
		t.Errorf("cost: %+v", r)
	}
}
