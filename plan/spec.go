package plan

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"tollgate/engine"
	"tollgate/sim"
)

// ErrSpec is wrapped by every spec decoding or validation error.
var ErrSpec = errors.New("plan: invalid spec")

// Spec is a plan file: the traffic, the SLO, the fault model, the search space
// and the estimator's budget. A Spec is used only after Parse (strict
// decoding, defaults, Validate).
type Spec struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	// Seed is the master seed of every replication (common random numbers:
	// replication r of a fault uses the same seed on every configuration).
	Seed     uint64   `yaml:"seed"`
	Traffic  Traffic  `yaml:"traffic"`
	SLO      SLO      `yaml:"slo"`
	Faults   Faults   `yaml:"faults"`
	Search   Search   `yaml:"search"`
	Estimate Estimate `yaml:"estimate"`
}

// Traffic is the month of traffic to plan for.
type Traffic struct {
	// RequestsPerMonth is the client requests a month (retries excluded).
	RequestsPerMonth float64 `yaml:"requests_per_month"`
	// Scenario is a built-in scenario name or a scenario file whose tiers,
	// routes, traffic groups, network and load balancer the plan uses; the
	// groups' rates are scaled so they sum to RequestsPerMonth.
	Scenario string `yaml:"scenario"`
	// Diurnal, if set, replaces the scenario's diurnal shape.
	Diurnal *sim.Diurnal `yaml:"diurnal"`
	// Gateway, if set, is a gatewayd config (a path, relative to the working
	// directory) whose design replaces the scenario's, as gwlab run -gateway
	// does: its tiers, routes, pricing and failure policy. The search space
	// still chooses the store (search.redis), leases and algorithm.
	Gateway string `yaml:"gateway"`
	// TierMap and RouteMap map the scenario's traffic groups and route paths
	// onto the gateway's tiers and routes ("*" for every unmatched one).
	TierMap  map[string]string `yaml:"tier_map"`
	RouteMap map[string]string `yaml:"route_map"`
	// Ledger, if set, is a recorded gatewayd ledger (a file or a directory
	// of rotated files, relative to the working directory) whose traffic
	// replaces the scenario's groups: per tier its keys, key skew, share and
	// burstiness, the route mix and, over 24 whole hours or more, the daily
	// shape, fitted by package sim/ledgerfit and scaled to
	// RequestsPerMonth. Its tiers and routes must be the scenario's, or the
	// gateway config's with Gateway set.
	Ledger string `yaml:"ledger"`
}

// SLO is the objectives every configuration is held to; a zero field is not
// checked except Availability, which is required.
type SLO struct {
	// Availability is the minimum expected monthly availability, held at the
	// lower bound of its interval.
	Availability float64 `yaml:"availability"`
	// P99MS is the maximum p99 latency in milliseconds (upper bound).
	P99MS float64 `yaml:"p99_ms"`
	// MaxFalse429Rate is the maximum share of compliant requests refused.
	MaxFalse429Rate float64 `yaml:"max_false_429_rate"`
	// MaxOverAdmission is the maximum over-admission ratio.
	MaxOverAdmission float64 `yaml:"max_over_admission"`
}

// Faults is the fault model.
type Faults struct {
	Spot        SpotFaults    `yaml:"spot"`
	ZoneOutages ZoneOutages   `yaml:"zone_outages"`
	Redis       RedisFailures `yaml:"redis_failovers"`
}

// SpotFaults is the spot interruption rate.
type SpotFaults struct {
	// PerInstanceHour fixes the rate for every type; 0 takes each type's
	// rate from its interruption-frequency band in the price sheet.
	PerInstanceHour float64 `yaml:"per_instance_hour"`
	// Band is which point of the band: upper (default, conservative) or mid.
	Band string `yaml:"band"`
}

// ZoneOutages is zone outages with a log-normal duration.
type ZoneOutages struct {
	// PerZoneYear is outages per zone per year.
	PerZoneYear float64 `yaml:"per_zone_year"`
	// Median and Sigma give the log-normal duration; Max truncates it.
	Median sim.Duration `yaml:"median"`
	Sigma  float64      `yaml:"sigma"`
	Max    sim.Duration `yaml:"max"`
	// Source says where the rate and durations come from.
	Source string `yaml:"source"`
}

// RedisFailures is Redis primary failures (a failover with a replica, a
// restart without).
type RedisFailures struct {
	PerMonth float64 `yaml:"per_month"`
	Source   string  `yaml:"source"`
}

// Search is the space of configurations: the product of every list.
type Search struct {
	InstanceTypes []string `yaml:"instance_types"`
	Zones         []int    `yaml:"zones"`
	NodesPerZone  []int    `yaml:"nodes_per_zone"`
	// OnDemandBase is how many nodes run on-demand; SpotShare is the share
	// of the remaining nodes on spot (the rest on-demand).
	OnDemandBase []int     `yaml:"on_demand_base"`
	SpotShare    []float64 `yaml:"spot_share"`
	// Redis modes: none, single, replica (cluster is refused: the simulator
	// has no cluster model).
	Redis      []string      `yaml:"redis"`
	LeaseBatch []float64     `yaml:"lease_batch"`
	Algorithms []string      `yaml:"algorithms"`
	Health     []HealthCheck `yaml:"health"`
	Drain      []bool        `yaml:"drain"`
}

// HealthCheck is a load balancer health-check setting.
type HealthCheck struct {
	Interval sim.Duration `yaml:"interval"`
	// Fall is the unhealthy threshold.
	Fall int `yaml:"fall"`
}

// Estimate is the estimator's settings and budget.
type Estimate struct {
	// Warmup runs before each short simulation's measured window.
	Warmup sim.Duration `yaml:"warmup"`
	// Steady is the measured window of the fault-free simulations.
	Steady sim.Duration `yaml:"steady"`
	// Margin is simulated after a fault's recovery should be complete.
	Margin sim.Duration `yaml:"margin"`
	// ZoneCap cuts the simulated part of a longer zone outage (default 10m):
	// the outage runs ZoneCap and recovers, and its plateau (the error and
	// request rates of its second half, after detection) is extended over the
	// rest of the drawn duration. A cap at or above
	// faults.zone_outages.max simulates every outage whole.
	ZoneCap sim.Duration `yaml:"zone_cap"`
	// MinReplications start every estimate; Batch more are added while the
	// interval does not decide an objective, up to MaxReplications.
	MinReplications int `yaml:"min_replications"`
	MaxReplications int `yaml:"max_replications"`
	Batch           int `yaml:"batch"`
	// Confidence is the intervals' level.
	Confidence float64 `yaml:"confidence"`
}

// Redis modes of the search space.
const (
	RedisNone    = "none"
	RedisSingle  = "single"
	RedisReplica = "replica"
	RedisCluster = "cluster"
)

// Parse decodes a spec strictly (unknown fields are errors), applies the
// defaults and validates it; errors name file, field and value.
func Parse(file string, data []byte) (*Spec, error) {
	var s Spec
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: %s: empty file", ErrSpec, file)
		}
		return nil, fmt.Errorf("%w: %s: %v", ErrSpec, file, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: %s: more than one YAML document", ErrSpec, file)
	}
	s.Defaults()
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return &s, nil
}

// Defaults fills every unset field.
func (s *Spec) Defaults() {
	if s.Seed == 0 {
		s.Seed = 1
	}
	if s.Traffic.Scenario == "" {
		s.Traffic.Scenario = "month-1b"
	}
	if s.Faults.Spot.Band == "" {
		s.Faults.Spot.Band = "upper"
	}
	z := &s.Faults.ZoneOutages
	if z.Median == 0 {
		z.Median = sim.Duration(30 * time.Minute)
	}
	if z.Sigma == 0 {
		z.Sigma = 0.8
	}
	if z.Max == 0 {
		z.Max = sim.Duration(3 * time.Hour)
	}
	sr := &s.Search
	if len(sr.Zones) == 0 {
		sr.Zones = []int{3}
	}
	if len(sr.NodesPerZone) == 0 {
		sr.NodesPerZone = []int{1}
	}
	if len(sr.OnDemandBase) == 0 {
		sr.OnDemandBase = []int{0}
	}
	if len(sr.SpotShare) == 0 {
		sr.SpotShare = []float64{1}
	}
	if len(sr.Redis) == 0 {
		sr.Redis = []string{RedisReplica}
	}
	if len(sr.LeaseBatch) == 0 {
		sr.LeaseBatch = []float64{0}
	}
	if len(sr.Algorithms) == 0 {
		sr.Algorithms = []string{string(engine.GCRA)}
	}
	if len(sr.Health) == 0 {
		sr.Health = []HealthCheck{{}}
	}
	for i := range sr.Health {
		if sr.Health[i].Interval == 0 {
			sr.Health[i].Interval = sim.Duration(10 * time.Second)
		}
		if sr.Health[i].Fall == 0 {
			sr.Health[i].Fall = 2
		}
	}
	if len(sr.Drain) == 0 {
		sr.Drain = []bool{true}
	}
	e := &s.Estimate
	if e.Warmup == 0 {
		e.Warmup = sim.Duration(time.Minute)
	}
	if e.Steady == 0 {
		e.Steady = sim.Duration(5 * time.Minute)
	}
	if e.Margin == 0 {
		e.Margin = sim.Duration(time.Minute)
	}
	if e.ZoneCap == 0 {
		e.ZoneCap = sim.Duration(10 * time.Minute)
	}
	if e.MinReplications == 0 {
		e.MinReplications = 5
	}
	if e.MaxReplications == 0 {
		e.MaxReplications = 40
	}
	if e.Batch == 0 {
		e.Batch = 5
	}
	if e.Confidence == 0 {
		e.Confidence = 0.95
	}
}

// maxCandidates bounds the search space: beyond it a spec is refused rather
// than left running for days.
const maxCandidates = 20000

// Validate reports every problem at once, each naming the field and value.
func (s *Spec) Validate() error {
	var p []string
	bad := func(path, format string, args ...any) { p = append(p, path+": "+fmt.Sprintf(format, args...)) }
	finite := func(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
	if strings.TrimSpace(s.Name) == "" {
		bad("name", "must not be empty")
	}
	t := s.Traffic
	if !finite(t.RequestsPerMonth) || t.RequestsPerMonth < 1e3 || t.RequestsPerMonth > 1e13 {
		bad("traffic.requests_per_month", "must be in [1e3, 1e13], got %v", t.RequestsPerMonth)
	}
	if d := t.Diurnal; d != nil {
		if !finite(d.Amplitude) || d.Amplitude < 0 || d.Amplitude >= 1 {
			bad("traffic.diurnal.amplitude", "must be in [0, 1), got %v", d.Amplitude)
		}
		if d.Period <= 0 {
			bad("traffic.diurnal.period", "must be > 0, got %v", d.Period)
		}
	}
	if t.Ledger != "" && strings.TrimSpace(t.Ledger) != t.Ledger {
		bad("traffic.ledger", "must be a path without surrounding spaces, got %q", t.Ledger)
	}
	if t.Gateway == "" && (len(t.TierMap) > 0 || len(t.RouteMap) > 0) {
		bad("traffic.tier_map", "tier_map and route_map need traffic.gateway")
	}
	for _, m := range []struct {
		path string
		m    map[string]string
	}{{"traffic.tier_map", t.TierMap}, {"traffic.route_map", t.RouteMap}} {
		for from, to := range m.m {
			if strings.TrimSpace(from) == "" || strings.TrimSpace(to) == "" {
				bad(m.path, "want FROM: TO names, got %q: %q", from, to)
			}
		}
	}
	o := s.SLO
	if !finite(o.Availability) || o.Availability <= 0 || o.Availability >= 1 {
		bad("slo.availability", "must be in (0, 1), got %v", o.Availability)
	}
	for _, f := range []struct {
		path string
		v    float64
	}{{"slo.p99_ms", o.P99MS}, {"slo.max_false_429_rate", o.MaxFalse429Rate}, {"slo.max_over_admission", o.MaxOverAdmission}} {
		if !finite(f.v) || f.v < 0 {
			bad(f.path, "must be >= 0, got %v", f.v)
		}
	}
	if o.MaxFalse429Rate > 1 {
		bad("slo.max_false_429_rate", "must be <= 1, got %v", o.MaxFalse429Rate)
	}
	f := s.Faults
	if !finite(f.Spot.PerInstanceHour) || f.Spot.PerInstanceHour < 0 || f.Spot.PerInstanceHour > 10 {
		bad("faults.spot.per_instance_hour", "must be in [0, 10], got %v", f.Spot.PerInstanceHour)
	}
	if f.Spot.Band != "upper" && f.Spot.Band != "mid" {
		bad("faults.spot.band", "must be upper or mid, got %q", f.Spot.Band)
	}
	z := f.ZoneOutages
	if !finite(z.PerZoneYear) || z.PerZoneYear < 0 || z.PerZoneYear > 1000 {
		bad("faults.zone_outages.per_zone_year", "must be in [0, 1000], got %v", z.PerZoneYear)
	}
	if z.Median <= 0 || z.Median > sim.Duration(7*24*time.Hour) {
		bad("faults.zone_outages.median", "must be in (0, 7d], got %v", z.Median)
	}
	if !finite(z.Sigma) || z.Sigma < 0 || z.Sigma > 3 {
		bad("faults.zone_outages.sigma", "must be in [0, 3], got %v", z.Sigma)
	}
	if z.Max < z.Median || z.Max > sim.Duration(7*24*time.Hour) {
		bad("faults.zone_outages.max", "must be in [median, 7d], got %v", z.Max)
	}
	if !finite(f.Redis.PerMonth) || f.Redis.PerMonth < 0 || f.Redis.PerMonth > 1000 {
		bad("faults.redis_failovers.per_month", "must be in [0, 1000], got %v", f.Redis.PerMonth)
	}
	sr := s.Search
	if len(sr.InstanceTypes) == 0 {
		bad("search.instance_types", "must list at least one instance type")
	}
	seen := map[string]bool{}
	for i, it := range sr.InstanceTypes {
		if strings.TrimSpace(it) == "" || seen[it] {
			bad(fmt.Sprintf("search.instance_types[%d]", i), "must be unique and non-empty, got %q", it)
		}
		seen[it] = true
	}
	for i, n := range sr.Zones {
		if n < 1 || n > 3 {
			bad(fmt.Sprintf("search.zones[%d]", i), "must be in [1, 3], got %d", n)
		}
	}
	for i, n := range sr.NodesPerZone {
		if n < 1 || n > 64 {
			bad(fmt.Sprintf("search.nodes_per_zone[%d]", i), "must be in [1, 64], got %d", n)
		}
	}
	for i, n := range sr.OnDemandBase {
		if n < 0 || n > 192 {
			bad(fmt.Sprintf("search.on_demand_base[%d]", i), "must be in [0, 192], got %d", n)
		}
	}
	for i, x := range sr.SpotShare {
		if !finite(x) || x < 0 || x > 1 {
			bad(fmt.Sprintf("search.spot_share[%d]", i), "must be in [0, 1], got %v", x)
		}
	}
	for i, r := range sr.Redis {
		path := fmt.Sprintf("search.redis[%d]", i)
		switch r {
		case RedisNone, RedisSingle, RedisReplica:
		case RedisCluster:
			bad(path, "cluster is not supported: the simulator models no Redis Cluster (slots, per-shard failover), got %q", r)
		default:
			bad(path, "must be one of none, single, replica, got %q", r)
		}
	}
	for i, x := range sr.LeaseBatch {
		if !finite(x) || x < 0 || x > 1e6 {
			bad(fmt.Sprintf("search.lease_batch[%d]", i), "must be in [0, 1000000], got %v", x)
		}
	}
	for i, a := range sr.Algorithms {
		if _, err := engine.ParseAlgorithm(a); err != nil {
			bad(fmt.Sprintf("search.algorithms[%d]", i), "%v", err)
		}
	}
	for i, h := range sr.Health {
		if h.Interval <= 0 || h.Interval > sim.Duration(10*time.Minute) {
			bad(fmt.Sprintf("search.health[%d].interval", i), "must be in (0, 10m], got %v", h.Interval)
		}
		if h.Fall < 1 || h.Fall > 100 {
			bad(fmt.Sprintf("search.health[%d].fall", i), "must be in [1, 100], got %d", h.Fall)
		}
	}
	total := 1
	for _, n := range []int{len(sr.InstanceTypes), len(sr.Zones), len(sr.NodesPerZone), len(sr.OnDemandBase), len(sr.SpotShare),
		len(sr.Redis), len(sr.LeaseBatch), len(sr.Algorithms), len(sr.Health), len(sr.Drain)} {
		total *= max(n, 1)
		if total > maxCandidates {
			break
		}
	}
	if total > maxCandidates {
		bad("search", "spans more than %d configurations; narrow the lists", maxCandidates)
	}
	e := s.Estimate
	if e.Warmup < 0 || e.Warmup > sim.Duration(time.Hour) {
		bad("estimate.warmup", "must be in [0, 1h], got %v", e.Warmup)
	}
	if e.Steady <= 0 || e.Steady > sim.Duration(24*time.Hour) {
		bad("estimate.steady", "must be in (0, 24h], got %v", e.Steady)
	}
	if e.Margin < 0 || e.Margin > sim.Duration(time.Hour) {
		bad("estimate.margin", "must be in [0, 1h], got %v", e.Margin)
	}
	if e.ZoneCap < sim.Duration(2*time.Minute) || e.ZoneCap > sim.Duration(7*24*time.Hour) {
		bad("estimate.zone_cap", "must be in [2m, 7d], got %v", e.ZoneCap)
	}
	if e.MinReplications < 2 || e.MinReplications > 10000 {
		bad("estimate.min_replications", "must be in [2, 10000], got %d", e.MinReplications)
	}
	if e.MaxReplications < e.MinReplications || e.MaxReplications > 10000 {
		bad("estimate.max_replications", "must be in [min_replications, 10000], got %d", e.MaxReplications)
	}
	if e.Batch < 1 || e.Batch > 10000 {
		bad("estimate.batch", "must be in [1, 10000], got %d", e.Batch)
	}
	if !finite(e.Confidence) || e.Confidence < 0.5 || e.Confidence >= 1 {
		bad("estimate.confidence", "must be in [0.5, 1), got %v", e.Confidence)
	}
	if len(p) > 0 {
		return fmt.Errorf("%w:\n%s", ErrSpec, strings.Join(p, "\n"))
	}
	return nil
}
