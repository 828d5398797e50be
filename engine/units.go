package engine

import (
	"fmt"
	"math"
	"time"
)

// MilliPerToken is the fixed-point scale of costs, capacities and counts:
// one token is 1000 millitokens, so costs have a resolution of 0.001 token.
const MilliPerToken = 1000

// NanoPerToken is the fixed-point scale of bucket balances inside the
// token-bucket family (token-bucket, gcra, ptb-cwd). With rates kept in
// millitokens per second, a rate is exactly nanotokens per microsecond, so
// refill is elapsed_us * rate with no remainder to lose.
const NanoPerToken = 1_000_000_000

// nanoPerMilli converts millitokens to nanotokens.
const nanoPerMilli = NanoPerToken / MilliPerToken

// Bounds that keep every intermediate value below 2^53, where Lua's doubles
// stop being exact integers.
const (
	// MaxCapacity is the largest capacity, in tokens, a policy may have.
	MaxCapacity = 1_000_000
	// MaxRatePerSecond is the largest refill rate, in tokens per second.
	MaxRatePerSecond = 1_000_000
	// MaxSlidingWindow is the longest sliding-window window.
	MaxSlidingWindow = time.Hour
)

// Micros converts a wall-clock time to the engine's time unit, microseconds
// since the Unix epoch.
func Micros(t time.Time) int64 { return t.UnixMicro() }

// FromMicros converts engine microseconds back to a time.Time in UTC.
func FromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// Tokens converts a cost in tokens to millitokens, rounding to the nearest
// millitoken. It does not validate; use [ParseCost] for untrusted input.
func Tokens(t float64) int64 { return int64(math.Round(t * MilliPerToken)) }

// ParseCost converts a cost in tokens to millitokens and rejects NaN,
// infinities, negative values and values above [MaxCapacity] tokens.
func ParseCost(t float64) (int64, error) {
	if math.IsNaN(t) || math.IsInf(t, 0) {
		return 0, fmt.Errorf("%w: cost: must be a finite number, got %v", ErrInvalid, t)
	}
	if t < 0 {
		return 0, fmt.Errorf("%w: cost: must be >= 0, got %v", ErrInvalid, t)
	}
	if t > MaxCapacity {
		return 0, fmt.Errorf("%w: cost: must be <= %d, got %v", ErrInvalid, MaxCapacity, t)
	}
	return Tokens(t), nil
}

// MilliToTokens converts millitokens to tokens.
func MilliToTokens(m int64) float64 { return float64(m) / MilliPerToken }

// ceilDiv returns ceil(a/b) for a >= 0, b > 0.
func ceilDiv(a, b int64) int64 {
	if a <= 0 {
		return 0
	}
	return (a + b - 1) / b
}

// floorDiv returns floor(a/b) for b > 0 and any sign of a.
func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && (a < 0) {
		q--
	}
	return q
}
