package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"sort"

	"tollgate/reports"
	"tollgate/reports/slo"
	"tollgate/scenarios"
	"tollgate/schema"
)

// sloScenarios runs the named scenarios (the CI set if none) with their
// fixed seeds, one at a time, and returns their summaries in name order.
func sloScenarios(names []string, stderr io.Writer) ([]*schema.Summary, error) {
	if len(names) == 0 {
		var err error
		if names, err = scenarios.CI(); err != nil {
			return nil, err
		}
	}
	sort.Strings(names)
	var scs []*scenarios.Scenario
	for _, n := range names {
		sc, err := scenarios.Load(n)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(stderr, "gwlab slo: %s seed %d\n", sc.Name, sc.Config.Seed)
		scs = append(scs, sc)
	}
	out, errs := scenarios.RunAll(scs, scenarios.RunOptions{}, 1)
	for i, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("%s: %w", names[i], err)
		}
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
		runs, err = slo.ReadRuns(*from, fs.Args())
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
	rows, err := slo.Gate(runs, base, tol, func(s *schema.Summary) (float64, error) { return reports.CostPerBillion(s, opts) })
	if err != nil {
		return err
	}
	if err := slo.WriteTable(stdout, rows, !*verbose); err != nil {
		return err
	}
	return slo.Verdict(rows)
}
