package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"tollgate/engine/route"
	"tollgate/gatewayd/ledger"
	"tollgate/gatewayd/ledger/pgship"
)

const minimal = `
auth:
  api_keys:
    keys:
      - sha256: c48a01f49fd0f2cc404bc3cbbc80e91457a3d41bb429a695243de4c61794155c
        tier: basic
tiers:
  - name: basic
    burst: 10
    rate: 1
routes:
  - prefix: /v1/
    upstream: http://127.0.0.1:9000
`

func TestExampleFileLoads(t *testing.T) {
	c, err := Load(filepath.Join("..", "example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:8080" || c.AdminListen != "127.0.0.1:9090" {
		t.Errorf("listen %q admin %q", c.Listen, c.AdminListen)
	}
	tr, ok := c.Tier("basic")
	if !ok || tr.Burst != 10 || tr.Rate != 1 || tr.Period.D() != time.Second {
		t.Errorf("tier basic = %+v, %v", tr, ok)
	}
	if len(c.Routes) != 1 || c.Routes[0].Prefix != "/" || c.Routes[0].Upstream != "http://127.0.0.1:9000" {
		t.Errorf("routes = %+v", c.Routes)
	}
	if c.Auth.APIKeys.Header != "X-API-Key" {
		t.Errorf("api key header %q", c.Auth.APIKeys.Header)
	}
}

func TestDefaults(t *testing.T) {
	c, err := Parse([]byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	r := c.Routes[0]
	if r.Timeout.D() != 29*time.Second || r.MaxBodyBytes != 10<<20 {
		t.Errorf("route timeout %v body %d; want 29s and 10 MB", r.Timeout.D(), r.MaxBodyBytes)
	}
	if r.Name != "/v1/" || r.Cost != 1 || len(r.Methods) != len(route.DefaultMethods) {
		t.Errorf("route defaults %+v", r)
	}
	if c.Store.Kind != "memory" || c.Tiers[0].MainAlgorithm() != "token-bucket" || c.Tiers[0].MainPeriod() != time.Second {
		t.Errorf("store %q algorithm %q", c.Store.Kind, c.Tiers[0].Algorithm)
	}
	// Defaults are idempotent.
	before := *c
	c.ApplyDefaults()
	if !reflect.DeepEqual(before.Server, c.Server) || before.Ledger.Dir != c.Ledger.Dir {
		t.Error("ApplyDefaults is not idempotent")
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	bad := `
listen: nonsense
store:
  kind: etcd
auth:
  api_keys:
    keys:
      - sha256: demo-key
        tier: gold
tiers:
  - name: basic
    burst: -5
    rate: 1
    algorithm: leaky
routes:
  - prefix: v1
    upstream: ftp://x
shutdown:
  grace: 3m
`
	_, err := Parse([]byte(bad))
	if err == nil {
		t.Fatal("want an error")
	}
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("error does not wrap ErrInvalid: %v", err)
	}
	for _, want := range []string{
		`listen: must be host:port, got "nonsense"`,
		`store.kind: must be memory or redis, got "etcd"`,
		`auth.api_keys.keys[0].sha256: must be 64 hex digits`,
		`auth.api_keys.keys[0].tier: unknown tier "gold"`,
		`tiers[0].burst: must be > 0, got -5`,
		`tiers[0].algorithm: unknown "leaky"`,
		`routes[0].prefix: must start with /, got "v1"`,
		`routes[0].upstream: must be an http(s) URL with a host, got "ftp://x"`,
		`shutdown.grace: drain_delay + grace must be shorter than the 2m0s spot notice`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestStrictDecoding(t *testing.T) {
	for name, doc := range map[string]string{
		"unknown field":  minimal + "\nlisen: 127.0.0.1:1\n",
		"bad duration":   minimal + "\nserver:\n  upstream_timeout: 29\n",
		"two documents":  minimal + "\n---\nlisten: x\n",
		"empty":          "",
		"wrong type":     "tiers: 3\n",
		"redis no addr":  minimal + "\nstore:\n  kind: redis\n",
		"cors wildcard":  strings.Replace(minimal, "upstream: http://127.0.0.1:9000", "upstream: http://127.0.0.1:9000\n    cors:\n      allow_origins: ['*']\n      allow_credentials: true", 1),
		"duplicate tier": strings.Replace(minimal, "tiers:\n", "tiers:\n  - name: basic\n    burst: 1\n    rate: 1\n", 1),
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Parse([]byte(doc)); err == nil {
				t.Errorf("want an error for %s", name)
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("want a not-exist error, got %v", err)
	}
}

// FuzzParse: the loader never panics, and whatever it accepts is valid and
// stays valid after defaults are applied again.
func FuzzParse(f *testing.F) {
	f.Add([]byte(minimal))
	if b, err := os.ReadFile(filepath.Join("..", "example.yaml")); err == nil {
		f.Add(b)
	}
	f.Add([]byte("listen: [\n"))
	f.Add([]byte("tiers:\n  - name: a\n    burst: .nan\n"))
	f.Add([]byte("server:\n  upstream_timeout: -1s\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err != nil {
			if c != nil {
				t.Fatal("config returned with an error")
			}
			return
		}
		c.ApplyDefaults()
		if err := c.Validate(); err != nil {
			t.Fatalf("accepted config fails validation after defaults: %v", err)
		}
	})
}

func TestLeaseConfig(t *testing.T) {
	redisStore := "store:\n  kind: redis\n  redis: {addr: 127.0.0.1:6379}\n"
	c, err := Parse([]byte(minimal + redisStore + "  lease: {batch: 20}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Store.Lease.Batch != 20 || c.Store.Lease.TTL.D() != time.Second {
		t.Errorf("lease %+v, want batch 20 and the 1s default TTL", c.Store.Lease)
	}
	if c, err := Parse([]byte(minimal + redisStore)); err != nil || c.Store.Lease.Batch != 0 || c.Store.Lease.TTL != 0 {
		t.Errorf("leases must be off by default: %+v %v", c.Store.Lease, err)
	}
	for _, tc := range []struct{ yaml, want string }{
		{redisStore + "  lease: {batch: -1}\n", "store.lease.batch: must be in [0, 1000000], got -1"},
		{redisStore + "  lease: {batch: .nan}\n", "store.lease.batch: must be in [0, 1000000], got NaN"},
		{redisStore + "  lease: {batch: 2000000}\n", "store.lease.batch: must be in [0, 1000000], got 2e+06"},
		{redisStore + "  lease: {ttl: 1s}\n", "store.lease.ttl: set without store.lease.batch"},
		{redisStore + "  lease: {batch: 5, ttl: -1s}\n", "store.lease.ttl: must be > 0, got -1s"},
		{"store:\n  kind: memory\n  lease: {batch: 5}\n", "store.lease.batch: leases need store.kind redis (the memory store is already local), got 5"},
	} {
		_, err := Parse([]byte(minimal + tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want an error containing %q", tc.yaml, err, tc.want)
		}
	}
}

func TestTLSConfig(t *testing.T) {
	c, err := Parse([]byte(minimal + "server:\n  tls: {cert_file: /c.pem, key_file: /k.pem}\n"))
	if err != nil || !c.Server.TLS.Enabled() {
		t.Fatalf("tls: %+v %v", c.Server.TLS, err)
	}
	if c, err := Parse([]byte(minimal)); err != nil || c.Server.TLS.Enabled() {
		t.Errorf("TLS must be off by default: %+v %v", c.Server.TLS, err)
	}
	for _, tc := range []struct{ yaml, want string }{
		{"  tls: {cert_file: /c.pem}\n", "server.tls.key_file: required when server.tls is set"},
		{"  tls: {key_file: /k.pem}\n", "server.tls.cert_file: required when server.tls is set"},
		{"  tls: {min_version: \"1.3\"}\n", "server.tls.cert_file: required"},
		{"  tls: {cert_file: /c.pem, key_file: /k.pem, min_version: \"1.0\"}\n", `server.tls.min_version: must be 1.2 or 1.3, got "1.0"`},
	} {
		_, err := Parse([]byte(minimal + "server:\n" + tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want an error containing %q", tc.yaml, err, tc.want)
		}
	}
}

func TestRedisClusterConfig(t *testing.T) {
	c, err := Parse([]byte(minimal + "store:\n  kind: redis\n  redis: {cluster_addrs: [10.0.0.1:6379, 10.0.0.2:6379]}\n"))
	if err != nil || len(c.Store.Redis.ClusterAddrs) != 2 {
		t.Fatalf("cluster_addrs: %+v %v", c.Store.Redis, err)
	}
	for _, tc := range []struct{ yaml, want string }{
		{"  redis: {addr: 10.0.0.1:6379, cluster_addrs: [10.0.0.2:6379]}\n", "store.redis.cluster_addrs: set addr or cluster_addrs, not both"},
		{"  redis: {cluster_addrs: [10.0.0.1:6379, nonsense]}\n", "store.redis.cluster_addrs[1]"},
		{"  redis: {cluster_addrs: [10.0.0.1:6379], db: 2}\n", "store.redis.db: must be 0 with cluster_addrs"},
		{"  redis: {timeout: 1s}\n", "store.redis.addr: required when store.kind is redis (or set store.redis.cluster_addrs)"},
	} {
		_, err := Parse([]byte(minimal + "store:\n  kind: redis\n" + tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want an error containing %q", tc.yaml, err, tc.want)
		}
	}
}

func TestAnonymousTierAndTrustedProxies(t *testing.T) {
	ok := minimal + "  - {prefix: /public/, upstream: http://127.0.0.1:9000, anonymous_tier: basic}\nserver: {trusted_proxies: [10.0.0.0/8, 192.0.2.7, \"2001:db8::/32\"]}\n"
	c, err := Parse([]byte(ok))
	if err != nil {
		t.Fatal(err)
	}
	if c.Routes[1].AnonymousTier != "basic" || len(c.Server.TrustedProxies) != 3 {
		t.Errorf("route %+v, trusted %v", c.Routes[1], c.Server.TrustedProxies)
	}
	for _, tc := range []struct{ yaml, want string }{
		{"  - {prefix: /public/, upstream: http://127.0.0.1:9000, anonymous_tier: nosuch}\n", `routes[1].anonymous_tier: unknown tier "nosuch"`},
		{"server: {trusted_proxies: [10.0.0.0/8, 10.0.0.0/33]}\n", `server.trusted_proxies[1]: want an IP address or CIDR prefix, got "10.0.0.0/33"`},
		{"server: {trusted_proxies: [lb.internal]}\n", `server.trusted_proxies[0]: want an IP address or CIDR prefix, got "lb.internal"`},
	} {
		_, err := Parse([]byte(minimal + tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want an error containing %q", tc.yaml, err, tc.want)
		}
	}
}

func TestSharedPenaltyConfig(t *testing.T) {
	redisStore := "store:\n  kind: redis\n  redis: {addr: 127.0.0.1:6379}\n"
	if c, err := Parse([]byte(minimal + redisStore + "penalty: {threshold: 5, shared: true}\n")); err != nil || !c.Penalty.Shared {
		t.Fatalf("shared penalty: %+v %v", c.Penalty, err)
	}
	for _, tc := range []struct{ yaml, want string }{
		{"penalty: {threshold: 5, shared: true}\n", `penalty.shared: needs store.kind redis, got "memory"`},
		{redisStore + "penalty: {shared: true}\n", "penalty.shared: needs penalty.threshold > 0 (the box is off), got 0"},
	} {
		_, err := Parse([]byte(minimal + tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want an error containing %q", tc.yaml, err, tc.want)
		}
	}
}

func TestProxyProtocolConfig(t *testing.T) {
	if c, err := Parse([]byte(minimal + "server: {trusted_proxies: [10.0.0.0/8], proxy_protocol: true}\n")); err != nil || !c.Server.ProxyProtocol {
		t.Fatalf("proxy_protocol: %+v %v", c.Server, err)
	}
	_, err := Parse([]byte(minimal + "server: {proxy_protocol: true}\n"))
	if err == nil || !strings.Contains(err.Error(), "server.proxy_protocol: needs server.trusted_proxies") {
		t.Fatalf("proxy_protocol without trusted proxies: %v", err)
	}
}

// TestDecodeErrorsDoNotHideValidation: an unknown field, a wrong type and a
// validation problem are all reported by one Parse.
func TestDecodeErrorsDoNotHideValidation(t *testing.T) {
	doc := strings.Replace(minimal, "tiers:\n", "bogus_field: 1\ntiers:\n", 1) +
		"\nserver:\n  max_in_flight: lots\n  read_timeout: -1s\n"
	_, err := Parse([]byte(doc))
	if err == nil {
		t.Fatal("want errors")
	}
	for _, want := range []string{"bogus_field", "server.max_in_flight: line", "lots", "server.read_timeout"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("not ErrInvalid: %v", err)
	}
}

// TestSecretsNotEchoed: a raw key pasted where its hash belongs, and a JWKS
// URL's password, never appear in the error.
func TestSecretsNotEchoed(t *testing.T) {
	doc := strings.Replace(minimal, "c48a01f49fd0f2cc404bc3cbbc80e91457a3d41bb429a695243de4c61794155c", "my-raw-secret-key", 1)
	doc = strings.Replace(doc, "        tier: basic\n", `        tier: basic
  jwt:
    jwks_url: "ftp://alice:jwks-password@idp.example/keys"
`, 1)
	_, err := Parse([]byte(doc))
	if err == nil {
		t.Fatal("want errors")
	}
	for _, secret := range []string{"my-raw-secret-key", "jwks-password"} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error echoes %q:\n%v", secret, err)
		}
	}
	for _, want := range []string{"auth.api_keys.keys[0].sha256", "auth.jwt.jwks_url"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestUpgradeAndCredentialsConfig(t *testing.T) {
	ok := strings.Replace(minimal, "    upstream: http://127.0.0.1:9000", "    upstream: http://127.0.0.1:9000\n    upgrade: websocket\n    forward_credentials: true", 1)
	c, err := Parse([]byte(ok))
	if err != nil {
		t.Fatal(err)
	}
	if r := c.Routes[0]; r.Upgrade != "websocket" || !r.ForwardCredentials || r.MaxTunnelLifetime.D() != DefaultMaxTunnelLifetime {
		t.Errorf("route %+v", r)
	}
	for name, tc := range map[string]struct{ add, want string }{
		"bad upgrade":       {"    upgrade: h2c", `routes[0].upgrade: must be websocket or empty, got "h2c"`},
		"lifetime alone":    {"    max_tunnel_lifetime: 1m", "routes[0].max_tunnel_lifetime: needs upgrade: websocket"},
		"negative lifetime": {"    upgrade: websocket\n    max_tunnel_lifetime: -1s", "routes[0].max_tunnel_lifetime: must be > 0, got -1s"},
	} {
		doc := strings.Replace(minimal, "    upstream: http://127.0.0.1:9000", "    upstream: http://127.0.0.1:9000\n"+tc.add, 1)
		if _, err := Parse([]byte(doc)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
	}
}

func TestLedgerConfig(t *testing.T) {
	c, err := Parse([]byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	l := c.Ledger
	if l.Durability != ledger.Sync || l.OnFailure != ledger.Refuse || l.MaxPathBytes != ledger.DefaultMaxPathBytes ||
		l.MaxPendingBytes != ledger.DefaultMaxPendingBytes || l.SyncWait.D() != ledger.DefaultSyncWait || l.Postgres != nil {
		t.Errorf("ledger defaults %+v", l)
	}
	c, err = Parse([]byte(minimal + "ledger:\n  durability: batch\n  on_failure: admit\n  postgres: {dsn_env: PGDSN, source: a}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if pg := c.Ledger.Postgres; pg.BatchSize != pgship.DefaultBatchSize || pg.MonthsAhead != 1 || pg.Interval.D() != time.Second {
		t.Errorf("postgres defaults %+v", pg)
	}
	for _, tc := range []struct{ yaml, want string }{
		{"ledger:\n  durability: fsync\n", `ledger.durability: must be sync or batch, got "fsync"`},
		{"ledger:\n  on_failure: ignore\n", `ledger.on_failure: must be refuse or admit, got "ignore"`},
		{"ledger:\n  max_pending_bytes: 100\n", "ledger.max_pending_bytes: must be >= 65536, got 100"},
		{"ledger:\n  max_path_bytes: 3\n", "ledger.max_path_bytes: must be >= 16, got 3"},
		{"ledger:\n  sync_wait: -1s\n", "ledger.sync_wait: must be > 0, got -1s"},
		{"ledger:\n  postgres: {source: a}\n", "ledger.postgres.dsn: required (or dsn_env)"},
		{"ledger:\n  postgres: {dsn: x, dsn_env: Y}\n", "ledger.postgres: set dsn or dsn_env, not both"},
		{"ledger:\n  postgres: {dsn: x, months_ahead: 30}\n", "ledger.postgres.months_ahead: must be 1..24, got 30"},
		{"ledger:\n  postgres: {dsn: x, retention_months: -1}\n", "ledger.postgres.retention_months: must be >= 0 (0 keeps all), got -1"},
	} {
		_, err := Parse([]byte(minimal + tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want an error containing %q", tc.yaml, err, tc.want)
		}
	}
}
