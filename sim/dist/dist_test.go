package dist

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestAliasMatchesWeights(t *testing.T) {
	for _, s := range []float64{0, 0.5, 0.99, 1.2} {
		w, err := ZipfWeights(50, s)
		if err != nil {
			t.Fatal(err)
		}
		a, err := NewAlias(w)
		if err != nil {
			t.Fatal(err)
		}
		r := rand.New(rand.NewPCG(3, 4))
		const n = 400000
		counts := make([]int, 50)
		for i := 0; i < n; i++ {
			counts[a.Sample(r)]++
		}
		sum := 0.0
		for _, x := range w {
			sum += x
		}
		for _, k := range []int{0, 1, 9, 49} {
			p := w[k] / sum
			got := float64(counts[k]) / n
			sd := math.Sqrt(p * (1 - p) / n)
			if math.Abs(got-p) > 5*sd {
				t.Errorf("s=%v rank %d: frequency %.5f, want %.5f (5 sd = %.5f)", s, k+1, got, p, 5*sd)
			}
		}
	}
}

func TestAliasRejectsBadWeights(t *testing.T) {
	for name, w := range map[string][]float64{"empty": nil, "zero": {0, 0}, "negative": {1, -1}, "nan": {math.NaN()}} {
		if _, err := NewAlias(w); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := ZipfWeights(10, -1); err == nil {
		t.Error("negative exponent accepted")
	}
}

func TestDistMeans(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, k := range Kinds {
		d, err := New(k, 100, 0)
		if err != nil {
			t.Fatal(k, err)
		}
		const n = 400000
		sum := 0.0
		for i := 0; i < n; i++ {
			x := d.Sample(r)
			if x < 0 {
				t.Fatalf("%s: negative sample %v", k, x)
			}
			sum += x
		}
		tol := 0.01
		if k == Pareto {
			tol = 0.03 // heavy tail converges slowly
		}
		if m := sum / n; math.Abs(m-100)/100 > tol {
			t.Errorf("%s: mean %.3f, want 100 within %.0f%%", k, m, tol*100)
		}
		if q := d.Quantile(0.5); !(q >= 0) {
			t.Errorf("%s: median %v", k, q)
		}
	}
	if _, err := New("weird", 1, 0); err == nil {
		t.Error("unknown kind accepted")
	}
	if _, err := New(Pareto, 1, 0.5); err == nil {
		t.Error("pareto alpha <= 1 accepted")
	}
}
