// Package promload is gatewayd's Prometheus pricing source: each route's load
// signal read from a PromQL instant query (pricing.source: prometheus), as
// seed 001's pricing engine reads its signal from Prometheus.
//
// Answers are cached for a TTL; a route whose answer is older than the TTL is
// queried again in the background, so the caller (the pricer's ticker) never
// waits on Prometheus. A query that fails, times out, or yields no single
// finite sample makes the route fall back to the local estimate until a later
// query answers; each failure is counted (Observer.Failure) and logged at most
// once per TTL per route.
//
//	src, err := promload.New(promload.Options{URL: "http://127.0.0.1:9090",
//		Queries: map[string]string{"reports": `gatewayd:route_load:ratio{route="reports"}`}, TTL: 5 * time.Second})
//	if v, ok := src.Load("reports", time.Now()); ok { pricer.SetRouteLoad("reports", v) } else { pricer.ClearRouteLoad("reports") }
package promload

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// ErrNoSample marks a query that answered without exactly one finite sample.
var ErrNoSample = errors.New("promload: query gave no single finite sample")

// Observer receives each query's duration and failures (the metrics).
type Observer interface {
	Query(route string, d time.Duration)
	Failure(route string)
}

// Options configure a Source.
type Options struct {
	// URL is the Prometheus server.
	URL string
	// Queries maps a route name to its PromQL instant query.
	Queries map[string]string
	// TTL is how long an answer is used before the route is queried again.
	TTL time.Duration
	// Timeout bounds one query (default TTL, at most 10s).
	Timeout time.Duration
	// Observer, if set, receives durations and failures.
	Observer Observer
	// Log receives one line per route per TTL while its query fails.
	Log *slog.Logger
}

// Source caches each route's load. Safe for concurrent use.
type Source struct {
	api     v1.API
	opts    Options
	routes  []string
	mu      sync.Mutex
	entries map[string]*cached
}

type cached struct {
	value      float64
	ok         bool      // the last query answered
	asked      time.Time // when the last query started (zero: never)
	inFlight   bool
	lastLogged time.Time
}

// New builds a Source; it does not query until the first Load.
func New(o Options) (*Source, error) {
	if o.TTL <= 0 {
		return nil, fmt.Errorf("promload: ttl: must be > 0, got %v", o.TTL)
	}
	if o.Timeout <= 0 {
		o.Timeout = min(o.TTL, 10*time.Second)
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	c, err := api.NewClient(api.Config{Address: o.URL})
	if err != nil {
		return nil, fmt.Errorf("promload: url %q: %w", o.URL, err)
	}
	s := &Source{api: v1.NewAPI(c), opts: o, entries: map[string]*cached{}}
	for r := range o.Queries {
		s.routes = append(s.routes, r)
		s.entries[r] = &cached{}
	}
	sort.Strings(s.routes)
	return s, nil
}

// Routes returns the routes that have a query, sorted.
func (s *Source) Routes() []string { return s.routes }

// Load returns the route's cached load and whether it is usable (the last
// query answered). If the answer is older than the TTL (or there is none) and
// no query is running, it starts one in the background; its answer is seen
// by a later Load.
func (s *Source) Load(route string, now time.Time) (float64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.entries[route]
	if !ok {
		return 0, false
	}
	if !c.inFlight && (c.asked.IsZero() || now.Sub(c.asked) >= s.opts.TTL) {
		c.inFlight, c.asked = true, now
		go s.refresh(route, c)
	}
	return c.value, c.ok
}

// Refresh queries the route now and waits for the answer (tests, start-up).
func (s *Source) Refresh(ctx context.Context, route string) (float64, error) {
	q, ok := s.opts.Queries[route]
	if !ok {
		return 0, fmt.Errorf("promload: no query for route %q", route)
	}
	return s.query(ctx, route, q)
}

func (s *Source) refresh(route string, c *cached) {
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.Timeout)
	v, err := s.query(ctx, route, s.opts.Queries[route])
	cancel()
	s.mu.Lock()
	defer s.mu.Unlock()
	c.inFlight = false
	if err == nil {
		c.value, c.ok = v, true
		return
	}
	c.ok = false
	if s.opts.Observer != nil {
		s.opts.Observer.Failure(route)
	}
	if now := time.Now(); now.Sub(c.lastLogged) >= s.opts.TTL {
		c.lastLogged = now
		s.opts.Log.Warn("pricing: Prometheus load query failed; the route uses the local estimate",
			"route", route, "err", err)
	}
}

// query runs one instant query and reads its single sample.
func (s *Source) query(ctx context.Context, route, q string) (float64, error) {
	start := time.Now()
	val, _, _, err := s.api.Query(ctx, q, start)
	if s.opts.Observer != nil {
		s.opts.Observer.Query(route, time.Since(start))
	}
	if err != nil {
		return 0, fmt.Errorf("promload: route %q: %w", route, err)
	}
	var x float64
	switch v := val.(type) {
	case model.Vector:
		if len(v) != 1 {
			return 0, fmt.Errorf("%w: route %q: %d samples", ErrNoSample, route, len(v))
		}
		x = float64(v[0].Value)
	case *model.Scalar:
		x = float64(v.Value)
	default:
		return 0, fmt.Errorf("%w: route %q: result type %s", ErrNoSample, route, val.Type())
	}
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return 0, fmt.Errorf("%w: route %q: value %v", ErrNoSample, route, x)
	}
	return x, nil
}
