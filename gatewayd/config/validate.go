package config

import (
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"sort"
	"strings"
	"time"

	"tollgate/engine"
	"tollgate/engine/route"
	"tollgate/gatewayd/clientip"
	"tollgate/gatewayd/ledger"
	"tollgate/gatewayd/redact"
)

var jwtAlgorithms = map[string]bool{"HS256": true, "RS256": true, "ES256": true}

// problems collects validation failures.
type problems []error

func (p *problems) add(field, format string, args ...any) {
	*p = append(*p, fmt.Errorf("%w: %s: %s", ErrInvalid, field, fmt.Sprintf(format, args...)))
}

// join adds every problem of err (an errors.Join or a single error), each
// marked ErrInvalid.
func (p *problems) join(err error) {
	if err == nil {
		return
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			p.join(e)
		}
		return
	}
	if errors.Is(err, ErrInvalid) {
		*p = append(*p, err)
		return
	}
	*p = append(*p, fmt.Errorf("%w: %w", ErrInvalid, err))
}

func (p *problems) positive(field string, v float64) {
	if math.IsNaN(v) || math.IsInf(v, 0) || v <= 0 {
		p.add(field, "must be > 0, got %v", v)
	}
}

func (p *problems) nonNegative(field string, v float64) {
	if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		p.add(field, "must be >= 0, got %v", v)
	}
}

func (p *problems) addr(field, v string) {
	if _, _, err := net.SplitHostPort(v); err != nil {
		p.add(field, "must be host:port, got %q", v)
	}
}

// Validate checks a defaulted config and returns every problem at once
// (errors.Join), each naming the field and the value. It does not touch the
// network or the file system except to check that key files exist.
func (c *Config) Validate() error {
	var p problems
	p.addr("listen", c.Listen)
	p.addr("admin_listen", c.AdminListen)
	if c.Listen == c.AdminListen {
		p.add("admin_listen", "must differ from listen, both are %q", c.Listen)
	}

	s := c.Server
	for name, d := range map[string]Duration{
		"server.read_header_timeout": s.ReadHeaderTimeout, "server.read_timeout": s.ReadTimeout,
		"server.idle_timeout": s.IdleTimeout, "server.upstream_timeout": s.UpstreamTimeout,
	} {
		if d <= 0 {
			p.add(name, "must be > 0, got %v", d.D())
		}
	}
	if s.MaxHeaderBytes < 1024 {
		p.add("server.max_header_bytes", "must be >= 1024, got %d", s.MaxHeaderBytes)
	}
	if s.MaxBodyBytes < 0 {
		p.add("server.max_body_bytes", "must be >= 0, got %d", s.MaxBodyBytes)
	}
	if s.MaxInFlight < 1 {
		p.add("server.max_in_flight", "must be >= 1, got %d", s.MaxInFlight)
	}
	for i, tp := range s.TrustedProxies {
		if _, err := clientip.ParseProxy(tp); err != nil {
			p.add(fmt.Sprintf("server.trusted_proxies[%d]", i), "want an IP address or CIDR prefix, got %q", tp)
		}
	}
	if s.ProxyProtocol && len(s.TrustedProxies) == 0 {
		p.add("server.proxy_protocol", "needs server.trusted_proxies (the balancers that send the header)")
	}
	if t := s.TLS; t.Enabled() || t.MinVersion != "" {
		if t.CertFile == "" {
			p.add("server.tls.cert_file", "required when server.tls is set")
		}
		if t.KeyFile == "" {
			p.add("server.tls.key_file", "required when server.tls is set")
		}
		if t.MinVersion != "" && t.MinVersion != "1.2" && t.MinVersion != "1.3" {
			p.add("server.tls.min_version", "must be 1.2 or 1.3, got %q", t.MinVersion)
		}
	}

	switch c.Store.Kind {
	case "memory":
	case "redis":
		r := c.Store.Redis
		switch {
		case r.Addr == "" && len(r.ClusterAddrs) == 0:
			p.add("store.redis.addr", "required when store.kind is redis (or set store.redis.cluster_addrs)")
		case r.Addr != "" && len(r.ClusterAddrs) > 0:
			p.add("store.redis.cluster_addrs", "set addr or cluster_addrs, not both")
		case r.Addr != "":
			p.addr("store.redis.addr", r.Addr)
		default:
			for i, a := range r.ClusterAddrs {
				p.addr(fmt.Sprintf("store.redis.cluster_addrs[%d]", i), a)
			}
			if r.DB != 0 {
				p.add("store.redis.db", "must be 0 with cluster_addrs (Redis Cluster has only database 0), got %d", r.DB)
			}
		}
	default:
		p.add("store.kind", "must be memory or redis, got %q", c.Store.Kind)
	}
	r := c.Store.Redis
	if r.Clock != "server" && r.Clock != "client" {
		p.add("store.redis.clock", "must be server or client, got %q", r.Clock)
	}
	if r.Timeout <= 0 {
		p.add("store.redis.timeout", "must be > 0, got %v", r.Timeout.D())
	}
	if r.PoolSize < 1 {
		p.add("store.redis.pool_size", "must be >= 1, got %d", r.PoolSize)
	}
	if r.DB < 0 {
		p.add("store.redis.db", "must be >= 0, got %d", r.DB)
	}
	if r.Password != "" && r.PasswordFile != "" {
		p.add("store.redis.password_file", "set password or password_file, not both")
	}
	p.join(c.Store.Breaker.Validate("store.breaker"))
	if c.Penalty.Shared {
		if c.Store.Kind != "redis" {
			p.add("penalty.shared", "needs store.kind redis, got %q", c.Store.Kind)
		}
		if c.Penalty.Threshold <= 0 {
			p.add("penalty.shared", "needs penalty.threshold > 0 (the box is off), got %d", c.Penalty.Threshold)
		}
	}
	p.join(c.Store.Lease.Validate("store.lease"))
	if c.Store.Lease.Enabled() && c.Store.Kind != "redis" {
		p.add("store.lease.batch", "leases need store.kind redis (the %s store is already local), got %v", c.Store.Kind, c.Store.Lease.Batch)
	}

	tiers := map[string]bool{}
	for i, t := range c.Tiers {
		f := fmt.Sprintf("tiers[%d]", i)
		if !route.ValidName(t.Name) {
			p.add(f+".name", "must be 1 to 64 characters without spaces, quotes, commas, semicolons, colons, braces or '=', got %q", t.Name)
		} else if tiers[t.Name] {
			p.add(f+".name", "duplicate tier %q", t.Name)
		}
		tiers[t.Name] = true
		p.join(t.Tier.ValidateAt(f))
		for _, m := range sortedKeys(t.Methods) {
			if !route.KnownMethod(m) {
				p.add(fmt.Sprintf("%s.methods[%q]", f, m), "unknown method (use upper case, e.g. POST)")
			}
		}
		if t.Shadow != nil {
			p.shadow(f+".shadow", *t.Shadow)
		}
	}
	if len(c.Tiers) == 0 {
		p.add("tiers", "at least one tier is required")
	}

	a := c.Auth
	if strings.TrimSpace(a.APIKeys.Header) == "" || strings.ContainsAny(a.APIKeys.Header, " :\t") {
		p.add("auth.api_keys.header", "must be a header name, got %q", a.APIKeys.Header)
	}
	seenKey := map[string]bool{}
	for i, k := range a.APIKeys.Keys {
		f := fmt.Sprintf("auth.api_keys.keys[%d]", i)
		if b, err := hex.DecodeString(k.SHA256); err != nil || len(b) != 32 {
			p.add(f+".sha256", "must be 64 hex digits (the SHA-256 of the key, never the key), got %s", redact.Value(k.SHA256))
		} else if seenKey[k.SHA256] {
			p.add(f+".sha256", "duplicate key hash %q", k.SHA256)
		}
		seenKey[k.SHA256] = true
		if !tiers[k.Tier] {
			p.add(f+".tier", "unknown tier %q", k.Tier)
		}
	}
	if j := a.JWT; j != nil {
		if j.HMACSecretFile == "" && len(j.PublicKeys) == 0 && j.JWKSURL == "" {
			p.add("auth.jwt", "needs hmac_secret_file, public_keys or jwks_url")
		}
		for i, alg := range j.Algorithms {
			if !jwtAlgorithms[alg] {
				p.add(fmt.Sprintf("auth.jwt.algorithms[%d]", i), "must be HS256, RS256 or ES256, got %q", alg)
			}
			if alg == "HS256" && j.HMACSecretFile == "" {
				p.add(fmt.Sprintf("auth.jwt.algorithms[%d]", i), "HS256 needs hmac_secret_file")
			}
		}
		for i, k := range j.PublicKeys {
			if k.File == "" {
				p.add(fmt.Sprintf("auth.jwt.public_keys[%d].file", i), "required")
			}
		}
		if j.JWKSURL != "" {
			u, err := url.Parse(j.JWKSURL)
			if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
				p.add("auth.jwt.jwks_url", "must be an http(s) URL, got %q", redact.URL(j.JWKSURL))
			}
		}
		if j.JWKSRefresh < Duration(time.Second) {
			p.add("auth.jwt.jwks_refresh", "must be >= 1s, got %v", j.JWKSRefresh.D())
		}
		if j.JWKSMinRefresh <= 0 {
			p.add("auth.jwt.jwks_min_refresh", "must be > 0, got %v", j.JWKSMinRefresh.D())
		}
		if j.DefaultTier != "" && !tiers[j.DefaultTier] {
			p.add("auth.jwt.default_tier", "unknown tier %q", j.DefaultTier)
		}
		if j.Leeway < 0 {
			p.add("auth.jwt.leeway", "must be >= 0, got %v", j.Leeway.D())
		}
	}
	if len(a.APIKeys.Keys) == 0 && a.JWT == nil {
		p.add("auth", "configure api_keys.keys or jwt: every request must be identified")
	}

	routes := map[string]bool{}
	prefixes := map[string]bool{}
	for i, rt := range c.Routes {
		f := fmt.Sprintf("routes[%d]", i)
		p.join(rt.Route.Validate(f))
		if strings.HasPrefix(rt.Prefix, "/") && prefixes[rt.Prefix] {
			p.add(f+".prefix", "duplicate prefix %q", rt.Prefix)
		}
		prefixes[rt.Prefix] = true
		if route.ValidName(rt.Name) && routes[rt.Name] {
			p.add(f+".name", "duplicate route name %q", rt.Name)
		}
		routes[rt.Name] = true
		u, err := url.Parse(rt.Upstream)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			p.add(f+".upstream", "must be an http(s) URL with a host, got %q", redact.URL(rt.Upstream))
		}
		if rt.AnonymousTier != "" && !tiers[rt.AnonymousTier] {
			p.add(f+".anonymous_tier", "unknown tier %q", rt.AnonymousTier)
		}
		if rt.Timeout <= 0 {
			p.add(f+".timeout", "must be > 0, got %v", rt.Timeout.D())
		}
		if rt.MaxBodyBytes < 0 {
			p.add(f+".max_body_bytes", "must be >= 0, got %d", rt.MaxBodyBytes)
		}
		switch {
		case rt.Upgrade != "" && rt.Upgrade != "websocket":
			p.add(f+".upgrade", "must be websocket or empty, got %q", rt.Upgrade)
		case rt.Upgrade == "" && rt.MaxTunnelLifetime != 0:
			p.add(f+".max_tunnel_lifetime", "needs upgrade: websocket, got %v", rt.MaxTunnelLifetime.D())
		case rt.Upgrade != "" && rt.MaxTunnelLifetime <= 0:
			p.add(f+".max_tunnel_lifetime", "must be > 0, got %v", rt.MaxTunnelLifetime.D())
		}
		if cr := rt.CORS; cr != nil {
			if len(cr.AllowOrigins) == 0 {
				p.add(f+".cors.allow_origins", "at least one origin or \"*\" is required")
			}
			for j, o := range cr.AllowOrigins {
				if o == "*" {
					if cr.AllowCredentials {
						p.add(fmt.Sprintf("%s.cors.allow_origins[%d]", f, j), "\"*\" cannot be used with allow_credentials")
					}
					continue
				}
				ou, err := url.Parse(o)
				if err != nil || ou.Scheme == "" || ou.Host == "" || (ou.Path != "" && ou.Path != "/") {
					p.add(fmt.Sprintf("%s.cors.allow_origins[%d]", f, j), "must be \"*\" or scheme://host[:port], got %q", o)
				}
			}
			if cr.MaxAge < 0 {
				p.add(f+".cors.max_age", "must be >= 0, got %v", cr.MaxAge.D())
			}
		}
		if rt.Shadow != nil {
			p.shadow(f+".shadow", *rt.Shadow)
		}
	}
	if len(c.Routes) == 0 {
		p.add("routes", "at least one route is required")
	}

	p.join(c.Pricing.Validate())

	if c.Penalty.Threshold < 0 {
		p.add("penalty.threshold", "must be >= 0, got %d", c.Penalty.Threshold)
	}
	if c.Penalty.Window <= 0 {
		p.add("penalty.window", "must be > 0, got %v", c.Penalty.Window.D())
	}
	if c.Penalty.Cooldown <= 0 {
		p.add("penalty.cooldown", "must be > 0, got %v", c.Penalty.Cooldown.D())
	}

	l := c.Ledger
	if strings.TrimSpace(l.Dir) == "" {
		p.add("ledger.dir", "must not be empty")
	}
	if l.MaxFileBytes < 4096 {
		p.add("ledger.max_file_bytes", "must be >= 4096, got %d", l.MaxFileBytes)
	}
	if l.BatchSize < 1 {
		p.add("ledger.batch_size", "must be >= 1, got %d", l.BatchSize)
	}
	if l.FlushInterval <= 0 {
		p.add("ledger.flush_interval", "must be > 0, got %v", l.FlushInterval.D())
	}
	if l.Durability != ledger.Sync && l.Durability != ledger.Batch {
		p.add("ledger.durability", "must be sync or batch, got %q", l.Durability)
	}
	if l.OnFailure != ledger.Refuse && l.OnFailure != ledger.Admit {
		p.add("ledger.on_failure", "must be refuse or admit, got %q", l.OnFailure)
	}
	if l.SyncWait <= 0 {
		p.add("ledger.sync_wait", "must be > 0, got %v", l.SyncWait.D())
	}
	if l.MaxPendingBytes < 64<<10 {
		p.add("ledger.max_pending_bytes", "must be >= 65536, got %d", l.MaxPendingBytes)
	}
	if l.FailAfter <= 0 {
		p.add("ledger.fail_after", "must be > 0, got %v", l.FailAfter.D())
	}
	if l.MaxPathBytes < 16 {
		p.add("ledger.max_path_bytes", "must be >= 16, got %d", l.MaxPathBytes)
	}
	if l.UnbilledBytesPerSecond < 1024 {
		p.add("ledger.unbilled_bytes_per_second", "must be >= 1024, got %d", l.UnbilledBytesPerSecond)
	}
	if pg := l.Postgres; pg != nil {
		switch {
		case pg.DSN != "" && pg.DSNEnv != "":
			p.add("ledger.postgres", "set dsn or dsn_env, not both")
		case pg.DSN == "" && pg.DSNEnv == "":
			p.add("ledger.postgres.dsn", "required (or dsn_env)")
		}
		if pg.BatchSize < 1 {
			p.add("ledger.postgres.batch_size", "must be >= 1, got %d", pg.BatchSize)
		}
		if pg.Interval <= 0 {
			p.add("ledger.postgres.interval", "must be > 0, got %v", pg.Interval.D())
		}
		if pg.MonthsAhead < 1 || pg.MonthsAhead > 24 {
			p.add("ledger.postgres.months_ahead", "must be 1..24, got %d", pg.MonthsAhead)
		}
		if pg.RetentionMonths < 0 {
			p.add("ledger.postgres.retention_months", "must be >= 0 (0 keeps all), got %d", pg.RetentionMonths)
		}
		if strings.TrimSpace(pg.Source) == "" {
			p.add("ledger.postgres.source", "must not be empty")
		}
	}
	if rs := l.RedisStream; rs != nil {
		if rs.Addr == "" {
			p.add("ledger.redis_stream.addr", "required (or set store.redis.addr)")
		} else {
			p.addr("ledger.redis_stream.addr", rs.Addr)
		}
		if rs.MaxLen < 1 {
			p.add("ledger.redis_stream.max_len", "must be >= 1, got %d", rs.MaxLen)
		}
	}

	if c.Shutdown.DrainDelay < 0 {
		p.add("shutdown.drain_delay", "must be >= 0, got %v", c.Shutdown.DrainDelay.D())
	}
	if c.Shutdown.Grace <= 0 {
		p.add("shutdown.grace", "must be > 0, got %v", c.Shutdown.Grace.D())
	}
	if c.Shutdown.DrainDelay.D()+c.Shutdown.Grace.D() >= SpotNotice {
		p.add("shutdown.grace", "drain_delay + grace must be shorter than the %v spot notice, got %v + %v",
			SpotNotice, c.Shutdown.DrainDelay.D(), c.Shutdown.Grace.D())
	}

	c.validateObservability(&p)

	if len(p) == 0 {
		return nil
	}
	return errors.Join(p...)
}

func (p *problems) shadow(f string, s Shadow) {
	if s.Algorithm != "" {
		if _, err := engine.ParseAlgorithm(s.Algorithm); err != nil {
			p.add(f+".algorithm", "unknown %q (known: %v)", s.Algorithm, engine.Algorithms())
		}
	}
	p.nonNegative(f+".burst", s.Burst)
	p.nonNegative(f+".rate", s.Rate)
	if s.Period < 0 {
		p.add(f+".period", "must be >= 0, got %v", s.Period.D())
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Tier returns the tier with the given name, or false.
func (c *Config) Tier(name string) (Tier, bool) {
	for _, t := range c.Tiers {
		if t.Name == name {
			return t, true
		}
	}
	return Tier{}, false
}
