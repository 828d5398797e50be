package testcontainers

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"time"

	"tollgate/engine"
	"tollgate/engine/limiter"
	"tollgate/engine/route"
	"tollgate/scenarios"
	"tollgate/schema"
	"tollgate/sim"
)

// Calibration is what a real run measured that the simulator takes as
// input: service times, not outcomes. The 429 rate, the error window and
// the latency percentiles are predicted, never copied.
type Calibration struct {
	// Routes holds, per route name, the upstream service time's mean and the
	// sigma of its logarithm (a log-normal fit) from the ledger's upstream_ms.
	Routes map[string]LogNormalFit
	// Gateway is the mean time gatewayd adds per admitted request (ledger
	// span minus upstream time): auth, limiter decision with its Redis round
	// trip, proxying.
	Gateway time.Duration
	// Client is the one-way time between the load generator and a node
	// through HAProxy: half the mean of (client latency - ledger span).
	Client time.Duration
	// ClientJitter is the relative spread of that one-way time, as the
	// simulator's network.jitter takes it (a uniform +-j around the mean,
	// whose standard deviation is j/sqrt(3) of the mean), at most 1.
	ClientJitter float64
	// Requests is how many ledger records the fit used.
	Requests int
}

// LogNormalFit is a log-normal fit of a service time.
type LogNormalFit struct {
	Mean  time.Duration
	Sigma float64
	N     int
}

// Calibrate fits the service times of run's admitted requests, joining the
// client's samples to the ledger by request id.
func Calibrate(run *Run, recs []schema.LedgerRecord) (Calibration, error) {
	byID := make(map[string]*schema.LedgerRecord, len(recs))
	for i := range recs {
		byID[recs[i].ID] = &recs[i]
	}
	logs := map[string][]float64{}
	sums := map[string]float64{}
	var gw, cl, cl2 float64
	n := 0
	for _, s := range run.Samples {
		if s.Class() != Admitted || s.ID == "" {
			continue
		}
		r, ok := byID[s.ID]
		if !ok || r.Decision != "allowed" || r.UpstreamMS <= 0 {
			continue
		}
		span := float64(r.End.Sub(r.Start)) / float64(time.Millisecond)
		e2e := float64(s.Latency) / float64(time.Millisecond)
		if span < r.UpstreamMS || e2e < span {
			continue
		}
		logs[r.Route] = append(logs[r.Route], math.Log(r.UpstreamMS))
		sums[r.Route] += r.UpstreamMS
		gw += span - r.UpstreamMS
		cl += (e2e - span) / 2
		cl2 += (e2e - span) * (e2e - span) / 4
		n++
	}
	if n == 0 {
		return Calibration{}, fmt.Errorf("calibrate: no admitted request joins the ledger (%d samples, %d records)", len(run.Samples), len(recs))
	}
	c := Calibration{Routes: map[string]LogNormalFit{}, Requests: n,
		Gateway: msDur(gw / float64(n)), Client: msDur(cl / float64(n))}
	if mean := cl / float64(n); n > 1 && mean > 0 {
		sd := math.Sqrt(math.Max(0, (cl2-float64(n)*mean*mean)/float64(n-1)))
		c.ClientJitter = math.Min(1, math.Sqrt(3)*sd/mean)
	}
	for route, ls := range logs {
		var mu, v float64
		for _, x := range ls {
			mu += x
		}
		mu /= float64(len(ls))
		for _, x := range ls {
			v += (x - mu) * (x - mu)
		}
		sigma := 0.0
		if len(ls) > 1 {
			sigma = math.Sqrt(v / float64(len(ls)-1))
		}
		c.Routes[route] = LogNormalFit{Mean: msDur(sums[route] / float64(len(ls))), Sigma: sigma, N: len(ls)}
	}
	return c, nil
}

func msDur(ms float64) time.Duration { return time.Duration(ms * float64(time.Millisecond)) }

// Fault kinds a prediction can carry.
const (
	// FaultCut is a node cut off its network for Duration (the simulator's
	// node-crash: unreachable, nothing answers).
	FaultCut = "cut"
	// FaultSpot is a spot notice: the node drains (readiness fails at once)
	// and stops after the spec's DrainDelay; no replacement within the run.
	FaultSpot = "spot"
)

// Fault is the real run's fault, for the prediction.
type Fault struct {
	Kind         string
	Zone         string
	At, Duration time.Duration
}

// SimConfig builds the simulator's scenario for the spec's topology and
// traffic, calibrated with c: one node per zone behind one load balancer
// with the same health check (interval, timeout, fall, rise), one Redis, one
// constant-rate client group per tenant like vegeta's constant pacer, each
// at a seeded phase (the attackers start independently; no retries: vegeta
// does not retry), the same tiers and routes.
// fault, if non-nil, is the real run's fault.
func SimConfig(spec Spec, c Calibration, d time.Duration, fault *Fault) (sim.Config, error) {
	if err := spec.Validate(); err != nil {
		return sim.Config{}, err
	}
	tiny := sim.Duration(20 * time.Microsecond) // one hop on a Docker bridge
	cfg := sim.Config{
		Name:        "containers",
		Description: "the container suite's topology, calibrated with a measured run",
		Seed:        1,
		Duration:    sim.Duration(d),
		Interval:    sim.Duration(time.Second),
		Deployment:  "self-hosted",
		Topology: sim.Topology{
			Zones: append([]string(nil), spec.Zones...), NodesPerZone: 1, Market: "on-demand",
			ServiceTime: sim.Duration(max(c.Gateway, time.Microsecond)), ServiceDist: "exponential",
			// gatewayd serves each request on its own goroutine: no worker queue to speak of.
			Concurrency: 256, QueueLimit: 4096,
		},
		Network: sim.Network{Client: sim.Duration(max(c.Client, time.Microsecond)), IntraZone: tiny, CrossZone: tiny,
			Jitter: c.ClientJitter},
		LB: sim.LB{
			CrossZone: true,
			// HAProxy starts the next check inter after the previous one ends,
			// and a check of a cut node ends at its connect timeout (for
			// checks min(timeout connect, inter)): the simulator's health
			// timeout models both.
			HealthInterval:     sim.Duration(spec.Health.Interval),
			HealthTimeout:      sim.Duration(min(spec.Health.Timeout, spec.Health.Interval)),
			UnhealthyThreshold: spec.Health.Fall,
			HealthyThreshold:   spec.Health.Rise,
			// A SYN to a cut node is dropped: HAProxy gives up after its connect timeout.
			ConnectErrorLatency: sim.Duration(spec.Health.Timeout),
		},
		Redis: sim.Redis{Mode: "redis", Zone: spec.Zones[0], Timeout: sim.Duration(spec.RedisTimeout)},
		Engine: sim.Engine{Clock: "server",
			Breaker: limiter.BreakerConfig{Failures: spec.BreakerFailures, Cooldown: engine.Duration(spec.BreakerCooldown)},
			Lease:   spec.Lease},
		Backend: sim.BackendDef{Timeout: sim.Duration(10 * time.Second)},
	}
	// The gateway's tiers unchanged: quotas, per-method limits, the
	// operational bucket, concurrency and refill caps included.
	cfg.Tiers = append(cfg.Tiers, spec.Tiers...)
	for _, r := range spec.Routes {
		fit, ok := c.Routes[r.Name]
		if !ok {
			fit = LogNormalFit{Mean: r.ServiceTime}
		}
		rt := sim.Route{Route: route.Route{Name: r.Name, Prefix: r.Prefix, Methods: []string{"GET"}, Cost: r.Cost},
			Path: r.Prefix, Method: "GET", Weight: 1, Latency: sim.Duration(fit.Mean), Dist: "lognormal", Shape: fit.Sigma}
		if fit.Sigma == 0 {
			rt.Dist = "deterministic"
		}
		cfg.Routes = append(cfg.Routes, rt)
	}
	for _, tn := range spec.Tenants {
		r, _ := spec.RouteOf(tn.Route)
		cfg.Traffic.Groups = append(cfg.Traffic.Groups, sim.Group{Name: tn.Name, Tier: tn.Tier, Keys: 1, Rate: tn.Rate,
			Arrival: sim.ArrivalConstant, Stagger: true, Retry: "none", Routes: []string{r.Prefix}})
	}
	if fault != nil {
		if !slices.Contains(spec.Zones, fault.Zone) {
			return sim.Config{}, fmt.Errorf("fault.zone: unknown zone %q", fault.Zone)
		}
		target := fault.Zone + "-0"
		switch fault.Kind {
		case FaultCut:
			// The simulator checks node 0 from time 0, each check starting
			// inter after the previous one concluded (a passing check takes
			// the round trip, 2 x intra_zone). A real cut falls at a
			// uniformly random point between two checks, on average half a
			// spacing before the next; so the simulated cut goes half a
			// spacing before the first check that starts after the real one.
			// The timeout of each failed check is then the simulator's own.
			sp := spec.Health.Interval + 2*time.Duration(tiny)
			at := (fault.At+sp-1)/sp*sp - sp/2
			if at < 0 {
				at += sp
			}
			cfg.Faults = append(cfg.Faults, sim.Fault{Kind: sim.FaultNodeCrash, Target: target,
				At: sim.Duration(at), Duration: sim.Duration(fault.Duration)})
		case FaultSpot:
			// gatewayd fails readiness at once and closes its listener after
			// the drain delay: that is the simulated notice. No replacement
			// launches within the run.
			cfg.Spot = sim.Spot{Notice: sim.Duration(spec.DrainDelay), Drain: true, LaunchDelay: sim.Duration(10 * d)}
			cfg.Faults = append(cfg.Faults, sim.Fault{Kind: sim.FaultSpot, Target: target, At: sim.Duration(fault.At)})
		default:
			return sim.Config{}, fmt.Errorf("fault.kind: want %q or %q, got %q", FaultCut, FaultSpot, fault.Kind)
		}
	}
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return sim.Config{}, fmt.Errorf("sim config: %w", err)
	}
	return cfg, nil
}

// Predict runs the simulator on cfg through the scenarios package.
func Predict(cfg sim.Config) (*schema.Summary, error) {
	return scenarios.Run(&scenarios.Scenario{Name: cfg.Name, File: "testcontainers", Config: cfg}, scenarios.RunOptions{})
}

// Prediction is the simulator's expectation for a run. Predict1 (the
// default) runs one seed: the clients arrive at a constant rate as vegeta
// sends, so the counts behind the 429 rate carry no arrival noise, and the
// health checks conclude at the balancer's real timeout, so the error window
// needs no averaging over phases either; what a seed still moves is the
// service-time draws (p99) and the clients' phases. PredictMean averages
// several seeds and reports their spread, to show that it is small.
type Prediction struct {
	Seeds int
	// Rate429, ErrorWindowS (of the first fault) and P99MS are means over
	// the seeds; the Min/Max fields give their spread.
	Rate429, Rate429Min, Rate429Max              float64
	ErrorWindowS, ErrorWindowMin, ErrorWindowMax float64
	P99MS, P99Min, P99Max                        float64
	Errors                                       float64
	// First is the first seed's summary, for the record.
	First *schema.Summary
}

// Predict1 runs cfg once, with its own seed: the default prediction.
func Predict1(cfg sim.Config) (Prediction, error) {
	return predictSeeds(cfg, []uint64{cfg.Seed})
}

// PredictMean runs cfg with seeds 1..n and averages.
func PredictMean(cfg sim.Config, n int) (Prediction, error) {
	if n < 1 {
		return Prediction{}, fmt.Errorf("predict: seeds: must be >= 1, got %d", n)
	}
	seeds := make([]uint64, n)
	for i := range seeds {
		seeds[i] = uint64(i + 1)
	}
	return predictSeeds(cfg, seeds)
}

func predictSeeds(cfg sim.Config, seeds []uint64) (Prediction, error) {
	n := len(seeds)
	p := Prediction{Seeds: n, Rate429Min: math.Inf(1), ErrorWindowMin: math.Inf(1), P99Min: math.Inf(1)}
	for _, seed := range seeds {
		c := cfg
		c.Seed = seed
		s, err := Predict(c)
		if err != nil {
			return Prediction{}, fmt.Errorf("predict: seed %d: %w", seed, err)
		}
		if p.First == nil {
			p.First = s
		}
		var w, e float64
		if len(s.Faults) > 0 {
			w, e = s.Faults[0].ErrorWindowS, float64(s.Faults[0].Errors)
		}
		p.Rate429 += s.Rate429.Overall / float64(n)
		p.ErrorWindowS += w / float64(n)
		p.P99MS += s.LatencyMS.P99 / float64(n)
		p.Errors += e / float64(n)
		p.Rate429Min, p.Rate429Max = math.Min(p.Rate429Min, s.Rate429.Overall), math.Max(p.Rate429Max, s.Rate429.Overall)
		p.ErrorWindowMin, p.ErrorWindowMax = math.Min(p.ErrorWindowMin, w), math.Max(p.ErrorWindowMax, w)
		p.P99Min, p.P99Max = math.Min(p.P99Min, s.LatencyMS.P99), math.Max(p.P99Max, s.LatencyMS.P99)
	}
	return p, nil
}

// Comparison is one figure measured and predicted.
type Comparison struct {
	Name      string
	Measured  float64
	Predicted float64
	Ratio     float64
	// Tolerance is the allowed |ratio - 1| (0: reported, not held).
	Tolerance float64
}

// OK reports whether the comparison is held and within its tolerance (an
// unheld comparison, and a 0/0 that is not applicable, are always OK).
func (c Comparison) OK() bool {
	return c.Tolerance == 0 || math.IsNaN(c.Ratio) || (!math.IsInf(c.Ratio, 0) && math.Abs(c.Ratio-1) <= c.Tolerance)
}

// CompareFaults returns the error window of the fault of kind in s (0 if absent).
func faultWindow(s *schema.Summary, kind string) (schema.Fault, bool) {
	for _, f := range s.Faults {
		if f.Kind == kind {
			return f, true
		}
	}
	return schema.Fault{}, false
}

// RouteNames returns the calibration's route names, sorted.
func (c Calibration) RouteNames() []string {
	var out []string
	for k := range c.Routes {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
