package engine

import (
	"fmt"
	"sort"
)

// Algorithm names a rate-limit algorithm.
type Algorithm string

// The algorithms the engine implements.
const (
	// FixedWindow counts cost per fixed window (INCR+EXPIRE); the naive
	// baseline, which admits up to twice its limit across a window boundary.
	FixedWindow Algorithm = "fixed-window"
	// SlidingWindow is the sliding-window counter approximation: the previous
	// window's count weighted by its overlap plus the current count.
	SlidingWindow Algorithm = "sliding-window"
	// TokenBucket refills Rate tokens per Period up to Capacity.
	TokenBucket Algorithm = "token-bucket"
	// GCRA is the generic cell rate algorithm: one theoretical arrival time
	// per key, equivalent to a token bucket of the same burst and rate.
	GCRA Algorithm = "gcra"
	// PTBCWD is the cost-weighted token bucket with decay: fractional costs,
	// refill that stops at RefillCap x Capacity (against credit hoarding), and
	// any balance above that ceiling (from refunds) decaying at the refill rate.
	PTBCWD Algorithm = "ptb-cwd"
	// Concurrency limits cost in flight; Release returns it.
	Concurrency Algorithm = "concurrency"
)

// algorithmInfo describes an algorithm for listings; code is the numeric id the
// Lua script uses.
type algorithmInfo struct {
	code        int64
	description string
}

var algorithms = map[Algorithm]algorithmInfo{
	FixedWindow:   {1, "naive fixed window (INCR+EXPIRE); the baseline, with its boundary burst of up to 2x the limit"},
	SlidingWindow: {2, "sliding window counter: previous window weighted by overlap plus the current window"},
	TokenBucket:   {3, "token bucket: capacity as burst, refill at a sustained rate, debt allowed on settle"},
	GCRA:          {4, "generic cell rate algorithm: one theoretical arrival time per key, integer microseconds"},
	PTBCWD:        {5, "cost-weighted token bucket with decay: fractional costs, refill capped below capacity against hoarding"},
	Concurrency:   {6, "concurrency limiter: cost in flight up to capacity, returned on release"},
}

// Algorithms returns every algorithm name, sorted.
func Algorithms() []Algorithm {
	out := make([]Algorithm, 0, len(algorithms))
	for a := range algorithms {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// Description returns a one-line description of the algorithm, or "" if it is
// unknown.
func (a Algorithm) Description() string { return algorithms[a].description }

// Code returns the algorithm's numeric id as the Lua script knows it, or 0.
func (a Algorithm) Code() int64 { return algorithms[a].code }

// ParseAlgorithm returns the algorithm with the given name.
func ParseAlgorithm(name string) (Algorithm, error) {
	a := Algorithm(name)
	if _, ok := algorithms[a]; !ok {
		return "", fmt.Errorf("%w: %q (known: %v)", ErrUnknownAlgorithm, name, Algorithms())
	}
	return a, nil
}
