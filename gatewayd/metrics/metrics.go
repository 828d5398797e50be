// Package metrics holds gatewayd's Prometheus metrics. Labels are route, tier
// and decision only, all from bounded sets (config names and a fixed list of
// decisions), never a key, a path or a client address, so cardinality stays
// routes x tiers x decisions.
package metrics

import (
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the gateway's collectors on their own registry. Safe for
// concurrent use.
type Metrics struct {
	Registry *prometheus.Registry
	// Requests counts answered requests by route, tier and decision.
	Requests *prometheus.CounterVec
	// Duration is the time from arrival to answer, by route, tier, decision.
	Duration *prometheus.HistogramVec
	// Upstream is the upstream service time by route and tier.
	Upstream *prometheus.HistogramVec
	// Charged and Settled are tokens reserved and finally charged.
	Charged *prometheus.CounterVec
	Settled *prometheus.CounterVec
	// Unmetered counts fail-open admissions by route and tier.
	Unmetered *prometheus.CounterVec
	// Shadow counts candidate-policy decisions by route, tier and decision;
	// ShadowDisagree those that differ from the enforced decision.
	Shadow         *prometheus.CounterVec
	ShadowDisagree *prometheus.CounterVec
	// InFlight is the number of requests being served.
	InFlight prometheus.Gauge
	// Reloads counts SIGHUP reloads by decision (applied or refused).
	Reloads *prometheus.CounterVec
	// StoreDuration is the rate-limit store's round-trip time by operation
	// (acquire, settle, release, batch) and result (ok, error); lease hits
	// make no round trip.
	StoreDuration *prometheus.HistogramVec
	// PricingMultiplier is each route's current price multiplier;
	// PricingMultiplierLimit the clamp's bounds (bound="min"|"max").
	PricingMultiplier      *prometheus.GaugeVec
	PricingMultiplierLimit *prometheus.GaugeVec
	// PricingLoad is the load signal in force per route and its source
	// (local or prometheus).
	PricingLoad *prometheus.GaugeVec
	// PricingSourceDuration times the Prometheus pricing queries by route;
	// PricingSourceFailures counts those that failed (the route fell back to
	// the local estimate).
	PricingSourceDuration *prometheus.HistogramVec
	PricingSourceFailures *prometheus.CounterVec
	// Budget is the deciding policy's budget utilisation at admission,
	// 1 - remaining/limit, by route and tier.
	Budget *prometheus.HistogramVec
	// TunnelBytes counts bytes through upgraded tunnels by route and
	// direction (in: from the client, out: to the client); TunnelSeconds
	// their open time by route, added when each closes.
	TunnelBytes   *prometheus.CounterVec
	TunnelSeconds *prometheus.CounterVec
	// ProtocolErrors counts requests Go's HTTP server refused itself before
	// any handler ran (malformed, 431, 501, 505), by status.
	ProtocolErrors *prometheus.CounterVec

	children sync.Map // childKey -> *Children
}

// New registers the metrics. gauges are extra read-on-scrape values (ledger
// counters, breaker state) registered as GaugeFuncs under their names.
func New(gauges map[string]func() float64, help map[string]string) *Metrics {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	rtd := []string{"route", "tier", "decision"}
	rt := []string{"route", "tier"}
	// Buckets from 100 us to 30 s: the gateway's own overhead sits at the
	// bottom, the 29 s upstream timeout at the top.
	buckets := []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}
	m := &Metrics{
		Registry: r,
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gatewayd_requests_total",
			Help: "Requests answered, by route, tier and admission decision."}, rtd),
		Duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "gatewayd_request_duration_seconds",
			Help: "Time from arrival to answer.", Buckets: buckets}, rtd),
		Upstream: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "gatewayd_upstream_duration_seconds",
			Help: "Upstream service time to response headers.", Buckets: buckets}, rt),
		Charged: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gatewayd_tokens_charged_total",
			Help: "Tokens reserved at admission."}, rt),
		Settled: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gatewayd_tokens_settled_total",
			Help: "Tokens finally charged after settle."}, rt),
		Unmetered: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gatewayd_unmetered_total",
			Help: "Requests admitted fail-open while the store was unavailable."}, rt),
		Shadow: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gatewayd_shadow_decisions_total",
			Help: "Candidate (shadow) policy decisions; never enforced."}, rtd),
		ShadowDisagree: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gatewayd_shadow_disagreements_total",
			Help: "Requests where the candidate policy decided otherwise than the enforced one, by the candidate's decision."}, rtd),
		InFlight: prometheus.NewGauge(prometheus.GaugeOpts{Name: "gatewayd_in_flight_requests",
			Help: "Requests being served."}),
		Reloads: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gatewayd_config_reloads_total",
			Help: "Config reloads by decision: applied or refused."}, []string{"decision"}),
		StoreDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "gatewayd_store_duration_seconds",
			Help: "Rate-limit store round-trip time by operation and result (lease hits make none).", Buckets: buckets},
			[]string{"op", "result"}),
		PricingMultiplier: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "gatewayd_pricing_multiplier",
			Help: "Current price multiplier per route (1 = base cost)."}, []string{"route"}),
		PricingMultiplierLimit: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "gatewayd_pricing_multiplier_limit",
			Help: "The price multiplier's clamp: pricing.min_multiplier (bound=min) and max_multiplier (bound=max)."},
			[]string{"bound"}),
		PricingLoad: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "gatewayd_pricing_load",
			Help: "Load signal in force per route, in [0, 1], by source (local or prometheus)."}, []string{"route", "source"}),
		PricingSourceDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "gatewayd_pricing_source_duration_seconds",
			Help: "Time of the Prometheus pricing query per route.", Buckets: buckets}, []string{"route"}),
		PricingSourceFailures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gatewayd_pricing_source_failures_total",
			Help: "Prometheus pricing queries that failed or gave no sample; the route used the local estimate."}, []string{"route"}),
		Budget: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "gatewayd_budget_utilisation_ratio",
			Help:    "Budget utilisation of the deciding policy at each decision: 1 - remaining/limit (1 = the key's bucket is empty).",
			Buckets: []float64{.1, .2, .3, .4, .5, .6, .7, .8, .9, .95, .99, 1}}, rt),
		TunnelBytes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gatewayd_tunnel_bytes_total",
			Help: "Bytes through upgraded (WebSocket) tunnels, by route and direction (in from the client, out to it)."},
			[]string{"route", "direction"}),
		TunnelSeconds: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gatewayd_tunnel_seconds_total",
			Help: "Seconds upgraded tunnels were open, by route, added when each closes."}, []string{"route"}),
		ProtocolErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gatewayd_protocol_errors_total",
			Help: "Requests refused by the HTTP server itself before the gateway saw them (malformed 400, 431, 501, 505), by status."},
			[]string{"status"}),
	}
	r.MustRegister(m.Requests, m.Duration, m.Upstream, m.Charged, m.Settled, m.Unmetered, m.Shadow,
		m.ShadowDisagree, m.InFlight, m.Reloads, m.TunnelBytes, m.TunnelSeconds, m.ProtocolErrors,
		m.StoreDuration, m.PricingMultiplier, m.PricingMultiplierLimit, m.PricingLoad, m.PricingSourceDuration,
		m.PricingSourceFailures, m.Budget)
	for name, f := range gauges {
		r.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help[name]}, f))
	}
	return m
}

// Handler serves the registry in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}

// Children are one route, tier and decision's metric children, resolved once
// and cached: WithLabelValues hashes its labels and takes a lock on every
// call, which showed in the request path's CPU profile. Requests and Duration
// are resolved at once (every answer touches them); the route-and-tier
// children are resolved on first use, so a series appears in /metrics only
// once it has been touched, as with WithLabelValues.
type Children struct {
	Requests prometheus.Counter
	Duration prometheus.Observer

	m                *Metrics
	route, tier      string
	upstream         lazy[prometheus.Observer]
	charged, settled lazy[prometheus.Counter]
	unmetered        lazy[prometheus.Counter]
	budget           lazy[prometheus.Observer]
}

// Budget is the route and tier's budget-utilisation histogram child.
func (c *Children) Budget() prometheus.Observer {
	return c.budget.get(func() prometheus.Observer { return c.m.Budget.WithLabelValues(c.route, c.tier) })
}

// lazy is a value resolved on first use; racing first uses resolve the same
// child, so either result is right.
type lazy[T any] struct{ p atomic.Pointer[T] }

func (l *lazy[T]) get(f func() T) T {
	if p := l.p.Load(); p != nil {
		return *p
	}
	v := f()
	l.p.Store(&v)
	return v
}

// Upstream is the route and tier's upstream-time histogram child.
func (c *Children) Upstream() prometheus.Observer {
	return c.upstream.get(func() prometheus.Observer { return c.m.Upstream.WithLabelValues(c.route, c.tier) })
}

// Charged is the route and tier's tokens-charged counter child.
func (c *Children) Charged() prometheus.Counter {
	return c.charged.get(func() prometheus.Counter { return c.m.Charged.WithLabelValues(c.route, c.tier) })
}

// Settled is the route and tier's tokens-settled counter child.
func (c *Children) Settled() prometheus.Counter {
	return c.settled.get(func() prometheus.Counter { return c.m.Settled.WithLabelValues(c.route, c.tier) })
}

// Unmetered is the route and tier's unmetered counter child.
func (c *Children) Unmetered() prometheus.Counter {
	return c.unmetered.get(func() prometheus.Counter { return c.m.Unmetered.WithLabelValues(c.route, c.tier) })
}

type childKey struct{ route, tier, decision string }

// For returns the cached children for route, tier and decision (all from
// bounded sets, see the package doc), creating them on first use. Safe for
// concurrent use.
func (m *Metrics) For(route, tier, decision string) *Children {
	k := childKey{route, tier, decision}
	if c, ok := m.children.Load(k); ok {
		return c.(*Children)
	}
	c := &Children{
		Requests: m.Requests.WithLabelValues(route, tier, decision),
		Duration: m.Duration.WithLabelValues(route, tier, decision),
		m:        m, route: route, tier: tier,
	}
	v, _ := m.children.LoadOrStore(k, c)
	return v.(*Children)
}
