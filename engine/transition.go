package engine

import (
	"fmt"
	"math/bits"
)

// State is one policy's stored state for one key: four integers whose meaning
// depends on the algorithm.
//
//	fixed-window:   [window start us, count milli]
//	sliding-window: [window start us, current count milli, previous count milli]
//	token-bucket:   [tokens nano, last update us]
//	ptb-cwd:        [tokens nano, last update us]
//	gcra:           [theoretical arrival time us, remainder nano]
//	concurrency:    [in flight milli]
//
// No algorithm uses the fourth word, and the stores keep only the first
// three (FuzzInvariants checks that it stays zero).
type State [4]int64

// OpKind is what an operation does.
type OpKind int

// Operation kinds.
const (
	// Acquire asks to admit Cost; it is all or nothing across the plan.
	Acquire OpKind = 1
	// Settle adjusts a reservation once the real cost is known: Cost is the
	// signed difference (positive debits more, negative refunds). Concurrency
	// policies ignore it. Always allowed.
	Settle OpKind = 2
	// Release returns Cost to the plan's concurrency policies; others ignore it.
	Release OpKind = 3
)

func (k OpKind) String() string {
	switch k {
	case Acquire:
		return "acquire"
	case Settle:
		return "settle"
	case Release:
		return "release"
	}
	return fmt.Sprintf("opkind(%d)", int(k))
}

const (
	usPerSecond = 1_000_000
	usPerHour   = 3600 * usPerSecond
	usPerDay    = 24 * usPerHour
	ppm         = 1_000_000
	// ttlMarginUS is added to every TTL so no key is written with a TTL near 0.
	ttlMarginUS = usPerSecond
)

// Step applies one operation to one policy's state. exists reports whether a
// state was stored (a missing or expired key is a fresh state). It returns the
// new state, whether it must be written, the key's TTL in microseconds (after
// which the state is equivalent to a fresh one, except for concurrency, where
// it is the lease timeout) and the decision. Step is pure.
func Step(p *Policy, s State, exists bool, now int64, kind OpKind, cost int64) (ns State, write bool, ttlUS int64, d Decision) {
	ns, write, ttlUS = StepInto(p, s, exists, now, kind, cost, &d)
	return ns, write, ttlUS, d
}

// StepInto is Step writing the decision into *d (which it overwrites
// entirely) instead of returning it: the same transition, without copying
// the decision, for stores that decide into a result they already hold.
func StepInto(p *Policy, s State, exists bool, now int64, kind OpKind, cost int64, d *Decision) (ns State, write bool, ttlUS int64) {
	*d = Decision{Policy: p.Name, Limit: p.CapMilli}
	if mutated && kind == Acquire && p.Algorithm != Concurrency {
		cost -= cost / 10
	}
	switch p.Algorithm {
	case TokenBucket, PTBCWD:
		return stepBucket(p, s, exists, now, kind, cost, d)
	case GCRA:
		return stepGCRA(p, s, exists, now, kind, cost, d)
	case FixedWindow:
		return stepFixed(p, s, exists, now, kind, cost, d)
	case SlidingWindow:
		return stepSliding(p, s, exists, now, kind, cost, d)
	case Concurrency:
		return stepConcurrency(p, s, exists, now, kind, cost, d)
	}
	return s, false, 0
}

// atLeast reports whether a x b >= c, for a, b, c > 0, exactly.
func atLeast(a, b, c int64) bool {
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	return hi != 0 || lo >= uint64(c)
}

func clamp(v, lo, hi int64) int64 {
	if v < lo {
		return lo
	}
	if v > hi {
		return hi
	}
	return v
}

func nanoToMilli(n int64) int64 {
	if n <= 0 {
		return 0
	}
	return n / nanoPerMilli
}

// stepBucket is the token bucket and ptb-cwd. The balance moves toward the
// ceiling (CapNano for token-bucket, RefillCap x CapNano for ptb-cwd) at Rate
// nanotokens per microsecond: up by refill, down by decay of any excess.
func stepBucket(p *Policy, s State, exists bool, now int64, kind OpKind, cost int64, d *Decision) (State, bool, int64) {
	ceil := p.CeilNano
	tokens, last := ceil, now
	if exists {
		tokens, last = s[0], s[1]
	}
	if now > last {
		el := now - last
		// el x Rate >= gap is el >= ceilDiv(gap, Rate) without a division;
		// the 128-bit product cannot overflow.
		if tokens < ceil {
			if atLeast(el, p.Rate, ceil-tokens) {
				tokens = ceil
			} else {
				tokens += el * p.Rate
			}
		} else if tokens > ceil {
			if atLeast(el, p.Rate, tokens-ceil) {
				tokens = ceil
			} else {
				tokens -= el * p.Rate
			}
		}
		last = now
	}
	write := true
	switch kind {
	case Acquire:
		n := cost * nanoPerMilli
		switch {
		case n > ceil:
			d.Permanent = true
			write = false
		case tokens >= n:
			tokens -= n
			d.Allowed = true
			d.Charged = cost
		default:
			d.RetryAfterUS = ceilDiv(n-tokens, p.Rate)
			write = false
		}
	case Settle:
		tokens = clamp(tokens-cost*nanoPerMilli, -p.CapNano, p.CapNano)
		d.Allowed = true
		d.Charged = cost
	default:
		d.Allowed = true
		write = false
	}
	d.Remaining = nanoToMilli(tokens)
	var toCeil int64
	if tokens < ceil {
		toCeil = ceilDiv(ceil-tokens, p.Rate)
		d.ResetUS = toCeil
	} else if tokens > ceil {
		toCeil = ceilDiv(tokens-ceil, p.Rate)
	}
	// The TTL runs from last, which is later than now when this caller's
	// clock is behind the one that wrote the state: the state becomes
	// equivalent to a fresh one toCeil after last, not after now.
	return State{tokens, last}, write, toCeil + ttlMarginUS + (last - now)
}

// stepGCRA keeps the theoretical arrival time (TAT) and a sub-microsecond
// remainder. The emission interval of one nanotoken is 1/Rate microseconds; a
// request of n nanotokens is admitted when (TAT - now) * Rate + rem + n <=
// capacity, i.e. when TAT - now stays within the burst tolerance tau.
func stepGCRA(p *Policy, s State, exists bool, now int64, kind OpKind, cost int64, d *Decision) (State, bool, int64) {
	tat, rem := now, int64(0)
	if exists {
		tat, rem = s[0], s[1]
	}
	if tat < now {
		tat, rem = now, 0
	}
	// A TAT far ahead of now (this caller's clock is behind the one that
	// wrote it) would overflow (tat-now)*Rate, in int64 and past 2^53 in Lua:
	// anything beyond twice the burst tolerance is a full debt of 2 x capacity.
	var used int64
	if tat-now > 2*ceilDiv(p.CapNano, p.Rate) {
		used = 2 * p.CapNano
	} else {
		used = (tat-now)*p.Rate + rem
	}
	write := true
	switch kind {
	case Acquire:
		n := cost * nanoPerMilli
		switch {
		case n > p.CapNano:
			d.Permanent = true
			write = false
		case used+n <= p.CapNano:
			used += n
			d.Allowed = true
			d.Charged = cost
		default:
			d.RetryAfterUS = ceilDiv(used+n-p.CapNano, p.Rate)
			write = false
		}
	case Settle:
		used = clamp(used+cost*nanoPerMilli, 0, 2*p.CapNano)
		d.Allowed = true
		d.Charged = cost
	default:
		d.Allowed = true
		write = false
	}
	d.Remaining = nanoToMilli(p.CapNano - used)
	d.ResetUS = ceilDiv(used, p.Rate)
	return State{now + used/p.Rate, used % p.Rate}, write, d.ResetUS + ttlMarginUS
}

// windowBounds returns the start and end of the fixed window holding now.
func windowBounds(p *Policy, now int64) (int64, int64) {
	switch p.Calendar {
	case CalendarHour:
		ws := floorDiv(now, usPerHour) * usPerHour
		return ws, ws + usPerHour
	case CalendarDay:
		ws := floorDiv(now, usPerDay) * usPerDay
		return ws, ws + usPerDay
	case CalendarMonth:
		y, m, _ := civilFromDays(floorDiv(now, usPerDay))
		ny, nm := y, m+1
		if nm > 12 {
			ny, nm = y+1, 1
		}
		return daysFromCivil(y, m, 1) * usPerDay, daysFromCivil(ny, nm, 1) * usPerDay
	}
	ws := floorDiv(now, p.WindowUS) * p.WindowUS
	return ws, ws + p.WindowUS
}

// daysFromCivil returns days since 1970-01-01 of a proleptic Gregorian date
// (H. Hinnant, "chrono-Compatible Low-Level Date Algorithms").
func daysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := floorDiv(y, 400)
	yoe := y - era*400
	mp := m - 3
	if m <= 2 {
		mp = m + 9
	}
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// civilFromDays is the inverse of daysFromCivil.
func civilFromDays(z int64) (y, m, d int64) {
	z += 719468
	era := floorDiv(z, 146097)
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = doy - (153*mp+2)/5 + 1
	if mp < 10 {
		m = mp + 3
	} else {
		m = mp - 9
	}
	if m <= 2 {
		y++
	}
	return y, m, d
}

// stepFixed is the naive fixed window: one counter per window, reset whenever
// the window start differs from the stored one (as INCR on a per-window key
// with EXPIRE would).
func stepFixed(p *Policy, s State, exists bool, now int64, kind OpKind, cost int64, d *Decision) (State, bool, int64) {
	ws, we := windowBounds(p, now)
	count := int64(0)
	if exists && s[0] == ws {
		count = s[1]
	}
	write := true
	switch kind {
	case Acquire:
		switch {
		case cost > p.CapMilli:
			d.Permanent = true
			write = false
		case count+cost <= p.CapMilli:
			count += cost
			d.Allowed = true
			d.Charged = cost
		default:
			d.RetryAfterUS = we - now
			write = false
		}
	case Settle:
		count = clamp(count+cost, 0, 2*p.CapMilli)
		d.Allowed = true
		d.Charged = cost
	default:
		d.Allowed = true
		write = false
	}
	d.Remaining = max(0, p.CapMilli-count)
	d.ResetUS = we - now
	return State{ws, count}, write, we - now + ttlMarginUS
}

// stepSliding is the sliding-window counter: the estimate is the previous
// window's count weighted by the share of it still inside the sliding window
// (in parts per million, floored) plus the current window's count.
func stepSliding(p *Policy, s State, exists bool, now int64, kind OpKind, cost int64, d *Decision) (State, bool, int64) {
	w := p.WindowUS
	ws := floorDiv(now, w) * w
	callerNow := now
	var cur, prev int64
	if exists {
		switch {
		case ws == s[0]:
			cur, prev = s[1], s[2]
		case ws == s[0]+w:
			prev = s[1]
		case ws < s[0]:
			// This clock is behind the one that wrote the state: judge at the
			// stored window's start, the most conservative point in it.
			ws, now = s[0], s[0]
			cur, prev = s[1], s[2]
		}
	}
	frac := (w - (now - ws)) * ppm / w
	weighted := prev * frac / ppm
	est := weighted + cur
	write := true
	switch kind {
	case Acquire:
		switch {
		case cost > p.CapMilli:
			d.Permanent = true
			write = false
		case est+cost <= p.CapMilli:
			cur += cost
			est += cost
			d.Allowed = true
			d.Charged = cost
		case cur+cost <= p.CapMilli:
			// Wait for the previous window's weight to fall to the room left.
			target := (p.CapMilli - cur - cost) * ppm / prev
			at := ws + w - target*w/ppm
			d.RetryAfterUS = max(1, at-now)
			write = false
		default:
			// Wait past this window, then for this window's weight to fall.
			target := (p.CapMilli - cost) * ppm / cur
			at := ws + 2*w - target*w/ppm
			d.RetryAfterUS = max(1, at-now)
			write = false
		}
	case Settle:
		cur = clamp(cur+cost, 0, 2*p.CapMilli)
		est = weighted + cur
		d.Allowed = true
		d.Charged = cost
	default:
		d.Allowed = true
		write = false
	}
	d.Remaining = max(0, p.CapMilli-est)
	d.ResetUS = ws + w - now
	// The TTL is relative to the caller's now (the store adds it to that),
	// even when the decision was judged at the stored window's start.
	return State{ws, cur, prev}, write, ws + 2*w - callerNow + ttlMarginUS
}

// stepConcurrency counts cost in flight; the key's TTL is the lease timeout,
// so slots held by a crashed caller return after it.
func stepConcurrency(p *Policy, s State, exists bool, now int64, kind OpKind, cost int64, d *Decision) (State, bool, int64) {
	inflight := int64(0)
	if exists {
		inflight = s[0]
	}
	write := true
	switch kind {
	case Acquire:
		switch {
		case cost > p.CapMilli:
			d.Permanent = true
			write = false
		case inflight+cost <= p.CapMilli:
			inflight += cost
			d.Allowed = true
			d.Charged = cost
		default:
			write = false
		}
	case Release:
		inflight = max(0, inflight-cost)
		d.Allowed = true
		d.Charged = -cost
	default:
		d.Allowed = true
		write = false
	}
	d.Remaining = max(0, p.CapMilli-inflight)
	return State{inflight}, write, p.WindowUS
}
