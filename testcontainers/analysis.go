package testcontainers

import "math"

// Ratio is measured / predicted, with the convention that two zeros agree
// (1) and a zero prediction against a non-zero measurement is +Inf.
func Ratio(measured, predicted float64) float64 {
	switch {
	case predicted == 0 && measured == 0:
		return 1
	case predicted == 0:
		return math.Inf(1)
	default:
		return measured / predicted
	}
}
