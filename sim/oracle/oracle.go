// Package oracle holds the simulator's per-key reference limiters: what a
// policy allows, computed by code that shares nothing with the engine's
// transitions, on true time. The simulator holds every admission against them
// (over-admission) and every refusal of a client within its contract against
// them (false 429s).
//
// The bucket family (token-bucket, gcra, ptb-cwd) is golang.org/x/time/rate
// with explicit times; the windows are exact counters (a fixed window counts
// cost per aligned window; a sliding window keeps a log of every admission and
// allows at most the limit in any window of its length, which is what the
// engine's sliding-window counter approximates); concurrency counts cost in
// flight. Only the human form of a policy (engine.Limit: algorithm, capacity,
// rate, period, calendar, refill cap) is read, never its compiled units.
//
// Costs are in millitokens, times in microseconds since the Unix epoch. A
// Keys is not safe for concurrent use (the simulator's core is single
// threaded).
package oracle

import (
	"errors"
	"fmt"
	"math"
	"time"

	"golang.org/x/time/rate"

	"tollgate/engine"
)

// ErrUnsupported is returned for a policy the references cannot model.
var ErrUnsupported = errors.New("oracle: unsupported policy")

// milli is millitokens per token.
const milli = 1000

// kind of a reference.
type kind int

const (
	kBucket kind = iota
	kFixed
	kSliding
	kInflight
)

// spec is one policy's reference parameters in millitokens and microseconds.
type spec struct {
	kind kind
	// capMilli is the burst (bucket), the limit per window or in flight.
	capMilli int64
	// perSec is the bucket's refill in millitokens per second.
	perSec float64
	// slack is what a bucket may be short by and still admit: one
	// microsecond of refill, because the engine counts whole microseconds,
	// plus float64 rounding.
	slack float64
	// windowUS is the window length (fixed, sliding); 0 with a calendar.
	windowUS int64
	calendar engine.Calendar
}

// Plan is the reference for one plan: an admission must fit every policy.
type Plan struct {
	specs []spec
}

// NewPlan builds the reference of the policies given by their limits.
func NewPlan(limits ...engine.Limit) (*Plan, error) {
	p := &Plan{}
	for i, l := range limits {
		s, err := specOf(l)
		if err != nil {
			return nil, fmt.Errorf("oracle: policy %d (%q): %w", i, l.Name, err)
		}
		p.specs = append(p.specs, s)
	}
	return p, nil
}

// PlanOf builds the reference of an engine plan from its policies' sources.
func PlanOf(pl *engine.Plan) (*Plan, error) {
	ls := make([]engine.Limit, len(pl.Policies))
	for i, p := range pl.Policies {
		ls[i] = p.Source
	}
	return NewPlan(ls...)
}

func specOf(l engine.Limit) (spec, error) {
	if !(l.Capacity > 0) || math.IsInf(l.Capacity, 0) {
		return spec{}, fmt.Errorf("%w: capacity must be > 0, got %v", ErrUnsupported, l.Capacity)
	}
	capMilli := int64(math.Round(l.Capacity * milli))
	period := l.Period
	switch l.Algorithm {
	case engine.TokenBucket, engine.GCRA, engine.PTBCWD:
		if period == 0 {
			period = time.Second
		}
		if !(l.Rate > 0) {
			return spec{}, fmt.Errorf("%w: rate must be > 0, got %v", ErrUnsupported, l.Rate)
		}
		if l.Algorithm == engine.PTBCWD {
			// refill stops at the ceiling; with acquires only, the balance
			// never exceeds it, so the bucket's burst is the ceiling
			rc := l.RefillCap
			if rc == 0 {
				rc = engine.DefaultRefillCap
			}
			capMilli = int64(math.Floor(float64(capMilli) * rc))
		}
		perSec := l.Rate * milli * float64(time.Second) / float64(period)
		return spec{kind: kBucket, capMilli: capMilli, perSec: perSec, slack: perSec/1e6 + 1e-6}, nil
	case engine.FixedWindow:
		if l.Calendar != engine.CalendarNone {
			return spec{kind: kFixed, capMilli: capMilli, calendar: l.Calendar}, nil
		}
		if period < time.Microsecond {
			return spec{}, fmt.Errorf("%w: window must be >= 1us, got %v", ErrUnsupported, period)
		}
		return spec{kind: kFixed, capMilli: capMilli, windowUS: period.Microseconds()}, nil
	case engine.SlidingWindow:
		if period < time.Microsecond {
			return spec{}, fmt.Errorf("%w: window must be >= 1us, got %v", ErrUnsupported, period)
		}
		return spec{kind: kSliding, capMilli: capMilli, windowUS: period.Microseconds()}, nil
	case engine.Concurrency:
		return spec{kind: kInflight, capMilli: capMilli}, nil
	}
	return spec{}, fmt.Errorf("%w: algorithm %q", ErrUnsupported, l.Algorithm)
}

// state is one key's reference state for one policy.
type state struct {
	lim *rate.Limiter // bucket
	// fixed: the window's start and the cost admitted in it; inflight: the
	// cost in flight (win unused)
	win, count int64
	// sliding: the admissions still inside the window, oldest first
	log  []entry
	head int
	sum  int64
}

type entry struct{ at, cost int64 }

// Keys is a plan's reference state for every key, created on first use.
type Keys struct {
	plan *Plan
	keys [][]state
}

// NewKeys returns an empty reference of plan for keys 0..n-1 (it grows for
// higher ids).
func NewKeys(plan *Plan, n int) *Keys {
	return &Keys{plan: plan, keys: make([][]state, n)}
}

func (k *Keys) row(key int32) []state {
	if int(key) >= len(k.keys) {
		n := max(int(key)+1, 2*len(k.keys))
		ks := make([][]state, n)
		copy(ks, k.keys)
		k.keys = ks
	}
	r := k.keys[key]
	if r == nil {
		r = make([]state, len(k.plan.specs))
		for i, s := range k.plan.specs {
			if s.kind == kBucket {
				r[i].lim = rate.NewLimiter(rate.Limit(s.perSec), int(s.capMilli))
			}
		}
		k.keys[key] = r
	}
	return r
}

// Acquire charges cost (millitokens) to key at us (microseconds since the
// epoch) if every policy allows it, and reports whether they did; a refused
// acquire changes nothing.
func (k *Keys) Acquire(key int32, us, cost int64) bool {
	r := k.row(key)
	t := time.UnixMicro(us)
	for i := range k.plan.specs {
		if !k.plan.specs[i].allows(&r[i], t, us, cost) {
			return false
		}
	}
	for i := range k.plan.specs {
		k.plan.specs[i].take(&r[i], t, us, cost)
	}
	return true
}

// Release returns cost to key's concurrency policies (the others ignore it).
func (k *Keys) Release(key int32, cost int64) {
	r := k.row(key)
	for i, s := range k.plan.specs {
		if s.kind == kInflight {
			r[i].count = max(0, r[i].count-cost)
		}
	}
}

func (s *spec) allows(st *state, t time.Time, us, cost int64) bool {
	if cost > s.capMilli {
		return false
	}
	switch s.kind {
	case kBucket:
		return st.lim.TokensAt(t) >= float64(cost)-s.slack
	case kFixed:
		c := st.count
		if st.win != s.windowStart(t, us) {
			c = 0
		}
		return c+cost <= s.capMilli
	case kSliding:
		s.evict(st, us)
		return st.sum+cost <= s.capMilli
	case kInflight:
		return st.count+cost <= s.capMilli
	}
	return false
}

func (s *spec) take(st *state, t time.Time, us, cost int64) {
	switch s.kind {
	case kBucket:
		// a reservation of at most the burst always succeeds; one that is
		// short by the slack leaves that much debt
		st.lim.ReserveN(t, int(cost))
	case kFixed:
		if ws := s.windowStart(t, us); st.win != ws {
			st.win, st.count = ws, 0
		}
		st.count += cost
	case kSliding:
		st.log = append(st.log, entry{us, cost})
		st.sum += cost
	case kInflight:
		st.count += cost
	}
}

// evict drops admissions that left the sliding window (at or before us-W).
func (s *spec) evict(st *state, us int64) {
	for st.head < len(st.log) && st.log[st.head].at <= us-s.windowUS {
		st.sum -= st.log[st.head].cost
		st.head++
	}
	if st.head > 64 && 2*st.head > len(st.log) {
		st.log = append(st.log[:0], st.log[st.head:]...)
		st.head = 0
	}
}

// windowStart is the start of the fixed window holding t: a multiple of the
// window since the epoch, or the UTC calendar hour, day or month.
func (s *spec) windowStart(t time.Time, us int64) int64 {
	u := t.UTC()
	switch s.calendar {
	case engine.CalendarHour:
		return time.Date(u.Year(), u.Month(), u.Day(), u.Hour(), 0, 0, 0, time.UTC).UnixMicro()
	case engine.CalendarDay:
		return time.Date(u.Year(), u.Month(), u.Day(), 0, 0, 0, 0, time.UTC).UnixMicro()
	case engine.CalendarMonth:
		return time.Date(u.Year(), u.Month(), 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	}
	w := s.windowUS
	q := us / w
	if us%w != 0 && us < 0 {
		q--
	}
	return q * w
}
