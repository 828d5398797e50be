package testcontainers

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"sort"
	"sync"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Schedule interleaves tenants in proportion to their rates with smooth
// weighted round robin, so a constant total rate gives every tenant a nearly
// constant rate too and the order is deterministic. Next is not safe for
// concurrent use; the attacker serialises it.
type Schedule struct {
	weights []float64
	current []float64
	total   float64
}

// NewSchedule returns a schedule over rates (all > 0).
func NewSchedule(rates []float64) (*Schedule, error) {
	if len(rates) == 0 {
		return nil, fmt.Errorf("schedule: no tenants")
	}
	s := &Schedule{weights: append([]float64(nil), rates...), current: make([]float64, len(rates))}
	for i, r := range rates {
		if !(r > 0) || math.IsInf(r, 0) {
			return nil, fmt.Errorf("schedule: rates[%d]: must be > 0, got %v", i, r)
		}
		s.total += r
	}
	return s, nil
}

// Next returns the index of the tenant that sends the next request.
func (s *Schedule) Next() int {
	best := 0
	for i, w := range s.weights {
		s.current[i] += w
		if s.current[i] > s.current[best] {
			best = i
		}
	}
	s.current[best] -= s.total
	return best
}

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

// Run is the record of one load run: every sample and the events marked
// during it. Mark is safe for concurrent use with the attack; the rest is
// read after Attack returns.
type Run struct {
	Start    time.Time
	Duration time.Duration
	Rate     float64
	Tenants  []string
	Samples  []Sample
	// Codes counts samples by status code (0 = transport error).
	Codes map[uint16]int
	// ErrorTexts counts transport error messages (first 80 bytes).
	ErrorTexts map[string]int

	mu     sync.Mutex
	events []Event
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

// LoadOptions shape one attack.
type LoadOptions struct {
	// Duration of the attack.
	Duration time.Duration
	// Timeout per request (default 2s).
	Timeout time.Duration
	// OnStart, if set, is called with the run once it has started, from the
	// attack's goroutine: fault injection hangs off it.
	OnStart func(*Run)
}

// Attack sends constant-rate open-model load (the total of the tenants'
// rates) to base (http://127.0.0.1:PORT, the load balancer) for the
// duration and returns every sample. The request for tenant i is GET
// base+Tenants[i].Route?tenant=NAME with its API key.
func Attack(ctx context.Context, base string, tenants []Tenant, opt LoadOptions) (*Run, error) {
	if opt.Timeout == 0 {
		opt.Timeout = 2 * time.Second
	}
	u, err := url.Parse(base)
	if err != nil || u.Hostname() != "127.0.0.1" {
		return nil, fmt.Errorf("attack: base must be http://127.0.0.1:PORT, got %q", base)
	}
	rates := make([]float64, len(tenants))
	names := make([]string, len(tenants))
	targets := make([]vegeta.Target, len(tenants))
	index := map[string]uint8{}
	var total float64
	for i, t := range tenants {
		rates[i], names[i] = t.Rate, t.Name
		total += t.Rate
		target := base + t.Route + "?tenant=" + url.QueryEscape(t.Name)
		targets[i] = vegeta.Target{Method: http.MethodGet, URL: target,
			Header: http.Header{"X-Api-Key": []string{t.Key}}}
		index[target] = uint8(i)
	}
	sched, err := NewSchedule(rates)
	if err != nil {
		return nil, err
	}
	var smu sync.Mutex
	targeter := func(tgt *vegeta.Target) error {
		smu.Lock()
		i := sched.Next()
		smu.Unlock()
		*tgt = targets[i]
		return nil
	}
	run := &Run{Rate: total, Duration: opt.Duration, Tenants: names,
		Codes: map[uint16]int{}, ErrorTexts: map[string]int{}}
	// One connection per request: the L4 balancer then picks a node per
	// request, as the simulator's balancer does.
	atk := vegeta.NewAttacker(vegeta.Timeout(opt.Timeout), vegeta.KeepAlive(false),
		vegeta.Workers(32), vegeta.MaxWorkers(512), vegeta.MaxBody(4096))
	pacer := vegeta.ConstantPacer{Freq: int(math.Round(total)), Per: time.Second}
	run.Start = time.Now()
	results := atk.Attack(vegeta.Targeter(targeter), pacer, opt.Duration, "tollgate")
	if opt.OnStart != nil {
		go opt.OnStart(run)
	}
	for {
		select {
		case <-ctx.Done():
			atk.Stop()
			for range results {
			}
			return run, ctx.Err()
		case res, ok := <-results:
			if !ok {
				sort.Slice(run.Samples, func(i, j int) bool { return run.Samples[i].At < run.Samples[j].At })
				return run, nil
			}
			s := Sample{At: res.Timestamp.Sub(run.Start), Latency: res.Latency, Code: res.Code, Tenant: index[res.URL],
				ID: res.Headers.Get("X-Request-Id")}
			run.Samples = append(run.Samples, s)
			run.Codes[res.Code]++
			if res.Error != "" && res.Code == 0 {
				msg := res.Error
				if len(msg) > 80 {
					msg = msg[:80]
				}
				run.ErrorTexts[msg]++
			}
		}
	}
}
