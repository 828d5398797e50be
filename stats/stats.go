// Package stats owns tollgate's interval statistics: the mean of independent
// replications with its Student-t confidence interval, weighted sums of such
// means with Welch-Satterthwaite degrees of freedom, and control-variate
// estimates. gwlab's replicated runs (summary.json's intervals) and the
// planner (plan.json) both take their intervals from here, so a "95%
// interval" means the same thing in every file tollgate writes.
//
// It imports nothing of ours; quantiles come from gonum's distuv.StudentsT.
package stats

import (
	"math"

	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"
)

// Component is one independent estimate entering a combined interval: its
// mean, the variance of that mean and its degrees of freedom.
type Component struct {
	Mean, VarMean, DF float64
}

// MeanOf is the sample mean of xs with the variance of that mean (s^2/n) and
// n-1 degrees of freedom. One value has no variance and no degrees of
// freedom; none gives the zero Component.
func MeanOf(xs []float64) Component {
	n := float64(len(xs))
	if n == 0 {
		return Component{}
	}
	if n == 1 {
		return Component{Mean: xs[0], DF: 0}
	}
	m, v := stat.MeanVariance(xs, nil)
	return Component{Mean: m, VarMean: v / n, DF: n - 1}
}

// Controlled is the control-variate estimate of E[x] when each x[i] was drawn
// with a control c[i] whose expectation mu is known exactly (a zone outage's
// errors against its drawn duration): the least-squares line of x on c read
// at c = mu, mean(x) - beta (mean(c) - mu). Its variance is the regression's
// prediction variance s_e^2 (1/n + (mu - mean(c))^2 / Sxx) on n-2 degrees of
// freedom (Law, Simulation Modeling and Analysis, section 11.4). With fewer
// than four replications or a constant control it falls back to MeanOf.
func Controlled(x, c []float64, mu float64) Component {
	line, _ := Prediction(x, c, mu)
	return line
}

// Prediction is Controlled's line read at c = at, with one new
// observation's own spread about it: the residual variance s_e^2 on n-2
// degrees of freedom, as a Component of mean 0 (a prediction interval for
// one occurrence is the sum of the two). Without a usable control (c of
// another length, fewer than four values, c constant) the line is MeanOf(x)
// and the spread the sample variance on n-1.
func Prediction(x, c []float64, at float64) (line, own Component) {
	n := float64(len(x))
	var mc, vc float64
	if len(x) >= 4 && len(c) == len(x) {
		mc, vc = stat.MeanVariance(c, nil)
	}
	if !(vc > 0) {
		line = MeanOf(x)
		return line, Component{VarMean: line.VarMean * n, DF: line.DF}
	}
	mx, vx := stat.MeanVariance(x, nil)
	sxx, sxy, syy := (n-1)*vc, (n-1)*stat.Covariance(x, c, nil), (n-1)*vx
	se2 := math.Max(syy-sxy*sxy/sxx, 0) / (n - 2)
	d := at - mc
	return Component{Mean: mx + sxy/sxx*d, VarMean: se2 * (1/n + d*d/sxx), DF: n - 2}, Component{VarMean: se2, DF: n - 2}
}

// Interval returns mean, lower and upper of the sum of weighted components at
// the given confidence, with Welch-Satterthwaite degrees of freedom and
// Student's t. A sum with zero variance has a zero-width interval.
func Interval(conf float64, parts []Component, weights []float64) (mean, lower, upper float64) {
	var v, denom float64
	for i, p := range parts {
		w := weights[i]
		mean += w * p.Mean
		vi := w * w * p.VarMean
		v += vi
		if vi > 0 && p.DF > 0 {
			denom += vi * vi / p.DF
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

// MeanInterval is the mean of the independent replications xs with its
// two-sided Student-t interval at confidence conf (n-1 degrees of freedom):
// Interval of MeanOf(xs) alone. Identical values, or a single one, give a
// zero-width interval.
func MeanInterval(conf float64, xs []float64) (mean, lower, upper float64) {
	return Interval(conf, []Component{MeanOf(xs)}, []float64{1})
}
