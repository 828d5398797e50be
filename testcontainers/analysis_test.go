package testcontainers

import (
	"math"
	"testing"
)

func TestRatio(t *testing.T) {
	if Ratio(0, 0) != 1 || Ratio(2, 4) != 0.5 || !math.IsInf(Ratio(1, 0), 1) {
		t.Fatal("Ratio conventions broken")
	}
}
