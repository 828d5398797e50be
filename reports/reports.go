// Package reports turns summary.json files into what people read: report.md,
// a self-contained report.html (figures inline as SVG, no scripts, no remote
// assets) and the figures as PNG and SVG, for one run (WriteRun) or for a set
// of runs compared side by side (WriteComparison). It prices every run with
// the cost model in reports/cost against the embedded price sheet
// (prices.yaml) or one the caller supplies, and answers the "$40 per billion"
// claim from that sheet.
//
// reports reads only the files defined in tollgate/schema (summary.json,
// compare.json); it imports no simulator internals. Subpackages: cost (price
// sheet and bills), plot (figures) and slo (the CI gate).
//
// Example:
//
//	s, err := schema.ReadSummary("out/spot-loss/gcra/summary.json")
//	if err != nil { ... }
//	err = reports.WriteRun("out/spot-loss/gcra", s, reports.Options{})
package reports

import (
	_ "embed"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"tollgate/reports/cost"
	"tollgate/reports/plot"
	"tollgate/schema"
)

//go:embed prices.yaml
var pricesYAML []byte

var (
	defaultOnce  sync.Once
	defaultSheet *cost.Sheet
	defaultErr   error
)

// DefaultPrices returns the embedded price sheet (reports/prices.yaml). The
// sheet is parsed once and shared: treat it as read-only.
func DefaultPrices() (*cost.Sheet, error) {
	defaultOnce.Do(func() {
		defaultSheet, defaultErr = cost.Parse(pricesYAML)
		if defaultErr != nil {
			defaultErr = fmt.Errorf("reports: embedded prices.yaml: %w", defaultErr)
		}
	})
	return defaultSheet, defaultErr
}

// LoadPrices returns the sheet in path, or the embedded one if path is "".
func LoadPrices(path string) (*cost.Sheet, error) {
	if path == "" {
		return DefaultPrices()
	}
	return cost.LoadFile(path)
}

// Options tune a report. The zero value uses the embedded price sheet and
// the worked example's assumptions, and writes every figure.
type Options struct {
	// Prices is the price sheet (nil: DefaultPrices).
	Prices *cost.Sheet
	// Assumptions fill what a summary does not measure (nil:
	// cost.DefaultAssumptions).
	Assumptions *cost.Assumptions
	// NoFigures skips the PNG/SVG files and the figures in the reports.
	NoFigures bool
	// Labels name the runs of a comparison (default: what differs between
	// them: algorithm, else scenario, else seed).
	Labels []string
	// Param is the swept parameter of a comparison, for the frontier's title.
	Param string
	// Title overrides the report's title.
	Title string
}

func (o Options) sheet() (*cost.Sheet, error) {
	if o.Prices != nil {
		return o.Prices, nil
	}
	return DefaultPrices()
}

func (o Options) assumptions() cost.Assumptions {
	if o.Assumptions != nil {
		return *o.Assumptions
	}
	return cost.DefaultAssumptions()
}

// RunCost is one run priced for a month at its traffic.
type RunCost struct {
	Usage cost.Usage
	// Fleet is the self-hosted bill (zero for a managed run); REST and HTTP
	// are the managed alternatives for the same traffic.
	cost.Comparison
	// Managed reports the run itself used the managed gateway.
	Managed bool
}

// Own is the bill of the deployment the run used: its fleet, or for a
// managed run the HTTP API (the cheaper managed product; the run's own flat
// price per million, if it gives one, replaces the tiers).
func (rc RunCost) Own() cost.Bill {
	if rc.Managed {
		return rc.HTTP
	}
	return rc.Fleet
}

// FleetName describes a run's fleet from its node-hours ("3.0x c7g.medium
// spot + 1.0x c7g.medium on-demand", average nodes over the run).
func FleetName(s *schema.Summary) string {
	if s.Deployment == "managed" {
		return "managed gateway"
	}
	if len(s.Fleet.Nodes) == 0 || !(s.DurationS > 0) {
		return "self-hosted fleet"
	}
	hrs := s.DurationS / 3600
	nodes := append([]schema.NodeHours(nil), s.Fleet.Nodes...)
	sort.Slice(nodes, func(i, j int) bool {
		if nodes[i].InstanceType != nodes[j].InstanceType {
			return nodes[i].InstanceType < nodes[j].InstanceType
		}
		return nodes[i].Market < nodes[j].Market
	})
	var parts []string
	for _, n := range nodes {
		parts = append(parts, fmt.Sprintf("%sx %s %s", trim(n.Hours/hrs, 1), n.InstanceType, n.Market))
	}
	return strings.Join(parts, " + ")
}

// PriceRun prices a run: its fleet scaled to a month, and the managed
// alternatives for the same monthly traffic.
func PriceRun(s *schema.Summary, opts Options) (RunCost, error) {
	sh, err := opts.sheet()
	if err != nil {
		return RunCost{}, err
	}
	u, err := cost.SummaryUsage(sh, s, opts.assumptions())
	if err != nil {
		return RunCost{}, fmt.Errorf("reports: %w", err)
	}
	rc := RunCost{Usage: u, Managed: s.Deployment == "managed"}
	rc.REST = cost.ManagedBill(sh, cost.REST, u)
	rc.HTTP = cost.ManagedBill(sh, cost.HTTP, u)
	if rc.Managed {
		if p := s.Fleet.ManagedPricePerMillionUSD; p > 0 {
			for i, l := range rc.HTTP.Lines {
				if l.Component == cost.CRequests {
					rc.HTTP.Lines[i] = cost.Line{Component: cost.CRequests, Detail: fmt.Sprintf("scenario's flat $%.2f per million", p), USD: u.Requests / 1e6 * p}
				}
			}
			rc.HTTP.Name = "managed gateway (scenario price)"
		}
		return rc, nil
	}
	fb, err := cost.FleetBill(sh, "self-hosted: "+FleetName(s), u)
	if err != nil {
		return RunCost{}, fmt.Errorf("reports: %w", err)
	}
	rc.Fleet = fb
	return rc, nil
}

// CostPerBillion is the run's own deployment's bill per billion requests,
// everything included (egress too): the figure the SLO's
// max_cost_per_billion checks.
func CostPerBillion(s *schema.Summary, opts Options) (float64, error) {
	rc, err := PriceRun(s, opts)
	if err != nil {
		return 0, err
	}
	return rc.Own().PerBillion(), nil
}

// WriteRun writes report.md, report.html and the figures (latency_cdf,
// rate_429, cost_breakdown as .png and .svg) for one run into dir.
func WriteRun(dir string, s *schema.Summary, opts Options) error {
	d, figs, err := runDocument(s, opts)
	if err != nil {
		return err
	}
	return write(dir, d, figs, opts)
}

func write(dir string, d *document, figs []*plot.Figure, opts Options) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("reports: %w", err)
	}
	if !opts.NoFigures {
		for _, f := range figs {
			pngb, err := f.PNG()
			if err != nil {
				return fmt.Errorf("reports: %w", err)
			}
			svgb, err := f.SVG()
			if err != nil {
				return fmt.Errorf("reports: %w", err)
			}
			if err := os.WriteFile(filepath.Join(dir, f.Name+".png"), pngb, 0o644); err != nil {
				return fmt.Errorf("reports: %w", err)
			}
			if err := os.WriteFile(filepath.Join(dir, f.Name+".svg"), svgb, 0o644); err != nil {
				return fmt.Errorf("reports: %w", err)
			}
		}
		for i, bl := range d.blocks {
			if f, ok := bl.(figure); ok {
				svg, err := f.fig.InlineSVG()
				if err != nil {
					return fmt.Errorf("reports: %w", err)
				}
				f.svg = svg
				d.blocks[i] = f
			}
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "report.md"), []byte(d.markdown()), 0o644); err != nil {
		return fmt.Errorf("reports: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "report.html"), []byte(d.html()), 0o644); err != nil {
		return fmt.Errorf("reports: %w", err)
	}
	return nil
}

// Formatting helpers: fixed precision so the same summary gives the same
// bytes.

func trim(x float64, prec int) string {
	s := fmt.Sprintf("%.*f", prec, x)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

func usd(x float64) string {
	switch {
	case math.IsNaN(x) || math.IsInf(x, 0):
		return "-"
	case math.Abs(x) >= 1e6:
		return "$" + commas(x, 0)
	case math.Abs(x) >= 1000:
		return "$" + commas(x, 0)
	case math.Abs(x) >= 0.01 || x == 0:
		return fmt.Sprintf("$%.2f", x)
	default:
		return fmt.Sprintf("$%.4f", x)
	}
}

func commas(x float64, prec int) string {
	s := fmt.Sprintf("%.*f", prec, math.Abs(x))
	intPart, frac, _ := strings.Cut(s, ".")
	var b strings.Builder
	if x < 0 {
		b.WriteByte('-')
	}
	for i := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteByte(intPart[i])
	}
	if frac != "" {
		b.WriteString("." + frac)
	}
	return b.String()
}

func pct(x float64, prec int) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return "-"
	}
	return fmt.Sprintf("%.*f%%", prec, x*100)
}

func ms(x float64) string {
	switch {
	case math.IsNaN(x) || math.IsInf(x, 0):
		return "-"
	case x >= 100:
		return fmt.Sprintf("%.0f", x)
	case x >= 10:
		return fmt.Sprintf("%.1f", x)
	default:
		return fmt.Sprintf("%.2f", x)
	}
}

func count(n int64) string { return commas(float64(n), 0) }

func share(n, total int64) string {
	if total <= 0 {
		return "-"
	}
	return pct(float64(n)/float64(total), 3)
}

func nines(a float64) string {
	if n := plot.Nines(a); n < 7 {
		return fmt.Sprintf("%.2f", n)
	}
	return "7+"
}
