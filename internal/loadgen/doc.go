// Package loadgen is tollgate's one load generator: vegeta's attacker
// (github.com/tsenart/vegeta/v12/lib) for the requests, HDR histograms
// (hdrhistogram-go) for every latency figure, and one report table. Both
// gatewayd's benchmark (gatewayd/cmd/gatewayd-bench) and the container suite
// (testcontainers/) use it, so a p99 means the same thing in both.
//
// A run is open-model: requests leave on a pacer's schedule whether or not
// earlier ones were answered (vegeta's constant pacer, or this package's
// seeded Poisson and MMPP pacers), or closed-model at the workers' pace
// (Rate 0). Tenants share the rate by smooth weighted round robin. With Retry
// set, a client honours a 429's Retry-After (plus jitter) and tries again;
// every attempt is a sample.
//
//	run, err := loadgen.Attack(ctx, []loadgen.Tenant{{Name: "a", Rate: 100,
//		Target: vegeta.Target{Method: "GET", URL: "http://127.0.0.1:8080/v1/x"}}},
//		loadgen.Options{Duration: 10 * time.Second, KeepSamples: true})
//	fmt.Println(run.All())
package loadgen
