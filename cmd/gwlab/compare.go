package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"tollgate/scenarios"
	"tollgate/sim/summary"
)

func init() {
	commands["compare"] = command{
		summary: "run one scenario across algorithms or values of one field, in parallel: compare [-algos a,b | -sweep path=v1,v2] [-out DIR] NAME",
		run:     compareCommand,
	}
}

// defaultAlgos are compared when neither -algos nor -sweep is given.
var defaultAlgos = []string{"fixed-window", "sliding-window", "token-bucket", "gcra", "ptb-cwd"}

// Comparison is compare.json: the variants of one comparison and where
// their summaries are.
type Comparison struct {
	Scenario string `json:"scenario"`
	Seed     uint64 `json:"seed"`
	// Kind is "algorithms" or "sweep".
	Kind string `json:"kind"`
	// Path is the swept field (sweeps only).
	Path     string    `json:"path,omitempty"`
	Variants []Variant `json:"variants"`
}

// Variant is one run of a comparison.
type Variant struct {
	// Name is the algorithm or the swept value.
	Name string `json:"name"`
	// Summary is the summary.json path, relative to compare.json's directory.
	Summary      string  `json:"summary"`
	Requests     int64   `json:"requests"`
	Rate429      float64 `json:"rate_429"`
	False429     float64 `json:"false_429_rate"`
	OverAdmitted float64 `json:"over_admission_ratio"`
	Availability float64 `json:"availability"`
	P99MS        float64 `json:"p99_ms"`
}

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
	cmp := Comparison{Scenario: base.Name, Seed: base.Config.Seed, Kind: "algorithms"}
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
		cmp.Kind, cmp.Path = "sweep", path
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
	results := make([]*summary.Summary, len(todo))
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
		cmp.Variants = append(cmp.Variants, Variant{Name: j.name, Summary: rel, Requests: s.Requests.Total,
			Rate429: s.Rate429.Overall, False429: s.False429.Rate, OverAdmitted: s.OverAdmission.Ratio,
			Availability: s.Availability, P99MS: s.LatencyMS.P99})
		printResult(stdout, j.dir, s)
	}
	b, err := json.MarshalIndent(cmp, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "compare.json"), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("compare.json: %w", err)
	}
	fmt.Fprintf(stdout, "comparison -> %s\n", filepath.Join(dir, "compare.json"))
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
