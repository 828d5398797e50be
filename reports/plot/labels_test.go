package plot

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"

	"gonum.org/v1/plot/vg"

	"tollgate/schema"
)

// checkLayout renders f and checks that no placed label (a point label or a
// timeline's fault label) overlaps another or the legend, or leaves the
// canvas, and that the legend lies inside the canvas.
func checkLayout(t *testing.T, f *Figure) {
	t.Helper()
	if _, err := f.PNG(); err != nil {
		t.Fatal(err)
	}
	canvas := vg.Rectangle{Max: vg.Point{X: f.Width, Y: f.Height}}
	type label struct {
		what string
		box  vg.Rectangle
	}
	var all []label
	if f.labels != nil {
		for i, a := range f.labels.Placed {
			all = append(all, label{fmt.Sprintf("label %d", i), a})
		}
	}
	if f.faults != nil {
		for i, a := range f.faults.Placed {
			all = append(all, label{fmt.Sprintf("fault label %d %q", i, f.faults.Texts[i]), a})
		}
	}
	for i, a := range all {
		if !inside(a.box, canvas) {
			t.Errorf("%s: %s %v leaves the canvas %v", f.Name, a.what, a.box, canvas)
		}
		if overlaps(a.box, f.legend) {
			t.Errorf("%s: %s %v overlaps the legend %v", f.Name, a.what, a.box, f.legend)
		}
		for _, b := range all[:i] {
			if overlaps(a.box, b.box) {
				t.Errorf("%s: %s and %s overlap: %v %v", f.Name, b.what, a.what, b.box, a.box)
			}
		}
	}
	if f.legend.Size().X <= 0 || !inside(f.legend, canvas) {
		t.Errorf("%s: legend %v not inside the canvas %v", f.Name, f.legend, canvas)
	}
}

// TestFrontierCrowdedLabels: three algorithms at almost the same cost and
// availability (the case that used to print ptb-cwd, gcra and token-bucket on
// top of each other) get labels that do not overlap.
func TestFrontierCrowdedLabels(t *testing.T) {
	pts := []Point{{"ptb-cwd", 88.10, 0.99991}, {"gcra", 88.12, 0.99991}, {"token-bucket", 88.11, 0.999905},
		{"fixed-window", 88.3, 0.9995}, {"sliding-window", 88.2, 0.9997}}
	f, err := Frontier("crowded", "", pts)
	if err != nil {
		t.Fatal(err)
	}
	checkLayout(t, f)
	if n := len(f.labels.Placed); n < 3 {
		t.Errorf("only %d of 5 labels placed", n)
	}
	if got := len(f.labels.Placed) + f.labels.Dropped; got != len(pts) {
		t.Errorf("placed + dropped = %d, want %d", got, len(pts))
	}
}

func TestLegendsInsideCanvas(t *testing.T) {
	cdf, err := LatencyCDF("x", []Series{{Label: "gcra", CDF: lognormalCDF(8, 0.8)}, {Label: "a much longer series label", CDF: lognormalCDF(12, 0.6)}}, schema.Percentiles{P50: 8, P99: 51.5, P999: 94})
	if err != nil {
		t.Fatal(err)
	}
	checkLayout(t, cdf)
	tl, faults := fixtureTimeline()
	rate, err := Timeline("x", tl, 1, faults)
	if err != nil {
		t.Fatal(err)
	}
	checkLayout(t, rate)
}

func planPoints() []PlanPoint {
	return []PlanPoint{
		{Label: "#0", MonthlyUSD: 120, Y: 3.2, Low: 3.1, High: 3.3, Verdict: "fails"},
		{Label: "#1", MonthlyUSD: 140, Y: 4.3, Low: 4.1, High: 4.6, Verdict: "meets", Chosen: true},
		{Label: "#2", MonthlyUSD: 141, Y: 4.31, Low: 4.0, High: 4.7, Verdict: "meets"},
		{Label: "#3", MonthlyUSD: 139, Y: 3.95, Low: 3.8, High: 4.2, Verdict: "undecided"},
		{Label: "#4", MonthlyUSD: 210, Y: 5.1, Low: 4.9, High: 5.3, Verdict: "meets"},
		{Label: "#5", MonthlyUSD: 205, Y: 2.1, Low: 2.0, High: 2.2, Verdict: "fails"},
	}
}

func TestPlanFrontier(t *testing.T) {
	f, err := PlanFrontier("plan_availability", "cost versus availability", "availability (nines)", planPoints(), 4, "objective 99.99%", true)
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, f, "plan_availability")
	checkLayout(t, f)
	if len(f.labels.Placed) == 0 {
		t.Error("no labels placed (the choice at least must be)")
	}
	p99 := planPoints()
	for i := range p99 {
		p99[i].Y, p99[i].Low, p99[i].High = 20+p99[i].Y, 19+p99[i].Low, 21+p99[i].High
	}
	f, err = PlanFrontier("plan_p99", "cost versus p99", "p99 (ms)", p99, 24, "objective 24 ms", false)
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, f, "plan_p99")
	checkLayout(t, f)
	if _, err := PlanFrontier("x", "x", "x", nil, 0, "", true); err == nil {
		t.Error("no points: no error")
	}
}

// crowdedMonth is a 730-hour timeline in hourly intervals with 40 spot
// interruptions (two-minute notices) at seeded random times, six of them
// within minutes of each other and two within minutes of the run's end, a
// 20-minute zone outage among them and a Redis failover.
func crowdedMonth() ([]schema.Interval, []schema.Fault) {
	r := rand.New(rand.NewPCG(7, 1))
	var tl []schema.Interval
	for i := range 730 {
		tl = append(tl, schema.Interval{StartS: float64(i) * 3600, Total: 100000,
			Rejected: int64(3000 + 2000*math.Sin(float64(i)/24*2*math.Pi)), Errors: int64(r.IntN(40))})
	}
	const end = 730 * 3600
	var faults []schema.Fault
	spot := func(at float64) {
		faults = append(faults, schema.Fault{Kind: "spot-interruption", Target: fmt.Sprintf("%c-%d", 'a'+r.IntN(3), r.IntN(2)), StartS: at, EndS: at + 120})
	}
	for range 32 {
		spot(r.Float64() * (end - 120))
	}
	cluster := 400*3600.0 + 17*60
	for i := range 6 {
		spot(cluster + float64(i)*(2+r.Float64()*4)*60)
	}
	spot(end - 9*60)
	spot(end - 3*60)
	faults = append(faults,
		schema.Fault{Kind: "az-outage", Target: "b", StartS: cluster + 5*60, EndS: cluster + 25*60},
		schema.Fault{Kind: "redis-failover", StartS: 212*3600 + 40*60, EndS: 212*3600 + 41*60})
	sort.SliceStable(faults, func(i, j int) bool { return faults[i].StartS < faults[j].StartS })
	return tl, faults
}

// TestTimelineCrowdedFaults: a month with 42 faults, some minutes apart, gets
// fault labels that neither overlap nor leave the canvas; those too close to
// place are folded into a neighbour's "name (+k)", every fault is counted
// once, and the zone outage and the Redis failover keep their own names.
func TestTimelineCrowdedFaults(t *testing.T) {
	tl, faults := crowdedMonth()
	f, err := Timeline("month / gcra", tl, 3600, faults)
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, f, "rate_429_crowded")
	checkLayout(t, f)
	fl := f.faults
	if fl.Dropped != 0 {
		t.Errorf("%d fault labels dropped, want 0", fl.Dropped)
	}
	if fl.Folded == 0 {
		t.Errorf("no fault folded: the fixture is not crowded")
	}
	n := fl.Dropped
	var named []string
	for _, txt := range fl.Texts {
		n++
		if i := strings.LastIndex(txt, " (+"); i >= 0 {
			var k int
			if _, err := fmt.Sscanf(txt[i:], " (+%d)", &k); err != nil || k < 1 {
				t.Errorf("label %q: bad fold count", txt)
			}
			n += k
			txt = txt[:i]
		}
		named = append(named, txt)
	}
	if n != len(faults) {
		t.Errorf("labels %q count %d faults, want %d", fl.Texts, n, len(faults))
	}
	for _, want := range []string{"az-outage b", "redis-failover"} {
		if !slices.Contains(named, want) {
			t.Errorf("no label names %q: %q", want, fl.Texts)
		}
	}
	t.Logf("%d labels for %d faults (%d folded): %q", len(fl.Texts), len(faults), fl.Folded, fl.Texts)
}

// TestTimelineFaultLabelEdges: a fault in the last second of a run is named
// left of its band (right of it would leave the data area), and a label
// longer than the plot is tall is left out and counted, never drawn off the
// canvas.
func TestTimelineFaultLabelEdges(t *testing.T) {
	tl, _ := fixtureTimeline()
	f, err := Timeline("x", tl, 1, []schema.Fault{{Kind: "spot-interruption", Target: "c-1", StartS: 59.8, EndS: 60}})
	if err != nil {
		t.Fatal(err)
	}
	checkLayout(t, f)
	if got := f.faults.Texts; len(got) != 1 || got[0] != "spot-interruption c-1" || f.faults.Folded+f.faults.Dropped != 0 {
		t.Errorf("fault at the end: labels %q, %d folded, %d dropped", got, f.faults.Folded, f.faults.Dropped)
	}
	long := schema.Fault{Kind: "az-outage", Target: strings.Repeat("very-long-zone-name ", 20), StartS: 10, EndS: 20}
	f, err = Timeline("x", tl, 1, []schema.Fault{long})
	if err != nil {
		t.Fatal(err)
	}
	checkLayout(t, f)
	if len(f.faults.Texts) != 0 || f.faults.Dropped != 1 {
		t.Errorf("over-long label: labels %q, %d dropped, want none and 1", f.faults.Texts, f.faults.Dropped)
	}
}
