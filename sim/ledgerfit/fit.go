// Package ledgerfit fits the simulator's synthetic traffic model (package
// sim: one traffic group per tier with its keys, Zipf exponent, rate and
// arrival process, the route mix, the diurnal shape) to a recorded gatewayd
// ledger (package schema's LedgerRecord), and applies the fit, scaled to a
// target rate, to a simulator config. `gwlab plan` uses it for
// traffic.ledger.
//
// What the fit keeps: per tier the share of requests, the distinct keys, the
// key popularity (a Zipf exponent), the burstiness (poisson, or a two-state
// MMPP fitted by moments); the route and method mix; a 24 h sinusoid. What it
// loses: per-key correlation (a key's requests are drawn independently from
// its tier's process), per-tier route mixes (the mix is global), client
// retries (recorded retries count as demand), and anything not sinusoidal in
// the daily shape. docs/plan.md has the details.
//
// Example:
//
//	fit, err := ledgerfit.Fit("ledger/", ledgerfit.Options{Tiers: ..., Routes: ...})
//	err = ledgerfit.Apply(&cfg, fit, 386.0, ledgerfit.ApplyOptions{})
package ledgerfit

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"gonum.org/v1/gonum/mat"

	"tollgate/schema"
	"tollgate/sim"
)

// ErrLedger is wrapped by every error about the ledger's content.
var ErrLedger = errors.New("traffic.ledger")

// Skip reasons of records the fit does not keep.
const (
	SkipAggregate        = "aggregate"
	SkipUnidentified     = "unidentified"
	SkipNoRoute          = "no_route"
	SkipMethodNotAllowed = "method_not_allowed"
)

// Options say what the ledger's names must match.
type Options struct {
	// Tiers are the tier names a record may carry (the scenario's, or the
	// gateway config's).
	Tiers []string
	// Routes maps each route name a record may carry to the methods it
	// allows.
	Routes map[string][]string
	// Of names where the tiers and routes come from, for errors ("scenario
	// month-1b", "gateway config gw.yaml").
	Of string
}

// Test thresholds of the fit.
const (
	// overZ is the one-sided standard score (p = 0.001 under Poisson) the
	// dispersion statistic must pass to call a tier over-dispersed, and
	// overD the index of dispersion it must reach: with the millions of
	// seconds of a long ledger a tiny excess is significant, and a 10%
	// excess is the smallest worth a burst model.
	overZ = 3.09
	overD = 1.1
	// minHours is the whole UTC hours a diurnal fit needs.
	minHours = 24
	// minSpan is the shortest ledger whose rates mean anything.
	minSpan = time.Minute
	// day is the diurnal period fitted.
	day = 24 * time.Hour
	// maxSpan bounds the arrivals of one ledger (the simulator's longest
	// run): the fit keeps a count per second, and one record dated years
	// off must be an error, not an allocation of years of seconds.
	maxSpan = 400 * 24 * time.Hour
)

// series counts arrivals per second from an origin, growing either way.
type series struct {
	origin int64 // Unix second of c[0]
	c      []int32
}

func (s *series) add(sec int64) {
	if s.c == nil {
		s.origin = sec
	}
	if sec < s.origin {
		grow := make([]int32, s.origin-sec, int64(len(s.c))+s.origin-sec)
		s.c = append(grow, s.c...)
		s.origin = sec
	}
	i := sec - s.origin
	for int64(len(s.c)) <= i {
		s.c = append(s.c, 0)
	}
	s.c[i]++
}

// at returns the count of Unix second sec.
func (s *series) at(sec int64) float64 {
	i := sec - s.origin
	if i < 0 || i >= int64(len(s.c)) {
		return 0
	}
	return float64(s.c[i])
}

type tierAcc struct {
	n    int64
	keys map[string]int64
	sec  series
}

// Fit reads the ledger at path (a file or a directory of rotated files) and
// fits the traffic model. Records that are no request of an identified
// client (aggregates of refusals, unauthenticated requests) are skipped, as
// the simulator's trace replay skips them; a tier or route the options do
// not list is an error naming the file, the line and the value. The result's
// ScaleFactor and ScaledKeys and Rate are left for Apply.
func Fit(path string, opts Options) (*schema.TrafficFit, error) {
	sc, err := schema.NewLedgerScanner(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %q: %v", ErrLedger, path, err)
	}
	defer sc.Close()
	tiers := map[string]bool{}
	for _, t := range opts.Tiers {
		tiers[t] = true
	}
	acc := map[string]*tierAcc{}
	routes := map[[2]string]int64{}
	hours := map[int64]int64{}
	skipped := map[string]int64{SkipAggregate: 0, SkipUnidentified: 0, SkipNoRoute: 0, SkipMethodNotAllowed: 0}
	var first, last time.Time
	var n int64
	for sc.Scan() {
		r := sc.Record()
		switch {
		case r.Requests() > 1:
			skipped[SkipAggregate]++
			continue
		case r.KeyHash == "" || r.Tier == "" || r.Start.IsZero():
			skipped[SkipUnidentified]++
			continue
		case r.Route == "":
			skipped[SkipNoRoute]++
			continue
		}
		file, line := sc.Pos()
		if !tiers[r.Tier] {
			return nil, fmt.Errorf("%w: %s line %d: tier %q is not a tier of %s (its tiers: %s)", ErrLedger, file, line, r.Tier, opts.Of, strings.Join(sorted(opts.Tiers), ", "))
		}
		methods, ok := opts.Routes[r.Route]
		if !ok {
			var names []string
			for k := range opts.Routes {
				names = append(names, k)
			}
			return nil, fmt.Errorf("%w: %s line %d: route %q is not a route of %s (its routes: %s)", ErrLedger, file, line, r.Route, opts.Of, strings.Join(sorted(names), ", "))
		}
		m := strings.ToUpper(r.Method)
		if !contains(methods, m) {
			skipped[SkipMethodNotAllowed]++
			continue
		}
		if !first.IsZero() && (r.Start.Sub(last) > maxSpan || first.Sub(r.Start) > maxSpan || r.Start.Sub(first) > maxSpan || last.Sub(r.Start) > maxSpan) {
			return nil, fmt.Errorf("%w: %s line %d: start %s is more than %v from the ledger's other arrivals (%s to %s)", ErrLedger, file, line,
				r.Start.Format(time.RFC3339Nano), engineDays(maxSpan), first.Format(time.RFC3339), last.Format(time.RFC3339))
		}
		a := acc[r.Tier]
		if a == nil {
			a = &tierAcc{keys: map[string]int64{}}
			acc[r.Tier] = a
		}
		a.n++
		a.keys[r.KeyHash]++
		sec := r.Start.Unix()
		a.sec.add(sec)
		routes[[2]string{r.Route, m}]++
		hours[floorDiv(sec, 3600)]++
		if first.IsZero() || r.Start.Before(first) {
			first = r.Start
		}
		if r.Start.After(last) {
			last = r.Start
		}
		n++
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrLedger, err)
	}
	st := sc.Stats()
	if st.Records == 0 {
		return nil, fmt.Errorf("%w: %q: empty ledger (%d files, no records)", ErrLedger, path, st.Files)
	}
	if n == 0 {
		return nil, fmt.Errorf("%w: %q: no identifiable requests in %d records (%d aggregates, %d unidentified, %d without a route, %d with a method the route does not allow)",
			ErrLedger, path, st.Records, skipped[SkipAggregate], skipped[SkipUnidentified], skipped[SkipNoRoute], skipped[SkipMethodNotAllowed])
	}
	span := last.Sub(first)
	if span < minSpan {
		return nil, fmt.Errorf("%w: %q: its %d requests span %v, need at least %v to estimate rates", ErrLedger, path, n, span, minSpan)
	}
	f := &schema.TrafficFit{Ledger: path, Files: st.Files, Records: st.Records, Requests: n, Skipped: skipped,
		First: first.UTC(), Last: last.UTC(), SpanS: span.Seconds()}
	f.RecordedPerSecond = float64(n) / span.Seconds()

	// diurnal: a 24 h sinusoid fitted to the whole hours' counts
	shape := func(int64) float64 { return 1 }
	if d, mean, ok := fitDiurnal(hours, first.Unix(), last.Unix()); ok {
		f.Diurnal = d
		f.RecordedPerSecond = mean
		shape = func(sec int64) float64 {
			return 1 + d.Amplitude*math.Sin(2*math.Pi*(float64(floorMod(sec, 86400))+0.5+d.PhaseS)/d.PeriodS)
		}
	} else {
		f.Diurnal = schema.DiurnalFit{Hours: d.Hours}
		f.Notes = append(f.Notes, fmt.Sprintf("the ledger has %d whole UTC hours, fewer than the %d a diurnal fit needs: "+
			"the spec's or scenario's diurnal shape is kept, and the recorded rate is the mean over the span", d.Hours, minHours))
	}

	// route mix
	for k, c := range routes {
		f.Routes = append(f.Routes, schema.RouteFit{Route: k[0], Method: k[1], Requests: c, Weight: float64(c) / float64(n)})
	}
	sort.Slice(f.Routes, func(i, j int) bool {
		a, b := f.Routes[i], f.Routes[j]
		return a.Route < b.Route || a.Route == b.Route && a.Method < b.Method
	})

	// per tier
	var names []string
	for t := range acc {
		names = append(names, t)
	}
	sort.Strings(names)
	s0, s1 := first.Unix(), last.Unix()
	for _, t := range names {
		a := acc[t]
		tf := schema.TierFit{Tier: t, Requests: a.n, Share: float64(a.n) / float64(n), Keys: len(a.keys)}
		counts := make([]int64, 0, len(a.keys))
		for _, c := range a.keys {
			counts = append(counts, c)
		}
		z, se, err := FitZipf(counts)
		if err != nil {
			return nil, fmt.Errorf("%w: tier %q: %v", ErrLedger, t, err)
		}
		tf.Zipf, tf.ZipfSE = z, se
		if len(counts) == 1 {
			f.Notes = append(f.Notes, fmt.Sprintf("tier %s has one key: its Zipf exponent is 0 by definition", t))
		}
		note := fitArrival(&tf, &a.sec, s0, s1, shape)
		if note != "" {
			f.Notes = append(f.Notes, note)
		}
		f.Tiers = append(f.Tiers, tf)
	}
	return f, nil
}

// fitDiurnal fits count_h = a + b sin(w t_h) + c cos(w t_h) by linear least
// squares to the whole UTC hours between first and last (Unix seconds), t_h
// the hour's middle as time of day. It returns the shape (amplitude
// corrected for the hour's averaging), the mean rate per second (a / 3600)
// and whether there were enough hours.
func fitDiurnal(hours map[int64]int64, first, last int64) (schema.DiurnalFit, float64, bool) {
	h0 := floorDiv(first, 3600) + 1 // the first whole hour
	if floorMod(first, 3600) == 0 {
		h0--
	}
	h1 := floorDiv(last, 3600) // hours before h1 are whole
	nh := int(max(h1-h0, 0))
	d := schema.DiurnalFit{Hours: nh}
	if nh < minHours {
		return d, 0, false
	}
	w := 2 * math.Pi / day.Seconds()
	x := mat.NewDense(nh, 3, nil)
	y := mat.NewVecDense(nh, nil)
	for i := range nh {
		h := h0 + int64(i)
		t := float64(floorMod(h*3600, 86400)) + 1800
		x.Set(i, 0, 1)
		x.Set(i, 1, math.Sin(w*t))
		x.Set(i, 2, math.Cos(w*t))
		y.SetVec(i, float64(hours[h]))
	}
	var beta mat.VecDense
	if err := beta.SolveVec(x, y); err != nil {
		return d, 0, false
	}
	a, b, c := beta.AtVec(0), beta.AtVec(1), beta.AtVec(2)
	if a <= 0 {
		return d, 0, false
	}
	// an hour's count integrates the rate over the hour, which shrinks a
	// sinusoid's amplitude by sin(x)/x, x = pi/24
	sx := math.Pi / 24
	att := math.Sin(sx) / sx
	d.Fitted = true
	d.PeriodS = day.Seconds()
	d.Amplitude = math.Hypot(b, c) / a / att
	ph := math.Atan2(c, b) / w
	d.PhaseS = math.Mod(ph+day.Seconds(), day.Seconds())
	// residual variance -> standard error of the amplitude (b and c are
	// near-orthogonal over whole days, each with variance 2 s^2 / nh)
	var res mat.VecDense
	res.MulVec(x, &beta)
	res.SubVec(y, &res)
	s2 := mat.Dot(&res, &res) / float64(max(nh-3, 1))
	d.AmplitudeSE = math.Sqrt(2*s2/float64(nh)) / a / att
	if d.Amplitude >= 1 {
		d.Amplitude = 0.99 // the simulator's diurnal needs a positive rate
	}
	return d, a / 3600, true
}

// FitZipf returns the maximum-likelihood exponent s of a Zipf law over the
// len(counts) keys seen (P(rank r) proportional to r^-s, ranks by count,
// highest first) and its standard error from the Fisher information. The
// likelihood, not least squares on the log-log rank-frequency plot: the
// plot's points are neither independent nor equally noisy (its tail is
// counts of 1 and 2), which biases a regression (Clauset, Shalizi and
// Newman, "Power-law distributions in empirical data", SIAM Review 2009).
func FitZipf(counts []int64) (s, se float64, err error) {
	c := append([]int64(nil), counts...)
	sort.Slice(c, func(i, j int) bool { return c[i] > c[j] })
	var n, slog float64
	for i, x := range c {
		if x <= 0 {
			return 0, 0, fmt.Errorf("zipf: count[%d]: must be > 0, got %d", i, x)
		}
		n += float64(x)
		slog += float64(x) * math.Log(float64(i+1))
	}
	k := len(c)
	if k <= 1 {
		return 0, 0, nil
	}
	lr := make([]float64, k)
	for i := range lr {
		lr[i] = math.Log(float64(i + 1))
	}
	// moments of ln r under Zipf(s) over k ranks
	moments := func(s float64) (z, m1, m2 float64) {
		for _, l := range lr {
			w := math.Exp(-s * l)
			z += w
			m1 += w * l
			m2 += w * l * l
		}
		return z, m1 / z, m2 / z
	}
	// The negative log-likelihood per request, s mean(ln r) + ln H(k, s), is
	// convex in s (its second derivative is Var_s(ln r) > 0) and its
	// gradient, mean(ln r) - E_s[ln r], increases: Newton's method kept
	// inside a bracket that the gradient's sign narrows converges to the
	// one root. (gonum/optimize would need golang.org/x/tools, which this
	// module does not carry, for a one-dimensional root.)
	obs := slog / n
	lo, hi := 0.0, 10.0
	if _, m1, _ := moments(lo); obs-m1 >= 0 {
		hi = lo // the rearrangement inequality makes this the uniform case only
	}
	if _, m1, _ := moments(hi); obs-m1 <= 0 {
		lo = hi
	}
	s = (lo + hi) / 2
	for range 200 {
		_, m1, m2 := moments(s)
		g := obs - m1
		if math.Abs(g) < 1e-12 || hi-lo < 1e-12 {
			break
		}
		if g > 0 {
			hi = s
		} else {
			lo = s
		}
		next := s - g/(m2-m1*m1)
		if !(next > lo && next < hi) {
			next = (lo + hi) / 2
		}
		s = next
	}
	_, m1, m2 := moments(s)
	if v := m2 - m1*m1; v > 0 {
		se = 1 / math.Sqrt(n*v)
	}
	return math.Min(s, 10), se, nil
}

// fitArrival sets the tier's dispersion figures and its arrival process
// from its per-second counts between Unix seconds s0 and s1, the expected
// count of a second proportional to shape(second). It returns a note when
// the tier is over-dispersed but no MMPP fits.
func fitArrival(tf *schema.TierFit, ser *series, s0, s1 int64, shape func(int64) float64) string {
	m := s1 - s0 + 1
	e := make([]float64, m)
	c := make([]float64, m)
	var sum, tot float64
	for i := range e {
		e[i] = shape(s0 + int64(i))
		sum += e[i]
		c[i] = ser.at(s0 + int64(i))
		tot += c[i]
	}
	for i := range e {
		e[i] *= tot / sum
	}
	// Pearson's dispersion statistic: chi-square with m-1 degrees of
	// freedom under Poisson counts of the expected rates
	var x float64
	for i := range e {
		d := c[i] - e[i]
		x += d * d / e[i]
	}
	df := float64(m - 1)
	tf.Dispersion = x / df
	tf.DispersionZ = (x - df) / math.Sqrt(2*df)
	tf.Arrival = sim.ArrivalPoisson
	if tf.DispersionZ <= overZ || tf.Dispersion <= overD {
		return ""
	}
	b, hi, lo, why := fitMMPP(c, e)
	if why != "" {
		return fmt.Sprintf("tier %s is over-dispersed (index %.3g, z %.3g) but %s: kept poisson, which understates its bursts", tf.Tier, tf.Dispersion, tf.DispersionZ, why)
	}
	tf.Arrival, tf.BurstFactor, tf.HighTimeS, tf.LowTimeS = sim.ArrivalMMPP, b, hi, lo
	return ""
}

// scales are the block lengths, in seconds, of the variance-time curve.
var scales = []int{1, 2, 5, 10, 20, 50, 100, 200, 500}

// fitMMPP fits the simulator's two-state MMPP (rate h x base in the high
// state, l x base in the low, mean state durations hi and lo seconds, mean
// rate 1 x base) to per-second counts c with expected counts e, by moments:
//
//   - the variance-time curve: the variance of the relative rate integrated
//     over a block of D seconds is 2 v [tau D - tau^2 (1 - e^(-D/tau))] / D^2
//     for a two-state Markov rate of variance v and correlation time
//     tau = hi lo / (hi + lo); v and tau are fitted to the curve over
//     blocks of 1 to 500 s by least squares on relative errors;
//   - the skewness of the per-second relative rate (from the third
//     factorial moment, which for Poisson counts is the third moment of
//     their rate) gives the share of time in the high state,
//     p = (1 - g / sqrt(g^2 + 4)) / 2 for a two-point rate of skewness g.
//
// It returns the burst factor h/l and the state durations, or why none fits.
func fitMMPP(c, e []float64) (burst, hi, lo float64, why string) {
	type point struct{ d, v, n float64 }
	var pts []point
	for _, d := range scales {
		nb := len(c) / d
		if nb < 30 {
			break
		}
		var acc float64
		for b := range nb {
			var cb, eb float64
			for i := b * d; i < (b+1)*d; i++ {
				cb += c[i]
				eb += e[i]
			}
			// E[(C - E)^2 - C] / E^2 is the relative rate's variance over
			// the block (a Cox process's count variance is its mean plus
			// its integrated rate's variance)
			acc += ((cb-eb)*(cb-eb) - cb) / (eb * eb)
		}
		pts = append(pts, point{float64(d), acc / float64(nb), float64(nb)})
	}
	if len(pts) < 3 || pts[0].v <= 0 {
		return 0, 0, 0, "the ledger is too short for a variance-time curve"
	}
	model := func(v, tau, d float64) float64 {
		return 2 * v * (tau*d - tau*tau*(1-math.Exp(-d/tau))) / (d * d)
	}
	// For a given tau the model is linear in v, so v has a closed form
	// (weighted least squares with each point's relative standard error
	// sqrt(2 / blocks)); tau is searched on a log grid, then refined by
	// golden section around the best grid point.
	cost := func(tau float64) (float64, float64) {
		var num, den float64
		for _, p := range pts {
			u := model(1, tau, p.d)
			w := p.n / 2 / (p.v * p.v)
			num += w * p.v * u
			den += w * u * u
		}
		v := num / den
		var ss float64
		for _, p := range pts {
			r := (p.v - model(v, tau, p.d)) / p.v
			ss += p.n / 2 * r * r
		}
		return ss, v
	}
	best, bestSS := 0, math.Inf(1)
	const grid = 200
	lt := func(i int) float64 { return math.Log(0.05) + float64(i)*(math.Log(2e4)-math.Log(0.05))/grid }
	for i := 0; i <= grid; i++ {
		if ss, _ := cost(math.Exp(lt(i))); ss < bestSS {
			best, bestSS = i, ss
		}
	}
	a0, b0 := lt(max(best-1, 0)), lt(min(best+1, grid))
	gr := (math.Sqrt(5) - 1) / 2
	for range 60 {
		x1, x2 := b0-gr*(b0-a0), a0+gr*(b0-a0)
		c1, _ := cost(math.Exp(x1))
		c2, _ := cost(math.Exp(x2))
		if c1 < c2 {
			b0 = x2
		} else {
			a0 = x1
		}
	}
	tau := math.Exp((a0 + b0) / 2)
	_, v := cost(tau)
	if !(v > 0) {
		return 0, 0, 0, "the variance-time curve gives no rate variance"
	}
	// factorial moments of the per-second counts are the raw moments of
	// their relative rate X (mean 1)
	var f2, f3 float64
	for i := range c {
		f2 += c[i] * (c[i] - 1) / (e[i] * e[i])
		f3 += c[i] * (c[i] - 1) * (c[i] - 2) / (e[i] * e[i] * e[i])
	}
	f2 /= float64(len(c))
	f3 /= float64(len(c))
	v1 := f2 - 1
	mu3 := f3 - 3*f2 + 2
	if v1 <= 0 {
		return 0, 0, 0, "its per-second rate has no variance"
	}
	g := mu3 / math.Pow(v1, 1.5)
	p := (1 - g/math.Sqrt(g*g+4)) / 2
	gap := math.Sqrt(v / (p * (1 - p))) // h - l
	l := 1 - p*gap
	switch {
	case !(p > 0 && p < 1) || math.IsNaN(gap):
		return 0, 0, 0, fmt.Sprintf("its moments give no high-state share in (0, 1) (skewness %.3g)", g)
	case !(l > 0):
		return 0, 0, 0, fmt.Sprintf("its moments need a low-state rate <= 0 (variance %.3g, high-state share %.3g)", v, p)
	}
	burst = (l + gap) / l
	hi, lo = tau/(1-p), tau/p
	if burst > 1e4 || hi > 86400 || lo > 86400 {
		return 0, 0, 0, fmt.Sprintf("the fitted MMPP is out of the simulator's range (burst factor %.3g, states %.3gs and %.3gs)", burst, hi, lo)
	}
	return burst, hi, lo, ""
}

func engineDays(d time.Duration) string { return fmt.Sprintf("%dd", int(d.Hours()/24)) }

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func floorMod(a, b int64) int64 { return a - floorDiv(a, b)*b }
