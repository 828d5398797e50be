// Package config is gatewayd's configuration file: its YAML schema, strict
// decoding, the defaults (all in [Config.ApplyDefaults]) and [Config.Validate],
// which reports every problem at once, each naming the field and the value.
//
// Run code only ever receives a validated config:
//
//	cfg, err := config.Load("gatewayd.yaml") // decode, default, validate
//	if err != nil { ... } // errors.Join of "routes[0].upstream: ..." problems
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"

	"go.yaml.in/yaml/v3"

	"tollgate/engine"
	"tollgate/engine/lease"
	"tollgate/engine/limiter"
	"tollgate/engine/pricing"
	"tollgate/engine/route"
	"tollgate/engine/tier"
	"tollgate/gatewayd/ledger"
	"tollgate/gatewayd/redact"
)

// ErrInvalid marks a config that failed decoding or validation.
var ErrInvalid = errors.New("config: invalid")

// Duration is engine.Duration, the policy vocabulary's one duration type:
// a Go duration string ("250ms", "29s") or days ("30d").
type Duration = engine.Duration

// Config is the whole file. The zero value is not valid; use Load or Parse.
type Config struct {
	// Listen is the proxy listener's address (default 127.0.0.1:8080).
	Listen string `yaml:"listen"`
	// AdminListen is the admin listener's address: /healthz, /readyz, /metrics
	// (default 127.0.0.1:9090).
	AdminListen string `yaml:"admin_listen"`
	// Server holds the client-facing limits and timeouts.
	Server Server `yaml:"server"`
	// Store is where rate-limit state lives.
	Store Store `yaml:"store"`
	// Auth says how clients are identified.
	Auth Auth `yaml:"auth"`
	// Tiers are the plans clients are on; at least one.
	Tiers []Tier `yaml:"tiers"`
	// Routes map path prefixes to upstreams; at least one.
	Routes []Route `yaml:"routes"`
	// Pricing moves route costs with observed latency and load.
	Pricing Pricing `yaml:"pricing"`
	// Penalty is the penalty box for keys that keep hitting 429.
	Penalty Penalty `yaml:"penalty"`
	// Ledger is the usage ledger.
	Ledger Ledger `yaml:"ledger"`
	// Shutdown governs SIGTERM.
	Shutdown Shutdown `yaml:"shutdown"`
	// Tracing exports OpenTelemetry traces over OTLP; off by default (see
	// observability.go).
	Tracing Tracing `yaml:"tracing"`
}

// Server holds client-facing limits.
type Server struct {
	// ReadHeaderTimeout bounds how long a client may take to send its headers
	// (default 5s), against slow-loris clients.
	ReadHeaderTimeout Duration `yaml:"read_header_timeout"`
	// ReadTimeout bounds reading a whole request including its body (default 60s).
	ReadTimeout Duration `yaml:"read_timeout"`
	// IdleTimeout closes idle keep-alive connections (default 120s).
	IdleTimeout Duration `yaml:"idle_timeout"`
	// MaxHeaderBytes bounds the request header size (default 64 KiB).
	MaxHeaderBytes int `yaml:"max_header_bytes"`
	// MaxBodyBytes is the default request body limit, then 413 (default 10 MB).
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// UpstreamTimeout is the default upstream timeout, then 504 (default 29s).
	UpstreamTimeout Duration `yaml:"upstream_timeout"`
	// DisableParking keeps idle keep-alive connections inside net/http (a
	// goroutine and about 8 KiB of buffers each) instead of parking them in
	// one epoll set between requests (Linux; default false: parking on).
	DisableParking bool `yaml:"disable_parking"`
	// MaxInFlight is the node's in-flight request limit; beyond it requests
	// get a fast 503 (default 4096).
	MaxInFlight int `yaml:"max_in_flight"`
	// TLS, when its files are set, terminates TLS (HTTP/1.1 and HTTP/2) on
	// the proxy listener.
	TLS TLS `yaml:"tls"`
	// TrustedProxies are the load balancers (addresses or CIDR prefixes)
	// whose X-Forwarded-For gatewayd believes when it needs a client's IP
	// (routes with anonymous_tier): the client is the right-most address
	// that is not a trusted proxy. Empty (default): the peer's address. From
	// a trusted peer the upstream also gets the X-Forwarded-For chain and
	// X-Forwarded-Proto/-Host as sent; from others they are replaced.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// ProxyProtocol makes the proxy listener read a PROXY protocol header
	// (v1 or v2, as HAProxy's send-proxy and AWS NLB send it) from the
	// trusted proxies, which must send one, so an L4 balancer's clients keep
	// their addresses; any other peer must not send one. Parking is off.
	ProxyProtocol bool `yaml:"proxy_protocol"`
}

// TLS configures TLS termination. The certificate and key are PEM files; a
// SIGHUP re-reads them, so a renewed certificate is served without a restart
// (a pair that does not load refuses the whole reload). Connection parking is
// off with TLS: a TLS connection's state lives in the process.
type TLS struct {
	// CertFile is the certificate chain (leaf first), PEM.
	CertFile string `yaml:"cert_file"`
	// KeyFile is the certificate's private key, PEM.
	KeyFile string `yaml:"key_file"`
	// MinVersion is "1.2" (default) or "1.3".
	MinVersion string `yaml:"min_version"`
}

// Enabled reports whether TLS termination is configured.
func (t TLS) Enabled() bool { return t.CertFile != "" || t.KeyFile != "" }

// Store chooses the rate-limit store.
type Store struct {
	// Kind is "memory" (default: one node, nothing to install) or "redis".
	Kind string `yaml:"kind"`
	// Redis configures the redis store; required when Kind is "redis".
	Redis Redis `yaml:"redis"`
	// Breaker opens after consecutive store failures so a dead store costs no
	// more round trips until the cool-down has passed.
	Breaker limiter.BreakerConfig `yaml:"breaker"`
	// Lease lets a node take tokens from Redis in batches and spend them
	// locally (engine/lease); off by default. One store call takes Batch
	// tokens (at most the tier's smallest capacity) for the key, and the node
	// admits from them without a round trip until they run out or TTL
	// passes. Tokens are taken out of the shared budget when leased, so nodes
	// together never admit more than the store would have; a lease's
	// leftover tokens are lost when it expires, so leases only make a limit
	// stricter over time. Over any window, admissions can exceed the bucket's
	// bound by at most nodes x Batch. A node keeps spending its leases while
	// Redis is down, for up to TTL. Needs kind redis.
	Lease lease.Config `yaml:"lease"`
}

// Redis is a Redis server.
type Redis struct {
	// Addr is host:port of a single Redis server (or a proxy in front of
	// one). Set Addr or ClusterAddrs, not both.
	Addr string `yaml:"addr"`
	// ClusterAddrs are host:port seeds of a Redis Cluster (any of its nodes;
	// the client discovers the rest and follows MOVED/ASK). Each plan's keys
	// share one hash slot, so its script runs atomically on one node.
	ClusterAddrs []string `yaml:"cluster_addrs"`
	// Password, if the server requires one. Prefer PasswordFile.
	Password string `yaml:"password"`
	// PasswordFile holds the password (trailing newline trimmed).
	PasswordFile string `yaml:"password_file"`
	// DB is the database number (default 0).
	DB int `yaml:"db"`
	// Prefix starts every key (default "tg"; no braces or whitespace).
	Prefix string `yaml:"prefix"`
	// Timeout bounds dial, read and write of one command (default 100ms).
	Timeout Duration `yaml:"timeout"`
	// PoolSize is the connection pool size (default 64).
	PoolSize int `yaml:"pool_size"`
	// Clock is "server" (default: Redis TIME, immune to node clock skew) or
	// "client" (the node's clock; exists to reproduce the skew bug).
	Clock string `yaml:"clock"`
	// DisableCoalescing sends every store call on its own round trip instead
	// of sharing one pipelined round trip among the calls that arrive while
	// another is in flight (the default).
	DisableCoalescing bool `yaml:"disable_coalescing"`
}

// Auth configures client identification. A request is authenticated by its
// API key header if present, else by a bearer JWT if JWT is configured.
type Auth struct {
	// APIKeys are keys identified by the SHA-256 of the raw key.
	APIKeys APIKeys `yaml:"api_keys"`
	// JWT configures bearer tokens.
	JWT *JWT `yaml:"jwt"`
}

// APIKeys configures API-key auth.
type APIKeys struct {
	// Header carries the key (default X-API-Key).
	Header string `yaml:"header"`
	// Keys are the known keys.
	Keys []APIKey `yaml:"keys"`
}

// APIKey is one key.
type APIKey struct {
	// SHA256 is the lowercase hex SHA-256 of the raw key; the config never
	// holds raw keys (`printf %s KEY | sha256sum`).
	SHA256 string `yaml:"sha256"`
	// Tier is the key's tier name.
	Tier string `yaml:"tier"`
	// Name is an optional label for logs.
	Name string `yaml:"name"`
}

// JWT configures bearer-token auth.
type JWT struct {
	// Algorithms accepted, any of HS256, RS256, ES256 (default all that have
	// keys configured).
	Algorithms []string `yaml:"algorithms"`
	// HMACSecretFile holds the HS256 secret.
	HMACSecretFile string `yaml:"hmac_secret_file"`
	// PublicKeys are PEM files of RS256/ES256 public keys.
	PublicKeys []PublicKey `yaml:"public_keys"`
	// JWKSURL is fetched for keys by kid; cached, refreshed every JWKSRefresh
	// and on an unknown kid (at most once per JWKSMinRefresh).
	JWKSURL string `yaml:"jwks_url"`
	// JWKSRefresh is the JWKS refresh period (default 5m).
	JWKSRefresh Duration `yaml:"jwks_refresh"`
	// JWKSMinRefresh bounds refreshes triggered by unknown kids (default 10s).
	JWKSMinRefresh Duration `yaml:"jwks_min_refresh"`
	// Issuer, if set, must equal the iss claim.
	Issuer string `yaml:"issuer"`
	// Audience, if set, must be in the aud claim.
	Audience string `yaml:"audience"`
	// TierClaim names the claim holding the tier (default "tier").
	TierClaim string `yaml:"tier_claim"`
	// DefaultTier is used when the claim is absent; empty means 401.
	DefaultTier string `yaml:"default_tier"`
	// SubjectClaim names the claim identifying the client (default "sub").
	SubjectClaim string `yaml:"subject_claim"`
	// Leeway is the clock leeway for exp/nbf/iat (default 30s).
	Leeway Duration `yaml:"leeway"`
}

// PublicKey is a PEM public key file with an optional kid.
type PublicKey struct {
	File string `yaml:"file"`
	// Kid, if set, is matched against the token's kid header.
	Kid string `yaml:"kid"`
}

// Tier is a plan: limits for every key on it, in the policy vocabulary
// (engine/tier.Tier, the same fields a scenario file's tiers have), plus
// gatewayd's shadow candidate.
type Tier struct {
	tier.Tier `yaml:",inline"`
	// Shadow is a candidate policy for this tier: it decides and meters beside
	// the enforced one but never refuses.
	Shadow *Shadow `yaml:"shadow"`
}

// Shadow is a candidate policy; zero fields inherit the tier's.
type Shadow struct {
	Algorithm string   `yaml:"algorithm"`
	Burst     float64  `yaml:"burst"`
	Rate      float64  `yaml:"rate"`
	Period    Duration `yaml:"period"`
	RefillCap float64  `yaml:"refill_cap"`
}

// Route maps a path prefix and methods to an upstream: the policy
// vocabulary's route (engine/route.Route: name, prefix, methods, cost,
// reference, operational, the same fields a scenario file's routes have)
// plus where and how gatewayd proxies it.
type Route struct {
	route.Route `yaml:",inline"`
	// Upstream is the base URL requests are proxied to.
	Upstream string `yaml:"upstream"`
	// StripPrefix removes Prefix from the path before proxying.
	StripPrefix bool `yaml:"strip_prefix"`
	// Timeout is the upstream timeout, then 504 (default server.upstream_timeout).
	Timeout Duration `yaml:"timeout"`
	// MaxBodyBytes is the body limit, then 413 (default server.max_body_bytes).
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// CORS, if set, answers preflights at the gateway (never charged) and adds
	// CORS headers to responses.
	CORS *CORS `yaml:"cors"`
	// Shadow is a candidate policy for this route, overriding the tier's.
	Shadow *Shadow `yaml:"shadow"`
	// AnonymousTier, when set, admits requests that carry no credentials (no
	// API key header, no Authorization) on this tier, limited per client IP
	// (an IPv6 client by its /64): public endpoints such as sign-up or a
	// catalogue. A request with credentials is authenticated as on any route,
	// and a bad credential is still a 401.
	AnonymousTier string `yaml:"anonymous_tier"`
	// ForwardCredentials passes the client's Authorization and
	// Proxy-Authorization headers to the upstream even when the gateway did
	// not verify them (an upstream with its own authentication). Default
	// false: only a credential the gateway verified (a bearer JWT) is
	// forwarded; the API key header never is (docs/security.md).
	ForwardCredentials bool `yaml:"forward_credentials"`
	// Upgrade opts the route in to HTTP Upgrade: "websocket" lets a
	// WebSocket handshake through; after the upstream's 101 the connection is
	// a tunnel, charged once at open, metered by duration and bytes, closed
	// after MaxTunnelLifetime, and recorded as one ledger record when it
	// closes. Default "": an Upgrade request is refused (400).
	Upgrade string `yaml:"upgrade"`
	// MaxTunnelLifetime closes an upgraded tunnel after this long (default
	// 1h; only with Upgrade). Timeout still bounds the wait for the 101.
	MaxTunnelLifetime Duration `yaml:"max_tunnel_lifetime"`
}

// CORS is a route's CORS policy.
type CORS struct {
	// AllowOrigins are exact origins or "*".
	AllowOrigins []string `yaml:"allow_origins"`
	// AllowMethods default to the route's methods.
	AllowMethods []string `yaml:"allow_methods"`
	// AllowHeaders default to Content-Type, Authorization and the API key header.
	AllowHeaders []string `yaml:"allow_headers"`
	// ExposeHeaders default to the rate-limit headers.
	ExposeHeaders []string `yaml:"expose_headers"`
	// AllowCredentials sets Access-Control-Allow-Credentials.
	AllowCredentials bool `yaml:"allow_credentials"`
	// MaxAge caches preflights (default 10m).
	MaxAge Duration `yaml:"max_age"`
}

// Pricing is engine/pricing's configuration (the same YAML keys as in a
// scenario) plus where gatewayd reads the load signal from, a gatewayd-side
// concern.
type Pricing struct {
	pricing.Config `yaml:",inline"`
	// Source is where the load signal comes from: "local" (default: this
	// node's in-flight requests over server.max_in_flight) or "prometheus"
	// (a PromQL query per route, see Prometheus).
	Source string `yaml:"source"`
	// Prometheus configures source "prometheus" (see observability.go).
	Prometheus *PricingPrometheus `yaml:"prometheus"`
}

// Penalty is the penalty box.
type Penalty struct {
	// Threshold: a key with more than this many 429s within Window is boxed
	// (0 disables the box; default 0).
	Threshold int `yaml:"threshold"`
	// Window is the counting window (default 1m).
	Window Duration `yaml:"window"`
	// Cooldown is how long a boxed key is refused (default 1m).
	Cooldown Duration `yaml:"cooldown"`
	// Shared tells the other nodes when this one boxes a key (Redis
	// publish/subscribe on the store's Redis, channel "<prefix>:penalty"), so
	// a key boxed on one node is refused on all of them within a round trip.
	// Needs store.kind redis.
	Shared bool `yaml:"shared"`
}

// Ledger is the usage ledger (docs/ledger.md). The defaults are
// gatewayd/ledger's.
type Ledger struct {
	// Dir holds the JSONL files (default "ledger"). Relative to the working
	// directory.
	Dir string `yaml:"dir"`
	// MaxFileBytes rotates a file once it reaches this size (default 64 MiB).
	MaxFileBytes int64 `yaml:"max_file_bytes"`
	// Durability is sync (default: a response is released only once its
	// record is fsynced, group-committed) or batch (records are fsynced in
	// batches; a crash loses up to flush_interval of them).
	Durability ledger.Durability `yaml:"durability"`
	// BatchSize flushes a batch after this many records (batch durability;
	// default 512).
	BatchSize int `yaml:"batch_size"`
	// FlushInterval flushes a batch at least this often (default 200ms).
	FlushInterval Duration `yaml:"flush_interval"`
	// SyncWait bounds a request's wait for its record (sync; default 5s).
	SyncWait Duration `yaml:"sync_wait"`
	// MaxPendingBytes bounds the memory of records not yet on disk
	// (default 64 MiB).
	MaxPendingBytes int64 `yaml:"max_pending_bytes"`
	// FailAfter: once writes have failed this long (or pending bytes reach
	// 90% of the bound), on_failure applies (default 5s).
	FailAfter Duration `yaml:"fail_after"`
	// OnFailure is refuse (default: 503 and /readyz 503 until the disk
	// recovers) or admit (serve on; records the bound cannot hold are
	// counted in gatewayd_ledger_records_dropped and logged).
	OnFailure ledger.OnFailure `yaml:"on_failure"`
	// MaxPathBytes cuts recorded paths (default 512).
	MaxPathBytes int `yaml:"max_path_bytes"`
	// UnbilledBytesPerSecond bounds the ledger's growth from unidentified
	// clients' requests, which are aggregated (default 65536).
	UnbilledBytesPerSecond int64 `yaml:"unbilled_bytes_per_second"`
	// RedisStream, if set, also appends every record to a Redis Stream.
	RedisStream *RedisStream `yaml:"redis_stream"`
	// Postgres, if set, ships the ledger into PostgreSQL from inside the
	// daemon (gatewayd ledger ship does it as a separate process).
	Postgres *LedgerPostgres `yaml:"postgres"`
}

// LedgerPostgres is the PostgreSQL audit ledger (gatewayd/ledger/pgship).
type LedgerPostgres struct {
	// DSN is a libpq connection string or URL. Prefer dsn_env (or the
	// PG* environment variables) for the password.
	DSN string `yaml:"dsn"`
	// DSNEnv names an environment variable holding the DSN.
	DSNEnv string `yaml:"dsn_env"`
	// Source names this node's ledger in the shipping positions (default
	// the host name).
	Source string `yaml:"source"`
	// BatchSize is the records per COPY transaction (default 5000).
	BatchSize int `yaml:"batch_size"`
	// Interval is how often the shipper looks for new records (default 1s).
	Interval Duration `yaml:"interval"`
	// MonthsAhead is how many monthly partitions exist beyond the current
	// one (default 1: this month and the next).
	MonthsAhead int `yaml:"months_ahead"`
	// RetentionMonths detaches partitions older than this many months
	// (0, the default: keep all).
	RetentionMonths int `yaml:"retention_months"`
}

// RedisStream is the optional ledger sink.
type RedisStream struct {
	// Addr is the Redis address (default store.redis.addr).
	Addr string `yaml:"addr"`
	// Key is the stream key (default "tollgate:ledger").
	Key string `yaml:"key"`
	// MaxLen caps the stream approximately (default 1000000).
	MaxLen int64 `yaml:"max_len"`
}

// Shutdown governs SIGTERM.
type Shutdown struct {
	// DrainDelay keeps serving after /readyz turns 503 so load balancers
	// notice before the listener closes; set it to the balancer's detection
	// time (default 0).
	DrainDelay Duration `yaml:"drain_delay"`
	// Grace bounds the drain of in-flight requests; it must be shorter than
	// the two-minute spot notice together with DrainDelay (default 90s).
	Grace Duration `yaml:"grace"`
}

// PolicyTiers returns the tiers in the policy vocabulary (without their
// shadow candidates): what the simulator runs for this config.
func (c *Config) PolicyTiers() []tier.Tier {
	out := make([]tier.Tier, len(c.Tiers))
	for i, t := range c.Tiers {
		out[i] = t.Tier
	}
	return out
}

// PolicyRoutes returns the routes in the policy vocabulary.
func (c *Config) PolicyRoutes() []route.Route {
	out := make([]route.Route, len(c.Routes))
	for i, r := range c.Routes {
		out[i] = r.Route
	}
	return out
}

// Parse decodes YAML strictly (unknown fields are errors), applies the
// defaults and validates. Every problem is reported at once: field-level
// decoding errors (an unknown field, a wrong type) are joined with the
// validation errors of what did decode. Only a YAML syntax error stops
// early. Error text never echoes a value that may be a secret.
func Parse(data []byte) (*Config, error) {
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var problems []error
	if err := dec.Decode(&c); err != nil {
		var te *yaml.TypeError
		switch {
		case errors.Is(err, io.EOF):
			return nil, fmt.Errorf("%w: empty file", ErrInvalid)
		case errors.As(err, &te):
			paths := linePaths(data)
			for _, e := range te.Errors {
				problems = append(problems, fmt.Errorf("%w: %s", ErrInvalid, redact.String(withPath(e, paths))))
			}
		default:
			return nil, fmt.Errorf("%w: %s", ErrInvalid, redact.String(err.Error()))
		}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		problems = append(problems, fmt.Errorf("%w: more than one YAML document", ErrInvalid))
	}
	c.ApplyDefaults()
	if err := c.Validate(); err != nil {
		problems = append(problems, err)
	}
	if len(problems) > 0 {
		return nil, errors.Join(problems...)
	}
	return &c, nil
}

var lineRef = regexp.MustCompile(`^line (\d+): `)

// withPath names the field of a yaml decoding error ("line 7: ..." becomes
// "server.max_in_flight: line 7: ...") when the line holds one key.
func withPath(msg string, paths map[int]string) string {
	m := lineRef.FindStringSubmatch(msg)
	if m == nil {
		return msg
	}
	n, _ := strconv.Atoi(m[1])
	if p, ok := paths[n]; ok {
		return p + ": " + msg
	}
	return msg
}

// linePaths maps the line of each mapping key in a YAML document to its
// field path (tiers[0].burst); a line holding two keys (a flow mapping) maps
// to the first.
func linePaths(data []byte) map[int]string {
	var root yaml.Node
	if yaml.Unmarshal(data, &root) != nil {
		return nil
	}
	out := map[int]string{}
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, path)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				p := n.Content[i].Value
				if path != "" {
					p = path + "." + p
				}
				if _, seen := out[n.Content[i].Line]; !seen {
					out[n.Content[i].Line] = p
				}
				walk(n.Content[i+1], p)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				walk(c, fmt.Sprintf("%s[%d]", path, i))
			}
		}
	}
	walk(&root, "")
	return out
}

// Load reads and parses a file.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	c, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}
