// Package slo is tollgate's SLO gate: it checks each run against its
// scenario's SLO block (schema.SLO) and against a committed baseline of
// summaries with per-metric tolerances, and renders every breach and every
// regression as a table. Simulated runs are deterministic, so the gate has no
// noise: a change in a figure is a change in the code or the scenario.
//
// A replicated run (summary.json with intervals) is judged on its intervals
// instead of its point figures: an objective is met when the interval's
// unfavourable bound meets it, breached when even the favourable bound breaks
// it, and UNDECIDED (which fails the gate, but is told apart from a breach)
// when the interval straddles the limit. An expect_breach objective is
// judged the other way round: it demonstrates only if it breaches with
// confidence. The baseline comparison stays on the point figures (replication
// 0, the seed the baseline was taken with).
//
// The gate never runs anything itself; the caller (gwlab slo) runs the
// scenarios and hands the summaries in, with each run's cost per billion from
// the cost model.
package slo

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"tollgate/schema"
)

// Metric names, as they appear in tables and tolerances.json.
const (
	P99MS          = schema.ObjectiveP99MS
	Rate429        = schema.ObjectiveRate429
	False429Rate   = schema.ObjectiveFalse429Rate
	OverAdmission  = schema.ObjectiveOverAdmission
	Availability   = schema.ObjectiveAvailability
	CostPerBillion = schema.ObjectiveCostPerBillion
)

// Names lists the metrics in table order.
var Names = schema.Objectives

// Metrics are the figures the gate checks for one run.
type Metrics struct {
	P99MS          float64 `json:"p99_ms"`
	Rate429        float64 `json:"rate_429"`
	False429Rate   float64 `json:"false_429_rate"`
	OverAdmission  float64 `json:"over_admission"`
	Availability   float64 `json:"availability"`
	CostPerBillion float64 `json:"cost_per_billion"`
}

// MetricsOf takes a summary's figures; costPerBillion comes from the cost
// model (the summary carries resources, not prices).
//
// A replicated summary's intervals are not Metrics: RunOf carries them.
func MetricsOf(s *schema.Summary, costPerBillion float64) Metrics {
	return Metrics{
		P99MS:          s.LatencyMS.P99,
		Rate429:        s.Rate429.Overall,
		False429Rate:   s.False429.Rate,
		OverAdmission:  s.OverAdmission.Ratio,
		Availability:   s.Availability,
		CostPerBillion: costPerBillion,
	}
}

// RunOf is the check of one summary: its figures (MetricsOf) and, when it
// was replicated, its intervals.
func RunOf(s *schema.Summary, costPerBillion float64) Run {
	return Run{Scenario: s.Scenario, Seed: s.Seed, SLO: s.SLO, Metrics: MetricsOf(s, costPerBillion), Intervals: s.Intervals}
}

// Get returns the named metric.
func (m Metrics) Get(name string) float64 {
	switch name {
	case P99MS:
		return m.P99MS
	case Rate429:
		return m.Rate429
	case False429Rate:
		return m.False429Rate
	case OverAdmission:
		return m.OverAdmission
	case Availability:
		return m.Availability
	case CostPerBillion:
		return m.CostPerBillion
	}
	return math.NaN()
}

// higherIsBetter reports the direction of a metric.
func higherIsBetter(name string) bool { return name == Availability }

// Objective returns the SLO's limit for the named metric (0: not checked).
func Objective(o schema.SLO, name string) float64 { return o.Limit(name) }

// Tolerance is how far a metric may move the wrong way from the baseline
// before it is a regression: the larger of Abs and Rel times the baseline.
type Tolerance struct {
	Rel float64 `json:"rel"`
	Abs float64 `json:"abs"`
}

// Tolerances by metric name.
type Tolerances map[string]Tolerance

// DefaultTolerances: p99 and cost may grow 5%; the 429 and over-admission
// rates half a percentage point; false 429s a tenth of one; availability may
// drop 0.005 percentage points (half a nine's worth at four nines).
func DefaultTolerances() Tolerances {
	return Tolerances{
		P99MS:          {Rel: 0.05, Abs: 0.1},
		Rate429:        {Abs: 0.005},
		False429Rate:   {Abs: 0.001},
		OverAdmission:  {Abs: 0.005},
		Availability:   {Abs: 0.00005},
		CostPerBillion: {Rel: 0.05, Abs: 0.01},
	}
}

// Validate checks every tolerance is a known metric with finite,
// non-negative bounds.
func (t Tolerances) Validate() error {
	var errs []error
	keys := make([]string, 0, len(t))
	for k := range t {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := t[k]
		if !contains(Names, k) {
			errs = append(errs, fmt.Errorf("tolerances.%s: unknown metric (want one of %s)", k, strings.Join(Names, " ")))
		}
		if !(v.Rel >= 0 && v.Rel < 1e6) {
			errs = append(errs, fmt.Errorf("tolerances.%s.rel: must be in [0, 1e6), got %v", k, v.Rel))
		}
		if !(v.Abs >= 0 && v.Abs < 1e12) {
			errs = append(errs, fmt.Errorf("tolerances.%s.abs: must be in [0, 1e12), got %v", k, v.Abs))
		}
	}
	return errors.Join(errs...)
}

func (t Tolerances) allow(name string, base float64) float64 {
	tol := t[name]
	return math.Max(tol.Abs, tol.Rel*math.Abs(base))
}

// Status of one row.
const (
	StatusOK         = "ok"
	StatusBreach     = "BREACH"
	StatusRegression = "REGRESSION"
	StatusBoth       = "BREACH+REGRESSION"
	StatusNoBaseline = "NO BASELINE"
	// StatusExpected is a breach the scenario lists in expect_breach: a
	// demonstration of a bad design that still shows it. It passes.
	StatusExpected = "EXPECTED BREACH"
	// StatusMet is an objective listed in expect_breach that was met: the
	// demonstration no longer demonstrates, so it fails.
	StatusMet = "MET, BREACH EXPECTED"
	// StatusUndecided is an objective of a replicated run whose confidence
	// interval straddles its limit: neither met nor breached with
	// confidence. It fails the gate (counted with the breaches) until more
	// replications decide it.
	StatusUndecided = "UNDECIDED"
)

// Row is one metric of one scenario.
type Row struct {
	Scenario string
	Metric   string
	// Objective is the SLO limit (0: none).
	Objective float64
	// Baseline is the baseline's figure (NaN: no baseline).
	Baseline float64
	// Actual is the run's figure (replication 0's for a replicated run).
	Actual float64
	// Interval is the figure's confidence interval when the run was
	// replicated (nil otherwise), Confidence its level; the SLO is then
	// judged at Bound, the interval's bound the verdict rests on (see the
	// package comment), else at Actual.
	Interval   *schema.Estimate
	Confidence float64
	Bound      float64
	// Allowed is the tolerance applied to the baseline.
	Allowed float64
	Status  string
	// Why explains a failing status in words.
	Why string
}

// Failed reports whether the row fails the gate.
func (r Row) Failed() bool { return r.Status != StatusOK && r.Status != StatusExpected }

// Run is one scenario's outcome to check.
type Run struct {
	Scenario string
	Seed     uint64
	SLO      schema.SLO
	Metrics  Metrics
	// Intervals are the run's confidence intervals when it was replicated
	// (nil: judge the point figures).
	Intervals *schema.Intervals
}

// Base is one scenario's baseline.
type Base struct {
	Seed    uint64
	Metrics Metrics
}

// Check checks each run against its SLO and its baseline (nil: none; every
// metric then fails with NO BASELINE unless allowMissing). Rows come out in
// run order, metrics in Names order.
func Check(runs []Run, base map[string]*Base, tol Tolerances, allowMissing bool) []Row {
	var rows []Row
	for _, r := range runs {
		b := base[r.Scenario]
		for _, name := range Names {
			row := Row{Scenario: r.Scenario, Metric: name, Objective: Objective(r.SLO, name), Actual: r.Metrics.Get(name), Baseline: math.NaN(), Status: StatusOK}
			row.Bound = row.Actual
			expected := r.SLO.Expects(name)
			// best and worst are the favourable and unfavourable ends of
			// what the run says about the figure: the point itself, or its
			// interval's bounds.
			best, worst := row.Actual, row.Actual
			if e := r.Intervals.Get(name); e != nil {
				row.Interval, row.Confidence = e, r.Intervals.Confidence
				best, worst = e.Lower, e.Upper
				if higherIsBetter(name) {
					best, worst = worst, best
				}
			}
			var why []string
			breach, undecided := false, false
			if row.Objective != 0 {
				meets := func(v float64) bool {
					if higherIsBetter(name) {
						return v >= row.Objective
					}
					return v <= row.Objective
				}
				// A met objective must hold at the worst end; a
				// demonstrated breach must hold at the best end.
				switch {
				case !meets(best):
					breach, row.Bound = true, best
				case meets(worst):
					row.Bound = worst
				default:
					undecided, breach = true, true
					row.Bound = worst
					if expected {
						row.Bound = best
					}
				}
				switch {
				case undecided:
					why = append(why, fmt.Sprintf("SLO %s %s, %s interval %s straddles it: undecided, more replications may decide", bound(name), Format(name, row.Objective), confidence(row.Confidence), formatInterval(name, *row.Interval)))
				case breach && row.Interval != nil:
					why = append(why, fmt.Sprintf("SLO %s %s, %s interval %s lies beyond it", bound(name), Format(name, row.Objective), confidence(row.Confidence), formatInterval(name, *row.Interval)))
				case breach:
					why = append(why, fmt.Sprintf("SLO %s %s, got %s", bound(name), Format(name, row.Objective), Format(name, row.Actual)))
				}
			}
			met := false
			if expected {
				if breach && !undecided {
					why = append(why, "expected: the scenario demonstrates a design that breaks this objective")
				} else if !undecided {
					met = true
					why = append(why, fmt.Sprintf("the scenario lists %s in expect_breach but met SLO %s %s with %s: fix the scenario or drop it from expect_breach", name, bound(name), Format(name, row.Objective), Format(name, row.Bound)))
				}
			}
			regress, missing := false, false
			switch {
			case b == nil && !allowMissing:
				missing = true
				why = append(why, "no baseline: run `gwlab slo -update` and commit reports/baseline")
			case b != nil && b.Seed != r.Seed:
				regress = true
				row.Baseline = b.Metrics.Get(name)
				why = append(why, fmt.Sprintf("seed changed from %d to %d: update the baseline", b.Seed, r.Seed))
			case b != nil:
				row.Baseline = b.Metrics.Get(name)
				row.Allowed = tol.allow(name, row.Baseline)
				var worse float64
				if higherIsBetter(name) {
					worse = row.Baseline - row.Actual
				} else {
					worse = row.Actual - row.Baseline
				}
				if worse > row.Allowed || math.IsNaN(row.Actual) {
					regress = true
					why = append(why, fmt.Sprintf("worse than baseline %s by %s (tolerance %s)", Format(name, row.Baseline), Format(name, worse), Format(name, row.Allowed)))
				}
			}
			switch {
			case undecided && regress:
				row.Status = StatusUndecided + "+" + StatusRegression
			case undecided:
				row.Status = StatusUndecided
			case met:
				row.Status = StatusMet
			case expected && breach && !regress:
				row.Status = StatusExpected
			case breach && regress && !expected:
				row.Status = StatusBoth
			case breach && !expected:
				row.Status = StatusBreach
			case regress:
				row.Status = StatusRegression
			case missing:
				row.Status = StatusNoBaseline
			}
			row.Why = strings.Join(why, "; ")
			rows = append(rows, row)
		}
	}
	return rows
}

func bound(name string) string {
	if higherIsBetter(name) {
		return ">="
	}
	return "<="
}

// confidence renders a confidence level as a percentage ("95%").
func confidence(c float64) string { return fmt.Sprintf("%g%%", 100*c) }

// formatInterval renders an interval as "mean [lower, upper]" in the
// metric's unit.
func formatInterval(name string, e schema.Estimate) string {
	return fmt.Sprintf("%s [%s, %s]", Format(name, e.Mean), Format(name, e.Lower), Format(name, e.Upper))
}

// FormatActual renders a row's figure: the point, or for a replicated run
// the interval's mean with its bounds, "mean [lower, upper]".
func FormatActual(r Row) string {
	if r.Interval != nil {
		return formatInterval(r.Metric, *r.Interval)
	}
	return Format(r.Metric, r.Actual)
}

// Format renders a metric's value with its unit.
func Format(name string, v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	switch name {
	case P99MS:
		if math.Abs(v) >= 100 {
			return fmt.Sprintf("%.0f ms", v)
		}
		return fmt.Sprintf("%.3g ms", v)
	case CostPerBillion:
		return fmt.Sprintf("$%.2f", v)
	case Availability:
		return fmt.Sprintf("%.5f%%", v*100)
	default:
		return fmt.Sprintf("%.4f%%", v*100)
	}
}

// Failures counts breaches and regressions (a row may be both) and rows
// without a baseline that pass their SLO (a breach without a baseline counts
// as a breach).
func Failures(rows []Row) (breaches, regressions, missing int) {
	for _, r := range rows {
		switch r.Status {
		case StatusBreach:
			breaches++
		case StatusRegression:
			regressions++
		case StatusBoth:
			breaches++
			regressions++
		case StatusNoBaseline:
			missing++
		case StatusMet, StatusUndecided:
			breaches++
		case StatusUndecided + "+" + StatusRegression:
			breaches++
			regressions++
		}
	}
	return
}

// Undecided counts the rows whose interval straddles their objective (they
// are among Failures' breaches).
func Undecided(rows []Row) int {
	n := 0
	for _, r := range rows {
		if strings.HasPrefix(r.Status, StatusUndecided) {
			n++
		}
	}
	return n
}

// WriteTable writes rows as an aligned text table; with onlyFailed, rows that
// pass are left out. It ends with one line counting the failures.
func WriteTable(w io.Writer, rows []Row, onlyFailed bool) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	shown := 0
	for _, r := range rows {
		if onlyFailed && !r.Failed() {
			continue
		}
		if shown == 0 {
			fmt.Fprintln(tw, "SCENARIO\tMETRIC\tSLO\tBASELINE\tACTUAL\tSTATUS\tWHY")
		}
		shown++
		obj := "-"
		if r.Objective != 0 {
			obj = bound(r.Metric) + " " + Format(r.Metric, r.Objective)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Scenario, r.Metric, obj, Format(r.Metric, r.Baseline), FormatActual(r), r.Status, r.Why)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	b, g, m := Failures(rows)
	scen := map[string]bool{}
	for _, r := range rows {
		scen[r.Scenario] = true
	}
	if b+g+m == 0 {
		_, err := fmt.Fprintf(w, "slo: %d scenarios, %d checks, all pass\n", len(scen), len(rows))
		return err
	}
	undecided := ""
	if u := Undecided(rows); u > 0 {
		undecided = fmt.Sprintf(" (%d of them undecided)", u)
	}
	_, err := fmt.Fprintf(w, "slo: FAIL: %d breaches%s, %d regressions, %d without baseline (%d scenarios, %d checks)\n", b, undecided, g, m, len(scen), len(rows))
	return err
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

// Baseline files: DIR/<scenario>.json is the scenario's summary when the
// baseline was taken; DIR/tolerances.json the tolerances.
const tolerancesFile = "tolerances.json"

// ReadBaseline reads every DIR/*.json summary (keyed by its scenario name)
// and DIR/tolerances.json (DefaultTolerances if absent; metrics it leaves
// out keep their default).
func ReadBaseline(dir string) (map[string]*schema.Summary, Tolerances, error) {
	tol := DefaultTolerances()
	b, err := os.ReadFile(filepath.Join(dir, tolerancesFile))
	switch {
	case err == nil:
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.DisallowUnknownFields()
		var t Tolerances
		if err := dec.Decode(&t); err != nil {
			return nil, nil, fmt.Errorf("slo: %s: %w", filepath.Join(dir, tolerancesFile), err)
		}
		if err := t.Validate(); err != nil {
			return nil, nil, fmt.Errorf("slo: %s: %w", filepath.Join(dir, tolerancesFile), err)
		}
		for k, v := range t {
			tol[k] = v
		}
	case !errors.Is(err, os.ErrNotExist):
		return nil, nil, fmt.Errorf("slo: %w", err)
	}
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, nil, fmt.Errorf("slo: %w", err)
	}
	out := map[string]*schema.Summary{}
	for _, p := range paths {
		if filepath.Base(p) == tolerancesFile {
			continue
		}
		s, err := schema.ReadSummary(p)
		if err != nil {
			return nil, nil, fmt.Errorf("slo: baseline: %w", err)
		}
		name := strings.TrimSuffix(filepath.Base(p), ".json")
		if s.Scenario != name {
			return nil, nil, fmt.Errorf("slo: baseline %s: scenario must match the file name %q, got %q", p, name, s.Scenario)
		}
		out[name] = s
	}
	return out, tol, nil
}

// WriteBaseline writes each summary as DIR/<scenario>.json and the
// tolerances as DIR/tolerances.json, creating DIR.
func WriteBaseline(dir string, runs []*schema.Summary, tol Tolerances) error {
	if err := tol.Validate(); err != nil {
		return fmt.Errorf("slo: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("slo: %w", err)
	}
	for _, s := range runs {
		if s.Scenario == "" || strings.ContainsAny(s.Scenario, `/\`) {
			return fmt.Errorf("slo: baseline: scenario name must be a plain file name, got %q", s.Scenario)
		}
		if err := schema.WriteSummary(filepath.Join(dir, s.Scenario+".json"), s); err != nil {
			return fmt.Errorf("slo: baseline: %w", err)
		}
	}
	b, err := json.MarshalIndent(tol, "", "  ")
	if err != nil {
		return fmt.Errorf("slo: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, tolerancesFile), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("slo: %w", err)
	}
	return nil
}
