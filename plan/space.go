package plan

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"tollgate/engine"
	"tollgate/engine/route"
	"tollgate/engine/tier"
	"tollgate/reports/cost"
	"tollgate/schema"
	"tollgate/sim"
	"tollgate/sim/ledgerfit"
)

// Candidates returns the search space in a fixed order (instance type, zones,
// nodes per zone, on-demand base, spot share, Redis, lease batch, algorithm,
// health check, drain), equivalent configurations once. Arch comes from the
// price sheet; an instance type missing from it is an error naming it.
func Candidates(s *Spec, sh *cost.Sheet) ([]schema.PlanConfig, error) {
	var out []schema.PlanConfig
	seen := map[schema.PlanConfig]bool{}
	sr := s.Search
	for i, it := range sr.InstanceTypes {
		in, ok := sh.Instance(it)
		if !ok {
			return nil, fmt.Errorf("%w: search.instance_types[%d]: not in the price sheet (have %s), got %q", ErrSpec, i, strings.Join(sh.InstanceTypes(), " "), it)
		}
		for _, zones := range sr.Zones {
			for _, npz := range sr.NodesPerZone {
				total := zones * npz
				for _, base := range sr.OnDemandBase {
					for _, share := range sr.SpotShare {
						od := min(base, total)
						spot := int(math.Round(float64(total-od) * share))
						od = total - spot
						for _, store := range stores(sr) {
							redis := store.mode
							for _, lease := range sr.LeaseBatch {
								if redis == RedisNone {
									lease = 0 // leases are taken from the shared store
								}
								for _, alg := range sr.Algorithms {
									for _, h := range sr.Health {
										for _, drain := range sr.Drain {
											if spot == 0 {
												drain = false // only spot nodes get the notice
											}
											c := schema.PlanConfig{InstanceType: it, Arch: in.Arch, Zones: zones, NodesPerZone: npz,
												OnDemand: od, Spot: spot, Redis: redis, RedisShards: store.shards, LeaseBatch: lease, Algorithm: alg,
												HealthInterval: h.Interval.String(), Fall: h.Fall, Drain: drain}
											if !seen[c] {
												seen[c] = true
												out = append(out, c)
											}
										}
									}
								}
							}
						}
					}
				}
			}
		}
	}
	return out, nil
}

// store is one Redis choice of the search space: a mode, and a cluster's
// shard count (0 otherwise).
type store struct {
	mode   string
	shards int
}

// stores lists the search space's Redis choices in order: each mode, a
// cluster once per shard count.
func stores(sr Search) []store {
	var out []store
	for _, r := range sr.Redis {
		if r != RedisCluster {
			out = append(out, store{r, 0})
			continue
		}
		for _, n := range sr.RedisShards {
			out = append(out, store{r, n})
		}
	}
	return out
}

// Name is a configuration's short name for tables and plots.
func Name(c schema.PlanConfig) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%dx%d %s", c.Zones, c.NodesPerZone, c.InstanceType)
	switch {
	case c.Spot == 0:
		b.WriteString(" od")
	case c.OnDemand == 0:
		b.WriteString(" spot")
	default:
		fmt.Fprintf(&b, " %dod+%dspot", c.OnDemand, c.Spot)
	}
	fmt.Fprintf(&b, " redis:%s", c.Redis)
	if c.Redis == RedisCluster {
		fmt.Fprintf(&b, "/%d", c.RedisShards)
	}
	if c.LeaseBatch > 0 {
		fmt.Fprintf(&b, " lease:%g", c.LeaseBatch)
	}
	fmt.Fprintf(&b, " %s hc:%s/%d", c.Algorithm, c.HealthInterval, c.Fall)
	if c.Drain {
		b.WriteString(" drain")
	}
	return b.String()
}

var zoneNames = []string{"a", "b", "c"}

// Build returns the simulator configuration of c on the base scenario: the
// base's tiers, routes, traffic shape, network and load balancer, with the
// candidate's fleet, Redis, engine, health checks and drain applied by the
// set* helpers below. Faults and the window are the caller's. base is not
// modified.
func Build(base *sim.Config, sh *cost.Sheet, c schema.PlanConfig) (sim.Config, error) {
	cfg := cloneConfig(base)
	in, ok := sh.Instance(c.InstanceType)
	if !ok {
		return sim.Config{}, fmt.Errorf("plan: instance type %q: not in the price sheet", c.InstanceType)
	}
	hi, err := engine.ParseDuration(c.HealthInterval)
	if err != nil {
		return sim.Config{}, fmt.Errorf("plan: health interval: %w", err)
	}
	setFleet(&cfg, c.InstanceType, in.VCPU, c.Zones, c.NodesPerZone)
	setMarkets(&cfg, c.OnDemand)
	setRedis(&cfg, c.Redis, c.RedisShards)
	setEngine(&cfg, c.Algorithm, c.LeaseBatch)
	setHealth(&cfg, hi, c.Fall)
	setDrain(&cfg, c.Drain)
	cfg.Faults = nil
	cfg.Spot.InterruptionsPerNodeHour = 0
	return cfg, nil
}

// cloneConfig copies the parts of a config the planner changes.
func cloneConfig(base *sim.Config) sim.Config {
	cfg := *base
	cfg.Topology.Zones = append([]string(nil), base.Topology.Zones...)
	cfg.Topology.Nodes = append([]sim.NodeOverride(nil), base.Topology.Nodes...)
	cfg.Tiers = append([]tier.Tier(nil), base.Tiers...)
	cfg.Routes = append([]sim.Route(nil), base.Routes...)
	cfg.Traffic.Groups = append([]sim.Group(nil), base.Traffic.Groups...)
	for i := range cfg.Traffic.Groups {
		cfg.Traffic.Groups[i].Routes = append([]string(nil), base.Traffic.Groups[i].Routes...)
	}
	cfg.Faults = append([]sim.Fault(nil), base.Faults...)
	return cfg
}

// setFleet sets the zones, nodes per zone and instance type; a node serves
// one request per vCPU at once.
func setFleet(cfg *sim.Config, itype string, vcpu, zones, npz int) {
	cfg.Topology.Zones = append([]string(nil), zoneNames[:zones]...)
	cfg.Topology.NodesPerZone = npz
	cfg.Topology.InstanceType = itype
	cfg.Topology.Concurrency = max(vcpu, 1)
	cfg.Topology.Nodes = nil
}

// nodeOrder lists node names spreading over zones first: a-0, b-0, c-0, a-1...
func nodeOrder(cfg *sim.Config) []string {
	var out []string
	for j := 0; j < cfg.Topology.NodesPerZone; j++ {
		for _, z := range cfg.Topology.Zones {
			out = append(out, fmt.Sprintf("%s-%d", z, j))
		}
	}
	return out
}

// setMarkets makes the first onDemand nodes of nodeOrder on-demand and the
// rest spot.
func setMarkets(cfg *sim.Config, onDemand int) {
	cfg.Topology.Market = cost.Spot
	if onDemand == 0 {
		return
	}
	names := nodeOrder(cfg)
	if onDemand >= len(names) {
		cfg.Topology.Market = cost.OnDemand
		return
	}
	for _, n := range names[:onDemand] {
		cfg.Topology.Nodes = append(cfg.Topology.Nodes, sim.NodeOverride{Name: n, Market: cost.OnDemand})
	}
}

// spotNodes lists the configuration's spot nodes.
func spotNodes(cfg *sim.Config) []string {
	od := map[string]bool{}
	for _, n := range cfg.Topology.Nodes {
		if n.Market == cost.OnDemand {
			od[n.Name] = true
		}
	}
	var out []string
	for _, n := range nodeOrder(cfg) {
		if cfg.Topology.Market == cost.Spot && !od[n] {
			out = append(out, n)
		}
	}
	return out
}

// setRedis maps a Redis mode onto the simulator: none is the embedded store
// (every node decides alone), single a primary in the first zone, replica a
// primary in the first zone and a replica in the second (with one zone the
// simulator has no second zone, so the replica cannot take over), cluster
// the simulator's cluster of shards shards (shard i's primary in zone i mod
// Z, its replica in the next; with one zone both in it).
func setRedis(cfg *sim.Config, mode string, shards int) {
	r := &cfg.Redis
	r.Shards = 0
	switch mode {
	case RedisNone:
		r.Mode = sim.RedisEmbedded
		r.Zone, r.ReplicaZone = "", ""
	case RedisSingle:
		r.Mode = sim.RedisSingle
		r.Zone, r.ReplicaZone = cfg.Topology.Zones[0], ""
	case RedisCluster:
		r.Mode, r.Shards = sim.RedisCluster, shards
		r.Zone, r.ReplicaZone = cfg.Topology.Zones[0], ""
	default:
		r.Mode = sim.RedisSingle
		// the replica in the next zone; with one zone, beside the primary:
		// it survives the primary's failure, not the zone's outage
		r.Zone, r.ReplicaZone = cfg.Topology.Zones[0], cfg.Topology.Zones[0]
		if len(cfg.Topology.Zones) > 1 {
			r.ReplicaZone = cfg.Topology.Zones[1]
		}
	}
}

// setEngine sets the algorithm for every tier and the lease batch.
func setEngine(cfg *sim.Config, alg string, lease float64) {
	cfg.Engine.Algorithm = alg
	cfg.Engine.Lease.Batch = lease
	cfg.Engine.Lease = cfg.Engine.Lease.WithDefaults()
}

// setHealth sets the load balancer's check interval and unhealthy threshold.
func setHealth(cfg *sim.Config, interval sim.Duration, fall int) {
	cfg.LB.HealthInterval = interval
	cfg.LB.UnhealthyThreshold = fall
}

// setDrain sets whether spot nodes drain on the notice.
func setDrain(cfg *sim.Config, drain bool) { cfg.Spot.Drain = drain }

// scaleTraffic scales the groups' rates so their mean sums to perSecond.
func scaleTraffic(cfg *sim.Config, perSecond float64) error {
	sum := 0.0
	for _, g := range cfg.Traffic.Groups {
		sum += g.Rate
	}
	if !(sum > 0) {
		return fmt.Errorf("plan: scenario %s: traffic groups have no rate to scale", cfg.Name)
	}
	for i := range cfg.Traffic.Groups {
		cfg.Traffic.Groups[i].Rate *= perSecond / sum
	}
	return nil
}

// setWindow sets the warm-up and measured duration of a short simulation.
func setWindow(cfg *sim.Config, warmup, window time.Duration) {
	cfg.Warmup = sim.Duration(warmup)
	cfg.Duration = sim.Duration(window)
	iv := (window / 60).Truncate(time.Second)
	cfg.Interval = sim.Duration(max(iv, time.Second))
}

// Usage is the month's resources of c for the cost model: the fleet running
// all month, the load balancer over its zones, Redis nodes by mode.
func Usage(sh *cost.Sheet, base *sim.Config, c schema.PlanConfig, requests float64) cost.Usage {
	a := cost.DefaultAssumptions()
	a.RequestBytes = float64(base.Network.RequestBytes)
	a.ResponseBytes = float64(base.Network.ResponseBytes)
	a.Zones = c.Zones
	a.CrossAZFraction = float64(c.Zones-1) / float64(c.Zones)
	switch c.Redis {
	case RedisNone:
		a.Redis, a.RedisNodes, a.CrossAZFraction = "none", 0, 0
	case RedisSingle:
		a.Redis, a.RedisNodes = redisNodeType, 1
	case RedisCluster:
		// a primary and a replica per shard. The cross-zone share stays
		// (Z-1)/Z: each slot's primary is in one zone and the nodes (and
		// the calls of every key) spread evenly over the zones, so a call
		// is local in 1 of Z zones wherever the shards' primaries sit.
		a.Redis, a.RedisNodes = redisNodeType, 2*c.RedisShards
	default:
		a.Redis, a.RedisNodes = redisNodeType, 2
	}
	var fleet []cost.FleetNode
	if c.OnDemand > 0 {
		fleet = append(fleet, cost.FleetNode{Type: c.InstanceType, Market: cost.OnDemand, Count: c.OnDemand})
	}
	if c.Spot > 0 {
		fleet = append(fleet, cost.FleetNode{Type: c.InstanceType, Market: cost.Spot, Count: c.Spot})
	}
	return cost.FleetUsage(sh, requests, fleet, a)
}

// redisNodeType is the node-based store priced for single and replica modes:
// the worked example's choice for a rate limiter at this scale (cost.
// WorkedVariants, S4).
const redisNodeType = "valkey:cache.t4g.small"

// fitLedger replaces cfg's traffic with the model fitted to
// traffic.ledger, scaled to perSecond (package sim/ledgerfit). The ledger's
// tiers must be cfg's and its routes cfg's route entries' names or, with
// traffic.gateway, the gateway config's routes.
func fitLedger(spec *Spec, cfg *sim.Config, perSecond float64, o options) (*schema.TrafficFit, error) {
	t := spec.Traffic
	fo := ledgerfit.Options{Routes: map[string][]string{}, Of: "scenario " + cfg.Name}
	if t.Gateway != "" {
		fo.Of = "gateway config " + t.Gateway
	}
	for _, tr := range cfg.Tiers {
		fo.Tiers = append(fo.Tiers, tr.Name)
	}
	addRoute := func(r route.Route) {
		ms := fo.Routes[r.Name]
		for _, m := range r.Methods {
			if !slices.Contains(ms, m) {
				ms = append(ms, m)
			}
		}
		fo.Routes[r.Name] = ms
	}
	for _, r := range cfg.Routes {
		addRoute(r.Route)
	}
	for _, r := range o.gatewayRoutes {
		addRoute(r)
	}
	fit, err := ledgerfit.Fit(t.Ledger, fo)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSpec, err)
	}
	if err := ledgerfit.Apply(cfg, fit, perSecond, ledgerfit.ApplyOptions{Routes: o.gatewayRoutes, KeepDiurnal: t.Diurnal != nil}); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSpec, err)
	}
	if fit.Diurnal.Fitted && t.Diurnal != nil {
		fit.Notes = append(fit.Notes, "traffic.diurnal is set, so it replaces the fitted diurnal shape")
	}
	return fit, nil
}
