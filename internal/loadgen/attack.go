package loadgen

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"sync"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Tenant is one client population: its share of the rate and its request.
type Tenant struct {
	Name string
	// Rate is the tenant's share of the offered rate, per second (> 0). In
	// a closed-model run only the ratios matter.
	Rate float64
	// Target is the request; its URL must be on a loopback address.
	Target vegeta.Target
}

// Retry makes clients honour a 429's Retry-After: wait its seconds times
// 1 + Jitter x U[0,1) and send again, at most Max times. Each attempt is a
// sample of its own.
type Retry struct {
	Max    int
	Jitter float64
	// Seed seeds the jitter.
	Seed uint64
}

// Options shape one attack.
type Options struct {
	// Name labels the run (default "load").
	Name string
	// Duration of the attack (> 0).
	Duration time.Duration
	// Rate is the total offered rate per second; 0 runs closed-model, as
	// fast as Workers allow, with the tenants' rates as weights.
	Rate float64
	// Arrival is the arrival process of an open-model run (default
	// Constant); Seed and Shape parameterise Poisson and MMPP.
	Arrival Arrival
	Seed    uint64
	Shape   MMPPShape
	// Timeout per attempt (default 2s).
	Timeout time.Duration
	// Workers is the initial (open model) or fixed (closed model) number of
	// concurrent requests (default 32); MaxWorkers caps an open-model run's
	// growth (default 512).
	Workers, MaxWorkers uint64
	// KeepAlive reuses connections. Off, every request opens a connection,
	// so an L4 balancer picks a node per request.
	KeepAlive bool
	// KeepSamples records every attempt in Run.Samples (Window, ErrorWindow
	// and Timeline need them); off, only the counts and the 2xx histogram
	// are kept.
	KeepSamples bool
	// Retry, if set, makes clients honour Retry-After.
	Retry *Retry
	// Independent gives each tenant its own arrival process at its own Rate
	// (seeded Seed+i), as independent clients are; Rate must then be the
	// sum of the tenants' rates. Off, one process at Rate is shared among
	// the tenants by the schedule, so their bursts coincide.
	Independent bool
	// OnStart, if set, is called with the run once it has started, in its
	// own goroutine: fault injection hangs off it.
	OnStart func(*Run)
}

// Attack sends load to the tenants' targets for the duration and returns
// the run. A cancelled ctx stops the attack and returns what was recorded
// with ctx's error.
func Attack(ctx context.Context, tenants []Tenant, opt Options) (*Run, error) {
	if opt.Duration <= 0 {
		return nil, fmt.Errorf("loadgen: duration must be > 0, got %v", opt.Duration)
	}
	if opt.Rate < 0 || math.IsNaN(opt.Rate) || math.IsInf(opt.Rate, 0) {
		return nil, fmt.Errorf("loadgen: rate must be >= 0, got %v", opt.Rate)
	}
	if len(tenants) == 0 || len(tenants) > 255 {
		return nil, fmt.Errorf("loadgen: want 1 to 255 tenants, got %d", len(tenants))
	}
	if opt.Name == "" {
		opt.Name = "load"
	}
	if opt.Timeout == 0 {
		opt.Timeout = 2 * time.Second
	}
	if opt.Workers == 0 {
		opt.Workers = 32
	}
	if opt.MaxWorkers == 0 {
		opt.MaxWorkers = 512
	}
	rates := make([]float64, len(tenants))
	names := make([]string, len(tenants))
	index := map[string]uint8{}
	for i, t := range tenants {
		u, err := url.Parse(t.Target.URL)
		if err != nil || !isLoopback(u.Hostname()) {
			return nil, fmt.Errorf("loadgen: tenants[%d].target.url must be on a loopback address, got %q", i, t.Target.URL)
		}
		rates[i], names[i] = t.Rate, t.Name
		// the tenant travels in the Attack-Tenant header's stead: vegeta's
		// result carries the URL, so each tenant's URL must be unique
		if _, dup := index[t.Target.Method+" "+t.Target.URL]; dup {
			return nil, fmt.Errorf("loadgen: tenants[%d]: %s %s is another tenant's request too", i, t.Target.Method, t.Target.URL)
		}
		index[t.Target.Method+" "+t.Target.URL] = uint8(i)
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
		*tgt = tenants[i].Target
		return nil
	}
	type stream struct {
		tr    vegeta.Targeter
		pacer vegeta.Pacer
	}
	var streams []stream
	switch {
	case opt.Independent && opt.Rate > 0:
		var sum float64
		for i, t := range tenants {
			sum += t.Rate
			p, err := NewPacer(opt.Arrival, t.Rate, opt.Seed+uint64(i), opt.Shape)
			if err != nil {
				return nil, fmt.Errorf("loadgen: tenants[%d]: %w", i, err)
			}
			streams = append(streams, stream{vegeta.NewStaticTargeter(t.Target), p})
		}
		if math.Abs(sum-opt.Rate) > 1e-9*sum {
			return nil, fmt.Errorf("loadgen: independent tenants: rate must be the tenants' sum %v, got %v", sum, opt.Rate)
		}
	case opt.Independent:
		return nil, fmt.Errorf("loadgen: independent tenants need a rate > 0")
	default:
		var pacer vegeta.Pacer = vegeta.ConstantPacer{}
		if opt.Rate > 0 {
			if pacer, err = NewPacer(opt.Arrival, opt.Rate, opt.Seed, opt.Shape); err != nil {
				return nil, err
			}
		}
		streams = []stream{{vegeta.Targeter(targeter), pacer}}
	}
	run := newRun(opt.Name, names, opt.Rate, opt.Duration)

	// Our own transport, closed afterwards, so connections never pile up
	// across runs.
	tr := &http.Transport{MaxIdleConns: 10000, MaxIdleConnsPerHost: 10000, IdleConnTimeout: 30 * time.Second,
		DisableKeepAlives: !opt.KeepAlive, DialContext: (&net.Dialer{Timeout: opt.Timeout}).DialContext}
	defer tr.CloseIdleConnections()
	var rt http.RoundTripper = tr
	var rmu sync.Mutex // guards run while retries record from workers
	if opt.Retry != nil {
		rt = &retrier{next: tr, opt: *opt.Retry, timeout: opt.Timeout, rng: rand.New(rand.NewPCG(opt.Retry.Seed, 0x7265)),
			record: func(s Sample, key, errText string) {
				s.Tenant = index[key]
				rmu.Lock()
				run.add(s, errText, opt.KeepSamples)
				rmu.Unlock()
			}, start: &run.Start}
	}
	client := &http.Client{Transport: rt, Timeout: opt.Timeout}
	if opt.Retry != nil {
		client.Timeout = 0 // per attempt, in the retrier
	}
	atkOpts := []func(*vegeta.Attacker){vegeta.Client(client), vegeta.MaxBody(4096), // keep-alive is set on our transport
		vegeta.Workers(opt.Workers)}
	if opt.Rate == 0 {
		atkOpts = append(atkOpts, vegeta.MaxWorkers(opt.Workers))
	} else {
		atkOpts = append(atkOpts, vegeta.MaxWorkers(opt.MaxWorkers))
	}
	var atks []*vegeta.Attacker
	for range streams {
		atks = append(atks, vegeta.NewAttacker(atkOpts...))
	}
	run.Start = time.Now()
	results := make(chan *vegeta.Result)
	var wg sync.WaitGroup
	for i, st := range streams {
		wg.Add(1)
		go func(a *vegeta.Attacker, st stream) {
			defer wg.Done()
			for res := range a.Attack(st.tr, st.pacer, opt.Duration, opt.Name) {
				results <- res
			}
		}(atks[i], st)
	}
	go func() { wg.Wait(); close(results) }()
	stop := func() {
		for _, a := range atks {
			a.Stop()
		}
	}
	if opt.OnStart != nil {
		go opt.OnStart(run)
	}
	finish := func() {
		rmu.Lock()
		defer rmu.Unlock()
		sort.SliceStable(run.Samples, func(i, j int) bool { return run.Samples[i].At < run.Samples[j].At })
	}
	for {
		select {
		case <-ctx.Done():
			stop()
			for range results {
			}
			finish()
			return run, ctx.Err()
		case res, ok := <-results:
			if !ok {
				finish()
				return run, nil
			}
			s := Sample{At: res.Timestamp.Sub(run.Start), Latency: res.Latency, Code: res.Code,
				Tenant: index[res.Method+" "+res.URL], ID: res.Headers.Get("X-Request-Id")}
			if opt.Retry != nil {
				// the last attempt was recorded by the retrier, timed on its
				// own; this result spans every attempt
				continue
			}
			run.add(s, res.Error, opt.KeepSamples)
		}
	}
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// retrier sends a request, and while the answer is a 429 with a Retry-After
// in seconds and attempts remain, waits it out (plus jitter) and sends it
// again. It records every attempt.
type retrier struct {
	next    http.RoundTripper
	opt     Retry
	timeout time.Duration
	mu      sync.Mutex
	rng     *rand.Rand
	record  func(s Sample, key, errText string)
	start   *time.Time
}

func (r *retrier) jitter() float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.rng.Float64()
}

func (r *retrier) RoundTrip(req *http.Request) (*http.Response, error) {
	key := req.Method + " " + req.URL.String()
	for attempt := 0; ; attempt++ {
		ctx, cancel := context.WithTimeout(req.Context(), r.timeout)
		sent := time.Now()
		resp, err := r.next.RoundTrip(req.Clone(ctx))
		s := Sample{At: sent.Sub(*r.start), Attempt: uint8(min(attempt, 255))}
		if err != nil {
			s.Latency = time.Since(sent)
			cancel()
			r.record(s, key, err.Error())
			return nil, err
		}
		s.ID = resp.Header.Get("X-Request-Id")
		ra, raErr := strconv.Atoi(resp.Header.Get("Retry-After"))
		retry := resp.StatusCode == http.StatusTooManyRequests && attempt < r.opt.Max && raErr == nil && ra >= 0
		if !retry {
			// the caller reads the body; the attempt ends at the headers
			s.Latency = time.Since(sent)
			s.Code = uint16(resp.StatusCode)
			r.record(s, key, "")
			resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
			return resp, nil
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
		resp.Body.Close()
		cancel()
		s.Latency = time.Since(sent)
		s.Code = uint16(resp.StatusCode)
		r.record(s, key, "")
		wait := time.Duration(float64(ra) * float64(time.Second) * (1 + r.opt.Jitter*r.jitter()))
		t := time.NewTimer(wait)
		select {
		case <-req.Context().Done():
			t.Stop()
			return nil, req.Context().Err()
		case <-t.C:
		}
	}
}

// cancelBody releases an attempt's context when the body is closed.
type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}
