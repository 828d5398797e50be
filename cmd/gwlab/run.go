package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"tollgate/reports"
	"tollgate/scenarios"
	"tollgate/schema"
)

// setFlags collects repeated -set path=value flags.
type setFlags []string

func (s *setFlags) String() string     { return strings.Join(*s, " ") }
func (s *setFlags) Set(v string) error { *s = append(*s, v); return nil }

// applySets applies every -set override in order, then validates the
// scenario once (scenarios.Scenario.SetAll).
func applySets(sc *scenarios.Scenario, sets []string) error {
	if err := sc.SetAll(sets); err != nil {
		return fmt.Errorf("-set: %w", err)
	}
	return nil
}

func runCommand(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	seed := fs.Uint64("seed", 0, "override the scenario's seed (0: keep)")
	algo := fs.String("algo", "", "override engine.algorithm")
	out := fs.String("out", "", "output directory (default out/<scenario>)")
	var sets setFlags
	fs.Var(&sets, "set", "override a scenario field by its YAML path, e.g. -set engine.clock=client (repeatable)")
	gw := addGatewayFlags(fs)
	rep := addReplicationFlags(fs)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: gwlab run [-seed N] [-algo NAME] [-set path=value]... [-gateway gatewayd.yaml [-tier-map FROM=TO,...] [-route-map FROM=TO,...]] [-replications N [-confidence 0.95] [-j N]] [-out DIR] NAME|FILE")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errUsage
	}
	if err := rep.validate(); err != nil {
		return err
	}
	sc, err := scenarios.Load(fs.Arg(0))
	if err != nil {
		return err
	}
	if err := applySets(sc, sets); err != nil {
		return err
	}
	if err := gw.apply(sc); err != nil {
		return err
	}
	dir := *out
	if dir == "" {
		dir = filepath.Join("out", sc.Name)
	}
	seedUsed := sc.Config.Seed
	if *seed != 0 {
		seedUsed = *seed
	}
	if *rep.n > 1 {
		fmt.Fprintf(stderr, "gwlab run: %s seed %d, %d replications, %d at once\n", sc.Name, seedUsed, *rep.n, *rep.jobs)
	} else {
		fmt.Fprintf(stderr, "gwlab run: %s seed %d\n", sc.Name, seedUsed)
	}
	bar := newProgress(stderr, sc.Name)
	ss, err := rep.run([]*scenarios.Scenario{sc}, []string{sc.Name}, scenarios.RunOptions{Seed: *seed, Algorithm: *algo, Progress: bar.update})
	bar.done()
	if err != nil {
		return err
	}
	s := ss[0]
	if err := writeRun(dir, s); err != nil {
		return err
	}
	printResult(stdout, dir, s)
	printIntervals(stdout, s)
	return nil
}

// writeRun writes summary.json into dir, then report.md, report.html and
// the figures beside it, priced with the embedded sheet.
func writeRun(dir string, s *schema.Summary) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("output: %w", err)
	}
	if err := schema.WriteSummary(filepath.Join(dir, "summary.json"), s); err != nil {
		return err
	}
	if err := reports.WriteRun(dir, s, reports.Options{}); err != nil {
		return fmt.Errorf("report for %s: %w", dir, err)
	}
	return nil
}

func printResult(w io.Writer, dir string, s *schema.Summary) {
	fmt.Fprintf(w, "%s (%s, seed %d): %d requests, 429 %.2f%%, false 429 %.3f%%, over-admission %.3f%%, availability %.5f, p99 %.2f ms -> %s\n",
		s.Scenario, s.Algorithm, s.Seed, s.Requests.Total, 100*s.Rate429.Overall, 100*s.False429.Rate,
		100*s.OverAdmission.Ratio, s.Availability, s.LatencyMS.P99, filepath.Join(dir, "summary.json"))
}

// progress draws a bar on stderr when it is a terminal and the run has
// lasted more than a second. It is safe for concurrent use.
type progress struct {
	mu      sync.Mutex
	w       io.Writer
	label   string
	tty     bool
	start   time.Time
	drawn   bool
	lastPct int
}

func newProgress(w io.Writer, label string) *progress {
	return &progress{w: w, label: label, tty: isTerminal(w), start: time.Now(), lastPct: -1}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func (p *progress) update(frac float64) {
	if p == nil || !p.tty {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if time.Since(p.start) < time.Second {
		return
	}
	pct := int(frac * 100)
	if pct == p.lastPct {
		return
	}
	p.lastPct = pct
	const width = 40
	n := pct * width / 100
	fmt.Fprintf(p.w, "\r%-16s [%s%s] %3d%% %s", p.label, strings.Repeat("=", n), strings.Repeat(" ", width-n), pct,
		time.Since(p.start).Truncate(100*time.Millisecond))
	p.drawn = true
}

func (p *progress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		fmt.Fprintln(p.w)
	}
}
