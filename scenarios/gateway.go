package scenarios

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"tollgate/engine"
	"tollgate/engine/lease"
	"tollgate/engine/limiter"
	"tollgate/engine/pricing"
	"tollgate/engine/route"
	"tollgate/engine/tier"
	"tollgate/sim"
)

// ErrGateway marks a scenario that cannot run against a gatewayd config.
var ErrGateway = errors.New("scenarios: scenario and gateway config do not fit")

// Gateway is the rate-limiting design of a gatewayd config, in the policy
// vocabulary both files share: what `gwlab run -gateway` simulates in place
// of the scenario's own tiers, routes, pricing, store and failure policy.
type Gateway struct {
	// File names the config in errors.
	File string
	// Tiers and Routes are the config's, by their config names.
	Tiers  []tier.Tier
	Routes []route.Route
	// Pricing is the config's pricing section.
	Pricing pricing.Config
	// Store is "memory" (every node decides on its own state: the
	// simulator's embedded mode) or "redis" (shared: the scenario's Redis
	// Cluster if it has one, one Redis otherwise).
	Store string
	// StoreTimeout, Breaker and Lease are the store's failure policy and
	// leases; Clock is store.redis.clock ("server" or "client").
	StoreTimeout engine.Duration
	Breaker      limiter.BreakerConfig
	Lease        lease.Config
	Clock        string
}

// ParseMap parses a -tier-map or -route-map value: FROM=TO pairs separated
// by commas, "*" as FROM for every unmatched name. Empty gives an empty map.
func ParseMap(flag, v string) (map[string]string, error) {
	out := map[string]string{}
	if strings.TrimSpace(v) == "" {
		return out, nil
	}
	for _, pair := range strings.Split(v, ",") {
		from, to, ok := strings.Cut(pair, "=")
		from, to = strings.TrimSpace(from), strings.TrimSpace(to)
		if !ok || from == "" || to == "" {
			return nil, fmt.Errorf("%s %q: want FROM=TO[,FROM=TO...], got %q", flag, v, pair)
		}
		if _, dup := out[from]; dup {
			return nil, fmt.Errorf("%s %q: %q is mapped twice", flag, v, from)
		}
		out[from] = to
	}
	return out, nil
}

// UseGateway replaces the scenario's design with gw's: the scenario keeps
// its topology, traffic, faults and SLO; the gateway gives tiers, routes,
// algorithm, pricing, store kind, leases and failure policy. Each traffic
// group's tier must be one of the gateway's, unless tierMap maps it ("*"
// maps every unmatched group); each route entry's path is matched to the
// gateway's routes by longest prefix, as gatewayd matches requests, unless
// routeMap maps the entry (by its path, or "*") to a gateway route by name.
// Every mismatch is reported at once, naming both files.
func (sc *Scenario) UseGateway(gw Gateway, tierMap, routeMap map[string]string) error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: %s", ErrGateway, fmt.Sprintf(format, args...)))
	}
	tiers := map[string]bool{}
	var tierNames []string
	for _, t := range gw.Tiers {
		tiers[t.Name] = true
		tierNames = append(tierNames, t.Name)
	}
	sort.Strings(tierNames)
	for from, to := range tierMap {
		if !tiers[to] {
			bad("-tier-map %s=%s: %q is not a tier of %s (its tiers: %s)", from, to, to, gw.File, strings.Join(tierNames, ", "))
		}
	}
	cfg := &sc.Config
	for i := range cfg.Traffic.Groups {
		g := &cfg.Traffic.Groups[i]
		switch {
		case tierMap[g.Tier] != "":
			g.Tier = tierMap[g.Tier]
		case tiers[g.Tier]:
		case tierMap["*"] != "":
			g.Tier = tierMap["*"]
		default:
			bad("traffic.groups[%d].tier: %q (scenario %s) is not a tier of gateway config %s (its tiers: %s); map it with -tier-map %s=TIER or -tier-map '*=TIER'",
				i, g.Tier, sc.File, gw.File, strings.Join(tierNames, ", "), g.Tier)
		}
	}
	byName := map[string]route.Route{}
	var routeNames, prefixes []string
	var vals []route.Route
	for _, r := range gw.Routes {
		byName[r.Name] = r
		routeNames = append(routeNames, fmt.Sprintf("%s (%s)", r.Name, r.Prefix))
		prefixes = append(prefixes, r.Prefix)
		vals = append(vals, r)
	}
	sort.Strings(routeNames)
	table := route.New(prefixes, vals)
	for from, to := range routeMap {
		if _, ok := byName[to]; !ok {
			bad("-route-map %s=%s: %q is not a route of %s (its routes: %s)", from, to, to, gw.File, strings.Join(routeNames, ", "))
		}
	}
	for i := range cfg.Routes {
		rt := &cfg.Routes[i]
		var gr route.Route
		var ok bool
		if to := routeMap[rt.Path]; to != "" {
			gr, ok = byName[to]
		} else if gr, ok = table.Match(route.Clean(rt.Path)); !ok && routeMap["*"] != "" {
			gr, ok = byName[routeMap["*"]]
		}
		if !ok {
			bad("routes[%d]: path %q (scenario %s) matches no route of gateway config %s (its routes: %s); map it with -route-map %s=ROUTE or -route-map '*=ROUTE'",
				i, rt.Path, sc.File, gw.File, strings.Join(routeNames, ", "), rt.Path)
			continue
		}
		if !gr.Allows(rt.Method) {
			bad("routes[%d]: method %s of path %q (scenario %s) is not allowed by route %q of %s (methods: %s)",
				i, rt.Method, rt.Path, sc.File, gr.Name, gw.File, strings.Join(gr.Methods, ", "))
		}
		gr.Methods = append([]string(nil), gr.Methods...)
		rt.Route = gr
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	cfg.Tiers = append([]tier.Tier(nil), gw.Tiers...)
	cfg.Pricing = gw.Pricing
	// the gateway decides the algorithm and the failure policy per tier,
	// charges every route its cost and operational routes to the tier's
	// operational bucket
	cfg.Engine.Algorithm, cfg.Engine.FailMode = "", ""
	on := true
	cfg.Engine.CostWeighted, cfg.Engine.OperationalBucket = &on, &on
	cfg.Engine.Breaker = gw.Breaker
	cfg.Engine.Lease = gw.Lease
	if gw.Clock != "" {
		cfg.Engine.Clock = gw.Clock
	}
	switch {
	case gw.Store == "memory":
		cfg.Redis.Mode, cfg.Redis.Shards = sim.RedisEmbedded, 0
	case cfg.Redis.Mode != sim.RedisCluster:
		// a shared store; a scenario's Redis Cluster stays one (the config's
		// cluster_addrs are seeds and do not say how many shards there are)
		cfg.Redis.Mode = sim.RedisSingle
	}
	if gw.StoreTimeout > 0 {
		cfg.Redis.Timeout = gw.StoreTimeout
	}
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("%w: %s with %s: %v", ErrInvalid, sc.File, gw.File, err)
	}
	return nil
}
