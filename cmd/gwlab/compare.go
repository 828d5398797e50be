package main

import (
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"tollgate/scenarios"
	"tollgate/schema"
)

func init() {
	commands["compare"] = command{
		summary: "run one scenario across algorithms or values of one field, in parallel: compare [-algos a,b | -sweep path=v1,v2] [-out DIR] NAME",
		run:     compareCommand,
	}
}

// defaultAlgos are compared when neither -algos nor -sweep is given.
var defaultAlgos = []string{"fixed-window", "sliding-window", "token-bucket", "gcra", "ptb-cwd"}

func compareCommand(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	fs.SetOutput(stderr)
	algos := fs.String("algos", "", "comma-separated algorithms (default: "+strings.Join(defaultAlgos, ",")+")")
	sweep := fs.String("sweep", "", "path=v1,v2,... : run one variant per value of a scenario field")
	out := fs.String("out", "", "output directory (default out/<scenario>)")
	seed := fs.Uint64("seed", 0, "override the scenario's seed (0: keep)")
	jobs := fs.Int("j", runtime.GOMAXPROCS(0), "simulations to run at once")
	var sets setFlags
	fs.Var(&sets, "set", "override a scenario field for every variant (repeatable)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: gwlab compare [-algos a,b,c | -sweep path=v1,v2,...] [-set path=value]... [-seed N] [-out DIR] NAME|FILE")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 || (*algos != "" && *sweep != "") || *jobs < 1 {
		fs.Usage()
		return errUsage
	}
	base, err := scenarios.Load(fs.Arg(0))
	if err != nil {
		return err
	}
	if err := applySets(base, sets); err != nil {
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
	type job struct {
		name string
		sc   *scenarios.Scenario
		dir  string
	}
	var todo []job
	if *sweep != "" {
		path, vals, ok := strings.Cut(*sweep, "=")
		if !ok || vals == "" {
			return fmt.Errorf("-sweep %q: want path=v1,v2,...", *sweep)
		}
		cmp.Kind, cmp.Path = schema.CompareSweep, path
		for _, v := range strings.Split(vals, ",") {
			sc := clone(base)
			if err := sc.Set(path, v); err != nil {
				return err
			}
			todo = append(todo, job{v, sc, filepath.Join(dir, sanitize(path+"="+v))})
		}
	} else {
		list := defaultAlgos
		if *algos != "" {
			list = strings.Split(*algos, ",")
		}
		for _, a := range list {
			sc := clone(base)
			if err := sc.Set("engine.algorithm", a); err != nil {
				return err
			}
			todo = append(todo, job{a, sc, filepath.Join(dir, sanitize(a))})
		}
	}
	fmt.Fprintf(stderr, "gwlab compare: %s seed %d, %d variants, %d at once\n", base.Name, cmp.Seed, len(todo), *jobs)
	bar := newProgress(stderr, base.Name)
	fracs := make([]float64, len(todo))
	var fmu sync.Mutex
	results := make([]*schema.Summary, len(todo))
	errs := make([]error, len(todo))
	sem := make(chan struct{}, *jobs)
	var wg sync.WaitGroup
	for i, j := range todo {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			results[i], errs[i] = scenarios.Run(j.sc, scenarios.RunOptions{Seed: *seed, Progress: func(f float64) {
				fmu.Lock()
				fracs[i] = f
				sum := 0.0
				for _, x := range fracs {
					sum += x
				}
				fmu.Unlock()
				bar.update(sum / float64(len(fracs)))
			}})
		}()
	}
	wg.Wait()
	bar.done()
	for i, j := range todo {
		if errs[i] != nil {
			return fmt.Errorf("%s: %w", j.name, errs[i])
		}
	}
	var hookErr error
	for i, j := range todo {
		s := results[i]
		if err := writeRun(j.dir, s, stderr); err != nil {
			hookErr = err
		}
		rel, _ := filepath.Rel(dir, filepath.Join(j.dir, "summary.json"))
		cmp.Variants = append(cmp.Variants, schema.VariantOf(j.name, rel, s))
		printResult(stdout, j.dir, s)
	}
	if err := schema.WriteComparison(filepath.Join(dir, schema.CompareFile), &cmp); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "comparison -> %s\n", filepath.Join(dir, schema.CompareFile))
	for _, h := range afterCompare {
		if err := h(dir); err != nil {
			return fmt.Errorf("comparison report in %s: %w", dir, err)
		}
	}
	return hookErr
}

// clone deep-copies a scenario by re-parsing nothing: Set replaces whole
// values, so copying the slices the overrides may touch is enough.
func clone(sc *scenarios.Scenario) *scenarios.Scenario {
	c := *sc
	cfg := &c.Config
	cfg.Tiers = append(cfg.Tiers[:0:0], cfg.Tiers...)
	cfg.Routes = append(cfg.Routes[:0:0], cfg.Routes...)
	cfg.Faults = append(cfg.Faults[:0:0], cfg.Faults...)
	cfg.Traffic.Groups = append(cfg.Traffic.Groups[:0:0], cfg.Traffic.Groups...)
	cfg.Topology.Zones = append(cfg.Topology.Zones[:0:0], cfg.Topology.Zones...)
	cfg.Topology.Nodes = append(cfg.Topology.Nodes[:0:0], cfg.Topology.Nodes...)
	if cfg.Engine.OperationalBucket != nil {
		v := *cfg.Engine.OperationalBucket
		cfg.Engine.OperationalBucket = &v
	}
	if cfg.Engine.CostWeighted != nil {
		v := *cfg.Engine.CostWeighted
		cfg.Engine.CostWeighted = &v
	}
	return &c
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
