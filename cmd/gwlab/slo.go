package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"

	"tollgate/reports"
	"tollgate/reports/slo"
	"tollgate/scenarios"
	"tollgate/schema"
)

func init() {
	commands["slo"] = command{
		summary: "run the CI scenarios with their fixed seeds and gate on their SLOs and the committed baseline",
		run:     runSLO,
	}
}

// ciMaxDuration bounds the virtual duration of the scenarios `gwlab slo`
// runs by default: the month-long cost reference (month-1b) is left to
// explicit runs so CI stays within its minutes.
const ciMaxDuration = time.Hour

// ciScenarios returns the built-in scenarios the gate runs by default.
func ciScenarios() ([]string, error) {
	var out []string
	for _, n := range scenarios.Names() {
		sc, err := scenarios.Load(n)
		if err != nil {
			return nil, err
		}
		if sc.Config.Duration.D()+sc.Config.Warmup.D() <= ciMaxDuration {
			out = append(out, n)
		}
	}
	return out, nil
}

// sloScenarios runs the named scenarios (the CI scenarios if none) with
// their fixed seeds, one after another, and returns their summaries in
// name order.
func sloScenarios(names []string, stderr io.Writer) ([]*schema.Summary, error) {
	if len(names) == 0 {
		var err error
		if names, err = ciScenarios(); err != nil {
			return nil, err
		}
	}
	var out []*schema.Summary
	for _, n := range names {
		sc, err := scenarios.Load(n)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(stderr, "gwlab slo: %s seed %d\n", sc.Name, sc.Config.Seed)
		s, err := scenarios.Run(sc, scenarios.RunOptions{})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", n, err)
		}
		out = append(out, s)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Scenario < out[j].Scenario })
	return out, nil
}

func runSLO(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("slo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	update := fs.Bool("update", false, "rewrite the baseline from these runs instead of checking them")
	baseline := fs.String("baseline", filepath.Join("reports", "baseline"), "baseline directory: <scenario>.json summaries and tolerances.json")
	prices := fs.String("prices", "", "price sheet YAML for cost per billion (default: the embedded reports/prices.yaml)")
	from := fs.String("from", "", "check the summaries already in DIR/*/summary.json instead of running scenarios")
	verbose := fs.Bool("v", false, "list every check, not only the failing ones")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: gwlab slo [-update] [-baseline DIR] [-prices FILE] [-from DIR] [-v] [NAME...]")
		fmt.Fprintln(stderr, "Runs the scenarios (the CI set, built-ins of at most an hour, if no NAME), checks each against its SLO and against the baseline's")
		fmt.Fprintln(stderr, "figures within tolerance, prints every breach and regression, and fails if there is any.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	sh, err := reports.LoadPrices(*prices)
	if err != nil {
		return err
	}
	opts := reports.Options{Prices: sh}
	var runs []*schema.Summary
	switch {
	case *from != "":
		runs, err = summariesFrom(*from, fs.Args())
	default:
		runs, err = sloScenarios(fs.Args(), stderr)
	}
	if err != nil {
		return err
	}
	if len(runs) == 0 {
		return errors.New("no runs to check")
	}
	if *update {
		_, tol, err := slo.ReadBaseline(*baseline)
		if err != nil {
			tol = slo.DefaultTolerances()
			fmt.Fprintf(stderr, "gwlab slo: ignoring the old baseline (%v); default tolerances\n", err)
		}
		if err := slo.WriteBaseline(*baseline, runs, tol); err != nil {
			return err
		}
		for _, s := range runs {
			fmt.Fprintf(stdout, "baseline: %s (seed %d, %s)\n", filepath.Join(*baseline, s.Scenario+".json"), s.Seed, s.Algorithm)
		}
		return nil
	}
	base, tol, err := slo.ReadBaseline(*baseline)
	if err != nil {
		return err
	}
	checks, bases, err := sloInputs(runs, base, opts)
	if err != nil {
		return err
	}
	rows := slo.Check(checks, bases, tol, false)
	if err := slo.WriteTable(stdout, rows, !*verbose); err != nil {
		return err
	}
	if b, g, m := slo.Failures(rows); b+g+m > 0 {
		return fmt.Errorf("%d breaches, %d regressions, %d checks without a baseline", b, g, m)
	}
	return nil
}

// sloInputs prices every run and baseline summary with the same sheet, so a
// price change alone never shows as a regression.
func sloInputs(runs []*schema.Summary, base map[string]*schema.Summary, opts reports.Options) ([]slo.Run, map[string]*slo.Base, error) {
	var checks []slo.Run
	for _, s := range runs {
		cpb, err := reports.CostPerBillion(s, opts)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", s.Scenario, err)
		}
		checks = append(checks, slo.Run{Scenario: s.Scenario, Seed: s.Seed, SLO: s.SLO, Metrics: slo.MetricsOf(s, cpb)})
	}
	bases := map[string]*slo.Base{}
	for name, s := range base {
		cpb, err := reports.CostPerBillion(s, opts)
		if err != nil {
			return nil, nil, fmt.Errorf("baseline %s: %w", name, err)
		}
		bases[name] = &slo.Base{Seed: s.Seed, Metrics: slo.MetricsOf(s, cpb)}
	}
	return checks, bases, nil
}

// summariesFrom reads DIR/*/summary.json (or DIR/NAME/summary.json for each
// NAME given), sorted by scenario.
func summariesFrom(dir string, names []string) ([]*schema.Summary, error) {
	var paths []string
	if len(names) == 0 {
		var err error
		paths, err = filepath.Glob(filepath.Join(dir, "*", "summary.json"))
		if err != nil {
			return nil, err
		}
	}
	for _, n := range names {
		paths = append(paths, filepath.Join(dir, n, "summary.json"))
	}
	var out []*schema.Summary
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("-from: %w", err)
		}
		s, err := schema.ReadSummary(p)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Scenario < out[j].Scenario })
	return out, nil
}
