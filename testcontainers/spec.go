package testcontainers

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"text/template"
	"time"

	"go.yaml.in/yaml/v3"

	"tollgate/engine"
	"tollgate/engine/lease"
	"tollgate/engine/limiter"
	"tollgate/engine/route"
	"tollgate/engine/tier"
	"tollgate/gatewayd/config"
)

// The images `make images` builds. The tag is fixed: tests never pull.
const (
	ImageRedis    = "tollgate/redis:local"
	ImageHAProxy  = "tollgate/haproxy:local"
	ImageGatewayd = "tollgate/gatewayd:local"
	ImageUpstream = "tollgate/upstream:local"
)

// Images is every image the suite needs.
var Images = []string{ImageRedis, ImageHAProxy, ImageGatewayd, ImageUpstream}

// Ports inside the containers.
const (
	PortProxy    = "8080/tcp" // gatewayd's proxy listener and HAProxy's frontend
	PortAdmin    = "9090/tcp" // gatewayd's admin listener: /healthz, /readyz, /metrics
	PortStats    = "8404/tcp" // HAProxy's stats page
	PortRedis    = "6379/tcp"
	PortUpstream = "9000/tcp"
)

// Tenant is one client of the gateway: an API key on a tier, sending Rate
// requests per second to Route.
type Tenant struct {
	// Name labels the tenant in results.
	Name string
	// Key is the raw API key sent in X-API-Key (the config holds its SHA-256).
	Key string
	// Tier is the name of one of Spec.Tiers.
	Tier string
	// Rate is the offered load in requests per second.
	Rate float64
	// Route is the path the tenant calls, under one of Spec.Routes' prefixes.
	Route string
}

// Route is one upstream route: its prefix, the upstream stub's service time
// for it and its cost in tokens.
type Route struct {
	Name        string
	Prefix      string
	ServiceTime time.Duration
	Cost        float64
}

// Health is the load balancer's health check of each node's /readyz.
type Health struct {
	// Interval between checks (HAProxy inter).
	Interval time.Duration
	// Fall is how many failed checks mark a node down; Rise how many passing
	// ones mark it up again.
	Fall, Rise int
	// Timeout is HAProxy's "timeout connect", for requests and health
	// checks alike: how long a connect to a cut node takes to fail.
	Timeout time.Duration
}

// Spec is a whole topology: zones, tiers, tenants, routes and timings. The
// zero value is not valid; start from DefaultSpec.
type Spec struct {
	// Zones names the zones; one gatewayd node and one Docker network each.
	Zones []string
	// Tiers are the policy vocabulary's tiers, written into every node's
	// gatewayd config and into the simulator's scenario unchanged.
	Tiers []tier.Tier
	// Tenants are the clients; one API key each.
	Tenants []Tenant
	// Routes are the upstream routes.
	Routes []Route
	// Health is the load balancer's health check.
	Health Health
	// DrainDelay and Grace are gatewayd's shutdown settings: how long it keeps
	// serving after /readyz turns 503, then how long in-flight requests may take.
	DrainDelay, Grace time.Duration
	// RedisTimeout bounds one Redis command; BreakerFailures and
	// BreakerCooldown are the store circuit breaker.
	RedisTimeout    time.Duration
	BreakerFailures int
	BreakerCooldown time.Duration
	// Lease, when its Batch is > 0, turns on gatewayd's local leases
	// (store.lease) and the simulator's (engine.lease).
	Lease lease.Config
}

// DefaultSpec is the suite's topology: three zones, three tiers (free and
// basic fail closed, pro fails open), four tenants offering 100 requests per
// second in all, two of them above their tier's sustained rate so the 429
// rate is well away from 0 and 1.
func DefaultSpec() Spec {
	return Spec{
		Zones: []string{"a", "b", "c"},
		Tiers: []tier.Tier{
			{Name: "free", Algorithm: engine.TokenBucket, Burst: 10, Rate: 10, Period: engine.Duration(time.Second)},
			{Name: "basic", Algorithm: engine.TokenBucket, Burst: 20, Rate: 20, Period: engine.Duration(time.Second)},
			{Name: "pro", Algorithm: engine.TokenBucket, Burst: 100, Rate: 100, Period: engine.Duration(time.Second), FailOpen: true},
		},
		Tenants: []Tenant{
			{Name: "free-1", Key: "tc-free-1", Tier: "free", Rate: 20, Route: "/v1/fast/item"},
			{Name: "basic-1", Key: "tc-basic-1", Tier: "basic", Rate: 30, Route: "/v1/fast/item"},
			{Name: "pro-1", Key: "tc-pro-1", Tier: "pro", Rate: 40, Route: "/v1/fast/item"},
			{Name: "pro-2", Key: "tc-pro-2", Tier: "pro", Rate: 10, Route: "/v1/report/daily"},
		},
		Routes: []Route{
			{Name: "fast", Prefix: "/v1/fast/", ServiceTime: 5 * time.Millisecond, Cost: 1},
			{Name: "report", Prefix: "/v1/report/", ServiceTime: 40 * time.Millisecond, Cost: 1},
		},
		// Fast checks with a high fall count: detection takes about
		// fall x interval, with little spread from the checks' phase.
		Health: Health{Interval: 100 * time.Millisecond, Fall: 8, Rise: 3, Timeout: 50 * time.Millisecond},
		// The balancer takes a draining node out after fall checks of its
		// 503 (about 0.8 s, up to 1.3 s measured on a busy machine): the
		// node keeps serving that long and more before closing its listener.
		DrainDelay: 2 * time.Second,
		Grace:      5 * time.Second,
		// gatewayd's default is 100ms; on a 2-core machine shared with other
		// work a Redis round trip through Docker's bridge occasionally takes
		// longer, and a fail-closed tier then refuses with 503.
		RedisTimeout:    500 * time.Millisecond,
		BreakerFailures: 3,
		BreakerCooldown: time.Second,
	}
}

// Validate checks the parts of the spec that the gatewayd config does not:
// every tenant names a tier and a route, rates and timings are positive.
func (s Spec) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("spec.%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if len(s.Zones) == 0 {
		bad("zones", "must have at least one zone")
	}
	seen := map[string]bool{}
	for i, z := range s.Zones {
		if z == "" || strings.ContainsAny(z, " /:") || seen[z] {
			bad(fmt.Sprintf("zones[%d]", i), "must be a unique name without spaces, / or :, got %q", z)
		}
		seen[z] = true
	}
	tiers := map[string]bool{}
	for _, t := range s.Tiers {
		tiers[t.Name] = true
	}
	if len(s.Tenants) == 0 {
		bad("tenants", "must have at least one tenant")
	}
	for i, t := range s.Tenants {
		if !tiers[t.Tier] {
			bad(fmt.Sprintf("tenants[%d].tier", i), "unknown tier %q", t.Tier)
		}
		if !(t.Rate > 0) {
			bad(fmt.Sprintf("tenants[%d].rate", i), "must be > 0, got %v", t.Rate)
		}
		if t.Key == "" {
			bad(fmt.Sprintf("tenants[%d].key", i), "must not be empty")
		}
		if _, ok := s.RouteOf(t.Route); !ok {
			bad(fmt.Sprintf("tenants[%d].route", i), "%q matches no route prefix", t.Route)
		}
	}
	for i, r := range s.Routes {
		if !strings.HasPrefix(r.Prefix, "/") {
			bad(fmt.Sprintf("routes[%d].prefix", i), "must start with /, got %q", r.Prefix)
		}
		if r.ServiceTime < 0 {
			bad(fmt.Sprintf("routes[%d].service_time", i), "must be >= 0, got %s", r.ServiceTime)
		}
	}
	h := s.Health
	if h.Interval <= 0 || h.Fall <= 0 || h.Rise <= 0 || h.Timeout <= 0 {
		bad("health", "interval, fall, rise and timeout must be > 0, got %+v", h)
	}
	if s.Lease.Batch < 0 || s.Lease.TTL < 0 {
		bad("lease", "batch and ttl must be >= 0, got %+v", s.Lease)
	}
	if s.Grace < time.Second {
		bad("grace", "must be >= 1s (Docker's stop timeout is whole seconds), got %s", s.Grace)
	}
	return errors.Join(errs...)
}

// RouteOf returns the route whose prefix is the longest prefix of path.
func (s Spec) RouteOf(path string) (Route, bool) {
	var best Route
	ok := false
	for _, r := range s.Routes {
		if strings.HasPrefix(path, r.Prefix) && len(r.Prefix) > len(best.Prefix) {
			best, ok = r, true
		}
	}
	return best, ok
}

// TierOf returns the tier called name.
func (s Spec) TierOf(name string) (tier.Tier, bool) {
	for _, t := range s.Tiers {
		if t.Name == name {
			return t, true
		}
	}
	return tier.Tier{}, false
}

// TotalRate is the offered load of all tenants in requests per second.
func (s Spec) TotalRate() float64 {
	var r float64
	for _, t := range s.Tenants {
		r += t.Rate
	}
	return r
}

// NodeName is the network alias (and HAProxy server name) of zone's node.
func NodeName(zone string) string { return "gw-" + zone }

// KeyHash is the lowercase hex SHA-256 of a raw API key, as the config holds it.
func KeyHash(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// LedgerDir is where each node writes its ledger inside its container (a
// host directory is mounted there).
const LedgerDir = "/ledger"

// GatewaydConfig renders one node's gatewayd.yaml for the spec and checks it
// with gatewayd's own parser, so a schema change fails here, not in a
// container. Every node gets the same config: they share Redis at
// redis:6379 and the upstream at upstream:9000 through their zone network.
func GatewaydConfig(s Spec) ([]byte, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	c := config.Config{
		Listen:      ":8080",
		AdminListen: ":9090",
		Store: config.Store{
			Kind: "redis",
			Redis: config.Redis{
				Addr:    "redis:6379",
				Timeout: config.Duration(s.RedisTimeout),
				Clock:   "server",
			},
			Breaker: limiter.BreakerConfig{Failures: s.BreakerFailures, Cooldown: engine.Duration(s.BreakerCooldown)},
			Lease:   s.Lease,
		},
		Tiers:    make([]config.Tier, 0, len(s.Tiers)),
		Ledger:   config.Ledger{Dir: LedgerDir, FlushInterval: config.Duration(100 * time.Millisecond)},
		Shutdown: config.Shutdown{DrainDelay: config.Duration(s.DrainDelay), Grace: config.Duration(s.Grace)},
	}
	for _, t := range s.Tiers {
		c.Tiers = append(c.Tiers, config.Tier{Tier: t})
	}
	for _, t := range s.Tenants {
		c.Auth.APIKeys.Keys = append(c.Auth.APIKeys.Keys, config.APIKey{SHA256: KeyHash(t.Key), Tier: t.Tier, Name: t.Name})
	}
	for _, r := range s.Routes {
		c.Routes = append(c.Routes, config.Route{
			Route:    route.Route{Name: r.Name, Prefix: r.Prefix, Methods: []string{"GET"}, Cost: r.Cost},
			Upstream: "http://upstream:9000",
			Timeout:  config.Duration(10 * time.Second),
		})
	}
	b, err := yaml.Marshal(&c)
	if err != nil {
		return nil, fmt.Errorf("gatewayd config: encode: %w", err)
	}
	if _, err := config.Parse(b); err != nil {
		return nil, fmt.Errorf("gatewayd config: %w", err)
	}
	return b, nil
}

var haproxyTemplate = template.Must(template.New("haproxy").Funcs(template.FuncMap{
	"ms":   func(d time.Duration) int64 { return d.Milliseconds() },
	"node": NodeName,
}).Parse(`# Rendered by tollgate/testcontainers: an L4 balancer in front of one gatewayd per zone.
global
	maxconn 4096
	log stdout format raw local0 info

defaults
	mode tcp
	# A SYN to a cut node is dropped: connect (also the health check's
	# connect) gives up after this; the check's read timeout is longer so a
	# busy node is not taken out by one slow answer.
	timeout connect {{ms .Health.Timeout}}ms
	timeout check 500ms
	timeout client 30s
	timeout server 30s
	# Like a cloud L4 balancer, no retry on another node: a failed connect is
	# the client's error. This is what the simulator's balancer models.
	retries 0

frontend gateways
	bind :8080
	default_backend gatewayd

backend gatewayd
	balance roundrobin
	# TCP mode, health from gatewayd's admin /readyz: a draining node turns 503.
	option httpchk GET /readyz
	default-server check port 9090 inter {{ms .Health.Interval}}ms fall {{.Health.Fall}} rise {{.Health.Rise}} init-addr last,libc,none
{{- range .Zones}}
	server {{node .}} {{node .}}:8080
{{- end}}

frontend stats
	mode http
	bind :8404
	stats enable
	stats uri /stats
`))

// HAProxyConfig renders haproxy.cfg for the spec.
func HAProxyConfig(s Spec) ([]byte, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := haproxyTemplate.Execute(&b, s); err != nil {
		return nil, fmt.Errorf("haproxy config: %w", err)
	}
	return b.Bytes(), nil
}

// UpstreamArgs are the upstream stub's arguments for the spec's routes
// (gatewayd/cmd/demo-upstream: -listen, -route PREFIX=DURATION).
func UpstreamArgs(s Spec) []string {
	args := []string{"-listen", ":9000"}
	for _, r := range s.Routes {
		args = append(args, "-route", fmt.Sprintf("%s=%s", r.Prefix, r.ServiceTime))
	}
	return args
}
