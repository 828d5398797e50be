package testcontainers

import (
	"math"
	"strings"
	"testing"
)

func TestRatio(t *testing.T) {
	if !math.IsNaN(Ratio(0, 0)) || Ratio(2, 4) != 0.5 || !math.IsInf(Ratio(1, 0), 1) {
		t.Fatal("Ratio conventions broken")
	}
}

func TestHeld(t *testing.T) {
	h := Held{Measured: []float64{1.1, 0.9, 1.0, 0}, Predicted: []float64{1, 1, 1, 0}, Tolerance: 0.1}
	rs, na := h.Ratios()
	if len(rs) != 3 || na != 1 {
		t.Fatalf("ratios %v, %d n/a: want 3 and one 0/0", rs, na)
	}
	m, lo, hi := MeanCI(rs)
	// mean 1, sd 0.1, t(0.975, 2) = 4.303: half-width 0.2484
	if math.Abs(m-1) > 1e-12 || math.Abs(hi-1-0.24841) > 1e-4 || math.Abs(1-lo-0.24841) > 1e-4 {
		t.Errorf("mean %v CI %v-%v", m, lo, hi)
	}
	if h.Verdict() != "held" {
		t.Errorf("verdict %q", h.Verdict())
	}
	h.Measured = []float64{2, 2, 2, 0}
	if h.Verdict() != "NOT held" || !h.Failed() {
		t.Errorf("verdict %q", h.Verdict())
	}
	if v := (Held{Measured: []float64{0, 0}, Predicted: []float64{0, 0}, Tolerance: 0.1}).Verdict(); v != "n/a" {
		t.Errorf("all 0/0: verdict %q, want n/a", v)
	}
	b := Held{Measured: []float64{3, 4}, Predicted: []float64{15, 15}, Bound: true}
	if b.Verdict() != "held" {
		t.Errorf("bound verdict %q", b.Verdict())
	}
	b.Measured[1] = 16
	if b.Verdict() != "NOT held" {
		t.Errorf("bound verdict %q", b.Verdict())
	}
	var sb strings.Builder
	if err := WriteHeldTable(&sb, []Held{h, b, {Group: "g", Name: "q", Measured: []float64{0}, Predicted: []float64{0}}}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| 4 (1 n/a: 0/0) |", "measured <= bound", "| n/a | - |"} {
		if !strings.Contains(sb.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, sb.String())
		}
	}
}
