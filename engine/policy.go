package engine

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// Calendar aligns a fixed window to the UTC calendar instead of the epoch.
type Calendar string

// Calendar windows for quotas.
const (
	CalendarNone  Calendar = ""
	CalendarHour  Calendar = "hour"
	CalendarDay   Calendar = "day"
	CalendarMonth Calendar = "month"
)

func (c Calendar) code() int64 {
	switch c {
	case CalendarHour:
		return 1
	case CalendarDay:
		return 2
	case CalendarMonth:
		return 3
	}
	return 0
}

// DefaultRefillCap is the default ptb-cwd refill ceiling as a fraction of capacity.
const DefaultRefillCap = 0.8

// DefaultLeaseTimeout is how long a concurrency slot is held if never released.
const DefaultLeaseTimeout = time.Minute

// Limit is the human form of one policy, as config and scenario files give it.
// Compile validates it into a Policy.
type Limit struct {
	// Name is the policy name reported in decisions and headers; it must be
	// non-empty and free of spaces, quotes, commas, semicolons and braces.
	Name string
	// Algorithm is one of Algorithms().
	Algorithm Algorithm
	// Capacity, in tokens: the burst for the token-bucket family, the limit per
	// window for the windows, the cost in flight for concurrency. Must be > 0.
	Capacity float64
	// Rate is how many tokens refill per Period (token-bucket, gcra, ptb-cwd).
	// Must be > 0 for those; ignored by the others.
	Rate float64
	// Period is the rate's period for the bucket family (default 1s), the window
	// length for fixed-window and sliding-window, and the lease timeout for
	// concurrency (default 1m). Ignored when Calendar is set.
	Period time.Duration
	// Calendar aligns a fixed-window to the UTC hour, day or month.
	Calendar Calendar
	// RefillCap is ptb-cwd's refill ceiling as a fraction of Capacity, in
	// (0, 1]; 0 means DefaultRefillCap.
	RefillCap float64
}

// Policy is a validated, compiled Limit: every parameter in the integer units
// the transitions use. Policies are immutable and safe for concurrent use.
type Policy struct {
	Name      string
	Algorithm Algorithm
	// CapMilli is the capacity in millitokens.
	CapMilli int64
	// CapNano is the capacity in nanotokens (bucket family).
	CapNano int64
	// CeilNano is ptb-cwd's refill ceiling in nanotokens (equal to CapNano for
	// the other bucket algorithms).
	CeilNano int64
	// Rate is the refill rate in millitokens per second, which is the same as
	// nanotokens per microsecond.
	Rate int64
	// WindowUS is the window (fixed-window, sliding-window) or lease timeout
	// (concurrency) in microseconds; 0 for calendar windows.
	WindowUS int64
	// Calendar is the calendar alignment of a fixed window.
	Calendar Calendar
	// Source is the Limit the policy was compiled from.
	Source Limit
}

// Compile validates a Limit and returns its Policy. All problems are reported
// at once, each naming the field and the value.
func Compile(l Limit) (*Policy, error) {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: %s: %s", ErrInvalid, field, fmt.Sprintf(format, args...)))
	}
	if l.Name == "" {
		bad("name", "must not be empty")
	} else if strings.ContainsAny(l.Name, " \t\r\n\",;{}:\\=") || len(l.Name) > 64 {
		bad("name", "must be at most 64 characters without spaces, quotes, commas, semicolons, colons, braces or '=', got %q", l.Name)
	}
	if _, ok := algorithms[l.Algorithm]; !ok {
		errs = append(errs, fmt.Errorf("algorithm: %w: %q (known: %v)", ErrUnknownAlgorithm, l.Algorithm, Algorithms()))
	}
	if math.IsNaN(l.Capacity) || l.Capacity <= 0 || l.Capacity > MaxCapacity {
		bad("capacity", "must be > 0 and <= %d, got %v", MaxCapacity, l.Capacity)
	} else if Tokens(l.Capacity) < 1 {
		bad("capacity", "must be at least 0.001, got %v", l.Capacity)
	}
	if l.Period < 0 {
		bad("period", "must be >= 0, got %v", l.Period)
	}
	switch l.Calendar {
	case CalendarNone, CalendarHour, CalendarDay, CalendarMonth:
	default:
		bad("calendar", "must be one of hour, day, month, got %q", l.Calendar)
	}
	if l.Calendar != CalendarNone && l.Algorithm != FixedWindow {
		bad("calendar", "only fixed-window supports a calendar window, got algorithm %q", l.Algorithm)
	}
	if l.RefillCap != 0 && (math.IsNaN(l.RefillCap) || l.RefillCap <= 0 || l.RefillCap > 1) {
		bad("refill_cap", "must be in (0, 1], got %v", l.RefillCap)
	}
	p := &Policy{Name: l.Name, Algorithm: l.Algorithm, Calendar: l.Calendar, Source: l}
	if len(errs) == 0 {
		p.CapMilli = Tokens(l.Capacity)
		p.CapNano = p.CapMilli * nanoPerMilli
		p.CeilNano = p.CapNano
		period := l.Period
		switch l.Algorithm {
		case TokenBucket, GCRA, PTBCWD:
			if period == 0 {
				period = time.Second
			}
			if math.IsNaN(l.Rate) || l.Rate <= 0 {
				bad("rate", "must be > 0, got %v", l.Rate)
				break
			}
			perSec := l.Rate * float64(time.Second) / float64(period)
			if perSec > MaxRatePerSecond {
				bad("rate", "must be <= %d tokens per second, got %v per %v", MaxRatePerSecond, l.Rate, period)
				break
			}
			p.Rate = int64(math.Round(perSec * MilliPerToken))
			if p.Rate < 1 {
				bad("rate", "must be at least 0.001 tokens per second, got %v per %v", l.Rate, period)
				break
			}
			if p.Rate > p.CapNano {
				bad("capacity", "must hold at least one microsecond of refill (%v tokens), got %v", float64(p.Rate)/NanoPerToken, l.Capacity)
			}
			if l.Algorithm == PTBCWD {
				rc := l.RefillCap
				if rc == 0 {
					rc = DefaultRefillCap
				}
				p.CeilNano = int64(math.Floor(float64(p.CapNano) * rc))
				if p.CeilNano < p.Rate {
					bad("refill_cap", "ceiling %v x capacity %v is below one microsecond of refill", rc, l.Capacity)
				}
			}
		case FixedWindow, SlidingWindow:
			if l.Calendar != CalendarNone {
				break
			}
			if period < time.Millisecond {
				bad("period", "window must be >= 1ms, got %v", l.Period)
				break
			}
			if l.Algorithm == SlidingWindow && period > MaxSlidingWindow {
				bad("period", "sliding window must be <= %v (use a fixed-window calendar quota for longer), got %v", MaxSlidingWindow, period)
				break
			}
			p.WindowUS = period.Microseconds()
		case Concurrency:
			if period == 0 {
				period = DefaultLeaseTimeout
			}
			if period < time.Millisecond {
				bad("period", "lease timeout must be >= 1ms, got %v", l.Period)
				break
			}
			p.WindowUS = period.Microseconds()
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("policy %q: %w", l.Name, errors.Join(errs...))
	}
	return p, nil
}

// MustCompile is Compile for limits known to be valid (tests, examples); it
// panics on error.
func MustCompile(l Limit) *Policy {
	p, err := Compile(l)
	if err != nil {
		panic(err)
	}
	return p
}

// WindowSeconds is the policy's window in whole seconds for the RateLimit-Policy
// header's w parameter: the window for windows, the time to refill Capacity
// for the bucket family (at least 1).
func (p *Policy) WindowSeconds() int64 {
	var us int64
	switch p.Algorithm {
	case FixedWindow, SlidingWindow:
		switch p.Calendar {
		case CalendarHour:
			return 3600
		case CalendarDay:
			return 86400
		case CalendarMonth:
			return 30 * 86400
		}
		us = p.WindowUS
	case TokenBucket, GCRA, PTBCWD:
		us = ceilDiv(p.CapNano, p.Rate)
	default:
		us = p.WindowUS
	}
	s := ceilDiv(us, 1_000_000)
	if s < 1 {
		s = 1
	}
	return s
}
