package testcontainers

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"tollgate/internal/loadgen"
)

// The load generator is internal/loadgen, shared with gatewayd's benchmark;
// these names keep the suite's code short.
type (
	// Run is one load run's record.
	Run = loadgen.Run
	// Sample is one attempt.
	Sample = loadgen.Sample
	// Stats summarises a window of a run.
	Stats = loadgen.Stats
	// ErrorWindow is the burst of failures a fault caused.
	ErrorWindow = loadgen.ErrorWindow
)

// The classes of a sample.
const (
	Admitted = loadgen.Admitted
	Limited  = loadgen.Limited
	Failed   = loadgen.Failed
)

// LoadOptions shape one attack.
type LoadOptions struct {
	// Duration of the attack.
	Duration time.Duration
	// Timeout per request (default 2s).
	Timeout time.Duration
	// Arrival, Seed and Shape choose the arrival process (default constant).
	Arrival loadgen.Arrival
	Seed    uint64
	Shape   loadgen.MMPPShape
	// Retry, if set, makes clients honour Retry-After with jitter.
	Retry *loadgen.Retry
	// OnStart, if set, is called with the run once it has started, from the
	// attack's goroutine: fault injection hangs off it.
	OnStart func(*Run)
}

// Attack sends open-model load (the total of the tenants' rates) to base
// (http://127.0.0.1:PORT, the load balancer) for the duration and returns
// every sample. The request for tenant i is GET
// base+Tenants[i].Route?tenant=NAME with its API key, on a new connection
// each, so the L4 balancer picks a node per request as the simulator's does.
func Attack(ctx context.Context, base string, tenants []Tenant, opt LoadOptions) (*Run, error) {
	u, err := url.Parse(base)
	if err != nil || u.Hostname() != "127.0.0.1" {
		return nil, fmt.Errorf("attack: base must be http://127.0.0.1:PORT, got %q", base)
	}
	lt := make([]loadgen.Tenant, len(tenants))
	var total float64
	for i, t := range tenants {
		total += t.Rate
		lt[i] = loadgen.Tenant{Name: t.Name, Rate: t.Rate, Target: vegeta.Target{Method: http.MethodGet,
			URL: base + t.Route + "?tenant=" + url.QueryEscape(t.Name), Header: http.Header{"X-Api-Key": []string{t.Key}}}}
	}
	return loadgen.Attack(ctx, lt, loadgen.Options{Name: "tollgate", Duration: opt.Duration, Rate: total,
		Arrival: opt.Arrival, Seed: opt.Seed, Shape: opt.Shape, Timeout: opt.Timeout, Workers: 32, MaxWorkers: 512,
		KeepSamples: true, Retry: opt.Retry, OnStart: opt.OnStart,
		// random arrivals: each tenant is its own client, as each simulated
		// group has its own arrival process
		Independent: opt.Arrival == loadgen.Poisson || opt.Arrival == loadgen.MMPP})
}
