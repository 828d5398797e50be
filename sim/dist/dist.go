// Package dist holds the simulator's samplers: an alias table (Walker's
// method) for discrete choices such as Zipf key popularity with any exponent,
// and service-time distributions. Samplers draw from a *rand.Rand passed in,
// so each component keeps its own seeded stream; none allocates per draw.
package dist

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/stat/distuv"
)

// Alias samples index i with probability w[i]/sum(w) in O(1) (Walker's alias
// method, Vose's construction). It is immutable after construction and safe
// for concurrent use with separate streams.
type Alias struct {
	prob  []float64
	alias []int32
}

// NewAlias builds the table for weights w (non-negative, at least one > 0).
func NewAlias(w []float64) (*Alias, error) {
	n := len(w)
	if n == 0 {
		return nil, errors.New("dist: alias: no weights")
	}
	if n > math.MaxInt32 {
		return nil, fmt.Errorf("dist: alias: too many weights, got %d", n)
	}
	sum := 0.0
	for i, x := range w {
		if math.IsNaN(x) || math.IsInf(x, 0) || x < 0 {
			return nil, fmt.Errorf("dist: alias: weight[%d]: must be finite and >= 0, got %v", i, x)
		}
		sum += x
	}
	if sum <= 0 {
		return nil, errors.New("dist: alias: weights sum to 0")
	}
	a := &Alias{prob: make([]float64, n), alias: make([]int32, n)}
	scaled := make([]float64, n)
	small := make([]int32, 0, n)
	large := make([]int32, 0, n)
	for i, x := range w {
		scaled[i] = x * float64(n) / sum
		if scaled[i] < 1 {
			small = append(small, int32(i))
		} else {
			large = append(large, int32(i))
		}
	}
	for len(small) > 0 && len(large) > 0 {
		s := small[len(small)-1]
		small = small[:len(small)-1]
		l := large[len(large)-1]
		a.prob[s] = scaled[s]
		a.alias[s] = l
		scaled[l] = scaled[l] + scaled[s] - 1
		if scaled[l] < 1 {
			large = large[:len(large)-1]
			small = append(small, l)
		}
	}
	for _, i := range large {
		a.prob[i] = 1
		a.alias[i] = i
	}
	for _, i := range small { // rounding leftovers
		a.prob[i] = 1
		a.alias[i] = i
	}
	return a, nil
}

// Len returns the number of outcomes.
func (a *Alias) Len() int { return len(a.prob) }

// Sample draws one index.
func (a *Alias) Sample(r *rand.Rand) int {
	u := r.Float64() * float64(len(a.prob))
	i := int(u)
	if i >= len(a.prob) {
		i = len(a.prob) - 1
	}
	if u-float64(i) < a.prob[i] {
		return i
	}
	return int(a.alias[i])
}

// ZipfWeights returns the weights of ranks 1..n under Zipf's law with
// exponent s >= 0: w[k-1] = 1/k^s. Unlike math/rand's Zipf, any s >= 0 works,
// including s < 1 (s = 0 is uniform).
func ZipfWeights(n int, s float64) ([]float64, error) {
	if n <= 0 {
		return nil, fmt.Errorf("dist: zipf: keys must be > 0, got %d", n)
	}
	if math.IsNaN(s) || s < 0 || s > 10 {
		return nil, fmt.Errorf("dist: zipf: exponent must be in [0, 10], got %v", s)
	}
	w := make([]float64, n)
	for k := range w {
		w[k] = math.Pow(float64(k+1), -s)
	}
	return w, nil
}

// Kind names a service-time distribution.
type Kind string

// Distribution kinds. Each is parameterised by its mean; Shape is the
// log-normal's sigma, the Pareto's alpha, the gamma's shape.
const (
	Deterministic Kind = "deterministic"
	Exponential   Kind = "exponential"
	LogNormal     Kind = "lognormal"
	Pareto        Kind = "pareto"
	Uniform       Kind = "uniform"
	Gamma         Kind = "gamma"
)

// Kinds lists the distribution kinds.
var Kinds = []Kind{Deterministic, Exponential, LogNormal, Pareto, Uniform, Gamma}

// Dist is a positive distribution with a given mean, sampled in nanoseconds
// (or any unit: the mean's). The zero value always returns 0.
type Dist struct {
	Kind Kind
	// Mean of the distribution.
	Mean float64
	// Shape: log-normal sigma (default 0.5), Pareto alpha (> 1, default 2.5),
	// gamma shape (default 2), uniform half-width as a fraction of the mean
	// in [0, 1] (default 1).
	Shape float64

	mu    float64 // log-normal location
	xm    float64 // Pareto scale
	gamma distuv.Gamma
}

// New returns a validated distribution.
func New(kind Kind, mean, shape float64) (Dist, error) {
	d := Dist{Kind: kind, Mean: mean, Shape: shape}
	if math.IsNaN(mean) || math.IsInf(mean, 0) || mean < 0 {
		return d, fmt.Errorf("mean: must be finite and >= 0, got %v", mean)
	}
	if math.IsNaN(shape) || math.IsInf(shape, 0) || shape < 0 {
		return d, fmt.Errorf("shape: must be finite and >= 0, got %v", shape)
	}
	switch kind {
	case Deterministic, Exponential:
	case LogNormal:
		if d.Shape == 0 {
			d.Shape = 0.5
		}
		if d.Shape > 5 {
			return d, fmt.Errorf("shape: log-normal sigma must be <= 5, got %v", shape)
		}
		if mean > 0 {
			d.mu = math.Log(mean) - d.Shape*d.Shape/2
		}
	case Pareto:
		if d.Shape == 0 {
			d.Shape = 2.5
		}
		if d.Shape <= 1 {
			return d, fmt.Errorf("shape: Pareto alpha must be > 1 for a finite mean, got %v", shape)
		}
		d.xm = mean * (d.Shape - 1) / d.Shape
	case Uniform:
		if d.Shape == 0 {
			d.Shape = 1
		}
		if d.Shape > 1 {
			return d, fmt.Errorf("shape: uniform half-width must be <= 1, got %v", shape)
		}
	case Gamma:
		if d.Shape == 0 {
			d.Shape = 2
		}
		d.gamma = distuv.Gamma{Alpha: d.Shape, Beta: d.Shape / math.Max(mean, 1e-300)}
	default:
		return d, fmt.Errorf("kind: must be one of %v, got %q", Kinds, kind)
	}
	return d, nil
}

// Sample draws one value from stream r.
func (d *Dist) Sample(r *rand.Rand) float64 {
	switch d.Kind {
	case Deterministic:
		return d.Mean
	case Exponential:
		return r.ExpFloat64() * d.Mean
	case LogNormal:
		if d.Mean == 0 {
			return 0
		}
		return math.Exp(d.mu + d.Shape*r.NormFloat64())
	case Pareto:
		return d.xm / math.Pow(1-r.Float64(), 1/d.Shape)
	case Uniform:
		return d.Mean * (1 + d.Shape*(2*r.Float64()-1))
	case Gamma:
		if d.Mean == 0 {
			return 0
		}
		g := d.gamma
		g.Src = r
		return g.Rand()
	}
	return 0
}

// Quantile returns the q-quantile (0 < q < 1) using gonum's distuv where a
// closed form exists there.
func (d *Dist) Quantile(q float64) float64 {
	switch d.Kind {
	case Deterministic:
		return d.Mean
	case Exponential:
		if d.Mean == 0 {
			return 0
		}
		return distuv.Exponential{Rate: 1 / d.Mean}.Quantile(q)
	case LogNormal:
		return distuv.LogNormal{Mu: d.mu, Sigma: d.Shape}.Quantile(q)
	case Pareto:
		return distuv.Pareto{Xm: d.xm, Alpha: d.Shape}.Quantile(q)
	case Uniform:
		return distuv.Uniform{Min: d.Mean * (1 - d.Shape), Max: d.Mean * (1 + d.Shape)}.Quantile(q)
	case Gamma:
		return d.gamma.Quantile(q)
	}
	return 0
}
