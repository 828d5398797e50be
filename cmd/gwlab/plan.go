package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"tollgate/gatewayd/config"
	"tollgate/plan"
	"tollgate/plans"
	"tollgate/reports"
	"tollgate/reports/cost"
	"tollgate/scenarios"
	"tollgate/schema"
)

func init() {
	commands["plan"] = command{
		summary: "find the cheapest deployment that meets an SLO through spot loss and zone outages: plan [-shard i/n] [-out DIR] SPEC",
		run:     planCommand,
	}
	commands["merge"] = command{
		summary: "combine the partial results of `gwlab plan -shard` into plan.json: merge -out DIR PARTIAL...",
		run:     mergeCommand,
	}
}

func planCommand(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("plan", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "output directory (default out/plan/<spec>)")
	shard := fs.String("shard", "", "evaluate shard i of n (0-based, \"i/n\") and write partial-i-of-n.json instead of plan.json")
	jobs := fs.Int("j", runtime.GOMAXPROCS(0), "simulations to run at once (up to twice as many configurations in flight)")
	prices := fs.String("prices", "", "price sheet YAML (default: the embedded reports/prices.yaml)")
	progress := fs.String("progress", "auto", "progress bar on stderr: auto (when stderr is a terminal), on or off")
	verbose := fs.Bool("v", false, "print each configuration's verdict, simulations and time on stderr as it ends")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: gwlab plan [-shard i/n] [-j N] [-prices FILE] [-out DIR] SPEC")
		fmt.Fprintf(stderr, "SPEC is a built-in spec (%s) or a YAML file.\n", strings.Join(plans.Names(), ", "))
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 || *jobs < 1 {
		fs.Usage()
		return errUsage
	}
	si, sn, err := parseShard(*shard)
	if err != nil {
		return err
	}
	pl, sh, err := loadPlanner(fs.Arg(0), *prices)
	if err != nil {
		return err
	}
	spec := pl.Spec()
	dir := *out
	if dir == "" {
		dir = filepath.Join("out", "plan", spec.Name)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	opts := plan.RunOptions{Workers: *jobs}
	if *verbose {
		opts.Evaluated = func(ev schema.Evaluated, took time.Duration) {
			fmt.Fprintf(stderr, "#%d %s: %s, %d simulations, %v: %s\n", ev.Index, ev.Name, ev.Verdict, ev.Simulations, took.Round(time.Millisecond), ev.Reason)
		}
	}
	if showProgress(*progress, stderr) {
		bar := newProgressBar(stderr, time.Now)
		opts.Progress = bar.update
		defer bar.finish()
	}
	fmt.Fprintf(stderr, "plan %s: %d configurations, shard %d/%d, %d at once, seed %d\n", spec.Name, pl.Header().Candidates, si, sn, *jobs, spec.Seed)
	start := time.Now()
	part, err := pl.Shard(si, sn, opts)
	if err != nil {
		return err
	}
	took := time.Since(start)
	fmt.Fprintf(stderr, "plan %s: %d configurations in %v (%.1f a minute)\n", spec.Name, len(part.Evaluated), took.Round(time.Second),
		float64(len(part.Evaluated))/took.Minutes())
	if *shard != "" {
		path := filepath.Join(dir, fmt.Sprintf("partial-%d-of-%d.json", si, sn))
		if err := writeJSON(path, func(w io.Writer) error { return schema.EncodePartial(w, part) }); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s (%d configurations)\n", path, len(part.Evaluated))
		return nil
	}
	result, err := plan.Merge([]*schema.PlanPartial{part})
	if err != nil {
		return err
	}
	return writePlan(dir, result, sh, pl, stdout)
}

// loadPlanner loads a spec (a built-in name or a file), the price sheet
// (prices, or the embedded one) and the traffic scenario with
// traffic.gateway's design, and prepares the planner.
func loadPlanner(specArg, prices string) (*plan.Planner, *cost.Sheet, error) {
	spec, err := plans.Load(specArg)
	if err != nil {
		return nil, nil, err
	}
	sh, err := reports.LoadPrices(prices)
	if err != nil {
		return nil, nil, err
	}
	sc, err := scenarios.Load(spec.Traffic.Scenario)
	if err != nil {
		return nil, nil, fmt.Errorf("traffic.scenario: %w", err)
	}
	var popts []plan.Option
	if f := spec.Traffic.Gateway; f != "" {
		// the gatewayd config's design, in the vocabulary both files share
		gw, err := config.Load(f)
		if err != nil {
			return nil, nil, fmt.Errorf("traffic.gateway: %w", err)
		}
		g := gatewayOf(f, gw)
		if err := sc.UseGateway(g, spec.Traffic.TierMap, spec.Traffic.RouteMap); err != nil {
			return nil, nil, fmt.Errorf("traffic.gateway: %w", err)
		}
		// a recorded ledger's routes are the config's (traffic.ledger)
		popts = append(popts, plan.WithGateway(f, g.Routes))
	}
	pl, err := plan.New(spec, sh, &sc.Config, popts...)
	if err != nil {
		return nil, nil, err
	}
	return pl, sh, nil
}

func mergeCommand(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("merge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "output directory for plan.json, report.md and the plots (required)")
	prices := fs.String("prices", "", "price sheet YAML for the report (default: the embedded reports/prices.yaml)")
	specArg := fs.String("spec", "", "the plan's spec (built-in name or file): also write the choice as a month scenario, choice.yaml; refused unless it is the partials' spec")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: gwlab merge [-spec SPEC] -out DIR PARTIAL...")
		fmt.Fprintln(stderr, "Combines the partial-i-of-n.json files of every shard of one `gwlab plan -shard` run.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 || *out == "" {
		fs.Usage()
		return errUsage
	}
	var parts []*schema.PlanPartial
	for _, path := range fs.Args() {
		p, err := schema.ReadPartial(path)
		if err != nil {
			return err
		}
		parts = append(parts, p)
	}
	result, err := plan.Merge(parts)
	if err != nil {
		return err
	}
	var pl *plan.Planner
	var sh *cost.Sheet
	if *specArg != "" {
		if pl, sh, err = loadPlanner(*specArg, *prices); err != nil {
			return err
		}
		if h := pl.Header(); h.SpecSHA256 != result.SpecSHA256 {
			return fmt.Errorf("-spec %s (sha256 %.12s, with this price sheet) is not the partials' spec %s (%.12s)", *specArg, h.SpecSHA256, result.Spec, result.SpecSHA256)
		}
	} else if sh, err = reports.LoadPrices(*prices); err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	return writePlan(*out, result, sh, pl, stdout)
}

// writePlan writes plan.json, then report.md, report.html and the frontier
// plots beside it; with a planner and a choice, also the choice as a month
// scenario, choice.yaml (plan.MonthScenario), named <spec>-choice.
func writePlan(dir string, p *schema.Plan, sh *cost.Sheet, pl *plan.Planner, stdout io.Writer) error {
	path := filepath.Join(dir, "plan.json")
	if err := writeJSON(path, func(w io.Writer) error { return schema.EncodePlan(w, p) }); err != nil {
		return err
	}
	if err := reports.WritePlan(dir, p, reports.Options{Prices: sh}); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s\n", path)
	if pl != nil && p.Choice != nil {
		b, err := pl.MonthScenarioYAML(p.Choice.Config, p.Spec+"-choice")
		if err != nil {
			return err
		}
		cp := filepath.Join(dir, "choice.yaml")
		if err := os.WriteFile(cp, b, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s (the choice over a month with its faults: gwlab run %s)\n", cp, cp)
	}
	fmt.Fprintln(stdout, p.Answer)
	return nil
}

func writeJSON(path string, enc func(io.Writer) error) error {
	var buf bytes.Buffer
	if err := enc(&buf); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

// parseShard parses "i/n"; "" is 0/1.
func parseShard(s string) (int, int, error) {
	if s == "" {
		return 0, 1, nil
	}
	a, b, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || n < 1 || n > 100000 || i < 0 || i >= n {
		return 0, 0, fmt.Errorf("-shard: want i/n with 0 <= i < n (0-based), got %q", s)
	}
	return i, n, nil
}

func showProgress(mode string, w io.Writer) bool {
	switch mode {
	case "on":
		return true
	case "off":
		return false
	}
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// progressBar draws "[#####.....] 12/40 configurations, 3m10s left" on one
// terminal line.
type progressBar struct {
	w     io.Writer
	now   func() time.Time
	start time.Time
	drawn bool
}

func newProgressBar(w io.Writer, now func() time.Time) *progressBar {
	return &progressBar{w: w, now: now, start: now()}
}

func (b *progressBar) update(done, total int) {
	fmt.Fprint(b.w, "\r"+progressLine(done, total, b.now().Sub(b.start)))
	b.drawn = true
}

func (b *progressBar) finish() {
	if b.drawn {
		fmt.Fprintln(b.w)
	}
}

// progressLine is the bar's text: done of total configurations and the time
// left at the rate so far.
func progressLine(done, total int, elapsed time.Duration) string {
	const width = 30
	if total <= 0 {
		return ""
	}
	fill := done * width / total
	left := "?"
	if done > 0 {
		left = (elapsed * time.Duration(total-done) / time.Duration(done)).Round(time.Second).String()
	}
	return fmt.Sprintf("[%s%s] %d/%d configurations, %s left ", strings.Repeat("#", fill), strings.Repeat(".", width-fill), done, total, left)
}
