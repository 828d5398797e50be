package config

import (
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/prometheus/promql/parser"

	"tollgate/gatewayd/clientip"
)

// Defaults of the tracing and Prometheus pricing sections.
const (
	DefaultTracingProtocol    = TracingHTTP
	DefaultTracingSampling    = 0.01
	DefaultTracingServiceName = "gatewayd"
	DefaultTracingTimeout     = 10 * time.Second
	DefaultPricingSource      = PricingSourceLocal
	DefaultPrometheusTTL      = 5 * time.Second
	DefaultPrometheusTimeout  = time.Second
)

// Tracing protocols and pricing sources.
const (
	TracingHTTP              = "http/protobuf"
	TracingGRPC              = "grpc"
	PricingSourceLocal       = "local"
	PricingSourcePrometheus  = "prometheus"
	prometheusQueriesField   = "pricing.prometheus.queries"
	tracingTrustedClientsFld = "tracing.trusted_clients"
)

// Tracing exports OpenTelemetry traces over OTLP (gatewayd/tracing): a server
// span per request with children for auth, pricing, the limiter decision and
// its store round trips, the upstream call and the ledger append. Off while
// Endpoint is empty (the default), and then costs the request path a nil
// check.
type Tracing struct {
	// Endpoint is the collector, http://HOST:PORT or https://HOST:PORT; the
	// http/protobuf protocol posts to its /v1/traces. Empty: tracing off.
	Endpoint string `yaml:"endpoint"`
	// Protocol is "http/protobuf" (default) or "grpc".
	Protocol string `yaml:"protocol"`
	// Sampling is the fraction of new traces recorded, in [0, 1] (default
	// 0.01). A request continuing a trusted caller's trace follows the
	// caller's sampled flag instead (parent-based sampling).
	Sampling *float64 `yaml:"sampling"`
	// ServiceName is the service.name resource attribute (default "gatewayd").
	ServiceName string `yaml:"service_name"`
	// TrustedClients are peers (addresses or CIDR prefixes) whose W3C
	// traceparent gatewayd continues, besides server.trusted_proxies (always
	// trusted): internal callers that reach gatewayd without a balancer. A
	// traceparent from any other peer is dropped and a new trace started,
	// so an outside client cannot choose trace ids or force sampling.
	TrustedClients []string `yaml:"trusted_clients"`
	// Timeout bounds one export (default 10s).
	Timeout Duration `yaml:"timeout"`
}

// Enabled reports whether traces are exported.
func (t Tracing) Enabled() bool { return t.Endpoint != "" }

// Ratio returns the sampling ratio with its default applied.
func (t Tracing) Ratio() float64 {
	if t.Sampling == nil {
		return DefaultTracingSampling
	}
	return *t.Sampling
}

// PricingPrometheus reads each route's load signal from Prometheus (seed
// 001's pricing engine) instead of this node's in-flight count: the result
// of the route's PromQL query, a utilisation in [0, 1], cached for TTL. A
// query that fails, times out or returns no sample falls back to the local
// estimate for that route until it answers again; every fallback is counted
// (gatewayd_pricing_source_failures_total) and logged.
type PricingPrometheus struct {
	// URL is the Prometheus server, e.g. http://127.0.0.1:9090.
	URL string `yaml:"url"`
	// Queries maps a route name to a PromQL instant query that yields one
	// sample: the route's load in [0, 1] (values outside are clamped). Routes
	// without a query use the local estimate.
	Queries map[string]string `yaml:"queries"`
	// TTL is how long a query's answer is used before it is asked again
	// (default 5s).
	TTL Duration `yaml:"ttl"`
	// Timeout bounds one query (default 1s).
	Timeout Duration `yaml:"timeout"`
}

func (c *Config) applyObservabilityDefaults() {
	t := &c.Tracing
	if t.Enabled() {
		setS(&t.Protocol, DefaultTracingProtocol)
		setS(&t.ServiceName, DefaultTracingServiceName)
		setD(&t.Timeout, DefaultTracingTimeout)
	}
	setS(&c.Pricing.Source, DefaultPricingSource)
	if pp := c.Pricing.Prometheus; pp != nil {
		setD(&pp.TTL, DefaultPrometheusTTL)
		setD(&pp.Timeout, DefaultPrometheusTimeout)
	}
}

func (c *Config) validateObservability(p *problems) {
	t := c.Tracing
	if t.Enabled() {
		if u, err := url.Parse(t.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			p.add("tracing.endpoint", "must be http://HOST:PORT or https://HOST:PORT, got %q", t.Endpoint)
		}
		if t.Protocol != TracingHTTP && t.Protocol != TracingGRPC {
			p.add("tracing.protocol", "must be %q or %q, got %q", TracingHTTP, TracingGRPC, t.Protocol)
		}
		if t.Timeout <= 0 {
			p.add("tracing.timeout", "must be > 0, got %v", t.Timeout.D())
		}
	}
	if r := t.Ratio(); !(r >= 0 && r <= 1) {
		p.add("tracing.sampling", "must be in [0, 1], got %v", r)
	}
	for i, s := range t.TrustedClients {
		if _, err := clientip.ParseProxy(s); err != nil {
			p.add(tracingTrustedClientsFld, "[%d]: %v", i, err)
		}
	}

	pr := c.Pricing
	switch pr.Source {
	case PricingSourceLocal:
		if pr.Prometheus != nil {
			p.add("pricing.prometheus", "is set but pricing.source is %q; set pricing.source: %s", pr.Source, PricingSourcePrometheus)
		}
	case PricingSourcePrometheus:
		if !pr.Dynamic {
			p.add("pricing.source", "%q needs pricing.dynamic: true (static prices ignore the load signal)", pr.Source)
		}
		pp := pr.Prometheus
		if pp == nil {
			p.add("pricing.prometheus", "required when pricing.source is %q", pr.Source)
			return
		}
		if u, err := url.Parse(pp.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			p.add("pricing.prometheus.url", "must be http://HOST:PORT or https://HOST:PORT, got %q", pp.URL)
		}
		if pp.TTL <= 0 {
			p.add("pricing.prometheus.ttl", "must be > 0, got %v", pp.TTL.D())
		}
		if pp.Timeout <= 0 {
			p.add("pricing.prometheus.timeout", "must be > 0, got %v", pp.Timeout.D())
		}
		if len(pp.Queries) == 0 {
			p.add(prometheusQueriesField, "at least one route's query is required")
		}
		routes := map[string]bool{}
		for _, r := range c.Routes {
			routes[r.Name] = true
		}
		names := make([]string, 0, len(pp.Queries))
		for name := range pp.Queries {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			f := prometheusQueriesField + "." + name
			if !routes[name] {
				p.add(f, "no route is named %q", name)
			}
			q := pp.Queries[name]
			if strings.TrimSpace(q) == "" {
				p.add(f, "must not be empty")
				continue
			}
			if _, err := parser.NewParser(parser.Options{}).ParseExpr(q); err != nil {
				p.add(f, "not a PromQL expression: %v (query %q)", err, q)
			}
		}
	default:
		p.add("pricing.source", "must be %q or %q, got %q", PricingSourceLocal, PricingSourcePrometheus, pr.Source)
	}
}
