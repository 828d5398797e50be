package reports

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"tollgate/reports/cost"
	"tollgate/reports/plot"
	"tollgate/schema"
)

// ReadComparison reads a comparison directory. With DIR/compare.json (as
// `gwlab compare` writes it) the runs are its variants in its order,
// labelled by variant name, and param is the swept field ("" for an
// algorithm comparison). Without it, the runs are DIR/*/summary.json sorted
// by directory, labelled by directory name.
func ReadComparison(dir string) (ss []*schema.Summary, labels []string, param string, err error) {
	path := filepath.Join(dir, schema.CompareFile)
	if _, err := os.Stat(path); err == nil {
		c, err := schema.ReadComparison(path)
		if err != nil {
			return nil, nil, "", fmt.Errorf("reports: %w", err)
		}
		for i, v := range c.Variants {
			s, err := schema.ReadSummary(c.SummaryPath(dir, i))
			if err != nil {
				return nil, nil, "", fmt.Errorf("reports: %s: variants[%d]: %w", path, i, err)
			}
			ss = append(ss, s)
			labels = append(labels, v.Name)
		}
		return ss, labels, c.Path, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, nil, "", fmt.Errorf("reports: %w", err)
	}
	paths, err := filepath.Glob(filepath.Join(dir, "*", "summary.json"))
	if err != nil {
		return nil, nil, "", fmt.Errorf("reports: %w", err)
	}
	if len(paths) == 0 {
		return nil, nil, "", fmt.Errorf("reports: %s: no compare.json and no */summary.json to compare", dir)
	}
	sort.Strings(paths)
	for _, p := range paths {
		s, err := schema.ReadSummary(p)
		if err != nil {
			return nil, nil, "", fmt.Errorf("reports: %w", err)
		}
		ss = append(ss, s)
		labels = append(labels, filepath.Base(filepath.Dir(p)))
	}
	return ss, labels, "", nil
}

// labelsFor names runs by what differs between them.
func labelsFor(ss []*schema.Summary) []string {
	distinct := func(get func(*schema.Summary) string) bool {
		seen := map[string]bool{}
		for _, s := range ss {
			seen[get(s)] = true
		}
		return len(seen) == len(ss)
	}
	out := make([]string, len(ss))
	for i, s := range ss {
		switch {
		case distinct(func(s *schema.Summary) string { return s.Algorithm }):
			out[i] = s.Algorithm
		case distinct(func(s *schema.Summary) string { return s.Scenario }):
			out[i] = s.Scenario
		case distinct(func(s *schema.Summary) string { return s.Scenario + "/" + s.Algorithm }):
			out[i] = s.Scenario + "/" + s.Algorithm
		default:
			out[i] = fmt.Sprintf("run %d", i+1)
		}
	}
	return out
}

// WriteComparison writes report.md, report.html and the figures (compare,
// frontier, latency_cdf) for runs side by side into dir. Labels come from
// opts.Labels, else from what differs between the runs.
func WriteComparison(dir string, summaries []*schema.Summary, opts Options) error {
	d, figs, err := comparisonDocument(summaries, opts)
	if err != nil {
		return err
	}
	return write(dir, d, figs, opts)
}

func comparisonDocument(ss []*schema.Summary, opts Options) (*document, []*plot.Figure, error) {
	if len(ss) == 0 {
		return nil, nil, errors.New("reports: comparison: no summaries")
	}
	labels := opts.Labels
	if len(labels) == 0 {
		labels = labelsFor(ss)
	}
	if len(labels) != len(ss) {
		return nil, nil, fmt.Errorf("reports: comparison: %d labels for %d summaries", len(labels), len(ss))
	}
	scen := map[string]bool{}
	for _, s := range ss {
		scen[s.Scenario] = true
	}
	names := make([]string, 0, len(scen))
	for n := range scen {
		names = append(names, n)
	}
	sort.Strings(names)
	title := opts.Title
	if title == "" {
		title = "tollgate comparison: " + strings.Join(names, ", ")
		if opts.Param != "" {
			title += " over " + opts.Param
		}
	}
	d := &document{title: title}
	d.p("%d runs. Cost is each run's own deployment scaled to a month at its traffic, everything included; availability counts 429s as available.", len(ss))
	var rows [][]string
	var pts []plot.Point
	var series []plot.Series
	costs := make([]float64, len(ss))
	var replicated *schema.Intervals
	for i, s := range ss {
		rc, err := PriceRun(s, opts)
		if err != nil {
			return nil, nil, fmt.Errorf("reports: comparison %s: %w", labels[i], err)
		}
		cpb := rc.Own().PerBillion()
		costs[i] = cpb
		if iv := s.Intervals; iv != nil {
			replicated = iv
			pc := func(prec int) func(float64) string { return func(x float64) string { return pct(x, prec) } }
			cost := usd(cpb)
			if iv.CostPerBillion != nil {
				cost = estimate(*iv.CostPerBillion, usd)
			}
			rows = append(rows, []string{labels[i], s.Algorithm, fmt.Sprint(s.Seed), estimate(iv.P50MS, ms), estimate(iv.P99MS, ms), ms(s.LatencyMS.P999),
				estimate(iv.Rate429, pc(3)), estimate(iv.False429Rate, pc(4)), estimate(iv.OverAdmission, pc(4)), trim(s.RedisOpsPerRequest, 3),
				estimate(iv.Availability, pc(4)), nines(iv.Availability.Mean), cost})
		} else {
			rows = append(rows, []string{labels[i], s.Algorithm, fmt.Sprint(s.Seed), ms(s.LatencyMS.P50), ms(s.LatencyMS.P99), ms(s.LatencyMS.P999),
				pct(s.Rate429.Overall, 3), pct(s.False429.Rate, 4), pct(s.OverAdmission.Ratio, 4), trim(s.RedisOpsPerRequest, 3),
				pct(s.Availability, 4), nines(s.Availability), usd(cpb)})
		}
		pts = append(pts, plot.Point{Label: labels[i], CostPerBillion: cpb, Availability: s.Availability})
		series = append(series, plot.Series{Label: labels[i], CDF: s.LatencyCDF})
	}
	if replicated != nil {
		d.p("Replicated runs: cells with brackets are the mean of the replications with its %s confidence interval, mean [lower, upper] (%d replications of the first replicated run; in a `gwlab compare -replications` every variant ran replication r with the same seed, common random numbers). p99.9, Redis operations and the seed are replication 0's.",
			pct(replicated.Confidence, 0), replicated.Replications)
	}
	d.table(table{
		head:  []string{"run", "algorithm", "seed", "p50 ms", "p99 ms", "p99.9 ms", "429 rate", "false 429s", "over-admission", "Redis ops/req", "availability", "nines", "USD per billion"},
		right: []bool{false, false, true, true, true, true, true, true, true, true, true, true, true},
		rows:  rows,
	})
	// The plain answer: the cheapest run that holds four nines.
	// A replicated run holds four nines when its interval's lower bound does.
	avail := func(s *schema.Summary) float64 {
		if s.Intervals != nil {
			return s.Intervals.Availability.Lower
		}
		return s.Availability
	}
	best := -1
	for i, s := range ss {
		if avail(s) >= cost.ClaimAvailability && (best < 0 || costs[i] < costs[best]) {
			best = i
		}
	}
	if best >= 0 {
		d.p("**Cheapest run at 99.99%% or better:** %s (%s) at %s per billion requests, availability %s.",
			labels[best], FleetName(ss[best]), usd(costs[best]), pct(avail(ss[best]), 4))
	} else {
		d.p("**No run reaches 99.99%% availability.**")
	}
	var figs []*plot.Figure
	addFig := func(f *plot.Figure, err error) error {
		if errors.Is(err, plot.ErrNoData) {
			return nil
		}
		if err != nil {
			return err
		}
		figs = append(figs, f)
		d.figure(figure{fig: f})
		return nil
	}
	d.h(2, "Side by side")
	if err := addFig(plot.Comparison(title, labels, ss)); err != nil {
		return nil, nil, err
	}
	d.h(2, "Cost versus availability")
	if err := addFig(plot.Frontier("cost vs availability", opts.Param, pts)); err != nil {
		return nil, nil, err
	}
	d.h(2, "Latency distributions")
	if err := addFig(plot.LatencyCDF("latency CDF", series, schema.Percentiles{})); err != nil {
		return nil, nil, err
	}
	if opts.NoFigures {
		figs = nil
		var kept []any
		for _, b := range d.blocks {
			if _, ok := b.(figure); !ok {
				kept = append(kept, b)
			}
		}
		d.blocks = kept
	}
	return d, figs, nil
}

// WriteComparisonDir reads a comparison directory (see ReadComparison) and
// writes the comparison into it. opts.Labels and opts.Param, when set,
// override what the directory says.
func WriteComparisonDir(dir string, opts Options) error {
	ss, labels, param, err := ReadComparison(dir)
	if err != nil {
		return err
	}
	if len(opts.Labels) == 0 {
		if param != "" {
			// A sweep's variants are bare values: name them field=value.
			field := param[strings.LastIndex(param, ".")+1:]
			for i, l := range labels {
				labels[i] = field + "=" + l
			}
		}
		opts.Labels = labels
	}
	if opts.Param == "" {
		opts.Param = param
	}
	return WriteComparison(dir, ss, opts)
}
