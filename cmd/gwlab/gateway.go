package main

import (
	"errors"
	"flag"

	"tollgate/gatewayd/config"
	"tollgate/scenarios"
)

// gatewayFlags are -gateway, -tier-map and -route-map, shared by run and
// compare.
type gatewayFlags struct {
	file, tierMap, routeMap *string
}

func addGatewayFlags(fs *flag.FlagSet) gatewayFlags {
	return gatewayFlags{
		file:     fs.String("gateway", "", "simulate this gatewayd config's design (tiers, routes, algorithm, pricing, store, leases, failure policy)"),
		tierMap:  fs.String("tier-map", "", "with -gateway: map scenario tiers to the config's, FROM=TO[,...]; '*' as FROM maps every unmatched group"),
		routeMap: fs.String("route-map", "", "with -gateway: map scenario route paths to the config's routes by name, FROM=TO[,...]; '*' as FROM maps every unmatched path"),
	}
}

// apply loads the gatewayd config, if one was given, and makes it the
// scenario's design.
func (g gatewayFlags) apply(sc *scenarios.Scenario) error {
	if *g.file == "" {
		if *g.tierMap != "" || *g.routeMap != "" {
			return errors.New("-tier-map and -route-map need -gateway")
		}
		return nil
	}
	tm, err := scenarios.ParseMap("-tier-map", *g.tierMap)
	if err != nil {
		return err
	}
	rm, err := scenarios.ParseMap("-route-map", *g.routeMap)
	if err != nil {
		return err
	}
	cfg, err := config.Load(*g.file)
	if err != nil {
		return err
	}
	return sc.UseGateway(gatewayOf(*g.file, cfg), tm, rm)
}

// gatewayOf is a gatewayd config's design in the scenarios' terms.
func gatewayOf(file string, cfg *config.Config) scenarios.Gateway {
	return scenarios.Gateway{File: file, Tiers: cfg.PolicyTiers(), Routes: cfg.PolicyRoutes(), Pricing: cfg.Pricing.Config,
		Store: cfg.Store.Kind, StoreTimeout: cfg.Store.Redis.Timeout, Breaker: cfg.Store.Breaker,
		Lease: cfg.Store.Lease, Clock: cfg.Store.Redis.Clock}
}
