package plot

import (
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// placedLabels is a plotter that writes each point's label beside it where
// the label overlaps no label already placed and no point marker, and stays
// inside the plot's data area. It tries right, left, above, below and the
// four diagonals in turn; a label that fits nowhere is left out and counted
// in Dropped (the report's table carries every point anyway). Placement is
// deterministic: labels are tried in the order given, so put the important
// ones first.
type placedLabels struct {
	XYs    plotter.XYs
	Labels []string
	Style  text.Style
	// Radius is the markers' radius: labels keep clear of every point.
	Radius vg.Length
	// Placed is, after drawing, the rectangle of each label drawn, in canvas
	// coordinates; Dropped counts the labels left out.
	Placed  []vg.Rectangle
	Dropped int
}

func newPlacedLabels(xys plotter.XYs, labels []string, radius vg.Length) *placedLabels {
	st := text.Style{Color: grey, Font: plot.DefaultFont, Handler: plot.DefaultTextHandler}
	st.Font.Size = vg.Points(8)
	st.XAlign, st.YAlign = draw.XLeft, draw.YBottom
	return &placedLabels{XYs: xys, Labels: labels, Style: st, Radius: radius}
}

func overlaps(a, b vg.Rectangle) bool {
	return a.Min.X < b.Max.X && b.Min.X < a.Max.X && a.Min.Y < b.Max.Y && b.Min.Y < a.Max.Y
}

func inside(a, c vg.Rectangle) bool {
	return a.Min.X >= c.Min.X && a.Max.X <= c.Max.X && a.Min.Y >= c.Min.Y && a.Max.Y <= c.Max.Y
}

// Plot implements plot.Plotter.
func (l *placedLabels) Plot(c draw.Canvas, plt *plot.Plot) {
	trX, trY := plt.Transforms(&c)
	l.Placed, l.Dropped = l.Placed[:0], 0
	var markers []vg.Rectangle
	r := l.Radius
	for _, xy := range l.XYs {
		x, y := trX(xy.X), trY(xy.Y)
		markers = append(markers, vg.Rectangle{Min: vg.Point{X: x - r, Y: y - r}, Max: vg.Point{X: x + r, Y: y + r}})
	}
	gap := r + vg.Points(2)
	for i, xy := range l.XYs {
		if i >= len(l.Labels) || l.Labels[i] == "" {
			continue
		}
		x, y := trX(xy.X), trY(xy.Y)
		w, h := l.Style.Width(l.Labels[i]), l.Style.Height(l.Labels[i])
		tries := []vg.Point{
			{X: x + gap, Y: y - h/2}, {X: x - gap - w, Y: y - h/2},
			{X: x - w/2, Y: y + gap}, {X: x - w/2, Y: y - gap - h},
			{X: x + gap, Y: y + gap}, {X: x + gap, Y: y - gap - h},
			{X: x - gap - w, Y: y + gap}, {X: x - gap - w, Y: y - gap - h},
		}
		placed := false
		for _, p := range tries {
			box := vg.Rectangle{Min: p, Max: vg.Point{X: p.X + w, Y: p.Y + h}}
			if !inside(box, c.Rectangle) {
				continue
			}
			free := true
			for _, o := range l.Placed {
				if overlaps(box, o) {
					free = false
					break
				}
			}
			for j := 0; free && j < len(markers); j++ {
				if overlaps(box, markers[j]) {
					free = false
				}
			}
			if free {
				c.FillText(l.Style, p, l.Labels[i])
				l.Placed = append(l.Placed, box)
				placed = true
				break
			}
		}
		if !placed {
			l.Dropped++
		}
	}
}

// DataRange implements plot.DataRanger: the labels do not widen the axes.
func (l *placedLabels) DataRange() (xmin, xmax, ymin, ymax float64) {
	return plotter.XYRange(l.XYs)
}

// beside is single with the legend taken out of the data area into a strip
// at the figure's right, level with the data area's top: it covers no data
// and is never cut at the edge. Legend returns that strip's legend
// rectangle for tests.
func beside(name, title string, w, h vg.Length, p *plot.Plot) *Figure {
	leg := p.Legend
	p.Legend = plot.NewLegend()
	leg.Top, leg.Left = true, true
	leg.XOffs, leg.YOffs = 0, 0
	leg.Padding = vg.Points(3)
	f := &Figure{Name: name, Title: title, Width: w, Height: h}
	f.draw = func(dc draw.Canvas) {
		lw := leg.Rectangle(dc).Size().X + vg.Points(14)
		p.Draw(draw.Crop(dc, 0, -lw, 0, 0))
		top := vg.Length(0)
		if p.Title.Text != "" {
			top = p.Title.TextStyle.Rectangle(p.Title.Text).Size().Y + p.Title.Padding
		}
		lc := draw.Crop(dc, dc.Size().X-lw+vg.Points(8), 0, 0, -top)
		leg.Draw(lc)
		f.legend = leg.Rectangle(lc)
	}
	return f
}
