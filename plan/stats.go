package plan

import (
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

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
