package engine

import (
	"encoding/binary"
	"go/parser"
	"go/token"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// maxInWindow returns the most cost admitted within any interval of length w
// (inclusive of both ends) of the admitted events (time-ordered).
func maxInWindow(at, cost []int64, w int64) int64 {
	var best, sum int64
	j := 0
	for i := range at {
		sum += cost[i]
		for at[i]-at[j] > w {
			sum -= cost[j]
			j++
		}
		best = max(best, sum)
	}
	return best
}

// TestBoundaryBurst: the thundering-herd pattern. Greedy clients (a request
// every 10 ms) wake up just before a window boundary. The fixed window admits
// its full limit on each side of the boundary, 2x the limit within a tenth of
// a window; sliding-window, token-bucket, gcra and ptb-cwd (limit L, rate L
// per window W) stay within L + L x (d/W) for every interval of length d, and
// so within 1.1 L over d = W/10.
func TestBoundaryBurst(t *testing.T) {
	const L = 100.0
	W := 10 * time.Second
	limits := map[Algorithm]Limit{
		FixedWindow:   {Name: "x", Algorithm: FixedWindow, Capacity: L, Period: W},
		SlidingWindow: {Name: "x", Algorithm: SlidingWindow, Capacity: L, Period: W},
		TokenBucket:   {Name: "x", Algorithm: TokenBucket, Capacity: L, Rate: L, Period: W},
		GCRA:          {Name: "x", Algorithm: GCRA, Capacity: L, Rate: L, Period: W},
		PTBCWD:        {Name: "x", Algorithm: PTBCWD, Capacity: L, Rate: L, Period: W},
	}
	wus := W.Microseconds()
	for _, alg := range []Algorithm{FixedWindow, SlidingWindow, TokenBucket, GCRA, PTBCWD} {
		d := newDriver(MustCompile(limits[alg]))
		var at, cost []int64
		// idle until 50 ms before the boundary at T0 + W, then 30 requests
		// of 1 token every 10 ms for 3 windows, 30 clients at once
		for now := T0 + wus - 50_000; now < T0+4*wus; now += 10_000 {
			for c := 0; c < 30; c++ {
				if r := d.do(now, Acquire, Tokens(1)); r.Allowed {
					at, cost = append(at, now), append(cost, r.Charged)
				}
			}
		}
		for _, frac := range []int64{10, 2, 1} {
			dw := wus / frac
			got := maxInWindow(at, cost, dw)
			bound := Tokens(L) + Tokens(L)*dw/wus
			t.Logf("%-14s max admitted in any %v: %v tokens (limit %v, bucket bound %v)", alg, time.Duration(dw)*time.Microsecond,
				MilliToTokens(got), L, MilliToTokens(bound))
			if alg == FixedWindow {
				if frac == 10 && got < Tokens(2*L) {
					t.Errorf("fixed-window admitted only %v in %v across the boundary; the baseline must show its 2x burst", MilliToTokens(got), dw)
				}
				continue
			}
			if got > bound {
				t.Errorf("%s admitted %v tokens in %v > %v", alg, MilliToTokens(got), time.Duration(dw)*time.Microsecond, MilliToTokens(bound))
			}
		}
	}
}

// TestWindowBudget: over a whole window W, a bucket of capacity L and rate
// L per W admits up to 2L by design (burst + rate x W), as does the sliding
// counter's approximation (TestBoundaryBurst logs both). A bucket sized so
// that burst + rate x W = L never admits more than L in any interval of
// length W, under the same boundary attack that gives the fixed window 2L.
func TestWindowBudget(t *testing.T) {
	const L = 100.0
	W := 10 * time.Second
	wus := W.Microseconds()
	for _, alg := range []Algorithm{TokenBucket, GCRA, PTBCWD} {
		l := Limit{Name: "x", Algorithm: alg, Capacity: L / 2, Rate: L / 2, Period: W}
		if alg == PTBCWD {
			l.RefillCap = 1
		}
		d := newDriver(MustCompile(l))
		var at, cost []int64
		for now := T0 + wus - 50_000; now < T0+4*wus; now += 10_000 {
			for c := 0; c < 30; c++ {
				if r := d.do(now, Acquire, Tokens(1)); r.Allowed {
					at, cost = append(at, now), append(cost, r.Charged)
				}
			}
		}
		if got := maxInWindow(at, cost, wus); got > Tokens(L) {
			t.Errorf("%s sized burst+rate*W = %v admitted %v in one window", alg, L, MilliToTokens(got))
		}
	}
}

// TestPTBAntiHoarding: after any idle period the ptb-cwd balance is at most
// RefillCap x capacity (refunds above it decay back), and once idle for
// capacity/rate it is exactly the ceiling; a cost above the ceiling is a
// permanent denial, never a retry-after.
func TestPTBAntiHoarding(t *testing.T) {
	for seed := uint64(1); seed <= 50; seed++ {
		rng := rand.New(rand.NewPCG(seed, 5))
		rc := []float64{0.5, 0.8, 0.9, 1}[rng.IntN(4)]
		p := MustCompile(Limit{Name: "p", Algorithm: PTBCWD, Capacity: float64(1 + rng.IntN(100)), Rate: float64(1 + rng.IntN(20)), RefillCap: rc})
		ceil := p.CeilNano / nanoPerMilli
		d := newDriver(p)
		now := T0
		full := p.CapNano/p.Rate + 1 // us from any balance in [-cap, cap] to the ceiling
		for i := 0; i < 300; i++ {
			switch rng.IntN(4) {
			case 0: // long idle: exactly at the ceiling
				now += full + int64(rng.IntN(1e9))
				r := d.do(now, Acquire, 0)
				if r.Remaining != ceil {
					t.Fatalf("seed %d: after idling %dus remaining %d, want ceiling %d (cap %d x %v)", seed, full, r.Remaining, ceil, p.CapMilli, rc)
				}
			case 1: // refund
				d.do(now, Settle, -int64(rng.IntN(int(p.CapMilli))))
			default:
				now += int64(rng.IntN(int(full)))
				c := int64(rng.IntN(int(p.CapMilli) + 1))
				r := d.do(now, Acquire, c)
				if c > ceil && (!r.Permanent || r.Allowed || r.RetryAfterUS != 0) {
					t.Fatalf("seed %d: cost %d above ceiling %d: %+v, want a permanent denial", seed, c, ceil, r.Decision)
				}
				if c <= ceil && r.Permanent {
					t.Fatalf("seed %d: cost %d within ceiling %d denied permanently", seed, c, ceil)
				}
			}
			if d.exists[0] && d.states[0][0] > p.CapNano {
				t.Fatalf("seed %d: balance %d above capacity %d", seed, d.states[0][0], p.CapNano)
			}
		}
	}
}

// TestCalendar: the calendar arithmetic (daysFromCivil, civilFromDays and the
// month window) agrees with Go's time package over random instants from 1600
// to 2500, every month end and every leap day.
func TestCalendar(t *testing.T) {
	check := func(tm time.Time) {
		t.Helper()
		usNow := tm.UnixMicro()
		day := floorDiv(usNow, usPerDay)
		y, m, dd := civilFromDays(day)
		if int(y) != tm.Year() || time.Month(m) != tm.Month() || int(dd) != tm.Day() {
			t.Fatalf("civilFromDays(%d) = %d-%d-%d, time says %s", day, y, m, dd, tm.Format(time.RFC3339Nano))
		}
		if got := daysFromCivil(y, m, dd); got != day {
			t.Fatalf("daysFromCivil(%d-%d-%d) = %d, want %d", y, m, dd, got, day)
		}
		ms := time.Date(tm.Year(), tm.Month(), 1, 0, 0, 0, 0, time.UTC)
		me := ms.AddDate(0, 1, 0)
		ws, we := windowBounds(&Policy{Calendar: CalendarMonth}, usNow)
		if ws != ms.UnixMicro() || we != me.UnixMicro() {
			t.Fatalf("month window of %s = [%s, %s), want [%s, %s)", tm, FromMicros(ws), FromMicros(we), ms, me)
		}
		ds := time.Date(tm.Year(), tm.Month(), tm.Day(), 0, 0, 0, 0, time.UTC)
		ws, we = windowBounds(&Policy{Calendar: CalendarDay}, usNow)
		if ws != ds.UnixMicro() || we != ds.AddDate(0, 0, 1).UnixMicro() {
			t.Fatalf("day window of %s wrong", tm)
		}
		hs := tm.Truncate(time.Hour)
		ws, we = windowBounds(&Policy{Calendar: CalendarHour}, usNow)
		if ws != hs.UnixMicro() || we != hs.Add(time.Hour).UnixMicro() {
			t.Fatalf("hour window of %s wrong", tm)
		}
	}
	rng := rand.New(rand.NewPCG(2026, 1))
	lo := time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	hi := time.Date(2500, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	for i := 0; i < 200_000; i++ {
		check(time.UnixMicro(lo + rng.Int64N(hi-lo)).UTC())
	}
	for y := 1600; y <= 2500; y++ {
		for m := time.January; m <= time.December; m++ {
			first := time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
			check(first)
			check(first.AddDate(0, 1, 0).Add(-time.Microsecond)) // last microsecond of the month
		}
		if feb29 := time.Date(y, 2, 29, 12, 0, 0, 0, time.UTC); feb29.Month() == time.February {
			check(feb29)
		}
	}
	// a month quota resets exactly at the month boundary, leap February included
	d := newDriver(MustCompile(Limit{Name: "m", Algorithm: FixedWindow, Capacity: 1, Calendar: CalendarMonth}))
	endFeb := time.Date(2028, 3, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	if r := d.do(endFeb-1, Acquire, 1000); !r.Allowed || r.ResetUS != 1 {
		t.Fatalf("last microsecond of Feb 2028: %+v", r.Decision)
	}
	if r := d.do(endFeb-1, Acquire, 1000); r.Allowed || r.RetryAfterUS != 1 {
		t.Fatalf("second in Feb: %+v", r.Decision)
	}
	if r := d.do(endFeb, Acquire, 1000); !r.Allowed || r.ResetUS != 31*usPerDay {
		t.Fatalf("March 1st: %+v", r.Decision)
	}
}

// TestEngineImportsNothingOfOurs: engine is the innermost package; its
// non-test files import only the standard library and the YAML library its
// Duration decodes with (the policy vocabulary's one duration type names the
// line of a bad value, which needs the YAML node).
func TestEngineImportsNothingOfOurs(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("glob: %v %v", files, err)
	}
	fset := token.NewFileSet()
	checked := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, im := range af.Imports {
			path, _ := strconv.Unquote(im.Path.Value)
			first := strings.SplitN(path, "/", 2)[0]
			if path == "go.yaml.in/yaml/v3" {
				continue
			}
			if path == "tollgate" || strings.HasPrefix(path, "tollgate/") || strings.Contains(first, ".") {
				t.Errorf("%s imports %q: engine may import only the standard library and go.yaml.in/yaml/v3", f, path)
			}
		}
		checked++
	}
	if mod, err := os.ReadFile("../go.mod"); err != nil || !strings.Contains(string(mod), "module tollgate\n") {
		t.Fatalf("the module is not tollgate: the check above would be vacuous (%v)", err)
	}
	if checked < 5 {
		t.Fatalf("checked only %d files", checked)
	}
}

// fuzzOps decodes fuzz bytes into operations: 4 bytes each.
type fuzzOp struct {
	dt   int64 // microseconds to advance (may be negative when allowed)
	kind OpKind
	cost int64 // millitokens
}

func decodeOps(data []byte, capMilli int64, backwards bool) []fuzzOp {
	var ops []fuzzOp
	for len(data) >= 4 && len(ops) < 200 {
		dt := int64(binary.LittleEndian.Uint16(data[0:2]))
		dt = dt * dt // up to ~4.3e9 us, skewed toward short gaps
		if backwards && data[3]&0x80 != 0 {
			dt = -dt / 8
		}
		op := fuzzOp{dt: dt, kind: Acquire, cost: int64(data[2]) * capMilli / 200} // up to 1.27 x capacity
		switch data[3] & 0x7 {
		case 0:
			op.kind = Settle
			op.cost = int64(data[2])*capMilli/100 - capMilli // refund or debit up to 1.55 x capacity
		case 1:
			op.kind = Release
		}
		ops = append(ops, op)
		data = data[4:]
	}
	return ops
}

var fuzzAlgorithms = []Algorithm{TokenBucket, GCRA, PTBCWD, FixedWindow, SlidingWindow, Concurrency}

func fuzzPolicy(alg uint8, capRaw, rateRaw uint16, periodRaw uint8) *Policy {
	a := fuzzAlgorithms[int(alg)%len(fuzzAlgorithms)]
	l := Limit{Name: "f", Algorithm: a, Capacity: float64(1+int(capRaw)) / 8, Rate: float64(1+int(rateRaw)) / 16,
		Period: []time.Duration{time.Second, time.Minute, 100 * time.Millisecond, time.Hour, 0}[int(periodRaw)%5]}
	if a == PTBCWD {
		l.RefillCap = float64(1+int(periodRaw)%10) / 10
	}
	if a == FixedWindow && periodRaw%7 == 0 {
		l.Calendar = []Calendar{CalendarHour, CalendarDay, CalendarMonth}[int(periodRaw/7)%3]
	}
	p, err := Compile(l)
	if err != nil {
		return nil
	}
	return p
}

var fuzzSeeds = [][]byte{
	{0, 0, 200, 2, 0, 0, 200, 2, 10, 0, 100, 2, 0, 1, 255, 0, 0, 0, 50, 1},
	{255, 255, 1, 2, 1, 0, 1, 2, 1, 0, 1, 2, 1, 0, 0, 0, 0, 0, 254, 0},
	{100, 0, 199, 2, 100, 0, 201, 2, 100, 0, 10, 128 | 2, 100, 0, 10, 2},
}

// FuzzBucketBound: for token-bucket, gcra and ptb-cwd, over every interval
// between two admitted acquires (time non-decreasing, refunds subtracted),
// admitted cost <= capacity + rate x interval. The derivation: the balance is
// at most capacity before the first admission, grows by at most rate x
// interval, and is >= 0 after the last one.
func FuzzBucketBound(f *testing.F) {
	for i, s := range fuzzSeeds {
		f.Add(uint8(i), uint16(80), uint16(16*(i+1)), uint8(i), s)
	}
	f.Fuzz(func(t *testing.T, alg uint8, capRaw, rateRaw uint16, periodRaw uint8, data []byte) {
		p := fuzzPolicy([]uint8{0, 1, 2}[alg%3], capRaw, rateRaw, periodRaw)
		if p == nil {
			return
		}
		d := newDriver(p)
		now := T0
		type ev struct {
			at, net int64 // net millitokens charged by this op (acquire cost, or a refund)
			admit   bool
		}
		var evs []ev
		for _, op := range decodeOps(data, p.CapMilli, false) {
			now += op.dt
			r := d.do(now, op.kind, op.cost)
			switch {
			case op.kind == Acquire && r.Allowed:
				evs = append(evs, ev{now, op.cost, true})
			case op.kind == Settle && op.cost < 0:
				evs = append(evs, ev{now, op.cost, false})
			}
		}
		for i := range evs {
			if !evs[i].admit {
				continue
			}
			var sum int64
			for j := i; j < len(evs); j++ {
				sum += evs[j].net
				if !evs[j].admit {
					continue
				}
				bound := p.CapNano + p.Rate*(evs[j].at-evs[i].at)
				if sum*nanoPerMilli > bound {
					t.Fatalf("%s cap %d rate %d: admitted %d milli in %dus > bound %d milli", p.Algorithm, p.CapMilli, p.Rate,
						sum, evs[j].at-evs[i].at, bound/nanoPerMilli)
				}
			}
		}
	})
}

// FuzzInvariants: for every algorithm and any sequence (time may go back):
// remaining in [0, limit], retry-after and reset never negative, retry-after
// 0 when allowed or permanent, a denied Acquire writes no state, a charge only
// when allowed, and a state past its TTL decides like a fresh one (what Redis
// expiry and memstore's sweep rely on); and no state uses its fourth word,
// which the stores do not keep.
func FuzzInvariants(f *testing.F) {
	for i, s := range fuzzSeeds {
		for a := uint8(0); a < 6; a++ {
			f.Add(a, uint16(40*(i+1)), uint16(16), uint8(i*7), s)
		}
	}
	f.Fuzz(func(t *testing.T, alg uint8, capRaw, rateRaw uint16, periodRaw uint8, data []byte) {
		p := fuzzPolicy(alg, capRaw, rateRaw, periodRaw)
		if p == nil {
			return
		}
		var s State
		exists := false
		now := T0
		for i, op := range decodeOps(data, p.CapMilli, true) {
			now = max(0, now+op.dt)
			ns, w, ttl, d := Step(p, s, exists, now, op.kind, op.cost)
			if d.Remaining < 0 || d.Remaining > d.Limit || d.RetryAfterUS < 0 || d.ResetUS < 0 {
				t.Fatalf("op %d %s: out of range %+v", i, op.kind, d)
			}
			if (d.Allowed || d.Permanent) && d.RetryAfterUS != 0 {
				t.Fatalf("op %d: retry-after %d on allowed=%v permanent=%v", i, d.RetryAfterUS, d.Allowed, d.Permanent)
			}
			if op.kind == Acquire && !d.Allowed && (w || d.Charged != 0) {
				t.Fatalf("op %d: denied acquire writes=%v charged=%d", i, w, d.Charged)
			}
			if op.kind == Acquire && d.Allowed && d.Charged != op.cost {
				t.Fatalf("op %d: charged %d for %d", i, d.Charged, op.cost)
			}
			if d.Permanent && op.cost <= p.CeilNano/nanoPerMilli && op.cost <= p.CapMilli {
				t.Fatalf("op %d: permanent denial of %d within capacity", i, op.cost)
			}
			// A plan denial writes nothing either.
			_, pw, _, pr := Eval(NewPlan(p), []State{s}, []bool{exists}, now, op.kind, op.cost)
			if !pr.Allowed && pw[0] {
				t.Fatalf("op %d: Eval wrote a state on a denial", i)
			}
			if pr.Decision != d && op.kind != Acquire || (op.kind == Acquire && pr.Allowed != d.Allowed) {
				t.Fatalf("op %d: Eval and Step disagree: %+v vs %+v", i, pr.Decision, d)
			}
			if ns[3] != 0 {
				// The stores keep three state words; a fourth would be lost.
				t.Fatalf("op %d: state uses its fourth word: %v", i, ns)
			}
			if w {
				if ttl <= 0 {
					t.Fatalf("op %d: ttl %d", i, ttl)
				}
				if p.Algorithm != Concurrency {
					later := now + ttl + int64(op.cost%1000)
					probe := op.cost
					_, _, _, a := Step(p, ns, true, later, Acquire, probe)
					_, _, _, b := Step(p, State{}, false, later, Acquire, probe)
					if a != b {
						t.Fatalf("op %d: %dus after the TTL the stored state decides %+v, a fresh one %+v", i, later-now, a, b)
					}
				}
				s, exists = ns, true
			}
		}
	})
}
