package testcontainers

import "math"

// Ratio is measured / predicted. Two zeros are not applicable (NaN), never
// an agreement; a zero prediction against a non-zero measurement is +Inf.
func Ratio(measured, predicted float64) float64 {
	switch {
	case predicted == 0 && measured == 0:
		return math.NaN()
	case predicted == 0:
		return math.Inf(1)
	default:
		return measured / predicted
	}
}
