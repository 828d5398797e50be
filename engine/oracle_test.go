package engine

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// The token bucket checked against golang.org/x/time/rate with explicit times.
//
// x/time/rate keeps tokens in a float64 and converts elapsed time with
// d.Seconds() * limit; the engine keeps nanotokens in an int64 and refills
// exactly elapsed_us * rate. The two agree exactly whenever x/time/rate's
// floating point is exact. TestTokenBucketOracleExact picks such sequences:
// times on a 1/64 s grid (15625 us, exact in binary) and rates that are
// multiples of 1/4 token per second, so every balance is a multiple of 1/256
// token and every float operation is exact; there, allowed, remaining and
// retry-after must match exactly on every step (retry-after up to the engine
// rounding the wait up to a whole microsecond where x/time/rate truncates it
// to a nanosecond).
//
// TestTokenBucketOracleAnyTime uses arbitrary microsecond times. There the
// float64 sum can land a hair off an exact integer (0.9999999999 tokens where
// the true balance is 1), so a decision may differ; the test allows a
// disagreement only where the exact rational balance (math/big) is within
// 1e-9 tokens of the cost, i.e. a float rounding tie that the engine, being
// exact, gets right. The two states diverge after such a tie, so that
// sequence ends there.

func oracleSeq(t *testing.T, seed uint64, exactGrid bool) (steps, ties int) {
	rng := rand.New(rand.NewPCG(seed, 42))
	burst := 1 + rng.IntN(20)
	quarterRate := 1 + rng.IntN(80) // rate in quarter tokens per second: 0.25 .. 20
	r := float64(quarterRate) / 4
	p, err := Compile(Limit{Name: "tb", Algorithm: TokenBucket, Capacity: float64(burst), Rate: r, Period: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	lim := rate.NewLimiter(rate.Limit(r), burst)
	d := newDriver(p)
	base := time.Unix(1_767_225_600, 0).UTC()
	var now int64 // microseconds since base
	// exact tokens for the tie check: balance and last update time, as big.Rat
	exact := new(big.Rat).SetInt64(int64(burst))
	var exactLast int64
	for i := 0; i < 400; i++ {
		if exactGrid {
			now += int64(rng.IntN(64)) * 15625
		} else {
			now += int64(rng.IntN(2_000_000))
		}
		n := 1 + rng.IntN(burst+2)
		at := base.Add(time.Duration(now) * time.Microsecond)
		want := lim.AllowN(at, n)
		res := d.do(T0+now, Acquire, int64(n)*MilliPerToken)
		// exact balance before this request
		el := new(big.Rat).SetFrac64((now-exactLast)*int64(quarterRate), 4_000_000)
		bal := new(big.Rat).Add(exact, el)
		if bal.Cmp(big.NewRat(int64(burst), 1)) > 0 {
			bal.SetInt64(int64(burst))
		}
		if res.Allowed != want {
			diff := new(big.Rat).Sub(bal, big.NewRat(int64(n), 1))
			f, _ := diff.Float64()
			if exactGrid || math.Abs(f) > 1e-9 {
				t.Fatalf("seed %d step %d (burst %d rate %v, t=%dus, n=%d): engine allowed=%v, x/time/rate allowed=%v, exact balance %s",
					seed, i, burst, r, now, n, res.Allowed, want, bal.FloatString(12))
			}
			return steps, ties + 1
		}
		if res.Allowed {
			exact = bal.Sub(bal, big.NewRat(int64(n), 1))
			exactLast = now
		}
		if res.Permanent != (n > burst) {
			t.Fatalf("seed %d step %d: permanent=%v for n=%d burst=%d", seed, i, res.Permanent, n, burst)
		}
		if exactGrid {
			// remaining: x/time/rate's balance, floored to millitokens
			tok := lim.TokensAt(at)
			if wantRem := int64(math.Floor(tok * MilliPerToken)); res.Remaining != max(0, wantRem) {
				t.Fatalf("seed %d step %d: remaining %d, x/time/rate %v tokens", seed, i, res.Remaining, tok)
			}
			if !res.Allowed && !res.Permanent {
				// x/time/rate's wait for n tokens, via a reservation it then cancels
				rv := lim.ReserveN(at, n)
				wait := rv.DelayFrom(at)
				rv.CancelAt(at)
				// The engine rounds the wait up to a whole microsecond (a
				// client that waits less would be refused again);
				// x/time/rate truncates it to a nanosecond.
				if res.RetryAfterUS != ceilDiv(wait.Nanoseconds(), 1000) {
					t.Fatalf("seed %d step %d: retry-after %dus, x/time/rate %v", seed, i, res.RetryAfterUS, wait)
				}
			}
		}
		steps++
	}
	return steps, ties
}

func TestTokenBucketOracleExact(t *testing.T) {
	total := 0
	for seed := uint64(1); seed <= 200; seed++ {
		n, _ := oracleSeq(t, seed, true)
		total += n
	}
	t.Logf("%d decisions identical to x/time/rate", total)
}

func TestTokenBucketOracleAnyTime(t *testing.T) {
	total, ties := 0, 0
	for seed := uint64(1); seed <= 200; seed++ {
		n, k := oracleSeq(t, seed, false)
		total, ties = total+n, ties+k
	}
	t.Logf("%d decisions identical to x/time/rate; %d float rounding ties (exact balance within 1e-9 of the cost)", total, ties)
	if total < 200*300 {
		t.Fatalf("only %d decisions compared: ties cut the sequences short", total)
	}
}

// TestGCRAEqualsTokenBucket: on the same sequence (non-decreasing time,
// acquires and settles), GCRA's decisions equal the token bucket's in every
// field: both are exact integer forms of the same bucket.
func TestGCRAEqualsTokenBucket(t *testing.T) {
	compared, denied := 0, 0
	for seed := uint64(1); seed <= 300; seed++ {
		rng := rand.New(rand.NewPCG(seed, 7))
		capTok := 0.001 * float64(1+rng.IntN(50_000))
		r := 0.001 * float64(1+rng.IntN(100_000))
		period := []time.Duration{time.Second, time.Minute, time.Hour, 250 * time.Millisecond}[rng.IntN(4)]
		tb, err1 := Compile(Limit{Name: "x", Algorithm: TokenBucket, Capacity: capTok, Rate: r, Period: period})
		gc, err2 := Compile(Limit{Name: "x", Algorithm: GCRA, Capacity: capTok, Rate: r, Period: period})
		if err1 != nil || err2 != nil {
			continue // rate too small for the period, or capacity below a microsecond of refill
		}
		a, b := newDriver(tb), newDriver(gc)
		now := T0
		for i := 0; i < 300; i++ {
			now += int64(rng.ExpFloat64() * float64(tb.CapNano/tb.Rate/4+1))
			kind := Acquire
			cost := int64(rng.IntN(int(tb.CapMilli*5/4) + 1))
			if rng.IntN(6) == 0 {
				kind = Settle
				cost = int64(rng.IntN(int(tb.CapMilli)+1)) - tb.CapMilli/2
			}
			ra, rb := a.do(now, kind, cost), b.do(now, kind, cost)
			ra.Policies, rb.Policies = nil, nil
			compared++
			if !ra.Allowed {
				denied++
			}
			if ra.Decision != rb.Decision {
				t.Fatalf("seed %d step %d (%s %d at +%dus):\ntoken-bucket %+v\ngcra         %+v", seed, i, kind, cost, now-T0, ra.Decision, rb.Decision)
			}
		}
	}
	t.Logf("%d decisions equal, %d of them denials", compared, denied)
	if compared < 30_000 || denied < compared/10 {
		t.Fatalf("too few decisions (%d) or denials (%d) compared", compared, denied)
	}
}
