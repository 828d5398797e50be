package plan

import (
	"math"
	"testing"

	"gonum.org/v1/gonum/integrate/quad"
	"gonum.org/v1/gonum/stat/distuv"
)

func TestTruncLogNormalMean(t *testing.T) {
	for _, c := range []struct{ med, sigma, max float64 }{{45, 0.7, 180}, {30, 0.8, 60}, {10, 0, 5}, {10, 2, 1e6}} {
		d := distuv.LogNormal{Mu: math.Log(c.med), Sigma: c.sigma}
		var want float64
		if c.sigma == 0 {
			want = math.Min(c.med, c.max)
		} else {
			// E[min(D, m)] = integral over [0, m] of the survival function.
			want = quad.Fixed(func(x float64) float64 { return 1 - d.CDF(x) }, 0, c.max, 2000, nil, 0)
		}
		got := truncLogNormalMean(c.med, c.sigma, c.max)
		if math.Abs(got-want) > 1e-3*want {
			t.Errorf("%+v: got %v, want %v", c, got, want)
		}
	}
}
