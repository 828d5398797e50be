package loadgen

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Sample is one request's outcome, timed from the start of the run.
type Sample struct {
	// At is when the request was sent, since Run.Start.
	At time.Duration
	// Latency is until the response (or the error).
	Latency time.Duration
	// Code is the HTTP status; 0 for a transport error or timeout.
	Code uint16
	// Tenant indexes Run.Tenants.
	Tenant uint8
	// Attempt is 0 for a first try, n for the n-th retry after a 429.
	Attempt uint8
	// ID is the response's X-Request-Id (gatewayd's ledger id), if any.
	ID string
}

// Class is what a sample counts as.
type Class int

// The classes of a sample.
const (
	// Admitted is a 2xx answer.
	Admitted Class = iota
	// Limited is a 429 from the limiter.
	Limited
	// Failed is a server-side failure: 5xx, timeout, connection error.
	Failed
	// Other is any other status (4xx but 429, 3xx).
	Other
)

// Class classifies the sample.
func (s Sample) Class() Class {
	switch {
	case s.Code >= 200 && s.Code < 300:
		return Admitted
	case s.Code == http.StatusTooManyRequests:
		return Limited
	case s.Code == 0 || s.Code >= 500:
		return Failed
	default:
		return Other
	}
}

// Event is a named instant of a run, such as a fault's start.
type Event struct {
	Name string
	At   time.Duration
}

// maxLatencyUS bounds the histograms: an hour in microseconds.
const maxLatencyUS = int64(time.Hour / time.Microsecond)

// newHist returns an empty latency histogram in microseconds, three
// significant digits.
func newHist() *hdrhistogram.Histogram { return hdrhistogram.New(1, maxLatencyUS, 3) }

// Run is the record of one load run. Mark is safe for concurrent use with
// the attack; everything else is read after Attack returns.
type Run struct {
	Name     string
	Start    time.Time
	Duration time.Duration
	// Rate is the mean offered rate per second (0: closed model).
	Rate    float64
	Tenants []string
	// Samples holds every attempt in send order when Options.KeepSamples
	// was set, else nothing.
	Samples []Sample
	// Sent counts attempts; OK counts 2xx answers.
	Sent, OK int
	// OKLatency holds the latency of 2xx answers, in microseconds.
	OKLatency *hdrhistogram.Histogram
	// Codes counts attempts by status code (0 = transport error).
	Codes map[uint16]int
	// ErrorTexts counts transport error messages (first 80 bytes).
	ErrorTexts map[string]int
	// Span is from the first attempt's send to the last answer.
	Span time.Duration

	mu     sync.Mutex
	events []Event
}

func newRun(name string, tenants []string, rate float64, d time.Duration) *Run {
	return &Run{Name: name, Tenants: tenants, Rate: rate, Duration: d, OKLatency: newHist(),
		Codes: map[uint16]int{}, ErrorTexts: map[string]int{}}
}

// Mark records an event now.
func (r *Run) Mark(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, Event{Name: name, At: time.Since(r.Start)})
}

// Events returns the marked events in time order.
func (r *Run) Events() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	ev := append([]Event(nil), r.events...)
	sort.SliceStable(ev, func(i, j int) bool { return ev[i].At < ev[j].At })
	return ev
}

// Event returns the time of the first event called name.
func (r *Run) Event(name string) (time.Duration, bool) {
	for _, e := range r.Events() {
		if e.Name == name {
			return e.At, true
		}
	}
	return 0, false
}

// add counts one attempt.
func (r *Run) add(s Sample, errText string, keep bool) {
	r.Sent++
	r.Codes[s.Code]++
	if s.Class() == Admitted {
		r.OK++
		_ = r.OKLatency.RecordValue(max(1, s.Latency.Microseconds()))
	}
	if errText != "" && s.Code == 0 {
		if len(errText) > 80 {
			errText = errText[:80]
		}
		r.ErrorTexts[errText]++
	}
	if end := s.At + s.Latency; end > r.Span {
		r.Span = end
	}
	if keep {
		r.Samples = append(r.Samples, s)
	}
}

// Throughput is 2xx answers per second over the run's span.
func (r *Run) Throughput() float64 {
	if r.Span <= 0 {
		return 0
	}
	return float64(r.OK) / r.Span.Seconds()
}

// Merge adds o (the same target, another round) into r: counts, the 2xx
// histogram, the span and the samples (shifted after r's).
func (r *Run) Merge(o *Run) {
	shift := r.Span
	r.Sent += o.Sent
	r.OK += o.OK
	r.OKLatency.Merge(o.OKLatency)
	for k, v := range o.Codes {
		r.Codes[k] += v
	}
	for k, v := range o.ErrorTexts {
		r.ErrorTexts[k] += v
	}
	for _, s := range o.Samples {
		s.At += shift
		r.Samples = append(r.Samples, s)
	}
	r.Span += o.Span
	r.Duration += o.Duration
}

// Errors counts attempts that were not 2xx, by error text or status code.
func (r *Run) Errors() map[string]int {
	out := map[string]int{}
	for k, v := range r.ErrorTexts {
		out[k] += v
	}
	for c, v := range r.Codes {
		if c != 0 && (c < 200 || c >= 300) {
			out[fmt.Sprint(c)] += v
		}
	}
	return out
}

// Latency is a set of percentiles from an HDR histogram.
type Latency struct {
	P50, P90, P99, P999, Max time.Duration
	N                        int64
}

// LatencyOf reads the percentiles of h (microseconds).
func LatencyOf(h *hdrhistogram.Histogram) Latency {
	us := func(q float64) time.Duration { return time.Duration(h.ValueAtQuantile(q)) * time.Microsecond }
	return Latency{P50: us(50), P90: us(90), P99: us(99), P999: us(99.9),
		Max: time.Duration(h.Max()) * time.Microsecond, N: h.TotalCount()}
}

// Stats summarises the samples sent within a window of a run.
type Stats struct {
	From, To time.Duration
	Total    int
	Admitted int
	Limited  int
	Failed   int
	Other    int
	// Retries counts attempts after a 429.
	Retries int
	// Rate429 is Limited / Total; ErrorRate is Failed / Total (0 if empty).
	Rate429, ErrorRate float64
	// Latency of answered requests (admitted and limited).
	Latency Latency
	// P50MS, P99MS and MaxMS are Latency's in milliseconds.
	P50MS, P90MS, P99MS, MaxMS float64
}

// String is a one-line rendering for test logs.
func (s Stats) String() string {
	return fmt.Sprintf("[%5.1fs,%5.1fs) n=%d ok=%d 429=%d (%.1f%%) err=%d other=%d p50=%.1fms p99=%.1fms max=%.0fms",
		s.From.Seconds(), s.To.Seconds(), s.Total, s.Admitted, s.Limited, 100*s.Rate429, s.Failed, s.Other,
		s.P50MS, s.P99MS, s.MaxMS)
}

// Window returns the stats of the samples sent in [from, to) by the tenants
// keep accepts (nil: all tenants). It needs Options.KeepSamples.
func (r *Run) Window(from, to time.Duration, keep func(tenant int) bool) Stats {
	st := Stats{From: from, To: to}
	h := newHist()
	for _, s := range r.Samples {
		if s.At < from || s.At >= to || (keep != nil && !keep(int(s.Tenant))) {
			continue
		}
		st.Total++
		if s.Attempt > 0 {
			st.Retries++
		}
		switch s.Class() {
		case Admitted:
			st.Admitted++
			_ = h.RecordValue(max(1, s.Latency.Microseconds()))
		case Limited:
			st.Limited++
			_ = h.RecordValue(max(1, s.Latency.Microseconds()))
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
	if h.TotalCount() > 0 {
		st.Latency = LatencyOf(h)
		ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
		st.P50MS, st.P90MS, st.P99MS, st.MaxMS = ms(st.Latency.P50), ms(st.Latency.P90), ms(st.Latency.P99), ms(st.Latency.Max)
	}
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
// interval with totals, 429s, failures and p99, and the events marked in it.
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
