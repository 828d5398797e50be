package testcontainers

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
)

// Stats summarises the samples sent within a window of a run.
type Stats struct {
	From, To time.Duration
	Total    int
	Admitted int
	Limited  int
	Failed   int
	Other    int
	// Rate429 is Limited / Total; ErrorRate is Failed / Total (0 if empty).
	Rate429, ErrorRate float64
	// P50MS, P99MS and MaxMS are latency percentiles of answered requests
	// (admitted and limited), in milliseconds.
	P50MS, P99MS, MaxMS float64
}

// String is a one-line rendering for test logs.
func (s Stats) String() string {
	return fmt.Sprintf("[%5.1fs,%5.1fs) n=%d ok=%d 429=%d (%.1f%%) err=%d other=%d p50=%.1fms p99=%.1fms max=%.0fms",
		s.From.Seconds(), s.To.Seconds(), s.Total, s.Admitted, s.Limited, 100*s.Rate429, s.Failed, s.Other,
		s.P50MS, s.P99MS, s.MaxMS)
}

// Window returns the stats of the samples sent in [from, to) by the tenants
// keep accepts (nil: all tenants).
func (r *Run) Window(from, to time.Duration, keep func(tenant int) bool) Stats {
	st := Stats{From: from, To: to}
	var lat []time.Duration
	for _, s := range r.Samples {
		if s.At < from || s.At >= to || (keep != nil && !keep(int(s.Tenant))) {
			continue
		}
		st.Total++
		switch s.Class() {
		case Admitted:
			st.Admitted++
			lat = append(lat, s.Latency)
		case Limited:
			st.Limited++
			lat = append(lat, s.Latency)
		case Failed:
			st.Failed++
		default:
			st.Other++
		}
	}
	if st.Total > 0 {
		st.Rate429 = float64(st.Limited) / float64(st.Total)
		st.ErrorRate = float64(st.Failed) / float64(st.Total)
	}
	st.P50MS = percentileMS(lat, 0.50)
	st.P99MS = percentileMS(lat, 0.99)
	st.MaxMS = percentileMS(lat, 1)
	return st
}

// All returns the stats of the whole run.
func (r *Run) All() Stats {
	st := r.Window(0, r.Duration+time.Hour, nil)
	st.To = r.Duration
	return st
}

// Tenant returns a filter for Window that keeps the named tenants.
func (r *Run) Tenant(names ...string) func(int) bool {
	want := map[int]bool{}
	for i, n := range r.Tenants {
		for _, m := range names {
			if n == m {
				want[i] = true
			}
		}
	}
	return func(i int) bool { return want[i] }
}

// percentileMS is the nearest-rank q-quantile of d in milliseconds (0 if empty).
func percentileMS(d []time.Duration, q float64) float64 {
	if len(d) == 0 {
		return 0
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	k := int(math.Ceil(q*float64(len(d)))) - 1
	k = max(0, min(k, len(d)-1))
	return float64(d[k]) / float64(time.Millisecond)
}

// ErrorWindow is the burst of failures a fault caused.
type ErrorWindow struct {
	// Failed is how many requests sent from the fault on failed.
	Failed int
	// First and Last are the send times of the first and last failed request
	// (since the run's start); zero when none failed.
	First, Last time.Duration
	// Length is Last - First, as the simulator's summary defines the error
	// window (0 when at most one request failed).
	Length time.Duration
}

// ErrorWindow measures the failures among requests sent in [from, to).
func (r *Run) ErrorWindow(from, to time.Duration) ErrorWindow {
	var w ErrorWindow
	for _, s := range r.Samples {
		if s.At < from || s.At >= to || s.Class() != Failed {
			continue
		}
		if w.Failed == 0 {
			w.First = s.At
		}
		w.Last = s.At
		w.Failed++
	}
	w.Length = w.Last - w.First
	return w
}

// Timeline renders per-interval counts for a test log: one line per
// interval with totals, 429s, failures and p99.
func (r *Run) Timeline(step time.Duration) string {
	var b strings.Builder
	for from := time.Duration(0); from < r.Duration; from += step {
		st := r.Window(from, from+step, nil)
		fmt.Fprintf(&b, "  t=%5.1fs n=%4d ok=%4d 429=%4d err=%4d p99=%6.1fms", from.Seconds(), st.Total, st.Admitted,
			st.Limited, st.Failed, st.P99MS)
		for _, e := range r.Events() {
			if e.At >= from && e.At < from+step {
				fmt.Fprintf(&b, "  <- %s at %.2fs", e.Name, e.At.Seconds())
			}
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// Ratio is measured / predicted, with the convention that two zeros agree
// (1) and a zero prediction against a non-zero measurement is +Inf.
func Ratio(measured, predicted float64) float64 {
	switch {
	case predicted == 0 && measured == 0:
		return 1
	case predicted == 0:
		return math.Inf(1)
	default:
		return measured / predicted
	}
}
