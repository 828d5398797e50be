package plot

import (
	"image/color"
	"math"
	"sort"
	"strconv"
	"strings"

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

// fits reports whether box lies inside area and overlaps none of the
// rectangles in taken.
func fits(box, area vg.Rectangle, taken ...[]vg.Rectangle) bool {
	if !inside(box, area) {
		return false
	}
	for _, rs := range taken {
		for _, r := range rs {
			if overlaps(box, r) {
				return false
			}
		}
	}
	return true
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
			if fits(box, c.Rectangle, l.Placed, markers) {
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

// faultLabel is one fault to name on a timeline: X is its start in data
// units, Dur its length (seconds) and Kind its kind, which set the order of
// placement.
type faultLabel struct {
	X    float64
	Dur  float64
	Kind string
	Name string
}

// faultLabels is a plotter that names each fault of a timeline beside its
// shaded band, in vertical text reading upwards just right of the band's
// start, from Y (data units) near the bottom of the data area. Where that
// spot is taken it staggers the label into rows further up the band (one
// longest label apart), then hanging from the top of the data area; a label
// that would leave the data area at the right tries the same rows left of
// the band's start. A fault whose label fits nowhere is folded into the
// nearest label it collides with, which then reads "name (+k)", k the faults
// folded into it (the report's fault table lists every one); a fault that
// collides with no label and still fits nowhere (its label is longer than
// the plot is tall) is left out and counted in Dropped.
//
// Labels are placed rarest kind first, then longest fault, then earliest, so
// a zone outage among forty spot interruptions keeps its own name. Placement
// keeps room for the longest "(+k)" the figure can need, so folding never
// makes a label overlap another or leave the data area. Every label lies
// inside the data area and overlaps no other; placement is deterministic.
type faultLabels struct {
	Faults []faultLabel
	// Y is the bottom row's anchor in data units.
	Y     float64
	Style text.Style
	// Placed and Texts are, after drawing, each label's rectangle in canvas
	// coordinates and its text, in time order; Folded counts the faults
	// folded into another's label and Dropped those left out.
	Placed          []vg.Rectangle
	Texts           []string
	Folded, Dropped int
}

func newFaultLabels(faults []faultLabel, y float64) *faultLabels {
	st := text.Style{Color: color.RGBA{150, 0, 0, 255}, Font: plot.DefaultFont, Handler: plot.DefaultTextHandler}
	st.Font.Size = vg.Points(9)
	st.Rotation = math.Pi / 2
	st.XAlign, st.YAlign = draw.XLeft, draw.YTop
	return &faultLabels{Faults: faults, Y: y, Style: st}
}

// order returns the indices of l.Faults in placement order: rarest kind,
// longest, earliest, then as given.
func (l *faultLabels) order() []int {
	count := map[string]int{}
	for _, f := range l.Faults {
		count[f.Kind]++
	}
	idx := make([]int, len(l.Faults))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool {
		fa, fb := l.Faults[idx[a]], l.Faults[idx[b]]
		if count[fa.Kind] != count[fb.Kind] {
			return count[fa.Kind] < count[fb.Kind]
		}
		if fa.Dur != fb.Dur {
			return fa.Dur > fb.Dur
		}
		return fa.X < fb.X
	})
	return idx
}

// Plot implements plot.Plotter.
func (l *faultLabels) Plot(c draw.Canvas, plt *plot.Plot) {
	trX, trY := plt.Transforms(&c)
	l.Placed, l.Texts, l.Folded, l.Dropped = l.Placed[:0], l.Texts[:0], 0, 0
	area := c.Rectangle
	// reserve is the widest " (+k)" this figure can need.
	reserve := " (+" + strings.Repeat("8", len(strconv.Itoa(max(len(l.Faults)-1, 1)))) + ")"
	stride := vg.Length(0)
	for _, f := range l.Faults {
		stride = max(stride, l.Style.Rectangle(f.Name+reserve).Size().Y)
	}
	stride += vg.Points(2)
	// A slot is a placed label: its fault, the faults folded into it and
	// its anchor. taken holds the slots' boxes with room for the widest
	// "(+k)".
	type slot struct {
		fault, k int
		at       vg.Point
	}
	var slots []slot
	var taken []vg.Rectangle
	yb := trY(l.Y)
	for _, i := range l.order() {
		f := l.Faults[i]
		x := trX(f.X)
		rr := l.Style.Rectangle(f.Name + reserve)
		// Rows up the band, then hanging from the top, at the margin the
		// bottom row keeps.
		var ys []vg.Length
		for y := yb; y+rr.Max.Y <= area.Max.Y; y += stride {
			ys = append(ys, y)
		}
		if top := area.Max.Y - (yb + rr.Min.Y - area.Min.Y) - rr.Max.Y; len(ys) == 0 || top > ys[len(ys)-1] {
			ys = append(ys, top)
		}
		xs := []vg.Length{x}
		if x+rr.Max.X > area.Max.X {
			// Mirrored about the band's start: left of it.
			xs = append(xs, x-rr.Min.X-rr.Max.X)
		}
		placed := false
		hit := map[int]bool{}
		for _, ax := range xs {
			for _, ay := range ys {
				at := vg.Point{X: ax, Y: ay}
				box := rr.Add(at)
				if fits(box, area, taken) {
					slots = append(slots, slot{fault: i, at: at})
					taken = append(taken, box)
					placed = true
					break
				}
				if !inside(box, area) {
					continue
				}
				for s, o := range taken {
					if overlaps(box, o) {
						hit[s] = true
					}
				}
			}
			if placed {
				break
			}
		}
		if placed {
			continue
		}
		// Fold into the nearest label it collides with (the earliest of
		// equals).
		best := -1
		var bestD float64
		for s := range slots {
			if !hit[s] {
				continue
			}
			d := math.Abs(float64(trX(l.Faults[slots[s].fault].X) - x))
			if best < 0 || d < bestD || (d == bestD && l.Faults[slots[s].fault].X < l.Faults[slots[best].fault].X) {
				best, bestD = s, d
			}
		}
		if best < 0 {
			l.Dropped++
			continue
		}
		slots[best].k++
		l.Folded++
	}
	sort.SliceStable(slots, func(a, b int) bool { return l.Faults[slots[a].fault].X < l.Faults[slots[b].fault].X })
	for _, s := range slots {
		txt := l.Faults[s.fault].Name
		if s.k > 0 {
			txt += " (+" + strconv.Itoa(s.k) + ")"
		}
		c.FillText(l.Style, s.at, txt)
		l.Placed = append(l.Placed, l.Style.Rectangle(txt).Add(s.at))
		l.Texts = append(l.Texts, txt)
	}
}
