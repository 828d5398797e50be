// Package plot draws tollgate's report figures with gonum/plot: the latency
// CDF on a log axis, the 429 rate over time with fault markers, the cost
// breakdown against the managed alternatives, algorithms side by side, and
// the cost-versus-availability frontier. Each function returns a Figure that
// renders to PNG or SVG; rendering is deterministic (same input, same bytes),
// reads no clock and uses only the fonts embedded in gonum/plot.
package plot

import (
	"bytes"
	"errors"
	"fmt"
	"image/color"
	"math"
	"sort"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"

	"tollgate/reports/cost"
	"tollgate/schema"
)

// ErrNoData is returned when a figure has nothing to draw.
var ErrNoData = errors.New("plot: no data")

// Figure is one rendered-on-demand image.
type Figure struct {
	// Name is the file stem: "latency_cdf" gives latency_cdf.png and .svg.
	Name string
	// Title is a one-line caption.
	Title         string
	Width, Height vg.Length
	draw          func(dc draw.Canvas)
	// labels, faults and legend are, after drawing, the point labels placed,
	// a timeline's fault labels and the legend's rectangle (for tests of
	// overlap and clipping).
	labels *placedLabels
	faults *faultLabels
	legend vg.Rectangle
}

// DPI of the PNGs.
const DPI = 96

// PNG renders f as a PNG.
func (f *Figure) PNG() ([]byte, error) {
	c := vgimg.NewWith(vgimg.UseWH(f.Width, f.Height), vgimg.UseDPI(DPI), vgimg.UseBackgroundColor(color.White))
	f.draw(draw.New(c))
	var buf bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: c}).WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("plot: %s: png: %w", f.Name, err)
	}
	return buf.Bytes(), nil
}

// SVG renders f as a standalone SVG document.
func (f *Figure) SVG() ([]byte, error) {
	c := vgsvg.New(f.Width, f.Height)
	dc := draw.New(c)
	dc.SetColor(color.White)
	dc.Fill(dc.Rectangle.Path())
	f.draw(dc)
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("plot: %s: svg: %w", f.Name, err)
	}
	return buf.Bytes(), nil
}

// InlineSVG renders f as an <svg> element fit for embedding in HTML: the XML
// prolog and comments are dropped and the size becomes responsive.
func (f *Figure) InlineSVG() (string, error) {
	b, err := f.SVG()
	if err != nil {
		return "", err
	}
	s := string(b)
	i := strings.Index(s, "<svg")
	if i < 0 {
		return "", fmt.Errorf("plot: %s: svg: no <svg> element", f.Name)
	}
	s = s[i:]
	return s, nil
}

func single(name, title string, w, h vg.Length, p *plot.Plot) *Figure {
	return &Figure{Name: name, Title: title, Width: w, Height: h, draw: p.Draw}
}

var (
	// Palette: colour-blind-safe (Okabe-Ito).
	palette = []color.RGBA{
		{0, 114, 178, 255},   // blue
		{213, 94, 0, 255},    // vermillion
		{0, 158, 115, 255},   // green
		{204, 121, 167, 255}, // purple
		{230, 159, 0, 255},   // orange
		{86, 180, 233, 255},  // sky
		{240, 228, 66, 255},  // yellow
		{0, 0, 0, 255},       // black
		{140, 86, 75, 255},   // brown
		{68, 90, 140, 255},   // slate
		{120, 150, 40, 255},  // olive
	}
	faultFill = color.NRGBA{255, 120, 120, 70}
	grey      = color.RGBA{110, 110, 110, 255}
)

// Color is the i-th series colour.
func Color(i int) color.RGBA { return palette[((i%len(palette))+len(palette))%len(palette)] }

func newPlot(title, x, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = x
	p.Y.Label.Text = y
	p.Title.TextStyle.Font.Size = vg.Points(12)
	p.Add(plotter.NewGrid())
	return p
}

// Series is a labelled latency CDF.
type Series struct {
	Label string
	CDF   []schema.CDFPoint
}

// LatencyCDF plots each series' cumulative distribution with the latency on
// a log axis; marks the first series' p50, p99 and p99.9 when given.
func LatencyCDF(title string, series []Series, marks schema.Percentiles) (*Figure, error) {
	p := newPlot(title, "latency (ms, log scale)", "fraction of requests ≤ latency")
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = logTicks{}
	p.Y.Min, p.Y.Max = 0, 1
	lo, hi := math.Inf(1), math.Inf(-1)
	n := 0
	for i, s := range series {
		var xys plotter.XYs
		for _, pt := range s.CDF {
			if pt.ValueMS > 0 && finite(pt.ValueMS) && finite(pt.Fraction) {
				xys = append(xys, plotter.XY{X: pt.ValueMS, Y: clamp(pt.Fraction, 0, 1)})
				lo, hi = math.Min(lo, pt.ValueMS), math.Max(hi, pt.ValueMS)
			}
		}
		if len(xys) == 0 {
			continue
		}
		l, err := plotter.NewLine(xys)
		if err != nil {
			return nil, fmt.Errorf("plot: latency cdf %q: %w", s.Label, err)
		}
		l.Color = Color(i)
		l.Width = vg.Points(2)
		p.Add(l)
		if len(series) > 1 || s.Label != "" {
			p.Legend.Add(s.Label, l)
		}
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("%w: latency cdf: no positive latencies", ErrNoData)
	}
	if lo == hi {
		lo, hi = lo/2, hi*2
	}
	p.X.Min, p.X.Max = lo, hi
	for i, m := range []struct {
		v     float64
		label string
	}{{marks.P50, "p50"}, {marks.P99, "p99"}, {marks.P999, "p99.9"}} {
		if !(m.v > 0) || m.v < lo || m.v > hi {
			continue
		}
		l, err := plotter.NewLine(plotter.XYs{{X: m.v, Y: 0}, {X: m.v, Y: 1}})
		if err != nil {
			return nil, fmt.Errorf("plot: latency cdf mark: %w", err)
		}
		l.Color = grey
		l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		p.Add(l)
		lab, err := plotter.NewLabels(plotter.XYLabels{
			XYs:    []plotter.XY{{X: m.v, Y: 0.05 + 0.12*float64(i)}},
			Labels: []string{fmt.Sprintf(" %s %.3g ms", m.label, m.v)},
		})
		if err != nil {
			return nil, fmt.Errorf("plot: latency cdf label: %w", err)
		}
		lab.TextStyle[0].Color = grey
		p.Add(lab)
	}
	return beside("latency_cdf", "Latency CDF", 7*vg.Inch, 4*vg.Inch, p), nil
}

// Timeline plots the 429 rate and the error rate per interval, in percent,
// with each fault shaded from its start to its end and named at the top.
func Timeline(title string, tl []schema.Interval, intervalS float64, faults []schema.Fault) (*Figure, error) {
	if len(tl) == 0 {
		return nil, fmt.Errorf("%w: timeline: no intervals", ErrNoData)
	}
	// Long runs read better in hours or days than in seconds.
	span := tl[len(tl)-1].StartS + intervalS - tl[0].StartS
	unit, div := "s", 1.0
	switch {
	case span > 3*86400:
		unit, div = "days", 86400
	case span > 3*3600:
		unit, div = "h", 3600
	}
	p := newPlot(title, "time ("+unit+")", "share of requests (%)")
	var r429, rerr plotter.XYs
	ymax, xmax := 1.0, 0.0
	for _, iv := range tl {
		x := (iv.StartS + intervalS/2) / div
		r := 0.0
		if iv.Total > 0 {
			r = float64(iv.Rejected) / float64(iv.Total) * 100
		} else if finite(iv.Rate429) {
			r = iv.Rate429 * 100
		}
		e := 0.0
		if iv.Total > 0 {
			e = float64(iv.Errors) / float64(iv.Total) * 100
		}
		r429 = append(r429, plotter.XY{X: x, Y: r})
		rerr = append(rerr, plotter.XY{X: x, Y: e})
		ymax = math.Max(ymax, math.Max(r, e))
		xmax = math.Max(xmax, (iv.StartS+intervalS)/div)
	}
	ymax = math.Min(100, ymax*1.25)
	xmin := tl[0].StartS / div
	var named []faultLabel
	for _, f := range faults {
		// A fault is shaded at least 0.4% of the width so a two-minute
		// interruption stays visible on a month.
		start, end := math.Max(f.StartS/div, xmin), f.EndS/div
		end = math.Max(end, start+(xmax-xmin)/250)
		end = math.Min(end, xmax)
		if !(end > start) || !finite(start) || !finite(end) {
			continue
		}
		poly, err := plotter.NewPolygon(plotter.XYs{{X: start, Y: 0}, {X: end, Y: 0}, {X: end, Y: ymax}, {X: start, Y: ymax}})
		if err != nil {
			return nil, fmt.Errorf("plot: timeline fault: %w", err)
		}
		poly.Color = faultFill
		poly.LineStyle.Width = 0
		p.Add(poly)
		if len(named) == 0 {
			p.Legend.Add("fault", poly)
		}
		name := f.Kind
		if f.Target != "" {
			name += " " + f.Target
		}
		named = append(named, faultLabel{X: start, Dur: f.EndS - f.StartS, Kind: f.Kind, Name: name})
	}
	// Vertical, from the bottom of the band: clear of the legend; staggered
	// or folded where faults crowd (faultLabels).
	fl := newFaultLabels(named, ymax*0.02)
	if len(named) > 0 {
		p.Add(fl)
	}
	for i, s := range []struct {
		xys   plotter.XYs
		label string
	}{{r429, "429 rate"}, {rerr, "error rate (5xx, timeouts)"}} {
		l, err := plotter.NewLine(s.xys)
		if err != nil {
			return nil, fmt.Errorf("plot: timeline: %w", err)
		}
		l.Color = Color(i)
		l.Width = vg.Points(1.5)
		p.Add(l)
		p.Legend.Add(s.label, l)
	}
	p.X.Min, p.X.Max = xmin, xmax
	p.Y.Min, p.Y.Max = 0, ymax
	f := beside("rate_429", "429 and error rate over time", 7.5*vg.Inch, 3.5*vg.Inch, p)
	f.faults = fl
	return f, nil
}

// componentOrder fixes the stacking order of cost components.
var componentOrder = []string{cost.CRequests, cost.CCompute, cost.CNLBHours, cost.CNLBCapacity, cost.CPublicIPv4,
	cost.CEBS, cost.CRedis, cost.CCrossAZ, cost.CLogs, cost.CNAT, cost.CEgress}

// CostBreakdown draws one stacked bar per bill, stacked by component, in
// dollars a month.
func CostBreakdown(title string, bills []cost.Bill) (*Figure, error) {
	if len(bills) == 0 {
		return nil, fmt.Errorf("%w: cost breakdown: no bills", ErrNoData)
	}
	p := newPlot(title, "", "USD per month")
	names := make([]string, len(bills))
	for i, b := range bills {
		names[i] = wrapLabel(b.Name, 14)
	}
	present := map[string]bool{}
	for _, b := range bills {
		for _, l := range b.Lines {
			if l.USD > 0 {
				present[l.Component] = true
			}
		}
	}
	var below *plotter.BarChart
	ci := 0
	w := vg.Points(60)
	maxTotal := 0.0
	for _, b := range bills {
		maxTotal = math.Max(maxTotal, b.Total())
	}
	for _, comp := range componentOrder {
		if !present[comp] {
			continue
		}
		vals := make(plotter.Values, len(bills))
		for i, b := range bills {
			vals[i] = math.Max(0, b.Line(comp))
		}
		bc, err := plotter.NewBarChart(vals, w)
		if err != nil {
			return nil, fmt.Errorf("plot: cost %s: %w", comp, err)
		}
		bc.Color = Color(ci)
		if comp == cost.CEgress {
			bc.Color = color.RGBA{180, 180, 180, 255}
		}
		bc.LineStyle.Width = vg.Points(0.5)
		if below != nil {
			bc.StackOn(below)
		}
		below = bc
		p.Add(bc)
		p.Legend.Add(cost.ComponentTitle(comp), bc)
		ci++
	}
	if below == nil {
		return nil, fmt.Errorf("%w: cost breakdown: every bill is zero", ErrNoData)
	}
	totals := make([]plotter.XY, len(bills))
	labels := make([]string, len(bills))
	for i, b := range bills {
		totals[i] = plotter.XY{X: float64(i), Y: b.Total()}
		labels[i] = fmt.Sprintf("$%s", money(b.Total()))
	}
	lab, err := plotter.NewLabels(plotter.XYLabels{XYs: totals, Labels: labels})
	if err != nil {
		return nil, fmt.Errorf("plot: cost totals: %w", err)
	}
	for i := range lab.TextStyle {
		lab.TextStyle[i].XAlign = draw.XCenter
		lab.TextStyle[i].YAlign = draw.YBottom
	}
	p.Add(lab)
	p.NominalX(names...)
	// Room on the right for the legend, clear of the bars.
	p.X.Min, p.X.Max = -0.6, float64(len(bills))-0.4+1.4
	p.Y.Min, p.Y.Max = 0, maxTotal*1.12
	p.Legend.Top = true
	p.Legend.Left = false
	p.Legend.TextStyle.Font.Size = vg.Points(10)
	wd := vg.Length(math.Max(7, 1.6*float64(len(bills))+3)) * vg.Inch
	return single("cost_breakdown", "Monthly bill by component", wd, 4.5*vg.Inch, p), nil
}

// wrapLabel breaks s into lines of at most n characters at spaces.
func wrapLabel(s string, n int) string {
	var lines []string
	cur := ""
	for _, w := range strings.Fields(s) {
		if cur != "" && len(cur)+1+len(w) > n {
			lines = append(lines, cur)
			cur = w
			continue
		}
		if cur != "" {
			cur += " "
		}
		cur += w
	}
	return strings.Join(append(lines, cur), "\n")
}

func money(x float64) string {
	switch {
	case x >= 100:
		return commas(math.Round(x))
	default:
		return fmt.Sprintf("%.2f", x)
	}
}

func commas(x float64) string {
	s := fmt.Sprintf("%.0f", x)
	var out []byte
	for i := range s {
		if i > 0 && (len(s)-i)%3 == 0 && s[i-1] != '-' {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}

// Nines is availability as a count of nines: -log10(1-a), capped at 7.
func Nines(a float64) float64 {
	if !(a < 1) {
		return 7
	}
	if !(a > 0) {
		return 0
	}
	return math.Min(7, -math.Log10(1-a))
}

// errorBars are the confidence intervals of one panel's bars: bar i at x =
// i + dx, from lo[i] to hi[i] around y[i]. Runs without an interval have
// lo = hi = y and draw nothing visible.
type errorBars struct {
	dx        float64
	y, lo, hi []float64
}

func (e errorBars) Len() int                        { return len(e.y) }
func (e errorBars) XY(i int) (float64, float64)     { return float64(i) + e.dx, e.y[i] }
func (e errorBars) YError(i int) (float64, float64) { return e.y[i] - e.lo[i], e.hi[i] - e.y[i] }

// addErrorBars draws e on p in black with caps sized for bars of width w
// (in points), when any run has a non-zero interval.
func addErrorBars(p *plot.Plot, e errorBars, w float64) error {
	wide := false
	for i := range e.y {
		wide = wide || e.lo[i] != e.y[i] || e.hi[i] != e.y[i]
	}
	if !wide {
		return nil
	}
	eb, err := plotter.NewYErrorBars(e)
	if err != nil {
		return err
	}
	eb.LineStyle.Width = vg.Points(1.2)
	eb.CapWidth = vg.Points(w)
	p.Add(eb)
	return nil
}

// Comparison draws algorithms (or any labelled runs) side by side: latency
// percentiles, 429 rate, false 429s, over-admission, Redis operations per
// request and availability, one panel each. Runs with intervals
// (replicated, schema.Intervals) show the mean of their replications with
// the interval as an error bar for every figure the intervals hold (p50 and
// p99 latency, 429 rate, false 429s, over-admission, availability); the
// other figures are replication 0's.
func Comparison(title string, labels []string, runs []*schema.Summary) (*Figure, error) {
	if len(runs) == 0 || len(labels) != len(runs) {
		return nil, fmt.Errorf("%w: comparison: %d labels for %d runs", ErrNoData, len(labels), len(runs))
	}
	type panel struct {
		title, unit string
		get         func(s *schema.Summary) float64
		// iv is the figure's interval in a replicated run (nil: none),
		// scaled to the panel's unit by scale.
		iv    func(iv *schema.Intervals) *schema.Estimate
		scale func(float64) float64
	}
	percent := func(x float64) float64 { return 100 * x }
	panels := []panel{
		{"429 rate", "% of requests", func(s *schema.Summary) float64 { return s.Rate429.Overall * 100 },
			func(iv *schema.Intervals) *schema.Estimate { return &iv.Rate429 }, percent},
		{"false 429s", "% of requests", func(s *schema.Summary) float64 { return s.False429.Rate * 100 },
			func(iv *schema.Intervals) *schema.Estimate { return &iv.False429Rate }, percent},
		{"over-admission", "% of admitted cost", func(s *schema.Summary) float64 { return s.OverAdmission.Ratio * 100 },
			func(iv *schema.Intervals) *schema.Estimate { return &iv.OverAdmission }, percent},
		{"Redis ops per request", "operations", func(s *schema.Summary) float64 { return s.RedisOpsPerRequest }, nil, nil},
		{"availability", "nines", func(s *schema.Summary) float64 { return Nines(s.Availability) },
			func(iv *schema.Intervals) *schema.Estimate { return &iv.Availability }, Nines},
	}
	// value is run s's figure: the interval's mean and bounds when it was
	// replicated, else the point three times.
	value := func(s *schema.Summary, point float64, iv func(*schema.Intervals) *schema.Estimate, scale func(float64) float64) (y, lo, hi float64) {
		if s.Intervals == nil || iv == nil {
			return point, point, point
		}
		e := iv(s.Intervals)
		return scale(e.Mean), scale(e.Lower), scale(e.Upper)
	}
	var plots []*plot.Plot
	// Latency: grouped bars of p50/p90/p99/p99.9 per run, log scale.
	lat := newPlot("latency percentiles", "", "ms (log scale)")
	lat.Y.Scale = plot.LogScale{}
	lat.Y.Tick.Marker = logTicks{}
	ms := func(x float64) float64 { return x }
	pct := []struct {
		name string
		get  func(p schema.Percentiles) float64
		iv   func(iv *schema.Intervals) *schema.Estimate
	}{{"p50", func(p schema.Percentiles) float64 { return p.P50 }, func(iv *schema.Intervals) *schema.Estimate { return &iv.P50MS }},
		{"p90", func(p schema.Percentiles) float64 { return p.P90 }, nil},
		{"p99", func(p schema.Percentiles) float64 { return p.P99 }, func(iv *schema.Intervals) *schema.Estimate { return &iv.P99MS }},
		{"p99.9", func(p schema.Percentiles) float64 { return p.P999 }, nil}}
	// gonum's bars start at zero, which a log axis cannot show: draw each
	// bar as a rectangle from the axis minimum instead.
	lo, hi := math.Inf(1), math.Inf(-1)
	vals := make([][]float64, len(pct))
	bars := make([]errorBars, len(pct))
	for j, q := range pct {
		vals[j] = make([]float64, len(runs))
		bars[j] = errorBars{y: make([]float64, len(runs)), lo: make([]float64, len(runs)), hi: make([]float64, len(runs))}
		for i, s := range runs {
			v, l, h := value(s, q.get(s.LatencyMS), q.iv, ms)
			if !(v > 0) || !finite(v) || !finite(l) || !finite(h) {
				v, l, h = 0, 0, 0
			} else {
				// A lower bound at or below zero cannot show on the log
				// axis: the bar's error bar is clipped at the axis minimum.
				lo, hi = math.Min(lo, v), math.Max(hi, h)
				if l > 0 {
					lo = math.Min(lo, l)
				}
			}
			vals[j][i] = v
			bars[j].y[i], bars[j].lo[i], bars[j].hi[i] = v, l, h
		}
	}
	if hi < lo {
		lo, hi = 0.1, 1
	}
	ymin, ymax := math.Pow(10, math.Floor(math.Log10(lo))), math.Pow(10, math.Ceil(math.Log10(hi*1.01)))
	const bw = 0.18 // bar width in category units
	for j, q := range pct {
		for i, v := range vals[j] {
			if v <= 0 {
				continue
			}
			x0 := float64(i) + (float64(j)-2)*bw
			poly, err := plotter.NewPolygon(plotter.XYs{{X: x0, Y: ymin}, {X: x0 + bw, Y: ymin}, {X: x0 + bw, Y: v}, {X: x0, Y: v}})
			if err != nil {
				return nil, fmt.Errorf("plot: comparison latency: %w", err)
			}
			poly.Color = Color(j)
			poly.LineStyle.Width = 0
			lat.Add(poly)
			if i == 0 {
				lat.Legend.Add(q.name, poly)
			}
		}
	}
	for j := range pct {
		// Error bars only over bars drawn (a zero bar has none).
		e := bars[j]
		e.dx = (float64(j)-2)*bw + bw/2
		for i, v := range vals[j] {
			if v <= 0 {
				e.y[i], e.lo[i], e.hi[i] = ymin, ymin, ymin
			}
			e.lo[i] = math.Max(e.lo[i], ymin)
		}
		if err := addErrorBars(lat, e, 4); err != nil {
			return nil, fmt.Errorf("plot: comparison latency: %w", err)
		}
	}
	lat.Y.Min, lat.Y.Max = ymin, ymax
	lat.X.Min, lat.X.Max = -0.5, float64(len(runs))-0.5
	lat.Legend.Top, lat.Legend.Left = true, false
	lat.Legend.TextStyle.Font.Size = vg.Points(8)
	lat.NominalX(labels...)
	plots = append(plots, lat)
	for k, pn := range panels {
		pl := newPlot(pn.title, "", pn.unit)
		pl.Title.TextStyle.Font.Size = vg.Points(11)
		vals := make(plotter.Values, len(runs))
		e := errorBars{y: make([]float64, len(runs)), lo: make([]float64, len(runs)), hi: make([]float64, len(runs))}
		mx := 0.0
		for i, s := range runs {
			v, l, h := value(s, pn.get(s), pn.iv, pn.scale)
			if !finite(v) || v < 0 || !finite(l) || !finite(h) {
				v, l, h = 0, 0, 0
			}
			vals[i] = v
			e.y[i], e.lo[i], e.hi[i] = v, math.Max(l, 0), h
			mx = math.Max(mx, math.Max(v, h))
		}
		bc, err := plotter.NewBarChart(vals, vg.Points(22))
		if err != nil {
			return nil, fmt.Errorf("plot: comparison %s: %w", pn.title, err)
		}
		bc.Color = Color(k + 4)
		bc.LineStyle.Width = 0
		pl.Add(bc)
		if err := addErrorBars(pl, e, 10); err != nil {
			return nil, fmt.Errorf("plot: comparison %s: %w", pn.title, err)
		}
		pl.NominalX(labels...)
		pl.Y.Min = 0
		if mx == 0 {
			pl.Y.Max = 1
		} else {
			pl.Y.Max = mx * 1.15
		}
		plots = append(plots, pl)
	}
	for _, pl := range plots {
		if len(labels) > 3 {
			pl.X.Tick.Label.Rotation = math.Pi / 6
			pl.X.Tick.Label.XAlign = draw.XRight
		}
	}
	const rows, cols = 2, 3
	grid := make([][]*plot.Plot, rows)
	for r := range rows {
		grid[r] = make([]*plot.Plot, cols)
		for c := range cols {
			if i := r*cols + c; i < len(plots) {
				grid[r][c] = plots[i]
			}
		}
	}
	w := vg.Length(math.Max(10, 3*(1.2+0.55*float64(len(runs))))) * vg.Inch
	h := 7 * vg.Inch
	f := &Figure{Name: "compare", Title: title, Width: w, Height: h}
	f.draw = func(dc draw.Canvas) {
		if title != "" {
			sty := plot.New().Title.TextStyle
			sty.Font.Size = vg.Points(13)
			dc.FillText(sty, vg.Point{X: dc.Min.X + (dc.Max.X-dc.Min.X)/2, Y: dc.Max.Y - vg.Points(4)}, title)
			dc.Max.Y -= vg.Points(22)
		}
		t := draw.Tiles{Rows: rows, Cols: cols, PadX: vg.Points(16), PadY: vg.Points(16),
			PadTop: vg.Points(4), PadBottom: vg.Points(4), PadLeft: vg.Points(4), PadRight: vg.Points(8)}
		cs := plot.Align(grid, t, dc)
		for r := range rows {
			for c := range cols {
				if grid[r][c] != nil {
					grid[r][c].Draw(cs[r][c])
				}
			}
		}
	}
	return f, nil
}

// Point is one run on the cost-versus-availability plane.
type Point struct {
	Label string
	// CostPerBillion in dollars per billion requests.
	CostPerBillion float64
	Availability   float64
}

// Frontier plots cost per billion against availability (in nines) for runs
// over a swept parameter, joins the Pareto-efficient ones (no other run is
// both cheaper and more available) and marks the 99.99% target.
func Frontier(title, param string, pts []Point) (*Figure, error) {
	var xys plotter.XYs
	var labels []string
	for _, pt := range pts {
		if finite(pt.CostPerBillion) && pt.CostPerBillion >= 0 {
			xys = append(xys, plotter.XY{X: pt.CostPerBillion, Y: Nines(pt.Availability)})
			labels = append(labels, pt.Label)
		}
	}
	if len(xys) == 0 {
		return nil, fmt.Errorf("%w: frontier: no points", ErrNoData)
	}
	xlab := "USD per billion requests"
	if param != "" {
		title = strings.TrimSpace(title + " (swept: " + param + ")")
	}
	p := newPlot(title, xlab, "availability (nines)")
	front := pareto(xys)
	if len(front) > 1 {
		l, err := plotter.NewLine(front)
		if err != nil {
			return nil, fmt.Errorf("plot: frontier: %w", err)
		}
		l.Color = Color(0)
		l.Width = vg.Points(1.5)
		p.Add(l)
		p.Legend.Add("Pareto frontier", l)
	}
	sc, err := plotter.NewScatter(xys)
	if err != nil {
		return nil, fmt.Errorf("plot: frontier: %w", err)
	}
	sc.Color = Color(1)
	sc.Radius = vg.Points(3.5)
	sc.Shape = draw.CircleGlyph{}
	p.Add(sc)
	p.Legend.Add("run", sc)
	lab := newPlacedLabels(xys, labels, sc.Radius)
	p.Add(lab)
	xmin, xmax, ymin, ymax := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for _, xy := range xys {
		xmin, xmax = math.Min(xmin, xy.X), math.Max(xmax, xy.X)
		ymin, ymax = math.Min(ymin, xy.Y), math.Max(ymax, xy.Y)
	}
	target := 4.0
	ymin, ymax = math.Min(ymin, target)-0.5, math.Max(ymax, target)+0.5
	ymin = math.Max(0, ymin)
	dx := (xmax - xmin) * 0.15
	if dx == 0 {
		dx = math.Max(1, xmax*0.2)
	}
	tl, err := plotter.NewLine(plotter.XYs{{X: xmin - dx, Y: target}, {X: xmax + 2*dx, Y: target}})
	if err != nil {
		return nil, fmt.Errorf("plot: frontier target: %w", err)
	}
	tl.Color = grey
	tl.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	p.Add(tl)
	p.Legend.Add("99.99% (4 nines)", tl)
	p.X.Min, p.X.Max = math.Max(0, xmin-dx), xmax+2*dx
	p.Y.Min, p.Y.Max = ymin, ymax
	f := beside("frontier", "Cost versus availability", 7.5*vg.Inch, 4.5*vg.Inch, p)
	f.labels = lab
	return f, nil
}

// pareto returns the points no other point dominates (cheaper or equal and
// at least as available, one strictly), sorted by cost.
func pareto(xys plotter.XYs) plotter.XYs {
	var out plotter.XYs
	for i, a := range xys {
		dominated := false
		for j, b := range xys {
			if i != j && b.X <= a.X && b.Y >= a.Y && (b.X < a.X || b.Y > a.Y) {
				dominated = true
				break
			}
		}
		if !dominated {
			out = append(out, a)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].X != out[j].X {
			return out[i].X < out[j].X
		}
		return out[i].Y < out[j].Y
	})
	return out
}

// logTicks marks a log axis at 1..9 x 10^k, labelling powers of ten and,
// over at most two decades, 2 and 5 x 10^k too.
type logTicks struct{}

func (logTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(hi > 0) {
		return nil
	}
	if !(lo > 0) {
		lo = hi / 1000
	}
	e0, e1 := int(math.Floor(math.Log10(lo))), int(math.Ceil(math.Log10(hi)))
	few := e1-e0 <= 2
	var ts []plot.Tick
	for e := e0; e <= e1; e++ {
		base := math.Pow(10, float64(e))
		for m := 1; m <= 9; m++ {
			v := float64(m) * base
			if v < lo*(1-1e-9) || v > hi*(1+1e-9) {
				continue
			}
			t := plot.Tick{Value: v}
			if m == 1 || (few && (m == 2 || m == 5)) {
				t.Label = strconv.FormatFloat(v, 'g', 4, 64)
			}
			ts = append(ts, t)
		}
	}
	return ts
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

func clamp(x, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, x)) }
