package slo

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"tollgate/schema"
)

// Price gives a summary's cost per billion requests (the cost model's, which
// lives in package reports).
type Price func(*schema.Summary) (float64, error)

// ErrGate marks a gate that failed: a breach, a regression or a run without
// a baseline.
var ErrGate = errors.New("slo: gate failed")

// Gate checks runs against their scenarios' SLOs and against base, the
// baseline summaries by scenario, within tol. Run and baseline are priced by
// the same price, so a price change alone never shows as a regression. Rows
// come out as Check gives them; a run without a baseline fails. A replicated
// run is judged on its intervals (see the package comment); its cost
// interval is the one priced when it ran (schema.Intervals.PriceSheet).
func Gate(runs []*schema.Summary, base map[string]*schema.Summary, tol Tolerances, price Price) ([]Row, error) {
	var checks []Run
	for _, s := range runs {
		cpb, err := price(s)
		if err != nil {
			return nil, fmt.Errorf("slo: %s: %w", s.Scenario, err)
		}
		checks = append(checks, RunOf(s, cpb))
	}
	bases := map[string]*Base{}
	for name, s := range base {
		cpb, err := price(s)
		if err != nil {
			return nil, fmt.Errorf("slo: baseline %s: %w", name, err)
		}
		bases[name] = &Base{Seed: s.Seed, Metrics: MetricsOf(s, cpb)}
	}
	return Check(checks, bases, tol, false), nil
}

// Verdict is nil when no row fails the gate, else an ErrGate counting the
// breaches, regressions and checks without a baseline.
func Verdict(rows []Row) error {
	if b, g, m := Failures(rows); b+g+m > 0 {
		undecided := ""
		if u := Undecided(rows); u > 0 {
			undecided = fmt.Sprintf(" (%d of them undecided)", u)
		}
		return fmt.Errorf("%w: %d breaches%s, %d regressions, %d checks without a baseline", ErrGate, b, undecided, g, m)
	}
	return nil
}

// ReadRuns reads the summaries DIR/*/summary.json, or DIR/NAME/summary.json
// for each of names when there are any, sorted by scenario. A named run
// without its summary is an error.
func ReadRuns(dir string, names []string) ([]*schema.Summary, error) {
	var paths []string
	if len(names) == 0 {
		var err error
		paths, err = filepath.Glob(filepath.Join(dir, "*", "summary.json"))
		if err != nil {
			return nil, fmt.Errorf("slo: %w", err)
		}
	}
	for _, n := range names {
		paths = append(paths, filepath.Join(dir, n, "summary.json"))
	}
	var out []*schema.Summary
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("slo: %w", err)
		}
		s, err := schema.ReadSummary(p)
		if err != nil {
			return nil, fmt.Errorf("slo: %w", err)
		}
		out = append(out, s)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Scenario < out[j].Scenario })
	return out, nil
}
