package plan

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/integrate/quad"
	"gonum.org/v1/gonum/stat/distuv"
)

// coverage draws trials samples of the estimate and counts how often the 95%
// interval holds the true value.
func coverage(trials int, one func(r *rand.Rand) (lo, hi float64), truth float64) float64 {
	r := rand.New(rand.NewPCG(7, 11))
	hit := 0
	for range trials {
		lo, hi := one(r)
		if lo <= truth && truth <= hi {
			hit++
		}
	}
	return float64(hit) / float64(trials)
}

func TestIntervalCoverage(t *testing.T) {
	const trials = 4000
	// One component: 6 normal draws, mean 3, sd 2.
	got := coverage(trials, func(r *rand.Rand) (float64, float64) {
		xs := make([]float64, 6)
		for i := range xs {
			xs[i] = 3 + 2*r.NormFloat64()
		}
		_, lo, hi := interval(0.95, []component{meanOf(xs)}, []float64{1})
		return lo, hi
	}, 3)
	if got < 0.935 || got > 0.965 {
		t.Errorf("one component: 95%% interval covered %.3f of %d trials", got, trials)
	}
	// A weighted sum of two components with different n and variance
	// (Welch-Satterthwaite): 0.5*E[x] + 20*E[y], x ~ N(1, 1) n=5, y ~ Exp(mean 0.1) n=30.
	got = coverage(trials, func(r *rand.Rand) (float64, float64) {
		xs := make([]float64, 5)
		for i := range xs {
			xs[i] = 1 + r.NormFloat64()
		}
		ys := make([]float64, 30)
		for i := range ys {
			ys[i] = 0.1 * r.ExpFloat64()
		}
		_, lo, hi := interval(0.95, []component{meanOf(xs), meanOf(ys)}, []float64{0.5, 20})
		return lo, hi
	}, 0.5+2)
	if got < 0.92 || got > 0.975 {
		t.Errorf("two components: 95%% interval covered %.3f of %d trials", got, trials)
	}
}

func TestControlledCoverageAndVariance(t *testing.T) {
	const trials = 3000
	// x = 100 + 50 c + noise, c log-normal with a known mean: the control
	// variate must keep coverage and cut the interval's width.
	mu := math.Exp(0.7 * 0.7 / 2)
	truth := 100 + 50*mu
	var wPlain, wCV float64
	got := coverage(trials, func(r *rand.Rand) (float64, float64) {
		n := 10
		xs, cs := make([]float64, n), make([]float64, n)
		for i := range xs {
			cs[i] = math.Exp(0.7 * r.NormFloat64())
			xs[i] = 100 + 50*cs[i] + 5*r.NormFloat64()
		}
		_, pl, ph := interval(0.95, []component{meanOf(xs)}, []float64{1})
		_, lo, hi := interval(0.95, []component{controlled(xs, cs, mu)}, []float64{1})
		wPlain += ph - pl
		wCV += hi - lo
		return lo, hi
	}, truth)
	if got < 0.93 || got > 0.97 {
		t.Errorf("control variate: 95%% interval covered %.3f of %d trials", got, trials)
	}
	if wCV > wPlain/3 {
		t.Errorf("control variate interval %.2f not much narrower than plain %.2f", wCV/trials, wPlain/trials)
	}
}

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
