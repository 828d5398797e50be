// Package testcontainers runs tollgate on real containers and holds what it
// measures against the simulator's prediction. It is not the testcontainers-go
// library: that is imported as tc.
//
// The topology is an L4 load balancer (HAProxy in TCP mode, health-checking
// each node's /readyz) in front of one gatewayd container per zone, each zone
// its own Docker network, one Redis shared by all nodes and an upstream stub
// whose service time per route is fixed. Load is constant-rate open-model
// traffic from the vegeta library in the test process, sent only to HAProxy's
// port published on 127.0.0.1, from several tenants on different tiers.
// Faults are real: a node stopped with SIGTERM and a grace period (spot
// loss), a node cut off its zone network (zone outage), Redis stopped and
// started.
//
// Every image is built locally by `make images` (testcontainers/images/
// build.sh): no registry is ever contacted. The tests need a Docker engine;
// without one they skip, unless TOLLGATE_REQUIRE_DOCKER=1, which turns a
// missing engine or image into a failure. `make test-containers` runs them.
//
// The files without _test hold the pure parts (topology specification,
// HAProxy and gatewayd configuration, load schedule, the analysis of a run)
// and the harness that drives Docker; they are safe for use by one test at a
// time unless a type's comment says otherwise.
package testcontainers
