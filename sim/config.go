package sim

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"tollgate/engine"
	"tollgate/engine/lease"
	"tollgate/engine/limiter"
	"tollgate/engine/pricing"
	"tollgate/engine/route"
	"tollgate/engine/tier"
	"tollgate/schema"
	"tollgate/sim/dist"
)

// Duration is engine.Duration, the policy vocabulary's one duration type
// ("250ms", "30m", "30d").
type Duration = engine.Duration

// Config is one scenario: everything a run needs. The yaml tags are the
// scenario file's field names and the paths `gwlab run -set` accepts. A Config
// is used only after Defaults and Validate.
type Config struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	// Seed is the master seed; every component's stream derives from it.
	Seed uint64 `yaml:"seed"`
	// Duration is the measured time after Warmup.
	Duration Duration `yaml:"duration"`
	// Warmup runs before measuring (not counted).
	Warmup Duration `yaml:"warmup"`
	// Interval is the width of one timeline interval (default: Duration/120,
	// at least 1s).
	Interval Duration `yaml:"interval"`
	// Start is the wall-clock time of virtual time 0 (RFC 3339; default
	// 2026-01-01T00:00:00Z): calendar quotas align to it.
	Start string `yaml:"start"`
	// Deployment is "self-hosted" (nodes, load balancer, Redis) or "managed"
	// (AWS API Gateway).
	Deployment string      `yaml:"deployment"`
	Topology   Topology    `yaml:"topology"`
	Redis      Redis       `yaml:"redis"`
	Engine     Engine      `yaml:"engine"`
	Managed    Managed     `yaml:"managed"`
	Spot       Spot        `yaml:"spot"`
	Tiers      []tier.Tier `yaml:"tiers"`
	Routes     []Route     `yaml:"routes"`
	// Pricing is the policy vocabulary's pricing section (engine/pricing),
	// as in a gatewayd config: pricing.dynamic moves route costs with the
	// simulated backends' telemetry.
	Pricing pricing.Config `yaml:"pricing"`
	Traffic Traffic        `yaml:"traffic"`
	Faults  []Fault        `yaml:"faults"`
	SLO     SLO            `yaml:"slo"`
	Network Network        `yaml:"network"`
	LB      LB             `yaml:"load_balancer"`
	Backend BackendDef     `yaml:"backend"`
}

// Topology is the self-hosted gateway fleet.
type Topology struct {
	Zones        []string `yaml:"zones"`
	NodesPerZone int      `yaml:"nodes_per_zone"`
	InstanceType string   `yaml:"instance_type"`
	// Market is "spot" or "on-demand".
	Market string `yaml:"market"`
	// ServiceTime is the gateway's CPU time per request (mean).
	ServiceTime Duration `yaml:"service_time"`
	// ServiceDist is the service time's distribution (dist kinds).
	ServiceDist string `yaml:"service_dist"`
	// Concurrency is how many requests a node serves at once (its workers).
	Concurrency int `yaml:"concurrency"`
	// QueueLimit is how many requests may wait for a worker; beyond it the
	// node sheds with 503.
	QueueLimit int `yaml:"queue_limit"`
	// ClockOffsetSpread gives node i a clock offset spread evenly over
	// [-spread, +spread]; Nodes entries override per node.
	ClockOffsetSpread Duration `yaml:"clock_offset_spread"`
	// DriftPPMSpread likewise spreads clock drift in parts per million.
	DriftPPMSpread float64 `yaml:"drift_ppm_spread"`
	// Nodes overrides individual nodes by name ("<zone>-<index>").
	Nodes []NodeOverride `yaml:"nodes"`
}

// NodeOverride sets one node's fields.
type NodeOverride struct {
	Name         string   `yaml:"name"`
	InstanceType string   `yaml:"instance_type"`
	Market       string   `yaml:"market"`
	ClockOffset  Duration `yaml:"clock_offset"`
	DriftPPM     float64  `yaml:"drift_ppm"`
}

// Network is per-hop one-way latency.
type Network struct {
	// Client is client to load balancer (the internet).
	Client    Duration `yaml:"client"`
	IntraZone Duration `yaml:"intra_zone"`
	CrossZone Duration `yaml:"cross_zone"`
	// Jitter is the relative jitter of every hop in [0, 1].
	Jitter float64 `yaml:"jitter"`
	// RequestBytes and ResponseBytes size the traffic for transfer costs.
	RequestBytes  int `yaml:"request_bytes"`
	ResponseBytes int `yaml:"response_bytes"`
}

// LB is the L4 load balancer.
type LB struct {
	// CrossZone spreads requests over targets in every zone.
	CrossZone bool `yaml:"cross_zone"`
	// HealthInterval is the time between health checks of a target. With
	// HealthTimeout 0 it runs from one check's start to the next; with a
	// timeout it runs from one check's end to the next start (HAProxy's
	// inter), so a target that does not answer is checked every
	// HealthInterval + HealthTimeout.
	HealthInterval     Duration `yaml:"health_interval"`
	UnhealthyThreshold int      `yaml:"unhealthy_threshold"`
	HealthyThreshold   int      `yaml:"healthy_threshold"`
	// HealthTimeout is how long one check waits for its answer (HAProxy's
	// check connect timeout, an NLB's health check timeout): a check that
	// takes longer fails when the timeout expires. A check's time is the
	// round trip to the target (network.intra_zone each way, no jitter)
	// plus its wait for a free worker; an unreachable target never answers.
	// 0 (the default) models instantaneous checks: each concludes when it
	// starts and only reachability and draining decide it.
	HealthTimeout       Duration `yaml:"health_timeout"`
	ConnectErrorLatency Duration `yaml:"connect_error_latency"`
}

// Redis is the shared store: one primary with an optional replica (mode
// redis), a Redis Cluster (mode cluster), or its absence (mode embedded:
// every node decides with its own in-memory state).
//
// In mode cluster the store is Shards shards, each a primary and a replica:
// shard i's primary is in zone i mod Z and its replica in zone (i+1) mod Z of
// the topology's Z zones (ClusterZones), so with one zone both are in the
// same zone and an outage of that zone takes the whole shard down. The 16384
// hash slots are split over the shards as redis-cli --cluster create splits
// them (ShardOfSlot), and a key lives on the shard owning its slot
// (engine/redisstore.KeySlot, the slot gatewayd's cluster store uses). Zone
// and ReplicaZone are not used in mode cluster.
type Redis struct {
	Mode        string `yaml:"mode"`
	Zone        string `yaml:"zone"`
	ReplicaZone string `yaml:"replica_zone"`
	// Shards is the Redis Cluster's shard count (mode cluster only; default
	// 3, at most MaxShards).
	Shards   int    `yaml:"shards,omitempty"`
	NodeType string `yaml:"node_type"`
	// OpTime is the server's time per script call (mean, exponential).
	OpTime Duration `yaml:"op_time"`
	// Timeout is the client's timeout per call.
	Timeout Duration `yaml:"timeout"`
	// FailoverTime is how long promoting the replica takes.
	FailoverTime Duration `yaml:"failover_time"`
	// ClockOffset is the Redis server's clock offset from true time.
	ClockOffset Duration `yaml:"clock_offset"`
}

// Engine is how the limiter decides.
type Engine struct {
	// Algorithm overrides every tier's algorithm when set.
	Algorithm string `yaml:"algorithm"`
	// Clock is "server" (the store's clock decides) or "client" (the
	// deciding gateway node's clock: the skew bug).
	Clock string `yaml:"clock"`
	// FailOpen overrides every tier's failure policy when set ("open"/"closed").
	FailMode string `yaml:"fail_mode"`
	// Breaker is the store circuit breaker of every node (engine/limiter),
	// as gatewayd's store.breaker.
	Breaker limiter.BreakerConfig `yaml:"breaker"`
	// OperationalBucket sends operational routes to the tier's separate
	// operational bucket; false charges them to the main budget.
	OperationalBucket *bool `yaml:"operational_bucket"`
	// CostWeighted charges each route its cost; false charges 1 per request.
	CostWeighted *bool `yaml:"cost_weighted"`
	// Lease makes each node take leases of lease.batch tokens from Redis and
	// spend them locally (engine/lease), as gatewayd's store.lease; batch 0
	// calls Redis per request.
	Lease lease.Config `yaml:"lease"`
}

// Managed is the AWS API Gateway model.
type Managed struct {
	// SteadyRPS and Burst are the account throttle (10,000 rps steady,
	// 5,000 burst: AWS's quotas page,
	// https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html).
	SteadyRPS float64 `yaml:"steady_rps"`
	Burst     float64 `yaml:"burst"`
	// AddedLatency is API Gateway's own latency (AWS publishes none; the
	// default 10ms is an assumption to measure: Latency - IntegrationLatency).
	AddedLatency Duration `yaml:"added_latency"`
	// PricePerMillion in USD (REST API, first 333M: $3.50; reports/prices.yaml
	// gives the source).
	PricePerMillion float64 `yaml:"price_per_million"`
}

// Spot is the spot market model.
type Spot struct {
	// Notice is the interruption notice (two minutes on AWS).
	Notice Duration `yaml:"notice"`
	// Drain makes a node act on the notice: fail readiness, finish in-flight
	// work, then stop; false means it keeps serving until terminated.
	Drain bool `yaml:"drain"`
	// LaunchDelay is the time from termination until a replacement node
	// runs (then it must pass health checks).
	LaunchDelay Duration `yaml:"launch_delay"`
	// InterruptionsPerNodeHour is the rate of random interruptions of spot
	// nodes (0: only scheduled ones).
	InterruptionsPerNodeHour float64 `yaml:"interruptions_per_node_hour"`
}

// Route is one endpoint of the route mix: the policy vocabulary's route
// (engine/route: name, prefix, methods, cost, reference, operational, as in a
// gatewayd config) and the traffic and backend behind it. Several entries
// may share a name with different methods (GET and POST of /items).
type Route struct {
	route.Route `yaml:",inline"`
	// Path is the request path this entry's traffic uses (default: the
	// name). Traffic groups restrict themselves to entries by path, and the
	// entry keeps it when a gatewayd config's route takes over the policy
	// part (gwlab run -gateway).
	Path string `yaml:"path"`
	// Method is the HTTP method this entry's requests use (default GET); it
	// must be one of Methods.
	Method string  `yaml:"method"`
	Weight float64 `yaml:"weight"`
	// Latency is the backend's mean service time at no load.
	Latency Duration `yaml:"latency"`
	Dist    string   `yaml:"dist"`
	Shape   float64  `yaml:"shape"`
	// Capacity is the backend's throughput in requests per second; latency
	// grows as 1/(1-load) toward it (0: unlimited).
	Capacity float64 `yaml:"capacity"`
	// ResponseBytes overrides network.response_bytes.
	ResponseBytes int `yaml:"response_bytes"`
}

// BackendDef holds backend defaults.
type BackendDef struct {
	// Timeout answers 504 when the backend takes longer.
	Timeout Duration `yaml:"timeout"`
}

// Traffic is where requests come from.
type Traffic struct {
	// Source is "synthetic" (Groups) or "trace" (replay Trace; the groups
	// then send nothing).
	Source string `yaml:"source"`
	// Trace is a gatewayd usage ledger to replay: one JSONL file or a
	// directory of rotated files (schema.LedgerRecord). Requests arrive at
	// their recorded start, relative to the first; records of no identified
	// client (401s, aggregates) are skipped.
	Trace string `yaml:"trace"`
	// TraceWindow bounds how long a recorded request took from arrival to
	// answer: the ledger is written in answer order, and records are held
	// this long to be replayed in arrival order (default 30s, above
	// gatewayd's 29s default upstream timeout).
	TraceWindow Duration `yaml:"trace_window"`
	Groups      []Group  `yaml:"groups"`
	Diurnal     Diurnal  `yaml:"diurnal"`
}

// Group is a population of clients of one tier.
type Group struct {
	Name string `yaml:"name"`
	Tier string `yaml:"tier"`
	// Keys is how many API keys (clients) the group has.
	Keys int `yaml:"keys"`
	// Zipf is the key popularity exponent (0 uniform; any s >= 0).
	Zipf float64 `yaml:"zipf"`
	// Rate is the group's mean request rate per second.
	Rate float64 `yaml:"rate"`
	// Arrival is poisson, mmpp, pareto-onoff or constant. Constant gives
	// each key (client) its own deterministic process at Rate x the key's
	// Zipf share: inter-arrival exactly 1/rate in integer nanoseconds with
	// the remainder carried (rates are taken to 1e-9 per second), so a key
	// sends exactly rate x T requests in any T with rate x T whole.
	// Constant does not combine with traffic.diurnal.
	Arrival string `yaml:"arrival"`
	// Stagger (constant arrivals only) starts each key at a seeded random
	// phase in [0, 1/rate) so many keys do not arrive in lockstep; false
	// starts every key at time 0.
	Stagger bool `yaml:"stagger"`
	// MMPP: the high state runs at BurstFactor x the low rate; the mean
	// durations of the two states are HighTime and LowTime. Rate is the mean
	// over both states.
	BurstFactor float64  `yaml:"burst_factor"`
	HighTime    Duration `yaml:"high_time"`
	LowTime     Duration `yaml:"low_time"`
	// Pareto on/off: on and off period means and tail index (alpha > 1).
	OnTime  Duration `yaml:"on_time"`
	OffTime Duration `yaml:"off_time"`
	Alpha   float64  `yaml:"alpha"`
	// Retry is what a client does after a 429 or error: honour (wait
	// Retry-After with jitter), ignore (retry after RetryDelay regardless),
	// none.
	Retry      string   `yaml:"retry"`
	Jitter     float64  `yaml:"jitter"`
	RetryDelay Duration `yaml:"retry_delay"`
	MaxRetries int      `yaml:"max_retries"`
	// RetryAfterSeconds makes honouring clients read Retry-After as the HTTP
	// header carries it (gatewayd's): whole seconds, rounded up, at least 1.
	// Off, they wait the limiter's exact retry-after.
	RetryAfterSeconds bool `yaml:"retry_after_seconds"`
	// Routes restricts the group to the route entries with these paths
	// (default: all).
	Routes []string `yaml:"routes"`
}

// Diurnal modulates every group's rate by 1 + Amplitude*sin(2 pi (t+Phase)/Period).
type Diurnal struct {
	Amplitude float64  `yaml:"amplitude"`
	Period    Duration `yaml:"period"`
	Phase     Duration `yaml:"phase"`
}

// Fault is one event of the fault timeline.
type Fault struct {
	// Kind: spot-interruption, az-outage, clock-skew, redis-outage,
	// redis-failover, node-crash.
	Kind string `yaml:"kind"`
	// At is when it starts (from virtual time 0, warm-up included).
	At Duration `yaml:"at"`
	// Duration for outages.
	Duration Duration `yaml:"duration"`
	// Target: a node name, a zone, or "" for Redis.
	Target string `yaml:"target"`
	// ClockOffset and DriftPPM for clock-skew.
	ClockOffset Duration `yaml:"clock_offset"`
	DriftPPM    float64  `yaml:"drift_ppm"`
}

// SLO mirrors schema.SLO.
type SLO struct {
	P99MS             float64 `yaml:"p99_ms"`
	Max429Rate        float64 `yaml:"max_429_rate"`
	MaxFalse429Rate   float64 `yaml:"max_false_429_rate"`
	MaxOverAdmission  float64 `yaml:"max_over_admission"`
	MinAvailability   float64 `yaml:"min_availability"`
	MaxCostPerBillion float64 `yaml:"max_cost_per_billion"`
	// ExpectBreach names objectives (schema.Objectives) a scenario that
	// demonstrates a bad design must still breach.
	ExpectBreach []string `yaml:"expect_breach"`
}

// Fault kinds.
const (
	FaultSpot          = "spot-interruption"
	FaultAZ            = "az-outage"
	FaultClock         = "clock-skew"
	FaultRedisOutage   = "redis-outage"
	FaultRedisFailover = "redis-failover"
	FaultNodeCrash     = "node-crash"
)

// Redis modes (redis.mode).
const (
	// RedisSingle is one primary, with a replica when redis.replica_zone
	// is set.
	RedisSingle = "redis"
	// RedisCluster is a Redis Cluster of redis.shards shards.
	RedisCluster = "cluster"
	// RedisEmbedded is no shared store: each node decides alone.
	RedisEmbedded = "embedded"
)

// MaxShards bounds redis.shards.
const MaxShards = 64

// ShardName is the fault target naming cluster shard i: "shard-<i>".
func ShardName(i int) string { return "shard-" + strconv.Itoa(i) }

// ParseShard reads a fault target "shard-<i>" (i in [0, 99], decimal
// digits only, no leading zeros).
func ParseShard(target string) (int, bool) {
	s, ok := strings.CutPrefix(target, "shard-")
	if !ok || s == "" || len(s) > 2 || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	i := 0
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0, false
		}
		i = 10*i + int(c-'0')
	}
	return i, true
}

// ClusterZones returns the zone indexes of cluster shard i's primary and
// replica among zones zones: i mod zones and (i+1) mod zones.
func ClusterZones(i, zones int) (primary, replica int) {
	return i % zones, (i + 1) % zones
}

// ShardOfSlot returns the shard owning hash slot slot when slots slots are
// split over shards shards as redis-cli --cluster create splits them (its
// float32 cursor included): shard i's last slot is lround(cursor + slots/
// shards - 1) with the cursor at i x slots/shards, the last shard's the last
// slot (three shards: 0-5460, 5461-10922, 10923-16383).
func ShardOfSlot(slot, slots, shards int) int {
	per := float32(slots) / float32(shards)
	var cursor float32
	for i := 0; i < shards-1; i++ {
		last := math.Round(float64(cursor + per - 1))
		if float64(slot) <= last {
			return i
		}
		cursor += per
	}
	return shards - 1
}

// Arrival kinds of a traffic group.
const (
	ArrivalPoisson     = "poisson"
	ArrivalMMPP        = "mmpp"
	ArrivalParetoOnOff = "pareto-onoff"
	ArrivalConstant    = "constant"
)

// ArrivalKinds lists the arrival kinds a group may name.
var ArrivalKinds = []string{ArrivalPoisson, ArrivalMMPP, ArrivalParetoOnOff, ArrivalConstant}

var faultKinds = []string{FaultSpot, FaultAZ, FaultClock, FaultRedisOutage, FaultRedisFailover, FaultNodeCrash}

// Defaults fills zero fields with the defaults. It is the one place defaults
// live; call it before Validate.
func (c *Config) Defaults() {
	def := func(d *Duration, v time.Duration) {
		if *d == 0 {
			*d = Duration(v)
		}
	}
	defS := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	defI := func(i *int, v int) {
		if *i == 0 {
			*i = v
		}
	}
	defF := func(f *float64, v float64) {
		if *f == 0 {
			*f = v
		}
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	def(&c.Duration, time.Minute)
	if c.Interval == 0 {
		iv := time.Duration(c.Duration) / 120
		iv = iv.Truncate(time.Second)
		if iv < time.Second {
			iv = time.Second
		}
		c.Interval = Duration(iv)
	}
	defS(&c.Start, "2026-01-01T00:00:00Z")
	defS(&c.Deployment, "self-hosted")
	t := &c.Topology
	if len(t.Zones) == 0 {
		t.Zones = []string{"a", "b", "c"}
	}
	defI(&t.NodesPerZone, 1)
	defS(&t.InstanceType, "c7g.large")
	defS(&t.Market, "on-demand")
	def(&t.ServiceTime, 50*time.Microsecond)
	defS(&t.ServiceDist, string(dist.Exponential))
	defI(&t.Concurrency, 2)
	defI(&t.QueueLimit, 1024)
	n := &c.Network
	def(&n.Client, 10*time.Millisecond)
	def(&n.IntraZone, 100*time.Microsecond)
	def(&n.CrossZone, 500*time.Microsecond)
	defI(&n.RequestBytes, 800)
	defI(&n.ResponseBytes, 2000)
	l := &c.LB
	def(&l.HealthInterval, 10*time.Second)
	defI(&l.UnhealthyThreshold, 2)
	defI(&l.HealthyThreshold, 2)
	def(&l.ConnectErrorLatency, time.Millisecond)
	r := &c.Redis
	defS(&r.Mode, "redis")
	if r.Mode == RedisCluster && r.Shards == 0 {
		r.Shards = 3
	}
	if r.Zone == "" && len(t.Zones) > 0 {
		r.Zone = t.Zones[0]
	}
	if r.ReplicaZone == "" && len(t.Zones) > 1 {
		r.ReplicaZone = t.Zones[1]
	}
	defS(&r.NodeType, "cache.r7g.large")
	def(&r.OpTime, 10*time.Microsecond)
	def(&r.Timeout, limiter.DefaultTimeout)
	def(&r.FailoverTime, 15*time.Second)
	e := &c.Engine
	defS(&e.Clock, "server")
	e.Breaker = e.Breaker.WithDefaults()
	e.Lease = e.Lease.WithDefaults()
	c.Pricing = c.Pricing.WithDefaults()
	if e.OperationalBucket == nil {
		v := true
		e.OperationalBucket = &v
	}
	if e.CostWeighted == nil {
		v := true
		e.CostWeighted = &v
	}
	m := &c.Managed
	defF(&m.SteadyRPS, 10000)
	defF(&m.Burst, 5000)
	def(&m.AddedLatency, 10*time.Millisecond)
	defF(&m.PricePerMillion, 3.50)
	s := &c.Spot
	def(&s.Notice, 2*time.Minute)
	def(&s.LaunchDelay, 90*time.Second)
	def(&c.Backend.Timeout, 30*time.Second)
	for i := range c.Routes {
		rt := &c.Routes[i]
		defS(&rt.Method, "GET")
		rt.Method = strings.ToUpper(rt.Method)
		defS(&rt.Path, rt.Name)
		def(&rt.Latency, 5*time.Millisecond)
		// The simulated backend's no-load latency is the natural price
		// reference: a route costs its base cost until it slows down.
		def(&rt.Reference, rt.Latency.D())
		rt.Route.ApplyDefaults(c.Pricing.DefaultCost)
		defF(&rt.Weight, 1)
		defS(&rt.Dist, string(dist.LogNormal))
		def(&rt.Latency, 5*time.Millisecond)
	}
	if len(c.Routes) == 0 {
		c.Routes = []Route{{Route: route.Route{Name: "/"}, Path: "/", Method: "GET", Weight: 1, Dist: string(dist.LogNormal), Latency: Duration(5 * time.Millisecond)}}
		c.Routes[0].Route.ApplyDefaults(c.Pricing.DefaultCost)
		c.Routes[0].Reference = c.Routes[0].Latency
	}
	defS(&c.Traffic.Source, "synthetic")
	def(&c.Traffic.Diurnal.Period, 24*time.Hour)
	def(&c.Traffic.TraceWindow, 30*time.Second)
	for i := range c.Traffic.Groups {
		g := &c.Traffic.Groups[i]
		if g.Name == "" {
			g.Name = fmt.Sprintf("g%d", i)
		}
		defI(&g.Keys, 1)
		defS(&g.Arrival, "poisson")
		defF(&g.BurstFactor, 10)
		def(&g.HighTime, 5*time.Second)
		def(&g.LowTime, 45*time.Second)
		def(&g.OnTime, 2*time.Second)
		def(&g.OffTime, 8*time.Second)
		defF(&g.Alpha, 1.5)
		defS(&g.Retry, "honour")
		def(&g.RetryDelay, 100*time.Millisecond)
		if g.MaxRetries == 0 {
			g.MaxRetries = 2
		}
	}
}

// ValidationError lists every problem of a config.
type ValidationError struct {
	// Problems are "path: message, got value" strings.
	Problems []string
}

func (e *ValidationError) Error() string { return strings.Join(e.Problems, "\n") }

// ErrInvalid is wrapped by every validation error.
var ErrInvalid = errors.New("sim: invalid scenario")

// Unwrap makes errors.Is(err, ErrInvalid) hold.
func (e *ValidationError) Unwrap() error { return ErrInvalid }

// Validate reports every problem at once, each naming the field path and
// the value.
func (c *Config) Validate() error {
	var p []string
	bad := func(path, format string, args ...any) { p = append(p, path+": "+fmt.Sprintf(format, args...)) }
	pos := func(path string, v float64) {
		if math.IsNaN(v) || math.IsInf(v, 0) || v <= 0 {
			bad(path, "must be > 0, got %v", v)
		}
	}
	nonneg := func(path string, v float64) {
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			bad(path, "must be >= 0, got %v", v)
		}
	}
	frac := func(path string, v float64) {
		if math.IsNaN(v) || v < 0 || v > 1 {
			bad(path, "must be in [0, 1], got %v", v)
		}
	}
	oneOf := func(path, v string, opts ...string) {
		for _, o := range opts {
			if v == o {
				return
			}
		}
		bad(path, "must be one of %s, got %q", strings.Join(opts, ", "), v)
	}
	durPos := func(path string, d Duration) {
		if d <= 0 {
			bad(path, "must be > 0, got %v", d)
		}
	}
	durNonneg := func(path string, d Duration) {
		if d < 0 {
			bad(path, "must be >= 0, got %v", d)
		}
	}
	if c.Name == "" {
		bad("name", "must not be empty")
	}
	durPos("duration", c.Duration)
	if c.Duration > Duration(400*24*time.Hour) {
		bad("duration", "must be <= 400d, got %v", c.Duration)
	}
	durNonneg("warmup", c.Warmup)
	durPos("interval", c.Interval)
	if c.Interval > 0 && c.Duration > 0 && int64(c.Duration)/int64(c.Interval) > 100000 {
		bad("interval", "gives more than 100000 timeline intervals over %v, got %v", c.Duration, c.Interval)
	}
	if _, err := time.Parse(time.RFC3339, c.Start); err != nil {
		bad("start", "must be RFC 3339, got %q", c.Start)
	}
	oneOf("deployment", c.Deployment, "self-hosted", "managed")
	t := c.Topology
	zones := map[string]bool{}
	if len(t.Zones) == 0 || len(t.Zones) > 16 {
		bad("topology.zones", "must list 1 to 16 zones, got %d", len(t.Zones))
	}
	for i, z := range t.Zones {
		if z == "" || zones[z] || strings.ContainsAny(z, " -") {
			bad(fmt.Sprintf("topology.zones[%d]", i), "must be unique, non-empty, without spaces or '-', got %q", z)
		}
		zones[z] = true
	}
	if t.NodesPerZone < 1 || t.NodesPerZone > 256 {
		bad("topology.nodes_per_zone", "must be in [1, 256], got %d", t.NodesPerZone)
	}
	oneOf("topology.market", t.Market, "spot", "on-demand")
	durNonneg("topology.service_time", t.ServiceTime)
	if _, err := dist.New(dist.Kind(t.ServiceDist), 1, 0); err != nil {
		bad("topology.service_dist", "%v", err)
	}
	if t.Concurrency < 1 || t.Concurrency > 4096 {
		bad("topology.concurrency", "must be in [1, 4096], got %d", t.Concurrency)
	}
	if t.QueueLimit < 0 || t.QueueLimit > 1<<20 {
		bad("topology.queue_limit", "must be in [0, 1048576], got %d", t.QueueLimit)
	}
	durNonneg("topology.clock_offset_spread", t.ClockOffsetSpread)
	nonneg("topology.drift_ppm_spread", t.DriftPPMSpread)
	for i, n := range t.Nodes {
		path := fmt.Sprintf("topology.nodes[%d]", i)
		if !c.nodeNameValid(n.Name) {
			bad(path+".name", "must name a node <zone>-<index> of the topology, got %q", n.Name)
		}
		if n.Market != "" {
			oneOf(path+".market", n.Market, "spot", "on-demand")
		}
		if math.IsNaN(n.DriftPPM) || math.Abs(n.DriftPPM) > 1e5 {
			bad(path+".drift_ppm", "must be within +-100000, got %v", n.DriftPPM)
		}
	}
	nw := c.Network
	durNonneg("network.client", nw.Client)
	durNonneg("network.intra_zone", nw.IntraZone)
	durNonneg("network.cross_zone", nw.CrossZone)
	frac("network.jitter", nw.Jitter)
	if nw.RequestBytes < 0 || nw.ResponseBytes < 0 {
		bad("network", "request_bytes and response_bytes must be >= 0, got %d and %d", nw.RequestBytes, nw.ResponseBytes)
	}
	durPos("load_balancer.health_interval", c.LB.HealthInterval)
	durNonneg("load_balancer.health_timeout", c.LB.HealthTimeout)
	if c.LB.UnhealthyThreshold < 1 || c.LB.HealthyThreshold < 1 {
		bad("load_balancer", "unhealthy_threshold and healthy_threshold must be >= 1, got %d and %d", c.LB.UnhealthyThreshold, c.LB.HealthyThreshold)
	}
	durNonneg("load_balancer.connect_error_latency", c.LB.ConnectErrorLatency)
	r := c.Redis
	oneOf("redis.mode", r.Mode, RedisSingle, RedisCluster, RedisEmbedded)
	if r.Mode == RedisSingle {
		if !zones[r.Zone] {
			bad("redis.zone", "must be one of topology.zones, got %q", r.Zone)
		}
		if r.ReplicaZone != "" && !zones[r.ReplicaZone] {
			bad("redis.replica_zone", "must be one of topology.zones or empty, got %q", r.ReplicaZone)
		}
	}
	switch {
	case r.Mode == RedisCluster && (r.Shards < 1 || r.Shards > MaxShards):
		bad("redis.shards", "must be in [1, %d], got %d", MaxShards, r.Shards)
	case r.Mode != RedisCluster && r.Shards != 0:
		bad("redis.shards", "applies to redis.mode cluster only, got %d with mode %q", r.Shards, r.Mode)
	}
	durNonneg("redis.op_time", r.OpTime)
	durPos("redis.timeout", r.Timeout)
	durNonneg("redis.failover_time", r.FailoverTime)
	e := c.Engine
	if e.Algorithm != "" {
		if _, err := engine.ParseAlgorithm(e.Algorithm); err != nil {
			bad("engine.algorithm", "%v", err)
		}
	}
	oneOf("engine.clock", e.Clock, "server", "client")
	if e.FailMode != "" {
		oneOf("engine.fail_mode", e.FailMode, "open", "closed")
	}
	joined := func(err error) {
		if err != nil {
			p = append(p, strings.Split(err.Error(), "\n")...)
		}
	}
	joined(e.Breaker.Validate("engine.breaker"))
	joined(e.Lease.Validate("engine.lease"))
	joined(c.Pricing.Validate())
	m := c.Managed
	pos("managed.steady_rps", m.SteadyRPS)
	pos("managed.burst", m.Burst)
	durNonneg("managed.added_latency", m.AddedLatency)
	nonneg("managed.price_per_million", m.PricePerMillion)
	durNonneg("spot.notice", c.Spot.Notice)
	durNonneg("spot.launch_delay", c.Spot.LaunchDelay)
	nonneg("spot.interruptions_per_node_hour", c.Spot.InterruptionsPerNodeHour)
	durPos("backend.timeout", c.Backend.Timeout)
	tiers := map[string]bool{}
	if len(c.Tiers) == 0 {
		bad("tiers", "must list at least one tier")
	}
	for i, tr := range c.Tiers {
		path := fmt.Sprintf("tiers[%d]", i)
		if tiers[tr.Name] {
			bad(path+".name", "duplicate tier %q", tr.Name)
		}
		tiers[tr.Name] = true
		joined(c.tierOf(i).ValidateAt(path))
		if _, err := tier.Compile(c.tierOf(i)); err != nil && c.tierOf(i).ValidateAt(path) == nil {
			bad(path, "%v", err)
		}
	}
	if len(c.Routes) > 1<<15 {
		bad("routes", "must list at most 32768 routes, got %d", len(c.Routes))
	}
	routes := map[string]bool{}
	for i, rt := range c.Routes {
		path := fmt.Sprintf("routes[%d]", i)
		joined(rt.Route.Validate(path))
		if !rt.Route.Allows(rt.Method) {
			bad(path+".method", "must be one of the route's methods %v, got %q", rt.Methods, rt.Method)
		}
		if !strings.HasPrefix(rt.Path, "/") {
			bad(path+".path", "must start with /, got %q", rt.Path)
		}
		routes[rt.Path] = true
		nonneg(path+".weight", rt.Weight)
		durNonneg(path+".latency", rt.Latency)
		if _, err := dist.New(dist.Kind(rt.Dist), 1, rt.Shape); err != nil {
			bad(path+".dist", "%v", err)
		}
		nonneg(path+".capacity", rt.Capacity)
		if rt.ResponseBytes < 0 {
			bad(path+".response_bytes", "must be >= 0, got %d", rt.ResponseBytes)
		}
	}
	tf := c.Traffic
	oneOf("traffic.source", tf.Source, "synthetic", "trace")
	durPos("traffic.trace_window", tf.TraceWindow)
	if tf.Source == "trace" && tf.Trace == "" {
		bad("traffic.trace", "must name a ledger file when traffic.source is trace")
	}
	if len(tf.Groups) > 10000 || len(c.Tiers) > 10000 {
		bad("traffic.groups", "at most 10000 groups and 10000 tiers, got %d and %d", len(tf.Groups), len(c.Tiers))
	}
	if tf.Source == "synthetic" && len(tf.Groups) == 0 {
		bad("traffic.groups", "must list at least one group")
	}
	frac("traffic.diurnal.amplitude", tf.Diurnal.Amplitude)
	durPos("traffic.diurnal.period", tf.Diurnal.Period)
	totalKeys := 0
	for i, g := range tf.Groups {
		path := fmt.Sprintf("traffic.groups[%d]", i)
		if !tiers[g.Tier] {
			bad(path+".tier", "must name a tier, got %q", g.Tier)
		}
		if g.Keys < 1 || g.Keys > 10_000_000 {
			bad(path+".keys", "must be in [1, 10000000], got %d", g.Keys)
		}
		totalKeys += g.Keys
		if math.IsNaN(g.Zipf) || g.Zipf < 0 || g.Zipf > 10 {
			bad(path+".zipf", "must be in [0, 10], got %v", g.Zipf)
		}
		nonneg(path+".rate", g.Rate)
		if g.Rate > 1e8 {
			bad(path+".rate", "must be <= 1e8 per second, got %v", g.Rate)
		}
		oneOf(path+".arrival", g.Arrival, ArrivalKinds...)
		if g.Arrival == ArrivalConstant && tf.Diurnal.Amplitude != 0 {
			bad(path+".arrival", "constant does not combine with diurnal modulation: traffic.diurnal.amplitude must be 0, got %v", tf.Diurnal.Amplitude)
		}
		if g.Stagger && g.Arrival != ArrivalConstant {
			bad(path+".stagger", "applies to arrival constant only, got true with arrival %q", g.Arrival)
		}
		if g.BurstFactor < 1 || math.IsNaN(g.BurstFactor) || g.BurstFactor > 1e4 {
			bad(path+".burst_factor", "must be in [1, 10000], got %v", g.BurstFactor)
		}
		durPos(path+".high_time", g.HighTime)
		durPos(path+".low_time", g.LowTime)
		durPos(path+".on_time", g.OnTime)
		durPos(path+".off_time", g.OffTime)
		if math.IsNaN(g.Alpha) || g.Alpha <= 1 || g.Alpha > 10 {
			bad(path+".alpha", "must be in (1, 10], got %v", g.Alpha)
		}
		oneOf(path+".retry", g.Retry, "honour", "ignore", "none")
		frac(path+".jitter", g.Jitter)
		durPos(path+".retry_delay", g.RetryDelay)
		if g.MaxRetries < 0 || g.MaxRetries > 100 {
			bad(path+".max_retries", "must be in [0, 100], got %d", g.MaxRetries)
		}
		for j, rn := range g.Routes {
			if !routes[rn] {
				bad(fmt.Sprintf("%s.routes[%d]", path, j), "must name a route's path, got %q", rn)
			}
		}
	}
	if totalKeys > 20_000_000 {
		bad("traffic.groups", "must have at most 20000000 keys in total, got %d", totalKeys)
	}
	for i, f := range c.Faults {
		path := fmt.Sprintf("faults[%d]", i)
		oneOf(path+".kind", f.Kind, faultKinds...)
		durNonneg(path+".at", f.At)
		durNonneg(path+".duration", f.Duration)
		switch f.Kind {
		case FaultSpot, FaultNodeCrash, FaultClock:
			if !c.nodeNameValid(f.Target) {
				bad(path+".target", "must name a node <zone>-<index>, got %q", f.Target)
			}
		case FaultAZ:
			if !zones[f.Target] {
				bad(path+".target", "must name a zone, got %q", f.Target)
			}
			durPos(path+".duration", f.Duration)
		case FaultRedisOutage, FaultRedisFailover:
			if f.Kind == FaultRedisOutage {
				durPos(path+".duration", f.Duration)
			}
			switch {
			case r.Mode == RedisCluster:
				if f.Target != "" {
					if i, ok := ParseShard(f.Target); !ok || i >= r.Shards {
						bad(path+".target", "must be empty (shard-0) or name a shard shard-0 to shard-%d, got %q", max(r.Shards, 1)-1, f.Target)
					}
				}
			case f.Target != "":
				bad(path+".target", "must be empty: only redis.mode cluster has shards to target, got %q", f.Target)
			}
		}
		if math.IsNaN(f.DriftPPM) || math.Abs(f.DriftPPM) > 1e5 {
			bad(path+".drift_ppm", "must be within +-100000, got %v", f.DriftPPM)
		}
	}
	s := c.SLO
	nonneg("slo.p99_ms", s.P99MS)
	frac("slo.max_429_rate", s.Max429Rate)
	frac("slo.max_false_429_rate", s.MaxFalse429Rate)
	nonneg("slo.max_over_admission", s.MaxOverAdmission)
	frac("slo.min_availability", s.MinAvailability)
	nonneg("slo.max_cost_per_billion", s.MaxCostPerBillion)
	seen := map[string]bool{}
	for i, name := range s.ExpectBreach {
		path := fmt.Sprintf("slo.expect_breach[%d]", i)
		switch {
		case !contains(schema.Objectives, name):
			bad(path, "must be one of %s, got %q", strings.Join(schema.Objectives, ", "), name)
		case seen[name]:
			bad(path, "%q listed twice", name)
		case schema.SLO(s).Limit(name) == 0:
			bad(path, "%q has no objective in this slo block to breach", name)
		}
		seen[name] = true
	}
	if len(p) > 0 {
		return &ValidationError{Problems: p}
	}
	return nil
}

func (c *Config) nodeNameValid(name string) bool {
	z, idx, ok := strings.Cut(name, "-")
	if !ok {
		return false
	}
	i, err := strconv.Atoi(idx)
	if err != nil || i < 0 || i >= c.Topology.NodesPerZone {
		return false
	}
	for _, zz := range c.Topology.Zones {
		if zz == z {
			return true
		}
	}
	return false
}

// tierOf returns tier i in engine/tier form, with engine.algorithm and
// engine.fail_mode applied.
func (c *Config) tierOf(i int) tier.Tier {
	t := c.Tiers[i]
	alg := string(t.Algorithm)
	if c.Engine.Algorithm != "" {
		alg = c.Engine.Algorithm
	}
	fo := t.FailOpen
	switch c.Engine.FailMode {
	case "open":
		fo = true
	case "closed":
		fo = false
	}
	refill := t.RefillCap
	if alg != string(engine.PTBCWD) {
		refill = 0 // ptb-cwd only; kept so one scenario runs under every algorithm
	}
	t.Algorithm, t.FailOpen, t.RefillCap = engine.Algorithm(alg), fo, refill
	return t
}
