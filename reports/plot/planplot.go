package plot

import (
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// PlanPoint is one evaluated configuration of a plan.
type PlanPoint struct {
	// Label is short ("#12"): the report's table says what it is.
	Label string
	// MonthlyUSD is its monthly bill.
	MonthlyUSD float64
	// Y is the estimate, Low and High its interval's bounds.
	Y, Low, High float64
	// Verdict is meets, fails or undecided.
	Verdict string
	// Chosen marks the plan's choice.
	Chosen bool
}

// verdict colours: meets green, fails vermillion, undecided orange.
func verdictColor(v string) color.RGBA {
	switch v {
	case "meets":
		return palette[2]
	case "fails":
		return palette[1]
	}
	return palette[4]
}

type errPoints struct{ pts []PlanPoint }

func (e errPoints) Len() int                    { return len(e.pts) }
func (e errPoints) XY(i int) (float64, float64) { return e.pts[i].MonthlyUSD, e.pts[i].Y }
func (e errPoints) YError(i int) (float64, float64) {
	return e.pts[i].Y - e.pts[i].Low, e.pts[i].High - e.pts[i].Y
}
func (e errPoints) XError(i int) (float64, float64) { return 0, 0 }

func (e errPoints) xys() (out plotter.XYs) {
	for i := range e.pts {
		x, y := e.XY(i)
		out = append(out, plotter.XY{X: x, Y: y})
	}
	return out
}

// PlanFrontier plots every configuration's monthly cost against an estimate
// (availability in nines, or p99) with its interval as an error bar, coloured
// by verdict, joins the Pareto-efficient configurations (no other is both
// cheaper and better), marks the objective as a dashed line and labels the
// choice and the frontier's points where their labels fit without overlap.
// higherBetter says which way the estimate improves.
func PlanFrontier(name, title, ylabel string, pts []PlanPoint, objective float64, objectiveLabel string, higherBetter bool) (*Figure, error) {
	var ok []PlanPoint
	for _, p := range pts {
		if finite(p.MonthlyUSD) && finite(p.Y) && finite(p.Low) && finite(p.High) && p.Low <= p.Y && p.Y <= p.High {
			ok = append(ok, p)
		}
	}
	if len(ok) == 0 {
		return nil, fmt.Errorf("%w: %s: no points", ErrNoData, name)
	}
	p := newPlot(title, "USD a month", ylabel)
	sign := 1.0
	if !higherBetter {
		sign = -1
	}
	var signed plotter.XYs
	for _, pt := range ok {
		signed = append(signed, plotter.XY{X: pt.MonthlyUSD, Y: sign * pt.Y})
	}
	front := pareto(signed)
	for i := range front {
		front[i].Y *= sign
	}
	if len(front) > 1 {
		l, err := plotter.NewLine(front)
		if err != nil {
			return nil, fmt.Errorf("plot: %s: %w", name, err)
		}
		l.Color, l.Width = grey, vg.Points(1)
		p.Add(l)
		p.Legend.Add("Pareto frontier", l)
	}
	xmin, xmax, ymin, ymax := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for _, pt := range ok {
		xmin, xmax = math.Min(xmin, pt.MonthlyUSD), math.Max(xmax, pt.MonthlyUSD)
		ymin, ymax = math.Min(ymin, pt.Low), math.Max(ymax, pt.High)
	}
	if objective > 0 {
		ymin, ymax = math.Min(ymin, objective), math.Max(ymax, objective)
	}
	for _, v := range []string{"meets", "fails", "undecided"} {
		var sel []PlanPoint
		for _, pt := range ok {
			if pt.Verdict == v {
				sel = append(sel, pt)
			}
		}
		if len(sel) == 0 {
			continue
		}
		eb, err := plotter.NewYErrorBars(errPoints{sel})
		if err != nil {
			return nil, fmt.Errorf("plot: %s: error bars: %w", name, err)
		}
		eb.Color = verdictColor(v)
		eb.CapWidth = vg.Points(4)
		p.Add(eb)
		sc, err := plotter.NewScatter(errPoints{sel}.xys())
		if err != nil {
			return nil, fmt.Errorf("plot: %s: %w", name, err)
		}
		sc.Color, sc.Radius, sc.Shape = verdictColor(v), vg.Points(3), draw.CircleGlyph{}
		p.Add(sc)
		p.Legend.Add(v, sc)
	}
	// Labels: the choice first, then the frontier, cheapest first.
	var lxy plotter.XYs
	var labels []string
	onFront := map[plotter.XY]bool{}
	for _, f := range front {
		onFront[f] = true
	}
	for _, pt := range ok {
		if pt.Chosen {
			lxy = append(lxy, plotter.XY{X: pt.MonthlyUSD, Y: pt.Y})
			labels = append(labels, pt.Label+" (choice)")
		}
	}
	for _, f := range front {
		for _, pt := range ok {
			if !pt.Chosen && pt.MonthlyUSD == f.X && pt.Y == f.Y {
				lxy = append(lxy, f)
				labels = append(labels, pt.Label)
				break
			}
		}
	}
	var all plotter.XYs
	for _, pt := range ok {
		all = append(all, plotter.XY{X: pt.MonthlyUSD, Y: pt.Y})
	}
	// every point is a marker to keep clear of; only the chosen few carry labels
	pl := newPlacedLabels(append(lxy, all...), append(labels, make([]string, len(all))...), vg.Points(3))
	p.Add(pl)
	if objective > 0 {
		dx := math.Max((xmax-xmin)*0.05, 1)
		tl, err := plotter.NewLine(plotter.XYs{{X: xmin - dx, Y: objective}, {X: xmax + dx, Y: objective}})
		if err != nil {
			return nil, fmt.Errorf("plot: %s: objective: %w", name, err)
		}
		tl.Color = grey
		tl.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		p.Add(tl)
		p.Legend.Add(objectiveLabel, tl)
	}
	dx := math.Max((xmax-xmin)*0.08, 1)
	dy := math.Max((ymax-ymin)*0.08, 1e-9)
	p.X.Min, p.X.Max = math.Max(0, xmin-dx), xmax+dx
	p.Y.Min, p.Y.Max = ymin-dy, ymax+dy
	fig := beside(name, title, 7.5*vg.Inch, 5*vg.Inch, p)
	fig.labels = pl
	return fig, nil
}
