package config

import (
	"os"
	"strings"
	"time"

	"tollgate/engine/limiter"
	"tollgate/gatewayd/ledger"
	"tollgate/gatewayd/ledger/pgship"
)

// The defaults, in one place.
const (
	DefaultListen            = "127.0.0.1:8080"
	DefaultAdminListen       = "127.0.0.1:9090"
	DefaultReadHeaderTimeout = 5 * time.Second
	DefaultReadTimeout       = 60 * time.Second
	DefaultIdleTimeout       = 120 * time.Second
	DefaultMaxHeaderBytes    = 64 << 10
	// DefaultMaxBodyBytes is 10 MB, AWS API Gateway's fixed payload limit
	// (https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html).
	DefaultMaxBodyBytes = 10 << 20
	// DefaultUpstreamTimeout is 29 s, AWS API Gateway's integration timeout.
	DefaultUpstreamTimeout = 29 * time.Second
	DefaultMaxInFlight     = 4096
	// DefaultMaxTunnelLifetime closes an upgraded tunnel after an hour.
	DefaultMaxTunnelLifetime = time.Hour
	DefaultStoreKind         = "memory"
	DefaultRedisPrefix       = "tg"
	DefaultRedisPoolSize     = 64
	DefaultRedisClock        = "server"
	DefaultAPIKeyHeader      = "X-API-Key"
	DefaultJWKSRefresh       = 5 * time.Minute
	DefaultJWKSMinRefresh    = 10 * time.Second
	DefaultTierClaim         = "tier"
	DefaultSubjectClaim      = "sub"
	DefaultLeeway            = 30 * time.Second
	DefaultCORSMaxAge        = 10 * time.Minute
	DefaultPenaltyWindow     = time.Minute
	DefaultPenaltyCooldown   = time.Minute
	DefaultLedgerDir         = "ledger"
	DefaultLedgerFileBytes   = ledger.DefaultMaxFileBytes
	DefaultLedgerBatch       = ledger.DefaultBatchSize
	DefaultLedgerFlush       = ledger.DefaultFlushInterval
	DefaultStreamKey         = "tollgate:ledger"
	DefaultShipBatch         = pgship.DefaultBatchSize
	DefaultShipInterval      = pgship.DefaultInterval
	DefaultShipMonthsAhead   = pgship.DefaultMonthsAhead
	DefaultStreamMaxLen      = 1_000_000
	DefaultGrace             = 90 * time.Second
	// SpotNotice is the two-minute spot interruption notice; drain delay plus
	// grace must fit inside it.
	SpotNotice = 2 * time.Minute
)

func setS(p *string, v string) {
	if *p == "" {
		*p = v
	}
}

func setD(p *Duration, v time.Duration) {
	if *p == 0 {
		*p = Duration(v)
	}
}

func setF(p *float64, v float64) {
	if *p == 0 {
		*p = v
	}
}

func setI(p *int, v int) {
	if *p == 0 {
		*p = v
	}
}

func setI64(p *int64, v int64) {
	if *p == 0 {
		*p = v
	}
}

// ApplyDefaults fills every unset field with its default. It is idempotent.
func (c *Config) ApplyDefaults() {
	setS(&c.Listen, DefaultListen)
	setS(&c.AdminListen, DefaultAdminListen)
	s := &c.Server
	setD(&s.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	setD(&s.ReadTimeout, DefaultReadTimeout)
	setD(&s.IdleTimeout, DefaultIdleTimeout)
	setI(&s.MaxHeaderBytes, DefaultMaxHeaderBytes)
	setI64(&s.MaxBodyBytes, DefaultMaxBodyBytes)
	setD(&s.UpstreamTimeout, DefaultUpstreamTimeout)
	setI(&s.MaxInFlight, DefaultMaxInFlight)

	setS(&c.Store.Kind, DefaultStoreKind)
	r := &c.Store.Redis
	setS(&r.Prefix, DefaultRedisPrefix)
	setD(&r.Timeout, limiter.DefaultTimeout)
	setI(&r.PoolSize, DefaultRedisPoolSize)
	setS(&r.Clock, DefaultRedisClock)
	c.Store.Breaker = c.Store.Breaker.WithDefaults()
	c.Store.Lease = c.Store.Lease.WithDefaults()

	setS(&c.Auth.APIKeys.Header, DefaultAPIKeyHeader)
	for i := range c.Auth.APIKeys.Keys {
		k := &c.Auth.APIKeys.Keys[i]
		k.SHA256 = strings.ToLower(strings.TrimSpace(k.SHA256))
	}
	if j := c.Auth.JWT; j != nil {
		setD(&j.JWKSRefresh, DefaultJWKSRefresh)
		setD(&j.JWKSMinRefresh, DefaultJWKSMinRefresh)
		setS(&j.TierClaim, DefaultTierClaim)
		setS(&j.SubjectClaim, DefaultSubjectClaim)
		setD(&j.Leeway, DefaultLeeway)
		if len(j.Algorithms) == 0 {
			if j.HMACSecretFile != "" {
				j.Algorithms = append(j.Algorithms, "HS256")
			}
			if len(j.PublicKeys) > 0 || j.JWKSURL != "" {
				j.Algorithms = append(j.Algorithms, "RS256", "ES256")
			}
		}
	}

	// Tiers have no defaults here: engine/tier applies its own (algorithm,
	// period, operational bucket) when it compiles them.
	c.Pricing.Config = c.Pricing.Config.WithDefaults()

	for i := range c.Routes {
		rt := &c.Routes[i]
		rt.Route.ApplyDefaults(c.Pricing.DefaultCost)
		setD(&rt.Timeout, s.UpstreamTimeout.D())
		setI64(&rt.MaxBodyBytes, s.MaxBodyBytes)
		if rt.Upgrade != "" {
			setD(&rt.MaxTunnelLifetime, DefaultMaxTunnelLifetime)
		}
		if rt.CORS != nil {
			setD(&rt.CORS.MaxAge, DefaultCORSMaxAge)
			if len(rt.CORS.AllowMethods) == 0 {
				rt.CORS.AllowMethods = append([]string(nil), rt.Methods...)
			}
			if len(rt.CORS.AllowHeaders) == 0 {
				rt.CORS.AllowHeaders = []string{"Content-Type", "Authorization", c.Auth.APIKeys.Header}
			}
			if len(rt.CORS.ExposeHeaders) == 0 {
				rt.CORS.ExposeHeaders = []string{"RateLimit", "RateLimit-Policy", "Retry-After"}
			}
		}
	}

	setD(&c.Penalty.Window, DefaultPenaltyWindow)
	setD(&c.Penalty.Cooldown, DefaultPenaltyCooldown)

	l := &c.Ledger
	setS(&l.Dir, DefaultLedgerDir)
	setI64(&l.MaxFileBytes, DefaultLedgerFileBytes)
	setI(&l.BatchSize, DefaultLedgerBatch)
	setD(&l.FlushInterval, DefaultLedgerFlush)
	if l.Durability == "" {
		l.Durability = ledger.DefaultDurability
	}
	if l.OnFailure == "" {
		l.OnFailure = ledger.DefaultOnFailure
	}
	setD(&l.SyncWait, ledger.DefaultSyncWait)
	setI64(&l.MaxPendingBytes, ledger.DefaultMaxPendingBytes)
	setD(&l.FailAfter, ledger.DefaultFailAfter)
	setI(&l.MaxPathBytes, ledger.DefaultMaxPathBytes)
	setI64(&l.UnbilledBytesPerSecond, ledger.DefaultUnbilledBytesPerSecond)
	if pg := l.Postgres; pg != nil {
		setI(&pg.BatchSize, DefaultShipBatch)
		setD(&pg.Interval, DefaultShipInterval)
		setI(&pg.MonthsAhead, DefaultShipMonthsAhead)
		if pg.Source == "" {
			pg.Source, _ = os.Hostname()
		}
	}
	if rs := l.RedisStream; rs != nil {
		setS(&rs.Addr, c.Store.Redis.Addr)
		setS(&rs.Key, DefaultStreamKey)
		setI64(&rs.MaxLen, DefaultStreamMaxLen)
	}

	setD(&c.Shutdown.Grace, DefaultGrace)
	c.applyObservabilityDefaults()
}
