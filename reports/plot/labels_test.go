package plot

import (
	"testing"

	"gonum.org/v1/plot/vg"

	"tollgate/schema"
)

// checkLayout renders f and checks that no placed label overlaps another or
// leaves the canvas, and that the legend lies inside the canvas.
func checkLayout(t *testing.T, f *Figure) {
	t.Helper()
	if _, err := f.PNG(); err != nil {
		t.Fatal(err)
	}
	canvas := vg.Rectangle{Max: vg.Point{X: f.Width, Y: f.Height}}
	if f.labels != nil {
		for i, a := range f.labels.Placed {
			if !inside(a, canvas) {
				t.Errorf("%s: label %d %v leaves the canvas %v", f.Name, i, a, canvas)
			}
			for j, b := range f.labels.Placed[:i] {
				if overlaps(a, b) {
					t.Errorf("%s: labels %d and %d overlap: %v %v", f.Name, j, i, b, a)
				}
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
