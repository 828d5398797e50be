package plot

import (
	"bytes"
	"errors"
	"flag"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gonum.org/v1/gonum/stat/distuv"
	"gonum.org/v1/plot/plotter"

	"tollgate/reports/cost"
	"tollgate/schema"
)

var update = flag.Bool("update", false, "rewrite the golden images in testdata/")

// lognormalCDF is a fixed latency distribution: median 8 ms, sigma 0.8.
func lognormalCDF(median, sigma float64) []schema.CDFPoint {
	d := distuv.LogNormal{Mu: math.Log(median), Sigma: sigma}
	var out []schema.CDFPoint
	for _, f := range []float64{0.001, 0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 0.995, 0.999, 0.9999, 1} {
		q := f
		if q == 1 {
			q = 0.99999
		}
		out = append(out, schema.CDFPoint{ValueMS: d.Quantile(q), Fraction: f})
	}
	return out
}

func fixtureTimeline() ([]schema.Interval, []schema.Fault) {
	var tl []schema.Interval
	for i := range 60 {
		total := int64(1000)
		rej := int64(20 + 10*math.Sin(float64(i)/5)*math.Sin(float64(i)/5))
		errs := int64(0)
		if i >= 20 && i < 26 {
			errs = int64(120 - 20*(i-20))
			rej += 60
		}
		tl = append(tl, schema.Interval{StartS: float64(i), Total: total, Rejected: rej, Errors: errs, Admitted: total - rej - errs})
	}
	return tl, []schema.Fault{{Kind: "spot-interruption", Target: "az-a/node-1", StartS: 20, EndS: 22}, {Kind: "az-outage", Target: "az-b", StartS: 40, EndS: 50}}
}

func fixtureBills(t *testing.T) []cost.Bill {
	t.Helper()
	sh, err := cost.LoadFile("../prices.yaml")
	if err != nil {
		t.Fatal(err)
	}
	v := cost.WorkedVariants()[1] // S2
	u := cost.FleetUsage(sh, 1e9, v.Fleet, v.Assumptions)
	c, err := cost.Compare(sh, "self-hosted S2", u)
	if err != nil {
		t.Fatal(err)
	}
	return []cost.Bill{c.REST, c.HTTP, c.Fleet}
}

// checkGolden renders f to testdata/<name>.png and compares it with
// testdata/<name>_golden.png pixel by pixel, in the manner of gonum/plot's
// cmpimg.CheckPlot (which needs a PDF module this project does not carry).
func checkGolden(t *testing.T, f *Figure, name string) image.Image {
	t.Helper()
	b, err := f.PNG()
	if err != nil {
		t.Fatal(err)
	}
	got, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", name+".png")
	golden := filepath.Join("testdata", name+"_golden.png")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.Rename(path, golden); err != nil {
			t.Fatal(err)
		}
		return got
	}
	wb, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	want, err := png.Decode(bytes.NewReader(wb))
	if err != nil {
		t.Fatal(err)
	}
	if d := differing(got, want); d != 0 {
		t.Errorf("%s differs from %s in %d pixels (look at both; go test -update accepts the new one)", path, golden, d)
		return got
	}
	_ = os.Remove(path)
	return got
}

func differing(a, b image.Image) int {
	if a.Bounds() != b.Bounds() {
		return a.Bounds().Dx() * a.Bounds().Dy()
	}
	n := 0
	r := a.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			r1, g1, b1, a1 := a.At(x, y).RGBA()
			r2, g2, b2, a2 := b.At(x, y).RGBA()
			if r1 != r2 || g1 != g2 || b1 != b2 || a1 != a2 {
				n++
			}
		}
	}
	return n
}

// countColor counts pixels within a small distance of c.
func countColor(img image.Image, c color.RGBA) int {
	n := 0
	r := img.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			cr, cg, cb, _ := img.At(x, y).RGBA()
			if absDiff(cr>>8, uint32(c.R)) < 12 && absDiff(cg>>8, uint32(c.G)) < 12 && absDiff(cb>>8, uint32(c.B)) < 12 {
				n++
			}
		}
	}
	return n
}

func absDiff(a, b uint32) uint32 {
	if a > b {
		return a - b
	}
	return b - a
}

// columnsWith returns the leftmost and rightmost x holding colour c.
func columnsWith(img image.Image, c color.RGBA) (lo, hi int) {
	lo, hi = math.MaxInt, -1
	r := img.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			cr, cg, cb, _ := img.At(x, y).RGBA()
			if absDiff(cr>>8, uint32(c.R)) < 12 && absDiff(cg>>8, uint32(c.G)) < 12 && absDiff(cb>>8, uint32(c.B)) < 12 {
				lo, hi = min(lo, x), max(hi, x)
			}
		}
	}
	return lo, hi
}

func TestLatencyCDF(t *testing.T) {
	cdf := lognormalCDF(8, 0.8)
	f, err := LatencyCDF("baseline / gcra", []Series{{Label: "gcra", CDF: cdf}}, schema.Percentiles{P50: 8, P99: 51.5, P999: 94})
	if err != nil {
		t.Fatal(err)
	}
	img := checkGolden(t, f, "latency_cdf")
	if got := img.Bounds().Dx(); got != 7*DPI {
		t.Errorf("width %d px, want %d", got, 7*DPI)
	}
	// The curve is drawn in the first series colour and spans most of the
	// plot's width (a log axis over three decades).
	lo, hi := columnsWith(img, Color(0))
	if hi-lo < img.Bounds().Dx()/2 {
		t.Errorf("curve spans x %d..%d of %d", lo, hi, img.Bounds().Dx())
	}
	// Two series: the second colour appears only then.
	if n := countColor(img, Color(1)); n > 0 {
		t.Errorf("second colour present with one series: %d px", n)
	}
	f2, err := LatencyCDF("two", []Series{{"a", cdf}, {"b", lognormalCDF(20, 0.5)}}, schema.Percentiles{})
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := f2.PNG()
	img2, _ := png.Decode(bytes.NewReader(b2))
	if countColor(img2, Color(1)) < 200 {
		t.Errorf("second series not drawn")
	}
	if _, err := LatencyCDF("empty", []Series{{"a", []schema.CDFPoint{{ValueMS: 0, Fraction: 1}}}}, schema.Percentiles{}); !errors.Is(err, ErrNoData) {
		t.Errorf("all-zero latencies: %v, want ErrNoData (a log axis cannot show 0)", err)
	}
}

func TestTimeline(t *testing.T) {
	tl, faults := fixtureTimeline()
	f, err := Timeline("spot-loss / gcra", tl, 1, faults)
	if err != nil {
		t.Fatal(err)
	}
	img := checkGolden(t, f, "rate_429")
	// The az-outage band (40..50 s of 0..60 s) is shaded: its columns span
	// about a sixth of the data width.
	if n := countColor(img, color.RGBA{255, 227, 227, 255}); n < 1000 {
		t.Errorf("fault shading: %d px", n)
	}
	if n := countColor(img, Color(1)); n < 100 {
		t.Errorf("error line: %d px", n)
	}
	if _, err := Timeline("x", nil, 1, nil); !errors.Is(err, ErrNoData) {
		t.Errorf("empty timeline: %v", err)
	}
}

func TestCostBreakdown(t *testing.T) {
	bills := fixtureBills(t)
	f, err := CostBreakdown("1B requests a month", bills)
	if err != nil {
		t.Fatal(err)
	}
	img := checkGolden(t, f, "cost_breakdown")
	// The managed REST bar is the tallest: its requests colour (first
	// component) occupies more pixels than any other component.
	if countColor(img, Color(0)) < countColor(img, Color(1)) {
		t.Errorf("requests (REST+HTTP) should outweigh compute")
	}
	svg, err := f.InlineSVG()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(svg, "<svg") || strings.Contains(svg, "<?xml") || strings.Contains(svg, "http://") && strings.Contains(svg, "href=\"http") {
		t.Errorf("inline svg not self-contained: %.200s", svg)
	}
	if _, err := CostBreakdown("x", nil); !errors.Is(err, ErrNoData) {
		t.Errorf("no bills: %v", err)
	}
}

func comparisonRuns() ([]string, []*schema.Summary) {
	algs := []string{"fixed-window", "sliding-window", "token-bucket", "gcra"}
	var runs []*schema.Summary
	for i, a := range algs {
		k := float64(i)
		runs = append(runs, &schema.Summary{
			Algorithm:          a,
			LatencyMS:          schema.Percentiles{P50: 3 + k, P90: 8 + k, P99: 30 - 4*k, P999: 120 - 15*k},
			Rate429:            schema.Rate429{Overall: 0.08 - 0.01*k},
			False429:           schema.Count{Rate: 0.01 / (k + 1)},
			OverAdmission:      schema.OverAdmission{Ratio: 0.04 / (k + 1)},
			RedisOpsPerRequest: 1 + 0.5*k,
			Availability:       1 - math.Pow(10, -3-k/2),
		})
	}
	return algs, runs
}

func TestComparison(t *testing.T) {
	labels, runs := comparisonRuns()
	f, err := Comparison("thundering-herd: algorithms", labels, runs)
	if err != nil {
		t.Fatal(err)
	}
	img := checkGolden(t, f, "compare")
	// Four latency percentile colours, one per percentile.
	for j := range 4 {
		if countColor(img, Color(j)) < 50 {
			t.Errorf("percentile %d bars missing", j)
		}
	}
	if _, err := Comparison("x", []string{"a"}, nil); !errors.Is(err, ErrNoData) {
		t.Errorf("mismatch: %v", err)
	}
}

// TestComparisonErrorBars: replicated runs draw their intervals as error
// bars over the means (golden compare_intervals; a zero-width interval, as
// gcra's 429 rate here, draws a flat cap), which the plain figure lacks.
func TestComparisonErrorBars(t *testing.T) {
	labels, runs := comparisonRuns()
	_, plain := comparisonRuns()
	for i, s := range runs {
		k := float64(i)
		e := func(m, h float64) schema.Estimate { return schema.Estimate{Mean: m, Lower: m - h, Upper: m + h} }
		s.Intervals = &schema.Intervals{Replications: 10, Confidence: 0.95, Seeds: make([]uint64, 10),
			P50MS: e(s.LatencyMS.P50, 0.8), P99MS: e(s.LatencyMS.P99, 4+k),
			Rate429: e(s.Rate429.Overall, 0.01), False429Rate: e(s.False429.Rate, 0.002), OverAdmission: e(s.OverAdmission.Ratio, 0.004*(k+1)),
			Availability: schema.Estimate{Mean: s.Availability, Lower: 1 - (1-s.Availability)*3, Upper: 1 - (1-s.Availability)/3}}
	}
	runs[3].Intervals.Rate429 = schema.Estimate{Mean: runs[3].Rate429.Overall, Lower: runs[3].Rate429.Overall, Upper: runs[3].Rate429.Overall}
	f, err := Comparison("thundering-herd: algorithms, 10 replications", labels, runs)
	if err != nil {
		t.Fatal(err)
	}
	img := checkGolden(t, f, "compare_intervals")
	g, err := Comparison("thundering-herd: algorithms, 10 replications", labels, plain)
	if err != nil {
		t.Fatal(err)
	}
	b, err := g.PNG()
	if err != nil {
		t.Fatal(err)
	}
	pimg, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	// The error bars are black strokes the plain figure lacks: 6 panels'
	// bars of 4 runs, each at least a few pixels tall with caps.
	black := color.RGBA{A: 255}
	if with, without := countColor(img, black), countColor(pimg, black); with < without+400 {
		t.Errorf("%d black pixels with intervals, %d without: error bars missing", with, without)
	}
}

func TestFrontier(t *testing.T) {
	pts := []Point{
		{"spot 0%", 153, 0.99995}, {"spot 33%", 110, 0.99993}, {"spot 67%", 95, 0.9998}, {"spot 100%", 88, 0.9991},
		{"dominated", 160, 0.9995},
	}
	f, err := Frontier("cost vs availability", "spot fraction", pts)
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, f, "frontier")
	front := pareto(plotter.XYs{{X: 153, Y: 4.3}, {X: 110, Y: 4.15}, {X: 95, Y: 3.7}, {X: 88, Y: 3.05}, {X: 160, Y: 3.3}})
	if len(front) != 4 || front[0].X != 88 || front[3].X != 153 {
		t.Errorf("pareto = %v", front)
	}
	if Nines(0.9999) < 3.999 || Nines(0.9999) > 4.001 || Nines(1) != 7 || Nines(0) != 0 {
		t.Errorf("Nines: %v %v %v", Nines(0.9999), Nines(1), Nines(0))
	}
}

// TestDeterministic: the same figure twice gives identical bytes in both formats.
func TestDeterministic(t *testing.T) {
	labels, runs := comparisonRuns()
	f1, _ := Comparison("x", labels, runs)
	f2, _ := Comparison("x", labels, runs)
	p1, _ := f1.PNG()
	p2, _ := f2.PNG()
	s1, _ := f1.SVG()
	s2, _ := f2.SVG()
	if !bytes.Equal(p1, p2) || !bytes.Equal(s1, s2) {
		t.Errorf("rendering is not deterministic")
	}
}

func TestLogTicks(t *testing.T) {
	labels := func(lo, hi float64) []string {
		var out []string
		for _, tk := range (logTicks{}).Ticks(lo, hi) {
			if tk.Label != "" {
				out = append(out, tk.Label)
			}
		}
		return out
	}
	if got := strings.Join(labels(15, 200), " "); got != "20 50 100 200" {
		t.Errorf("15..200 ms: labels %q", got)
	}
	if got := strings.Join(labels(0.5, 5000), " "); got != "1 10 100 1000" {
		t.Errorf("0.5..5000 ms: labels %q", got)
	}
	if got := (logTicks{}).Ticks(0, 0); got != nil {
		t.Errorf("empty range: %v", got)
	}
}

// TestTimelineMonth: a month in hourly intervals is drawn in days, and a
// two-minute interruption is still shaded visibly.
func TestTimelineMonth(t *testing.T) {
	var tl []schema.Interval
	for i := range 720 {
		tl = append(tl, schema.Interval{StartS: float64(i) * 3600, Total: 1000, Rejected: int64(50 + 40*math.Sin(float64(i)/24*2*math.Pi))})
	}
	f, err := Timeline("month", tl, 3600, []schema.Fault{{Kind: "spot-interruption", Target: "a-0", StartS: 1087929, EndS: 1088049}})
	if err != nil {
		t.Fatal(err)
	}
	svg, err := f.SVG()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(svg), "time (days)") {
		t.Errorf("month timeline not in days")
	}
	b, _ := f.PNG()
	img, _ := png.Decode(bytes.NewReader(b))
	lo, hi := columnsWith(img, color.RGBA{255, 218, 218, 255})
	if hi-lo < 1 {
		t.Errorf("two-minute fault shading spans x %d..%d", lo, hi)
	}
}
