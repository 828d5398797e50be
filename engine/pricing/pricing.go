// Package pricing prices requests in tokens: a cost matrix per route and
// method, moved by telemetry.
//
// The price of a request is its base cost times the multiplier of the matrix
// entry it matched. Each entry's multiplier moves toward a target
//
//	target = clamp(latency x surge, MinMultiplier, MaxMultiplier)
//	latency = EMA(service time) / Reference    (1 with no Reference or no observation yet)
//	surge   = SurgeMultiplier while the smoothed load is above SurgeThreshold, else 1
//
// where the EMA has weight Alpha per observation (seeded by the first one) and
// the load is smoothed with the same Alpha per step, starting from 0. On each Tick at least Interval after the last
// step, the multiplier moves toward its target by at most MaxStep relative
// (new within [m x (1-MaxStep), m x (1+MaxStep)]) and never past it, so prices
// move monotonically toward the target, at a bounded speed, and cannot
// overshoot or flip from one interval to the next. The surge switch has a
// hysteresis band (off again only once the smoothed load falls below
// SurgeThreshold x (1 - SurgeHysteresis)), so a load hovering at the
// threshold does not toggle it.
//
// The pricer never reads the clock: Tick takes now. The simulator ticks it on
// virtual time; gatewayd from a ticker.
package pricing

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"tollgate/engine"
)

// Defaults applied to zero fields of Config.
const (
	DefaultCost            = 1.0
	DefaultAlpha           = 0.1
	DefaultSurgeThreshold  = 0.7
	DefaultSurgeMultiplier = 1.5
	DefaultMinMultiplier   = 0.5
	DefaultMaxMultiplier   = 4.0
	DefaultMaxStep         = 0.25
	DefaultInterval        = time.Second
	// SurgeHysteresis is the relative band below SurgeThreshold the smoothed
	// load must fall under before the surge switches off.
	SurgeHysteresis = 0.1
)

// ErrInvalid marks a bad pricing configuration.
var ErrInvalid = errors.New("pricing: invalid")

// RouteCost is one entry of the cost matrix.
type RouteCost struct {
	// Route is the route name as the gateway matched it (exact match).
	Route string
	// Method is the HTTP method (any case), or "*" or "" for every method
	// without an entry of its own.
	Method string
	// Cost is the base price in tokens, >= 0.
	Cost float64
	// Reference is the service time at which the latency factor is 1; 0
	// disables the latency factor for this entry.
	Reference time.Duration
}

// Config configures a Pricer. Zero fields take the defaults above. The yaml
// tags are the policy vocabulary's `pricing:` section, the same in gatewayd
// configs and scenario files; Costs come from the routes, not from that
// section.
type Config struct {
	Costs []RouteCost `yaml:"-"`
	// Dynamic turns latency- and load-driven prices on; off, every route
	// costs its base cost exactly (the Pricer still answers, with every
	// multiplier 1). Default false.
	Dynamic bool `yaml:"dynamic"`
	// DefaultCost prices routes not in Costs (0 means 1 token).
	DefaultCost float64 `yaml:"default_cost"`
	// Alpha is the EMA weight of the newest observation, in (0, 1].
	Alpha float64 `yaml:"alpha"`
	// SurgeThreshold is the load, in (0, 1], above which the surge applies.
	SurgeThreshold float64 `yaml:"surge_threshold"`
	// SurgeMultiplier is the surge factor, >= 1.
	SurgeMultiplier float64 `yaml:"surge_multiplier"`
	// MinMultiplier and MaxMultiplier clamp the target multiplier.
	MinMultiplier float64 `yaml:"min_multiplier"`
	MaxMultiplier float64 `yaml:"max_multiplier"`
	// MaxStep is the largest relative change of a multiplier per interval, in (0, 1).
	MaxStep float64 `yaml:"max_step"`
	// Interval is the shortest time between two steps.
	Interval engine.Duration `yaml:"interval"`
}

// WithDefaults returns the config with zero fields set to the defaults.
func (c Config) WithDefaults() Config {
	def := func(v *float64, d float64) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.DefaultCost, DefaultCost)
	def(&c.Alpha, DefaultAlpha)
	def(&c.SurgeThreshold, DefaultSurgeThreshold)
	def(&c.SurgeMultiplier, DefaultSurgeMultiplier)
	def(&c.MinMultiplier, DefaultMinMultiplier)
	def(&c.MaxMultiplier, DefaultMaxMultiplier)
	def(&c.MaxStep, DefaultMaxStep)
	if c.Interval == 0 {
		c.Interval = engine.Duration(DefaultInterval)
	}
	return c
}

// Validate reports every problem of a config (after defaults) at once, each
// naming the field and value.
func (c Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: pricing.%s: %s", ErrInvalid, field, fmt.Sprintf(format, args...)))
	}
	finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	if !finite(c.DefaultCost) || c.DefaultCost < 0 {
		bad("default_cost", "must be >= 0, got %v", c.DefaultCost)
	}
	if !finite(c.Alpha) || c.Alpha <= 0 || c.Alpha > 1 {
		bad("alpha", "must be in (0, 1], got %v", c.Alpha)
	}
	if !finite(c.SurgeThreshold) || c.SurgeThreshold <= 0 || c.SurgeThreshold > 1 {
		bad("surge_threshold", "must be in (0, 1], got %v", c.SurgeThreshold)
	}
	if !finite(c.SurgeMultiplier) || c.SurgeMultiplier < 1 {
		bad("surge_multiplier", "must be >= 1, got %v", c.SurgeMultiplier)
	}
	if !finite(c.MinMultiplier) || c.MinMultiplier <= 0 {
		bad("min_multiplier", "must be > 0, got %v", c.MinMultiplier)
	}
	if !finite(c.MaxMultiplier) || c.MaxMultiplier < c.MinMultiplier || c.MaxMultiplier < 1 {
		bad("max_multiplier", "must be >= 1 and >= min_multiplier %v, got %v", c.MinMultiplier, c.MaxMultiplier)
	}
	if c.MinMultiplier > 1 {
		bad("min_multiplier", "must be <= 1 (the neutral multiplier), got %v", c.MinMultiplier)
	}
	if !finite(c.MaxStep) || c.MaxStep <= 0 || c.MaxStep >= 1 {
		bad("max_step", "must be in (0, 1), got %v", c.MaxStep)
	}
	if c.Interval <= 0 {
		bad("interval", "must be > 0, got %v", c.Interval)
	}
	seen := map[string]int{}
	for i, rc := range c.Costs {
		f := fmt.Sprintf("costs[%d]", i)
		if rc.Route == "" {
			bad(f+".route", "must not be empty")
		}
		if !finite(rc.Cost) || rc.Cost < 0 {
			bad(f+".cost", "must be >= 0, got %v", rc.Cost)
		}
		if rc.Reference < 0 {
			bad(f+".reference", "must be >= 0, got %v", rc.Reference)
		}
		k := entryKey(rc.Route, normMethod(rc.Method))
		if j, dup := seen[k]; dup {
			bad(f, "duplicate of costs[%d] (route %q, method %q)", j, rc.Route, rc.Method)
		}
		seen[k] = i
	}
	return errors.Join(errs...)
}

func normMethod(m string) string {
	if m == "" || m == "*" {
		return "*"
	}
	return strings.ToUpper(m)
}

func entryKey(route, method string) string { return method + " " + route }

// entry is one matrix cell with its telemetry.
type entry struct {
	cost      float64
	reference float64 // seconds; 0: no latency factor
	mult      atomic.Uint64

	mu       sync.Mutex
	ema      float64 // seconds
	observed bool

	// own is the float64 bits of the route's own load signal (SetRouteLoad),
	// NaN while the entry follows the node's load. smoothed and surging are
	// its smoothed value and surge switch, guarded by Pricer.mu.
	own      atomic.Uint64
	smoothed float64
	surging  bool
}

func (e *entry) multiplier() float64 { return math.Float64frombits(e.mult.Load()) }

// Pricer prices requests. It is safe for concurrent use: Price is lock-free,
// Observe locks one entry, Tick and SetLoad may run alongside them.
type Pricer struct {
	cfg     Config
	entries map[string]*entry // by entryKey; immutable after New
	list    []*entry          // sorted by key, for Tick
	def     *entry
	byRoute map[string][]*entry // entries of each route; immutable after New

	load atomic.Uint64 // float64 bits of the latest SetLoad

	mu       sync.Mutex // guards the fields below (Tick)
	smoothed float64
	surging  bool
	next     time.Time
	started  bool
}

// New validates the config and returns a Pricer with every multiplier at 1.
func New(cfg Config) (*Pricer, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p := &Pricer{cfg: cfg, entries: make(map[string]*entry, len(cfg.Costs)), byRoute: map[string][]*entry{}}
	keys := make([]string, 0, len(cfg.Costs))
	for _, rc := range cfg.Costs {
		e := &entry{cost: rc.Cost, reference: rc.Reference.Seconds()}
		e.mult.Store(math.Float64bits(1))
		e.own.Store(math.Float64bits(math.NaN()))
		p.byRoute[rc.Route] = append(p.byRoute[rc.Route], e)
		k := entryKey(rc.Route, normMethod(rc.Method))
		p.entries[k] = e
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		p.list = append(p.list, p.entries[k])
	}
	p.def = &entry{cost: cfg.DefaultCost}
	p.def.mult.Store(math.Float64bits(1))
	p.def.own.Store(math.Float64bits(math.NaN()))
	p.list = append(p.list, p.def)
	return p, nil
}

// Config returns the config with defaults applied.
func (p *Pricer) Config() Config { return p.cfg }

// lookup finds the entry for route and method: exact, then the route's "*"
// entry, then the default.
func (p *Pricer) lookup(route, method string) *entry {
	if len(p.entries) == 0 {
		return p.def
	}
	if e, ok := p.entries[entryKey(route, normMethod(method))]; ok {
		return e
	}
	if e, ok := p.entries[entryKey(route, "*")]; ok {
		return e
	}
	return p.def
}

// Price returns the price of a request in tokens: the base cost times the
// entry's current multiplier.
func (p *Pricer) Price(route, method string) float64 {
	e := p.lookup(route, method)
	return e.cost * e.multiplier()
}

// BaseCost returns the matrix cost of a request in tokens, without multiplier.
func (p *Pricer) BaseCost(route, method string) float64 { return p.lookup(route, method).cost }

// Multiplier returns the current multiplier of the entry route and method match.
func (p *Pricer) Multiplier(route, method string) float64 {
	return p.lookup(route, method).multiplier()
}

// Observe records one request's service time for the entry route and method
// match. Negative durations are ignored.
func (p *Pricer) Observe(route, method string, serviceTime time.Duration) {
	if serviceTime < 0 {
		return
	}
	e := p.lookup(route, method)
	if e.reference == 0 {
		return
	}
	x := serviceTime.Seconds()
	e.mu.Lock()
	if e.observed {
		e.ema += p.cfg.Alpha * (x - e.ema)
	} else {
		e.ema, e.observed = x, true
	}
	e.mu.Unlock()
}

// SetLoad records the current load as a utilisation in [0, 1] (values outside
// are clamped; NaN is ignored). It takes effect, smoothed, on the next step.
func (p *Pricer) SetLoad(load float64) {
	if math.IsNaN(load) {
		return
	}
	load = math.Max(0, math.Min(1, load))
	p.load.Store(math.Float64bits(load))
}

// SetRouteLoad gives a route's entries their own load signal in [0, 1]
// (values outside are clamped; NaN is ignored), used instead of the node's
// SetLoad from the next step on: gatewayd's Prometheus pricing source. Each
// such entry smooths its signal and switches its surge as the node's load
// does. It reports whether the route has entries.
func (p *Pricer) SetRouteLoad(route string, load float64) bool {
	es, ok := p.byRoute[route]
	if !ok || math.IsNaN(load) {
		return ok
	}
	load = math.Max(0, math.Min(1, load))
	for _, e := range es {
		e.own.Store(math.Float64bits(load))
	}
	return true
}

// ClearRouteLoad returns a route's entries to the node's load signal (the
// fallback when the route's own signal is unavailable).
func (p *Pricer) ClearRouteLoad(route string) {
	for _, e := range p.byRoute[route] {
		e.own.Store(math.Float64bits(math.NaN()))
	}
}

// Surging reports whether the surge multiplier is in force.
func (p *Pricer) Surging() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.surging
}

// Tick steps every multiplier toward its target if at least Interval has
// passed since the last step (the first Tick always steps). Call it at least
// once per Interval; ticks in between do nothing, and a late tick takes one
// step only, so no multiplier ever changes by more than MaxStep per step.
func (p *Pricer) Tick(now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.started && now.Before(p.next) {
		return
	}
	load := math.Float64frombits(p.load.Load())
	// The smoothed load starts at 0, so a single high sample at start-up
	// does not trigger the surge.
	p.smoothed += p.cfg.Alpha * (load - p.smoothed)
	p.started = true
	p.next = now.Add(p.cfg.Interval.D())
	switch {
	case !p.surging && p.smoothed > p.cfg.SurgeThreshold:
		p.surging = true
	case p.surging && p.smoothed < p.cfg.SurgeThreshold*(1-SurgeHysteresis):
		p.surging = false
	}
	surge := 1.0
	if p.surging {
		surge = p.cfg.SurgeMultiplier
	}
	for _, e := range p.list {
		if own := math.Float64frombits(e.own.Load()); !math.IsNaN(own) {
			p.step(e, p.routeSurge(e, own))
			continue
		}
		p.step(e, surge)
	}
}

// routeSurge smooths an entry's own load and switches its surge, exactly as
// Tick does for the node's load. Called with p.mu held.
func (p *Pricer) routeSurge(e *entry, load float64) float64 {
	e.smoothed += p.cfg.Alpha * (load - e.smoothed)
	switch {
	case !e.surging && e.smoothed > p.cfg.SurgeThreshold:
		e.surging = true
	case e.surging && e.smoothed < p.cfg.SurgeThreshold*(1-SurgeHysteresis):
		e.surging = false
	}
	if e.surging {
		return p.cfg.SurgeMultiplier
	}
	return 1
}

// target returns the entry's target multiplier.
func (p *Pricer) target(e *entry, surge float64) float64 {
	lat := 1.0
	e.mu.Lock()
	if e.reference > 0 && e.observed {
		lat = e.ema / e.reference
	}
	e.mu.Unlock()
	return math.Max(p.cfg.MinMultiplier, math.Min(p.cfg.MaxMultiplier, lat*surge))
}

func (p *Pricer) step(e *entry, surge float64) {
	m := e.multiplier()
	t := p.target(e, surge)
	lo, hi := m*(1-p.cfg.MaxStep), m*(1+p.cfg.MaxStep)
	next := math.Max(lo, math.Min(hi, t))
	e.mult.Store(math.Float64bits(next))
}
