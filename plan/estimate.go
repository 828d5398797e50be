package plan

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"runtime"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"

	"tollgate/engine/route"
	"tollgate/reports/cost"
	"tollgate/schema"
	"tollgate/sim"
	"tollgate/sim/kernel"
	"tollgate/stats"
)

// Kinds of short simulation: the fault-free steady state and one per fault.
const (
	kindSteady = "steady"
	kindSpot   = sim.FaultSpot
	kindZone   = sim.FaultAZ
	kindRedis  = sim.FaultRedisFailover
)

// lead is the measured time before a fault starts in its short simulation.
const lead = 30 * time.Second

// Planner evaluates the configurations of one spec against one price sheet.
// It holds no mutable state: Evaluate may run on many goroutines at once.
type Planner struct {
	spec   *Spec
	sheet  *cost.Sheet
	base   sim.Config
	header schema.PlanHeader
	// zoneMean is E[min(D, max)] of the zone outage duration, in seconds.
	zoneMean float64
}

// Option is an optional input of New.
type Option func(*options)

type options struct {
	gatewayFile   string
	gatewayRoutes []route.Route
}

// WithGateway gives New the routes of the gateway config named by
// traffic.gateway (file), for a traffic.ledger whose recorded routes no
// route entry of the scenario maps to.
func WithGateway(file string, routes []route.Route) Option {
	return func(o *options) { o.gatewayFile, o.gatewayRoutes = file, routes }
}

// New prepares a planner: base is the traffic scenario's validated config
// (with traffic.gateway's design applied), whose groups are scaled to the
// spec's monthly requests, or replaced by the traffic fitted to
// traffic.ledger.
func New(spec *Spec, sheet *cost.Sheet, base *sim.Config, opt ...Option) (*Planner, error) {
	var o options
	for _, f := range opt {
		f(&o)
	}
	p := &Planner{spec: spec, sheet: sheet, base: cloneConfig(base)}
	perSecond := spec.Traffic.RequestsPerMonth / (sheet.HoursPerMonth * 3600)
	var fit *schema.TrafficFit
	if spec.Traffic.Ledger != "" {
		var err error
		if fit, err = fitLedger(spec, &p.base, perSecond, o); err != nil {
			return nil, err
		}
	} else if err := scaleTraffic(&p.base, perSecond); err != nil {
		return nil, err
	}
	if d := spec.Traffic.Diurnal; d != nil {
		p.base.Traffic.Diurnal = *d
	}
	z := spec.Faults.ZoneOutages
	p.zoneMean = truncLogNormalMean(z.Median.D().Seconds(), z.Sigma, z.Max.D().Seconds())
	cands, err := Candidates(spec, sheet)
	if err != nil {
		return nil, err
	}
	// Every candidate must make a valid simulator config before any runs.
	for i, c := range cands {
		cfg, err := Build(&p.base, sheet, c)
		if err == nil {
			setWindow(&cfg, spec.Estimate.Warmup.D(), spec.Estimate.Steady.D())
			err = cfg.Validate()
		}
		if err != nil {
			return nil, fmt.Errorf("plan: candidate %d (%s): %w", i, Name(c), err)
		}
	}
	// The hash covers the ledger's fit, not its path: a copy of the same
	// ledger elsewhere (another shard's mount) is the same question, and a
	// ledger whose content changed is another.
	hspec := *spec
	hspec.Traffic.Ledger = ""
	var hfit schema.TrafficFit
	if fit != nil {
		hfit = *fit
		hfit.Ledger = ""
	}
	h := sha256.New()
	for _, v := range []any{&hspec, sheet, &p.base, &hfit} {
		b, err := yaml.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("plan: hash: %w", err)
		}
		h.Write(b)
	}
	e := spec.Estimate
	p.header = schema.PlanHeader{
		Version: schema.PlanVersion, Spec: spec.Name, SpecSHA256: hex.EncodeToString(h.Sum(nil)), Seed: spec.Seed,
		PricesDate: sheet.Date, Region: sheet.Region, RequestsPerMonth: spec.Traffic.RequestsPerMonth,
		HoursPerMonth: sheet.HoursPerMonth, Confidence: e.Confidence,
		Objectives: schema.PlanObjectives{Availability: spec.SLO.Availability, P99MS: spec.SLO.P99MS,
			MaxFalse429Rate: spec.SLO.MaxFalse429Rate, MaxOverAdmission: spec.SLO.MaxOverAdmission},
		FaultModel: p.faultModel(),
		Budget:     schema.PlanBudget{MinReplications: e.MinReplications, MaxReplications: e.MaxReplications, Batch: e.Batch},
		Candidates: len(cands),
		TrafficFit: fit,
		Method: fmt.Sprintf("Monthly availability = 1 - (steady-state error share + sum over faults of occurrences a month x "+
			"errors one occurrence adds / requests a month). Each fault's errors per occurrence come from replicated short "+
			"simulations (%v warm-up, %v lead, the fault, recovery and %v margin; a fault-free %v window for the steady "+
			"state) with common random numbers: replication r uses the same seed, diurnal phase, target and outage duration "+
			"on every configuration. A zone outage longer than %v is simulated for %v and its recovery, and the error and "+
			"request rates of the second half of the simulated outage are extended over the rest of its drawn duration. "+
			"Zone outages use the drawn duration as a control variate (its mean is known exactly). "+
			"Intervals are %.0f%% Student-t with Welch-Satterthwaite degrees of freedom; replications are added in batches of "+
			"%d from %d up to %d while an objective's interval straddles its bound. Occurrence rates are expectations, so the "+
			"interval is for the expected month, not for the spread between months. False 429s add each "+
			"fault's excess over the steady share the same way; p99 and over-admission are the steady state's.",
			e.Warmup, sim.Duration(lead), e.Margin, e.Steady, e.ZoneCap, e.ZoneCap, e.Confidence*100, e.Batch, e.MinReplications, e.MaxReplications),
	}
	return p, nil
}

// Header is the plan's header.
func (p *Planner) Header() schema.PlanHeader { return p.header }

// Candidates is the planner's search space.
func (p *Planner) Candidates() []schema.PlanConfig {
	c, _ := Candidates(p.spec, p.sheet) // checked by New
	return c
}

func (p *Planner) faultModel() []schema.FaultRate {
	f := p.spec.Faults
	spot := schema.FaultRate{Kind: kindSpot, Rate: f.Spot.PerInstanceHour, Unit: "per instance-hour",
		Source: "the spec (faults.spot.per_instance_hour)"}
	if f.Spot.PerInstanceHour == 0 {
		var parts []string
		for _, it := range p.spec.Search.InstanceTypes {
			r, band, err := p.sheet.SpotRate(it, f.Spot.Band == "upper")
			if err == nil {
				parts = append(parts, fmt.Sprintf("%s %s: %.3g", it, band, r))
			}
		}
		si := p.sheet.SpotInterruption
		spot.Detail = fmt.Sprintf("per type from its interruption-frequency band (%s of the band, -ln(1-share)/%g h): %s",
			f.Spot.Band, p.sheet.HoursPerMonth, strings.Join(parts, "; "))
		spot.Source = fmt.Sprintf("price sheet spot_interruption: %s (%s)", si.Source, si.Date)
	}
	z := f.ZoneOutages
	src := z.Source
	if src == "" {
		src = "the spec (faults.zone_outages)"
	}
	rs := f.Redis.Source
	if rs == "" {
		rs = "the spec (faults.redis_failovers)"
	}
	return []schema.FaultRate{spot,
		{Kind: kindZone, Rate: z.PerZoneYear, Unit: "per zone-year",
			Detail: fmt.Sprintf("log-normal duration, median %v, sigma %g, cut at %v (mean %.1f min)", z.Median, z.Sigma, z.Max, p.zoneMean/60),
			Source: src},
		{Kind: kindRedis, Rate: f.Redis.PerMonth, Unit: "per primary node-month",
			Detail: "a failover to the replica, or a restart of a single node, taking redis.failover_time; a cluster of N shards has N primaries, " +
				"so N x the rate, each failing one shard (drawn per replication)", Source: rs},
	}
}

// draw is replication r's random numbers for one kind: the same on every
// configuration (common random numbers).
type draw struct {
	seed  uint64
	phase time.Duration
	u     float64
	dur   time.Duration
}

func (p *Planner) draw(kind string, r int) draw {
	rng := kernel.Stream(p.spec.Seed, fmt.Sprintf("plan/%s/%d", kind, r))
	d := draw{seed: rng.Uint64() | 1}
	period := p.base.Traffic.Diurnal.Period.D()
	d.phase = time.Duration(rng.Float64() * float64(period))
	d.u = rng.Float64()
	z := p.spec.Faults.ZoneOutages
	x := float64(z.Median) * math.Exp(z.Sigma*rng.NormFloat64())
	d.dur = time.Duration(math.Min(x, float64(z.Max))).Round(time.Second)
	if d.dur < time.Second {
		d.dur = time.Second
	}
	return d
}

// pick is the index in [0, n) a uniform draw u in [0, 1) picks.
func pick(u float64, n int) int { return min(int(u*float64(n)), n-1) }

// replicate runs replication r of kind on cfg0 and returns its sample (with
// the drawn outage duration for zone outages, their control).
func (p *Planner) replicate(cfg0 *sim.Config, kind string, r int, spots []string) (sample, error) {
	d := p.draw(kind, r)
	cfg := *cfg0
	cfg.Faults = nil
	cfg.Seed = d.seed
	cfg.Traffic.Diurnal.Phase = sim.Duration(d.phase)
	e := p.spec.Estimate
	warm := e.Warmup.D()
	at := sim.Duration(warm + lead)
	hc := cfg.LB.HealthInterval.D()
	detect := time.Duration(cfg.LB.UnhealthyThreshold+1) * hc
	rise := time.Duration(cfg.LB.HealthyThreshold+1) * hc
	var window, simD time.Duration
	switch kind {
	case kindSteady:
		window = e.Steady.D()
	case kindSpot:
		target := spots[pick(d.u, len(spots))]
		cfg.Faults = []sim.Fault{{Kind: sim.FaultSpot, At: at, Target: target}}
		window = lead + cfg.Spot.Notice.D() + detect + cfg.Spot.LaunchDelay.D() + rise + e.Margin.D()
	case kindZone:
		zs := cfg.Topology.Zones
		zone := zs[pick(d.u, len(zs))]
		simD = d.dur
		if c := e.ZoneCap.D(); c > 0 && simD > c {
			simD = c
		}
		cfg.Faults = []sim.Fault{{Kind: sim.FaultAZ, At: at, Duration: sim.Duration(simD), Target: zone}}
		window = lead + simD + detect + rise + e.Margin.D()
	case kindRedis:
		cfg.Faults = []sim.Fault{{Kind: sim.FaultRedisFailover, At: at}}
		if n := cfg.Redis.Shards; cfg.Redis.Mode == sim.RedisCluster {
			// one shard's primary fails: which one is the replication's
			// draw, the same on every configuration with as many shards
			cfg.Faults[0].Target = sim.ShardName(pick(d.u, n))
		}
		window = lead + cfg.Redis.FailoverTime.D() + cfg.Engine.Breaker.Cooldown.D() + e.Margin.D()
	}
	setWindow(&cfg, warm, window)
	s, err := simulate(&cfg)
	if err != nil {
		return sample{}, fmt.Errorf("plan: %s replication %d: %w", kind, r, err)
	}
	if kind == kindZone || kind == kindRedis {
		s.target = cfg.Faults[0].Target
	}
	if kind == kindZone {
		s.durationS = d.dur.Seconds()
	}
	if kind == kindZone && simD < d.dur {
		// The outage was cut at simD: its plateau (the second half of the
		// simulated outage, after detection) goes on for the rest of the
		// drawn duration at the rates it reached.
		from := (lead + simD/2).Seconds()
		n, errs, ok := s.rates(from, (lead + simD).Seconds())
		if !ok {
			return sample{}, fmt.Errorf("plan: %s replication %d: no timeline interval inside the outage's plateau [%.0fs, %.0fs)", kind, r, from, (lead + simD).Seconds())
		}
		rest := (d.dur - simD).Seconds()
		s.total += int64(math.Round(n * rest))
		s.errors += int64(math.Round(errs * rest))
		s.windowS += rest
	}
	return s, nil
}

// perMonth is the expected occurrences of each fault kind a month on c.
func (p *Planner) perMonth(c schema.PlanConfig, spots int) (map[string]float64, error) {
	f := p.spec.Faults
	h := p.sheet.HoursPerMonth
	out := map[string]float64{}
	rate := f.Spot.PerInstanceHour
	if rate == 0 {
		r, _, err := p.sheet.SpotRate(c.InstanceType, f.Spot.Band == "upper")
		if err != nil {
			return nil, err
		}
		rate = r
	}
	if spots > 0 && rate > 0 {
		out[kindSpot] = float64(spots) * rate * h
	}
	if f.ZoneOutages.PerZoneYear > 0 {
		out[kindZone] = float64(c.Zones) * f.ZoneOutages.PerZoneYear * h / (365 * 24)
	}
	if c.Redis != RedisNone && f.Redis.PerMonth > 0 {
		// the rate is per primary node: a cluster has one per shard
		out[kindRedis] = f.Redis.PerMonth * float64(max(c.RedisShards, 1))
	}
	return out, nil
}

// faultKinds is the order faults are simulated and reported in.
var faultKinds = []string{kindSpot, kindZone, kindRedis}

// Evaluate estimates configuration c (index i of the search space): its bill,
// its monthly availability and the other objectives with intervals, adding
// replications until every objective is decided or the budget is spent.
// Its replications run GOMAXPROCS at a time; the result does not depend on
// that. It is deterministic and safe to call from many goroutines.
func (p *Planner) Evaluate(i int, c schema.PlanConfig) (schema.Evaluated, error) {
	ev, _, err := p.evaluate(i, c, nil, newPool(runtime.GOMAXPROCS(0)))
	return ev, err
}

// pool bounds how many simulations run at once: each holds one of its tokens
// while it runs. One pool is shared by every configuration of a run, so the
// replications of one configuration fill the cores another leaves idle.
type pool chan struct{}

// newPool is a pool of n tokens (at least 1).
func newPool(n int) pool { return make(pool, max(n, 1)) }

// job is one replication: r of kind.
type job struct {
	kind string
	r    int
}

// replicateAll runs jobs on cfg concurrently through sims and returns their
// samples in the order of jobs; the error is the first in that
// order, the one running them one after another would have returned.
func (p *Planner) replicateAll(sims pool, cfg *sim.Config, spots []string, jobs []job) ([]sample, error) {
	ss := make([]sample, len(jobs))
	errs := make([]error, len(jobs))
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Go(func() {
			sims <- struct{}{}
			defer func() { <-sims }()
			ss[i], errs[i] = p.replicate(cfg, j.kind, j.r, spots)
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return ss, nil
}

// evaluate is Evaluate, its simulations run through sims; with counts it
// weighs each fault's impact by those occurrences instead of the expected
// ones (to predict one given month). It also returns the samples per kind.
//
// Each round's replications (of every kind still short of its want) run at
// once, except that round 0 runs the steady state's first and checks them
// before any fault's (steadyFails). Samples are stored in the order of kinds
// and replications, so the result is the one of running them one after
// another.
func (p *Planner) evaluate(i int, c schema.PlanConfig, counts map[string]float64, sims pool) (schema.Evaluated, map[string][]sample, error) {
	ev := schema.Evaluated{Index: i, Name: Name(c), Config: c}
	u := Usage(p.sheet, &p.base, c, p.spec.Traffic.RequestsPerMonth)
	bill, err := cost.FleetBill(p.sheet, ev.Name, u)
	if err != nil {
		return ev, nil, fmt.Errorf("plan: %s: %w", ev.Name, err)
	}
	ev.MonthlyUSD = bill.Total()
	ev.PerBillionUSD = bill.PerBillion()
	for _, l := range bill.Lines {
		ev.Bill = append(ev.Bill, schema.BillLine{Component: l.Component, Detail: l.Detail, USD: l.USD})
	}
	cfg, err := Build(&p.base, p.sheet, c)
	if err != nil {
		return ev, nil, err
	}
	spots := spotNodes(&cfg)
	rates, err := p.perMonth(c, len(spots))
	if err != nil {
		return ev, nil, err
	}
	if counts != nil {
		rates = counts
	}
	kinds := []string{kindSteady}
	for _, k := range faultKinds {
		if rates[k] > 0 {
			kinds = append(kinds, k)
		}
	}
	samples := map[string][]sample{}
	e := p.spec.Estimate
	// want is the replications each kind is to reach: every kind starts at
	// MinReplications; an open availability adds a batch to every kind, an
	// open steady-state objective (p99, false 429s, over-admission) to the
	// steady state only.
	want := map[string]int{}
	for _, k := range kinds {
		want[k] = e.MinReplications
	}
	// run runs jobs and appends their samples in order.
	run := func(jobs []job) error {
		if len(jobs) == 0 {
			return nil
		}
		ss, err := p.replicateAll(sims, &cfg, spots, jobs)
		if err != nil {
			return fmt.Errorf("%s: %w", ev.Name, err)
		}
		for n, j := range jobs {
			samples[j.kind] = append(samples[j.kind], ss[n])
			ev.Simulations++
		}
		return nil
	}
	for round := 0; ; round++ {
		var jobs []job
		for ki, k := range kinds {
			if ki == 1 && round == 0 {
				if err := run(jobs); err != nil {
					return ev, nil, err
				}
				jobs = nil
				if p.steadyFails(&ev, samples) {
					ev.Replications = len(samples[kindSteady])
					return ev, samples, nil // no fault simulations for a configuration the steady state already rules out
				}
			}
			for r := len(samples[k]); r < want[k]; r++ {
				jobs = append(jobs, job{kind: k, r: r})
			}
		}
		if err := run(jobs); err != nil {
			return ev, nil, err
		}
		ev.Replications = 0
		for _, k := range kinds {
			ev.Replications = max(ev.Replications, len(samples[k]))
		}
		p.figures(&ev, kinds, rates, samples, p.zoneControl(&cfg))
		availOpen, steadyOpen := p.decide(&ev, false)
		grow := func(k string) bool {
			if want[k] >= e.MaxReplications {
				return false
			}
			want[k] = min(want[k]+e.Batch, e.MaxReplications)
			return true
		}
		grew := false
		if ev.Verdict == schema.VerdictUndecided {
			if availOpen {
				for _, k := range kinds {
					grew = grow(k) || grew
				}
			} else if steadyOpen {
				grew = grow(kindSteady)
			}
		}
		if !grew {
			if ev.Verdict == schema.VerdictUndecided {
				p.decide(&ev, true)
			}
			return ev, samples, nil
		}
	}
}

// zoneControl says which control variate a zone outage's errors get on cfg:
// with one Redis node (no replica) in one of several zones, an outage of that
// zone stops the store for its whole duration while the others cost little,
// so the control is the duration times "the outage hits the store's zone"
// (mean: the duration's mean over the zone count); otherwise the duration. A
// cluster is never stopped by one zone of several: every shard's replica is
// in another zone than its primary, so an outage costs the shards whose
// primaries it holds a failover, in whichever zone it strikes (with one zone
// the outage stops every shard and always hits the store's zone).
func (p *Planner) zoneControl(cfg *sim.Config) zoneCV {
	if cfg.Redis.Mode == sim.RedisSingle && cfg.Redis.ReplicaZone == "" && len(cfg.Topology.Zones) > 1 {
		return zoneCV{storeZone: cfg.Redis.Zone, mean: p.zoneMean / float64(len(cfg.Topology.Zones))}
	}
	return zoneCV{mean: p.zoneMean}
}

// values is the control of each zone-outage sample: its drawn duration, or 0
// when the control counts only the store's zone and the outage hit another.
func (zc zoneCV) values(ss []sample) []float64 {
	out := make([]float64, len(ss))
	for i, s := range ss {
		if zc.storeZone == "" || s.target == zc.storeZone {
			out[i] = s.durationS
		}
	}
	return out
}

// zoneCV is the control variate of zone outages on one configuration.
type zoneCV struct {
	// storeZone, if set, makes the control the duration only when the
	// outage hits this zone (0 otherwise).
	storeZone string
	mean      float64
}

// figures fills ev's intervals from the samples so far.
func (p *Planner) figures(ev *schema.Evaluated, kinds []string, rates map[string]float64, samples map[string][]sample, zc zoneCV) {
	conf := p.spec.Estimate.Confidence
	steady := samples[kindSteady]
	col := func(ss []sample, f func(sample) float64) []float64 {
		out := make([]float64, len(ss))
		for i, s := range ss {
			out[i] = f(s)
		}
		return out
	}
	ratio := func(a, b int64) float64 {
		if b <= 0 {
			return 0
		}
		return float64(a) / float64(b)
	}
	iv := func(c stats.Component) schema.Estimate {
		m, l, u := stats.Interval(conf, []stats.Component{c}, []float64{1})
		return schema.Estimate{Mean: m, Lower: l, Upper: u}
	}
	errShare := stats.MeanOf(errorShares(steady))
	rej := stats.MeanOf(col(steady, func(s sample) float64 { return ratio(s.rejected, s.total) }))
	// Requests a month including client retries, as the steady state retries.
	inflate := stats.MeanOf(col(steady, func(s sample) float64 { return ratio(s.total, s.total-s.retries) })).Mean
	if !(inflate >= 1) {
		inflate = 1
	}
	month := p.spec.Traffic.RequestsPerMonth * inflate
	parts := []stats.Component{errShare}
	weights := []float64{1}
	ev.Faults = nil
	excesses := map[string][]float64{}
	for _, k := range kinds[1:] {
		ss := samples[k]
		excess := excessErrors(ss, errShare.Mean)
		excesses[k] = excess
		extra := col(ss, func(s sample) float64 { return float64(s.rejected) - rej.Mean*float64(s.total) })
		var ctl []float64 // no control: the plain mean
		if k == kindZone {
			ctl = zc.values(ss)
		}
		c := stats.Controlled(excess, ctl, zc.mean)
		parts = append(parts, c)
		weights = append(weights, rates[k]/month)
		ev.Faults = append(ev.Faults, schema.FaultImpact{Kind: k, PerMonth: rates[k], Replications: len(ss),
			ErrorsPerEvent: iv(c), Extra429PerEvent: iv(stats.MeanOf(extra)),
			P99MS:   iv(stats.MeanOf(col(ss, func(s sample) float64 { return s.p99MS }))),
			WindowS: stats.MeanOf(col(ss, func(s sample) float64 { return s.windowS })).Mean})
	}
	um, ul, uu := stats.Interval(conf, parts, weights)
	clamp := func(x float64) float64 { return math.Max(0, math.Min(1, x)) }
	ev.Availability = schema.Estimate{Mean: clamp(1 - um), Lower: clamp(1 - uu), Upper: clamp(1 - ul)}
	ev.MonthSpread = p.monthSpread(rates, excesses, errShare.Mean, month)
	mins := p.sheet.HoursPerMonth * 60
	ev.ErrorMinutes = schema.Estimate{Mean: (1 - ev.Availability.Mean) * mins, Lower: (1 - ev.Availability.Upper) * mins, Upper: (1 - ev.Availability.Lower) * mins}
	ev.P99MS = iv(stats.MeanOf(col(steady, func(s sample) float64 { return s.p99MS })))
	// False 429s a month: the steady share plus each fault's false 429s
	// beyond it, weighted like the errors (a fault can refuse clients within
	// their contract: a failover's fail-closed window, a surviving zone's
	// queue)
	f429 := stats.MeanOf(col(steady, func(s sample) float64 { return s.false429 }))
	fparts, fweights := []stats.Component{f429}, []float64{1}
	for _, k := range kinds[1:] {
		fparts = append(fparts, stats.MeanOf(col(samples[k], func(s sample) float64 { return (s.false429 - f429.Mean) * float64(s.total) })))
		fweights = append(fweights, rates[k]/month)
	}
	fm, fl, fu := stats.Interval(conf, fparts, fweights)
	ev.False429Rate = schema.Estimate{Mean: math.Max(fm, 0), Lower: math.Max(fl, 0), Upper: math.Max(fu, 0)}
	ev.OverAdmission = iv(stats.MeanOf(col(steady, func(s sample) float64 { return s.overAdmission })))
	ev.Rate429 = iv(rej)
}

// steadyFails reports whether the steady state alone fails an objective other
// than availability (p99, false 429s, over-admission); if so ev gets those
// figures, the verdict fails and no availability estimate.
func (p *Planner) steadyFails(ev *schema.Evaluated, samples map[string][]sample) bool {
	p.figures(ev, []string{kindSteady}, nil, samples, zoneCV{})
	avail := ev.Availability
	ev.Availability = schema.Estimate{Mean: 1, Lower: 0, Upper: 1} // unknown: decides nothing
	p.decide(ev, false)
	if ev.Verdict != schema.VerdictFails {
		ev.Availability = avail
		return false
	}
	ev.Availability, ev.ErrorMinutes, ev.MonthSpread = schema.Estimate{}, schema.Estimate{}, nil
	ev.Reason += "; availability not estimated (the steady state already fails)"
	return true
}

// decide sets ev's verdict: fails if any objective's interval lies wholly on
// the wrong side of its bound, meets if every one lies wholly on the right
// side, undecided otherwise (with the reason, and whether the budget is
// spent). It reports which undecided objectives are open: availability or
// false 429s (estimated from every kind's replications), or one of the
// steady state's (p99, over-admission).
func (p *Planner) decide(ev *schema.Evaluated, spent bool) (availOpen, steadyOpen bool) {
	o := p.spec.SLO
	pct := fmt.Sprintf("%.0f%%", p.spec.Estimate.Confidence*100)
	var fails, open []string
	// allKinds: the estimate sums every kind's replications (availability,
	// false 429s), so an open one grows them all; else only the steady
	// state's
	check := func(name string, x schema.Estimate, bound float64, atLeast, allKinds bool, f string) {
		show := fmt.Sprintf("%s %s ["+f+", "+f+"]", name, fmt.Sprintf(f, x.Mean), x.Lower, x.Upper)
		switch {
		case atLeast && x.Upper < bound, !atLeast && x.Lower > bound:
			fails = append(fails, fmt.Sprintf("%s misses %s", show, fmt.Sprintf(f, bound)))
		case atLeast && x.Lower >= bound, !atLeast && x.Upper <= bound:
		default:
			open = append(open, fmt.Sprintf("%s straddles %s", show, fmt.Sprintf(f, bound)))
			if allKinds {
				availOpen = true
			} else {
				steadyOpen = true
			}
		}
	}
	check("availability", ev.Availability, o.Availability, true, true, "%.6f")
	if o.P99MS > 0 {
		check("p99", ev.P99MS, o.P99MS, false, false, "%.2f ms")
	}
	if o.MaxFalse429Rate > 0 {
		check("false-429 rate", ev.False429Rate, o.MaxFalse429Rate, false, true, "%.5f")
	}
	if o.MaxOverAdmission > 0 {
		check("over-admission", ev.OverAdmission, o.MaxOverAdmission, false, false, "%.4f")
	}
	switch {
	case len(fails) > 0:
		ev.Verdict, ev.Reason = schema.VerdictFails, strings.Join(fails, "; ")
	case len(open) == 0:
		ev.Verdict, ev.Reason = schema.VerdictMeets, "every objective holds at the "+pct+" bound"
	default:
		ev.Verdict = schema.VerdictUndecided
		ev.Reason = strings.Join(open, "; ")
		if spent {
			ev.Reason += fmt.Sprintf(" after %d replications (budget spent)", ev.Replications)
		}
	}
	return availOpen, steadyOpen
}
