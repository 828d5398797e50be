package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"tollgate/reports"
	"tollgate/scenarios"
	"tollgate/schema"
)

// defaultAlgos are compared when neither -algos nor -sweep is given.
var defaultAlgos = []string{"fixed-window", "sliding-window", "token-bucket", "gcra", "ptb-cwd"}

func compareCommand(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	fs.SetOutput(stderr)
	algos := fs.String("algos", "", "comma-separated algorithms (default: "+strings.Join(defaultAlgos, ",")+")")
	sweep := fs.String("sweep", "", "path=v1,v2,... : run one variant per value of a scenario field")
	out := fs.String("out", "", "output directory (default out/<scenario>)")
	seed := fs.Uint64("seed", 0, "override the scenario's seed (0: keep)")
	var sets setFlags
	fs.Var(&sets, "set", "override a scenario field for every variant (repeatable)")
	gw := addGatewayFlags(fs)
	rep := addReplicationFlags(fs)
	jobs := rep.jobs
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: gwlab compare [-algos a,b,c | -sweep path=v1,v2,...] [-set path=value]... [-gateway gatewayd.yaml [-tier-map FROM=TO,...] [-route-map FROM=TO,...]] [-seed N] [-replications N [-confidence 0.95]] [-j N] [-out DIR] NAME|FILE")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 || (*algos != "" && *sweep != "") || *jobs < 1 {
		fs.Usage()
		return errUsage
	}
	if err := rep.validate(); err != nil {
		return err
	}
	base, err := scenarios.Load(fs.Arg(0))
	if err != nil {
		return err
	}
	if err := applySets(base, sets); err != nil {
		return err
	}
	if err := gw.apply(base); err != nil {
		return err
	}
	dir := *out
	if dir == "" {
		dir = filepath.Join("out", base.Name)
	}
	cmp := schema.Comparison{Scenario: base.Name, Seed: base.Config.Seed, Kind: schema.CompareAlgorithms}
	if *seed != 0 {
		cmp.Seed = *seed
	}
	var names, dirs []string
	var variants []*scenarios.Scenario
	add := func(name, path, value, sub string) error {
		sc := base.Clone()
		if err := sc.Set(path, value); err != nil {
			return err
		}
		names, variants = append(names, name), append(variants, sc)
		dirs = append(dirs, filepath.Join(dir, sanitize(sub)))
		return nil
	}
	if *sweep != "" {
		path, vals, ok := strings.Cut(*sweep, "=")
		if !ok || vals == "" {
			return fmt.Errorf("-sweep %q: want path=v1,v2,...", *sweep)
		}
		cmp.Kind, cmp.Path = schema.CompareSweep, path
		for _, v := range strings.Split(vals, ",") {
			if err := add(v, path, v, path+"="+v); err != nil {
				return err
			}
		}
	} else {
		list := defaultAlgos
		if *algos != "" {
			list = strings.Split(*algos, ",")
		}
		for _, a := range list {
			if err := add(a, "engine.algorithm", a, a); err != nil {
				return err
			}
		}
	}
	reps := ""
	if *rep.n > 1 {
		reps = fmt.Sprintf(" x %d replications (common random numbers)", *rep.n)
	}
	fmt.Fprintf(stderr, "gwlab compare: %s seed %d, %d variants%s, %d at once\n", base.Name, cmp.Seed, len(variants), reps, *jobs)
	bar := newProgress(stderr, base.Name)
	results, err := rep.run(variants, names, scenarios.RunOptions{Seed: *seed, Progress: bar.update})
	bar.done()
	if err != nil {
		return err
	}
	var reportErrs []error
	for i, s := range results {
		if err := writeRun(dirs[i], s); err != nil {
			fmt.Fprintf(stderr, "gwlab compare: %v\n", err)
			reportErrs = append(reportErrs, err)
		}
		rel, err := filepath.Rel(dir, filepath.Join(dirs[i], "summary.json"))
		if err != nil {
			return err
		}
		cmp.Variants = append(cmp.Variants, schema.VariantOf(names[i], rel, s))
		printResult(stdout, dirs[i], s)
		printIntervals(stdout, s)
	}
	if err := schema.WriteComparison(filepath.Join(dir, schema.CompareFile), &cmp); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "comparison -> %s\n", filepath.Join(dir, schema.CompareFile))
	if err := reports.WriteComparisonDir(dir, reports.Options{}); err != nil {
		return fmt.Errorf("comparison report in %s: %w", dir, err)
	}
	return errors.Join(reportErrs...)
}

// sanitize makes a directory name of a variant name.
func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.', r == '=':
			return r
		}
		return '_'
	}, s)
}
