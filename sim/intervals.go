package sim

import (
	"math"
	"sort"
)

// span is a half-open interval of virtual time [from, to) in nanoseconds.
type span struct{ from, to int64 }

// spans is a sorted set of disjoint intervals queried with nearly
// increasing times: a cursor makes each query O(1) amortised.
type spans struct {
	s   []span
	cur int
}

// add inserts [from, to) (to = math.MaxInt64 for "forever"); call normalize
// after the last add.
func (x *spans) add(from, to int64) {
	if to > from {
		x.s = append(x.s, span{from, to})
	}
}

// normalize sorts and merges the intervals.
func (x *spans) normalize() {
	sort.Slice(x.s, func(i, j int) bool { return x.s[i].from < x.s[j].from })
	out := x.s[:0]
	for _, sp := range x.s {
		if n := len(out); n > 0 && sp.from <= out[n-1].to {
			out[n-1].to = max(out[n-1].to, sp.to)
			continue
		}
		out = append(out, sp)
	}
	x.s = out
	x.cur = 0
}

// contains reports whether t lies in an interval.
func (x *spans) contains(t int64) bool {
	n := len(x.s)
	if n == 0 {
		return false
	}
	if x.cur >= n || x.s[x.cur].from > t {
		// went backwards: search
		x.cur = sort.Search(n, func(i int) bool { return x.s[i].to > t })
	}
	for x.cur < n && x.s[x.cur].to <= t {
		x.cur++
	}
	return x.cur < n && x.s[x.cur].from <= t
}

// nextStart returns the start of the first interval that begins after t and
// at or before limit... it returns the earliest time in (t, limit] covered by
// an interval, or math.MaxInt64 if none.
func (x *spans) firstIn(t, limit int64) int64 {
	for i := x.cur; i < len(x.s); i++ {
		sp := x.s[i]
		if sp.to <= t {
			continue
		}
		if sp.from > limit {
			break
		}
		return max(sp.from, t)
	}
	return math.MaxInt64
}
