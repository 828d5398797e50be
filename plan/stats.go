package plan

import (
	"math"

	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"
)

// component is one independent estimate entering a combined interval: its
// mean, the variance of that mean and its degrees of freedom.
type component struct {
	mean, varMean, df float64
}

// meanOf is the sample mean of xs with the variance of that mean (s^2/n) and
// n-1 degrees of freedom.
func meanOf(xs []float64) component {
	n := float64(len(xs))
	if n == 0 {
		return component{}
	}
	if n == 1 {
		return component{mean: xs[0], df: 0}
	}
	m, v := stat.MeanVariance(xs, nil)
	return component{mean: m, varMean: v / n, df: n - 1}
}

// controlled is the control-variate estimate of E[x] when each x[i] was drawn
// with a control c[i] whose expectation mu is known exactly (a zone outage's
// errors against its drawn duration): the least-squares line of x on c read
// at c = mu, mean(x) - beta (mean(c) - mu). Its variance is the regression's
// prediction variance s_e^2 (1/n + (mu - mean(c))^2 / Sxx) on n-2 degrees of
// freedom (Law, Simulation Modeling and Analysis, section 11.4). With fewer
// than four replications or a constant control it falls back to meanOf.
func controlled(x, c []float64, mu float64) component {
	n := float64(len(x))
	if len(x) < 4 || len(c) != len(x) {
		return meanOf(x)
	}
	mc, vc := stat.MeanVariance(c, nil)
	if !(vc > 0) {
		return meanOf(x)
	}
	mx, vx := stat.MeanVariance(x, nil)
	sxx, sxy, syy := (n-1)*vc, (n-1)*stat.Covariance(x, c, nil), (n-1)*vx
	beta := sxy / sxx
	se2 := math.Max(syy-sxy*sxy/sxx, 0) / (n - 2)
	d := mu - mc
	return component{mean: mx + beta*d, varMean: se2 * (1/n + d*d/sxx), df: n - 2}
}

// interval returns mean, lower and upper of the sum of weighted components at
// the given confidence, with Welch-Satterthwaite degrees of freedom and
// Student's t. A sum with zero variance has a zero-width interval.
func interval(conf float64, parts []component, weights []float64) (mean, lower, upper float64) {
	var v, denom float64
	for i, p := range parts {
		w := weights[i]
		mean += w * p.mean
		vi := w * w * p.varMean
		v += vi
		if vi > 0 && p.df > 0 {
			denom += vi * vi / p.df
		}
	}
	if !(v > 0) {
		return mean, mean, mean
	}
	df := 1.0
	if denom > 0 {
		df = v * v / denom
	}
	t := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: df}.Quantile(0.5 + conf/2)
	h := t * math.Sqrt(v)
	return mean, mean - h, mean + h
}

// truncLogNormalMean is E[min(D, m)] for D log-normal with median med and
// shape sigma: exp(mu + sigma^2/2) Phi((ln m - mu - sigma^2)/sigma) +
// m (1 - Phi((ln m - mu)/sigma)), mu = ln med.
func truncLogNormalMean(med, sigma, m float64) float64 {
	if sigma == 0 {
		return math.Min(med, m)
	}
	mu := math.Log(med)
	z := distuv.UnitNormal
	lm := math.Log(m)
	return math.Exp(mu+sigma*sigma/2)*z.CDF((lm-mu-sigma*sigma)/sigma) + m*(1-z.CDF((lm-mu)/sigma))
}
