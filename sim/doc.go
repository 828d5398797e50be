// Package sim is tollgate's discrete-event simulator of an API gateway fleet:
// open-loop clients by tier with Zipf key popularity, an L4 load balancer
// with health checks, gateway nodes per zone with skewable clocks, a
// single-threaded Redis with a replica, backends whose latency grows with
// load, a fault timeline (spot interruptions, zone outages, clock skew, Redis
// outages and failovers) and a managed API Gateway model. Every request is
// decided by the engine's own transitions on the virtual clock of the node
// that decides, and the run is summarised in summary.json (package summary).
//
// A run is deterministic: one scenario seed, one PCG stream per component,
// events ordered by (time, sequence), no goroutines and no map iteration in
// the model. The same Config gives byte-identical summaries.
//
// Example:
//
//	cfg := sim.Config{Name: "x", Tiers: ..., Traffic: ...}
//	cfg.Defaults()
//	if err := cfg.Validate(); err != nil { ... }
//	sum, err := sim.Run(&cfg, sim.Options{})
//
// Scenario files, their loading and -set overrides live in package scenarios.
package sim
