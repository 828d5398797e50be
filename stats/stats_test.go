package stats

import (
	"math"
	"math/rand/v2"
	"testing"
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
	// 4000 trials: a true 95% coverage gives a hit share with standard
	// deviation sqrt(0.95*0.05/4000) = 0.0034, so [0.935, 0.965] is about
	// 4.3 standard deviations each side; the trials are seeded, so the
	// test is deterministic and fails only on a real change of coverage.
	const trials = 4000
	// One component: 6 normal draws, mean 3, sd 2.
	got := coverage(trials, func(r *rand.Rand) (float64, float64) {
		xs := make([]float64, 6)
		for i := range xs {
			xs[i] = 3 + 2*r.NormFloat64()
		}
		_, lo, hi := Interval(0.95, []Component{MeanOf(xs)}, []float64{1})
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
		_, lo, hi := Interval(0.95, []Component{MeanOf(xs), MeanOf(ys)}, []float64{0.5, 20})
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
		_, pl, ph := Interval(0.95, []Component{MeanOf(xs)}, []float64{1})
		_, lo, hi := Interval(0.95, []Component{Controlled(xs, cs, mu)}, []float64{1})
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

// TestMeanInterval checks MeanInterval against the textbook interval
// computed by hand (no shared code): xs = 1..5 has mean 3, s^2 = 2.5, and
// t(0.975, 4) = 2.776445105 (any t table), so the half-width is
// 2.776445105 * sqrt(2.5/5).
func TestMeanInterval(t *testing.T) {
	m, lo, hi := MeanInterval(0.95, []float64{1, 2, 3, 4, 5})
	h := 2.776445105 * math.Sqrt(2.5/5)
	if m != 3 || math.Abs(lo-(3-h)) > 1e-8 || math.Abs(hi-(3+h)) > 1e-8 {
		t.Errorf("MeanInterval(1..5) = %v [%v, %v], want 3 [%v, %v]", m, lo, hi, 3-h, 3+h)
	}
	for _, xs := range [][]float64{{7}, {7, 7, 7}} {
		if m, lo, hi := MeanInterval(0.95, xs); m != 7 || lo != 7 || hi != 7 {
			t.Errorf("MeanInterval(%v) = %v [%v, %v], want a zero-width interval at 7", xs, m, lo, hi)
		}
	}
	// 90% is narrower than 95%, which is narrower than 99%.
	_, l90, h90 := MeanInterval(0.90, []float64{1, 2, 3, 4, 5})
	_, l99, h99 := MeanInterval(0.99, []float64{1, 2, 3, 4, 5})
	if !(h90-l90 < hi-lo && hi-lo < h99-l99) {
		t.Errorf("widths 90%% %v, 95%% %v, 99%% %v: want increasing", h90-l90, hi-lo, h99-l99)
	}
}

// TestPredictionCoverage: the prediction interval for one new observation at
// a given control value (the line plus the observation's own spread) covers
// it 95% of the time, for a control value inside and at the edge of the
// controls drawn. 3000 trials: sd of the hit share 0.004, so [0.93, 0.97]
// is five of them each side.
func TestPredictionCoverage(t *testing.T) {
	const trials = 3000
	for _, at := range []float64{1.2, 3} {
		r := rand.New(rand.NewPCG(3, 5))
		hit := 0
		for range trials {
			n := 12
			xs, cs := make([]float64, n), make([]float64, n)
			for i := range xs {
				cs[i] = math.Min(math.Exp(0.6*r.NormFloat64()), 3)
				xs[i] = 100 + 50*cs[i] + 5*r.NormFloat64()
			}
			line, own := Prediction(xs, cs, at)
			_, lo, hi := Interval(0.95, []Component{line, own}, []float64{1, 1})
			y := 100 + 50*at + 5*r.NormFloat64()
			if lo <= y && y <= hi {
				hit++
			}
		}
		if got := float64(hit) / trials; got < 0.93 || got > 0.97 {
			t.Errorf("at %g: 95%% prediction interval covered %.3f of %d new observations", at, got, trials)
		}
	}
	// without a usable control: the sample variance on n-1
	line, own := Prediction([]float64{1, 2, 3}, []float64{5, 5, 5}, 5)
	if line.Mean != 2 || own.VarMean != 1 || own.DF != 2 {
		t.Errorf("fallback: line %+v own %+v, want mean 2, variance 1 on 2 df", line, own)
	}
}
