package gateway

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"tollgate/engine"
	"tollgate/engine/lease"
	"tollgate/engine/limiter"
	"tollgate/engine/memstore"
	"tollgate/engine/pricing"
	"tollgate/engine/redisstore"
	"tollgate/engine/route"
	"tollgate/engine/tier"
	"tollgate/gatewayd/auth"
	"tollgate/gatewayd/clientip"
	"tollgate/gatewayd/config"
	"tollgate/gatewayd/cors"
	"tollgate/gatewayd/headerpolicy"
	"tollgate/gatewayd/headers"
	"tollgate/gatewayd/penalty"
	"tollgate/gatewayd/promload"
	"tollgate/gatewayd/proxy"
)

// runtime is everything built from one validated config. It is immutable
// once built and swapped atomically on reload.
type runtime struct {
	cfg     *config.Config
	routes  *route.Table[*routeRT]
	tiers   map[string]*tierRT
	auth    *auth.Authenticator
	pricer  *pricing.Pricer
	box     *penalty.Box
	backend *backend
	// clients finds a request's client address (anonymous routes).
	clients *clientip.Resolver
	// src is the Prometheus pricing source (pricing.source: prometheus).
	src *promload.Source

	// policyHeaders caches RateLimit-Policy values per plan.
	policyHeaders sync.Map // *engine.Plan -> string
}

// trustedPeer reports whether a request's peer is in server.trusted_proxies.
func (rt *runtime) trustedPeer(remoteAddr string) bool {
	return rt.clients != nil && rt.clients.TrustsPeer(remoteAddr)
}

// routeRT is one route, ready to serve.
type routeRT struct {
	cfg     config.Route
	methods map[string]bool
	allow   string
	proxy   *httputil.ReverseProxy
	cors    *cors.Policy
	// shadow holds the route's candidate tiers by tier name, if the route
	// has a shadow policy.
	shadow map[string]*tier.Compiled
}

// tierRT is one tier, compiled.
type tierRT struct {
	c *tier.Compiled
	// shadow is the tier's candidate, if any.
	shadow *tier.Compiled
}

// backend is the rate-limit store and its limiter; kept across reloads
// while the store section does not change, so budgets survive a SIGHUP.
type backend struct {
	cfg   config.Store
	store engine.Store
	lim   *limiter.Limiter
	rdb   redis.UniversalClient // nil for memory
	// leaser is set when store.lease is on.
	leaser *lease.Leaser
	// penaltySub is the shared penalty box's subscription (penalty.shared).
	penaltySub *redis.PubSub
}

func (b *backend) close() {
	if b != nil && b.penaltySub != nil {
		_ = b.penaltySub.Close()
	}
	if b != nil && b.rdb != nil {
		_ = b.rdb.Close()
	}
}

// redisPassword is store.redis.password, or the content of
// store.redis.password_file (trailing newline trimmed): the one place both
// the store and the ledger's Redis Stream sink read it.
func redisPassword(r config.Redis) (string, error) {
	if r.PasswordFile == "" {
		return r.Password, nil
	}
	raw, err := os.ReadFile(r.PasswordFile)
	if err != nil {
		return "", fmt.Errorf("store.redis.password_file: %w", err)
	}
	return strings.TrimRight(string(raw), "\r\n"), nil
}

func newBackend(c config.Store, so *storeObs) (*backend, error) {
	b := &backend{cfg: c}
	lopts := limiter.Options{Breaker: c.Breaker}
	switch c.Kind {
	case "memory":
		b.store = observedStore{memstore.New(memstore.Options{}), so}
	case "redis":
		pw, err := redisPassword(c.Redis)
		if err != nil {
			return nil, err
		}
		t := c.Redis.Timeout.D()
		if len(c.Redis.ClusterAddrs) > 0 {
			// A cluster client follows MOVED and ASK redirections (a slot
			// moving during resharding); the pool is per node.
			b.rdb = redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Redis.ClusterAddrs, Password: pw,
				DialTimeout: t, ReadTimeout: t, WriteTimeout: t, PoolSize: c.Redis.PoolSize,
				MinIdleConns: min(8, c.Redis.PoolSize), MaxRetries: -1, ContextTimeoutEnabled: true})
		} else {
			b.rdb = redis.NewClient(&redis.Options{Addr: c.Redis.Addr, Password: pw, DB: c.Redis.DB,
				DialTimeout: t, ReadTimeout: t, WriteTimeout: t, PoolSize: c.Redis.PoolSize,
				MinIdleConns: min(8, c.Redis.PoolSize), MaxRetries: -1, ContextTimeoutEnabled: true})
		}
		clock := redisstore.ClockServer
		if c.Redis.Clock == "client" {
			clock = redisstore.ClockClient
		}
		s, err := redisstore.New(b.rdb, redisstore.Options{Prefix: c.Redis.Prefix, Clock: clock})
		if err != nil {
			_ = b.rdb.Close()
			return nil, fmt.Errorf("store.redis: %w", err)
		}
		b.store = s
		if !c.Redis.DisableCoalescing {
			// Concurrent calls share round trips (see batcher).
			b.store = newBatcher(s, t)
		}
		b.store = observedStore{b.store, so} // what a request waits for, queueing included
		if c.Lease.Batch > 0 {
			b.leaser = lease.New(b.store, c.Lease.Options())
			b.store = b.leaser
		}
		// One timeout for the whole store call, pool wait included.
		lopts.Timeout = t
	default:
		return nil, fmt.Errorf("store.kind: unknown %q", c.Kind)
	}
	b.lim = limiter.New(b.store, engine.ClockFunc(time.Now), lopts)
	return b, nil
}

// candidate returns the tier with a shadow policy's overrides: zero fields
// inherit the tier's.
func candidate(t tier.Tier, s config.Shadow) tier.Tier {
	if s.Algorithm != "" {
		t.Algorithm = engine.Algorithm(s.Algorithm)
	}
	if s.Burst > 0 {
		t.Burst = s.Burst
	}
	if s.Rate > 0 {
		t.Rate = s.Rate
	}
	if s.Period > 0 {
		t.Period = s.Period
	}
	if s.RefillCap > 0 {
		t.RefillCap = s.RefillCap
	}
	return t
}

// Check compiles everything in a validated config that the engine checks
// (tiers, shadow candidates, pricing) without starting anything: no network,
// no files besides the config's key files being left unread. gatewayd -check
// runs it so a config that would fail at start fails the check.
func Check(cfg *config.Config) error {
	var errs []error
	for i, t := range cfg.Tiers {
		if _, err := tier.Compile(t.Tier); err != nil {
			errs = append(errs, fmt.Errorf("tiers[%d]: %w", i, err))
		}
		if t.Shadow != nil {
			if _, err := tier.Compile(candidate(t.Tier, *t.Shadow)); err != nil {
				errs = append(errs, fmt.Errorf("tiers[%d].shadow: %w", i, err))
			}
		}
	}
	costs := make([]pricing.RouteCost, 0, len(cfg.Routes))
	for i, r := range cfg.Routes {
		costs = append(costs, pricing.RouteCost{Route: r.Name, Method: "*", Cost: r.Cost, Reference: r.Reference.D()})
		if r.Shadow == nil {
			continue
		}
		for j, t := range cfg.Tiers {
			if _, err := tier.Compile(candidate(t.Tier, *r.Shadow)); err != nil {
				errs = append(errs, fmt.Errorf("routes[%d].shadow (tier %d %q): %w", i, j, t.Name, err))
			}
		}
	}
	p := cfg.Pricing.Config
	p.Costs = costs
	if _, err := pricing.New(p); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// build turns a validated config into a runtime. prev, if not nil, donates
// its backend (when the store section is unchanged) and penalty box (when
// the penalty section is unchanged).
func build(cfg *config.Config, prev *runtime, transport http.RoundTripper, log *slog.Logger, h *hooks) (*runtime, error) {
	var errs []error
	rt := &runtime{cfg: cfg, tiers: map[string]*tierRT{}}
	if cr, err := clientip.New("server.trusted_proxies", cfg.Server.TrustedProxies); err != nil {
		errs = append(errs, err)
	} else {
		rt.clients = cr
	}
	names := make([]string, 0, len(cfg.Tiers))
	for i, t := range cfg.Tiers {
		names = append(names, t.Name)
		c, err := tier.Compile(t.Tier)
		if err != nil {
			errs = append(errs, fmt.Errorf("tiers[%d]: %w", i, err))
			continue
		}
		trt := &tierRT{c: c}
		if t.Shadow != nil {
			s, err := tier.Compile(candidate(t.Tier, *t.Shadow))
			if err != nil {
				errs = append(errs, fmt.Errorf("tiers[%d].shadow: %w", i, err))
			}
			trt.shadow = s
		}
		rt.tiers[t.Name] = trt
	}

	var trusted func(string) bool // nil without trusted proxies: nothing to check per request
	if len(cfg.Server.TrustedProxies) > 0 {
		trusted = rt.trustedPeer
	}
	costs := make([]pricing.RouteCost, 0, len(cfg.Routes))
	prefixes := make([]string, 0, len(cfg.Routes))
	routes := make([]*routeRT, 0, len(cfg.Routes))
	for i, r := range cfg.Routes {
		u, err := url.Parse(r.Upstream)
		if err != nil {
			errs = append(errs, fmt.Errorf("routes[%d].upstream: %w", i, err))
			continue
		}
		strip := ""
		if r.StripPrefix {
			strip = r.Prefix
		}
		rr := &routeRT{cfg: r, methods: map[string]bool{}, allow: strings.Join(r.Methods, ", "),
			proxy: proxy.New(proxy.Options{Upstream: u, StripPrefix: strip, Transport: transport,
				Headers: headerpolicy.New(cfg.Auth.APIKeys.Header, r.ForwardCredentials), Log: log, TrustedPeer: trusted})}
		for _, m := range r.Methods {
			rr.methods[m] = true
		}
		if r.CORS != nil {
			rr.cors = cors.New(*r.CORS)
		}
		if r.Shadow != nil {
			rr.shadow = map[string]*tier.Compiled{}
			for j, t := range cfg.Tiers {
				s, err := tier.Compile(candidate(t.Tier, *r.Shadow))
				if err != nil {
					errs = append(errs, fmt.Errorf("routes[%d].shadow (tier %d %q): %w", i, j, t.Name, err))
					continue
				}
				rr.shadow[t.Name] = s
			}
		}
		costs = append(costs, pricing.RouteCost{Route: r.Name, Method: "*", Cost: r.Cost, Reference: r.Reference.D()})
		prefixes = append(prefixes, r.Prefix)
		routes = append(routes, rr)
	}
	rt.routes = route.New(prefixes, routes)

	p := cfg.Pricing.Config
	p.Costs = costs
	pr, err := pricing.New(p)
	if err != nil {
		errs = append(errs, err)
	}
	rt.pricer = pr
	if pp := cfg.Pricing.Prometheus; cfg.Pricing.Source == config.PricingSourcePrometheus && pp != nil {
		src, err := promload.New(promload.Options{URL: pp.URL, Queries: pp.Queries, TTL: pp.TTL.D(),
			Timeout: pp.Timeout.D(), Observer: h, Log: log})
		if err != nil {
			errs = append(errs, fmt.Errorf("pricing.prometheus: %w", err))
		}
		rt.src = src
	}

	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	if prev != nil && reflect.DeepEqual(prev.cfg.Penalty, cfg.Penalty) {
		rt.box = prev.box
	} else {
		rt.box = penalty.New(cfg.Penalty.Threshold, cfg.Penalty.Window.D(), cfg.Penalty.Cooldown.D())
	}
	if prev != nil && reflect.DeepEqual(prev.backend.cfg, cfg.Store) {
		rt.backend = prev.backend
	} else {
		b, err := newBackend(cfg.Store, &h.store)
		if err != nil {
			return nil, err
		}
		rt.backend = b
	}
	// Last, since it starts a JWKS refresher that must be stopped on failure.
	a, err := auth.New(cfg.Auth, names, &http.Client{Timeout: 5 * time.Second}, log)
	if err != nil {
		if prev == nil || rt.backend != prev.backend {
			rt.backend.close()
		}
		return nil, err
	}
	rt.auth = a
	return rt, nil
}

// policyHeader returns the cached RateLimit-Policy value for a plan.
func (rt *runtime) policyHeader(pl *engine.Plan) string {
	if v, ok := rt.policyHeaders.Load(pl); ok {
		return v.(string)
	}
	v := headers.PolicyValue(pl)
	rt.policyHeaders.Store(pl, v)
	return v
}
