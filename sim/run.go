package sim

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"tollgate/schema"
	"tollgate/sim/kernel"
)

// Options tune a run without changing its result.
type Options struct {
	// Progress, if set, is called with the fraction of virtual time done
	// (0..1), about a hundred times per run, from the simulating goroutine.
	Progress func(done float64)
}

// Stats describe the work a run did (for benchmarks; not part of the summary).
type Stats struct {
	// Events is how many events the kernel dispatched.
	Events uint64
	// Simulated is every request simulated, warm-up included.
	Simulated int64
	// Requests is the requests measured (after warm-up).
	Requests int64
}

// Run simulates a validated config and returns its summary. Run is
// deterministic: the same config gives the same summary. It runs on the
// calling goroutine; several Runs may proceed in parallel.
func Run(cfg *Config, opts Options) (*schema.Summary, error) {
	s, _, err := RunStats(cfg, opts)
	return s, err
}

// RunStats is Run that also returns the run's Stats.
func RunStats(cfg *Config, opts Options) (*schema.Summary, Stats, error) {
	if cfg == nil {
		return nil, Stats{}, errors.New("sim: nil config")
	}
	if err := cfg.Validate(); err != nil {
		return nil, Stats{}, err
	}
	m, err := newModel(cfg)
	if err != nil {
		return nil, Stats{}, fmt.Errorf("sim: %s: %w", cfg.Name, err)
	}
	if err := m.run(opts); err != nil {
		return nil, Stats{}, fmt.Errorf("sim: %s (seed %d): %w", cfg.Name, cfg.Seed, err)
	}
	return m.summarize(), Stats{Events: m.k.Fired(), Simulated: m.simulated, Requests: m.m.total}, nil
}

func (m *model) run(opts Options) error {
	// fault trackers for scheduled faults
	for _, f := range m.cfg.Faults {
		start := int64(f.At)
		end := start + int64(f.Duration)
		switch f.Kind {
		case FaultSpot:
			end = start + int64(m.cfg.Spot.Notice)
		case FaultRedisFailover:
			end = start + int64(m.cfg.Redis.FailoverTime)
		}
		target := f.Target
		switch {
		case target != "":
		case m.cfg.Redis.Mode == RedisCluster && (f.Kind == FaultRedisOutage || f.Kind == FaultRedisFailover):
			target = ShardName(0) // an untargeted Redis fault hits shard 0
		default:
			target = "redis"
		}
		m.m.addFault(f.Kind, target, start, end)
	}
	if m.trace == nil {
		// a trace source replaces the synthetic groups
		for _, g := range m.groups {
			m.startGroup(g)
		}
	}
	if m.trace != nil {
		if err := m.traceNext(); err != nil {
			return err
		}
	}
	step := max(m.end/100, 1)
	for until := step; ; until += step {
		if until > m.end {
			until = m.end
		}
		m.k.Run(until, m.handle)
		if m.err != nil {
			return m.err
		}
		if opts.Progress != nil {
			opts.Progress(float64(until) / float64(m.end))
		}
		if until >= m.end {
			break
		}
	}
	return nil
}

func (m *model) handle(ev kernel.Event) {
	switch ev.Kind {
	case evArrival:
		m.onArrival(ev)
	case evRetry:
		m.request(ev.At, ev.Obj, int(ev.Arg&0xffffffff), int(ev.Arg>>32))
	case evSwitch:
		m.onSwitch(ev)
	case evConstant:
		m.onConstant(ev)
	case evHealth:
		m.onHealth(ev)
	case evHealthDone:
		m.healthResult(ev.Obj, ev.At, ev.Arg == 1)
	case evZoneHealth:
		m.onZoneHealth(ev)
	case evZoneHealthDone:
		m.zoneHealthResult(ev.Obj, ev.At, ev.Arg == 1)
	case evNotice:
		m.onNotice(ev)
	case evLaunch:
		m.onLaunch(ev)
	case evClock:
		f := m.cfg.Faults[ev.Arg]
		n := m.nodes[ev.Obj]
		n.offset, n.drift, n.clockAt = int64(f.ClockOffset), f.DriftPPM*1e-6, ev.At
	case evRelease:
		m.release(ev.Obj, ev.Arg)
	case evTrace:
		m.onTrace(ev)
	}
}

// startGroup sets a group's initial state and schedules its first arrival.
func (m *model) startGroup(g *group) {
	if g.cfg.Rate <= 0 {
		return
	}
	switch g.cfg.Arrival {
	case ArrivalConstant:
		m.startConstant(g)
		return
	case ArrivalPoisson:
		g.rate = g.cfg.Rate / 1e9
	case ArrivalMMPP:
		ph := float64(g.cfg.HighTime) / float64(g.cfg.HighTime+g.cfg.LowTime)
		g.high = g.rng.Float64() < ph
		m.enterState(g, 0)
	case ArrivalParetoOnOff:
		g.on = true
		m.enterState(g, 0)
	}
	m.nextArrival(g, 0)
}

// enterState sets the rate for the group's current state and schedules the
// state's end.
func (m *model) enterState(g *group, t int64) {
	var d float64
	switch g.cfg.Arrival {
	case ArrivalMMPP:
		if g.high {
			g.rate = g.highRate
			d = g.rng.ExpFloat64() * float64(g.cfg.HighTime)
		} else {
			g.rate = g.lowRate
			d = g.rng.ExpFloat64() * float64(g.cfg.LowTime)
		}
	case ArrivalParetoOnOff:
		mean := float64(g.cfg.OffTime)
		g.rate = 0
		if g.on {
			mean = float64(g.cfg.OnTime)
			g.rate = g.onRate
		}
		a := g.cfg.Alpha
		xm := mean * (a - 1) / a
		d = xm / math.Pow(1-g.rng.Float64(), 1/a)
	}
	at := t + int64(d) + 1
	if at < m.end {
		m.k.Schedule(at, evSwitch, int32(g.idx), 0)
	}
}

func (m *model) onSwitch(ev kernel.Event) {
	g := m.groups[ev.Obj]
	g.high = !g.high
	g.on = !g.on
	g.epoch++
	m.enterState(g, ev.At)
	m.nextArrival(g, ev.At)
}

func (m *model) nextArrival(g *group, t int64) {
	if g.rate <= 0 {
		return
	}
	a := m.cfg.Traffic.Diurnal.Amplitude
	lmax := g.rate * (1 + a)
	at := t
	for {
		at += int64(g.rng.ExpFloat64()/lmax) + 1
		if at >= m.end {
			return
		}
		if a == 0 {
			break
		}
		// thinning (Lewis and Shedler): accept a candidate of the process at
		// the peak rate with probability rate(at)/peak
		p := m.cfg.Traffic.Diurnal
		x := 1 + a*math.Sin(2*math.Pi*float64(at+int64(p.Phase))/float64(p.Period))
		if g.rng.Float64()*(1+a) <= x {
			break
		}
	}
	m.k.Schedule(at, evArrival, int32(g.idx), g.epoch)
}

func (m *model) onArrival(ev kernel.Event) {
	g := m.groups[ev.Obj]
	if ev.Arg != g.epoch {
		return // scheduled under a state that has ended
	}
	t := ev.At
	m.nextArrival(g, t)
	key := g.keyBase + int32(g.keys.Sample(g.rng))
	ri := g.routeIDs[0]
	if len(g.routeIDs) > 1 {
		ri = g.routeIDs[g.routes.Sample(g.rng)]
	}
	m.request(t, key, ri, 0)
}

// constantNum is the numerator of a constant inter-arrival: 1e9 ns per
// second times the 1e9 of a rate in requests per 1e9 seconds.
const constantNum = int64(1e18)

// startConstant schedules the first arrival of every key of a constant
// group: at 0, or at a phase in [0, 1/rate) drawn from the group's own
// "phase/<group>" stream when the group staggers.
func (m *model) startConstant(g *group) {
	var ph *rand.Rand
	if g.cfg.Stagger {
		ph = kernel.Stream(m.cfg.Seed, "phase/"+g.cfg.Name)
	}
	for i, r := range g.nanoRate {
		if r <= 0 {
			continue
		}
		var at int64
		if ph != nil {
			at = ph.Int64N(max(constantNum/r, 1))
		}
		if at < m.end {
			m.k.Schedule(at, evConstant, g.keyBase+int32(i), 0)
		}
	}
}

// onConstant sends one request of a constant-rate key and schedules its
// next: the inter-arrival is constantNum/r ns, and the remainder, carried
// in the event's Arg (0 <= Arg < r), adds a nanosecond whenever it reaches
// r, so the k-th arrival after the first is exactly floor(k*1e18/r) ns
// later (Bresenham).
func (m *model) onConstant(ev kernel.Event) {
	key := ev.Obj
	g := m.groups[m.keyGroup[key]]
	r := g.nanoRate[key-g.keyBase]
	step, acc := constantNum/r, ev.Arg+constantNum%r
	if acc >= r {
		step, acc = step+1, acc-r
	}
	if next := ev.At + step; next < m.end {
		m.k.Schedule(next, evConstant, key, acc)
	}
	ri := g.routeIDs[0]
	if len(g.routeIDs) > 1 {
		ri = g.routeIDs[g.routes.Sample(g.rng)]
	}
	m.request(ev.At, key, ri, 0)
}

// onHealth starts a health check of a node. Without a timeout the check
// concludes at once; with one it concludes when the answer arrives or the
// timeout expires, whichever is first.
func (m *model) onHealth(ev kernel.Event) {
	n := m.nodes[ev.Obj]
	if n.retired {
		return
	}
	t := ev.At
	to := int64(m.cfg.LB.HealthTimeout)
	if to == 0 {
		m.healthResult(ev.Obj, t, !n.down.contains(t) && !n.draining)
		return
	}
	at, pass := m.checkNode(n, t, to)
	m.k.Schedule(at, evHealthDone, ev.Obj, boolBit(pass))
}

// checkNode returns when a check started at t with timeout to concludes and
// whether it passes. The check travels network.intra_zone each way without
// jitter (it draws nothing, so it shifts no stream); at the node it waits
// for the first free worker like a request, but takes no service time. An
// unreachable node never answers; a draining one, or one whose queue is
// full, answers 503 at once.
func (m *model) checkNode(n *node, t, to int64) (int64, bool) {
	hop := int64(m.cfg.Network.IntraZone)
	tN := t + hop
	if n.down.contains(tN) {
		return t + to, false
	}
	if n.draining {
		return min(t+2*hop, t+to), false
	}
	first := n.free[0]
	for _, f := range n.free[1:] {
		first = min(first, f)
	}
	wait := max(first-tN, 0)
	if wait > 0 {
		queued := 0
		for i := 0; i < n.wLen; i++ {
			j := n.wHead + i
			if j >= len(n.waiting) {
				j -= len(n.waiting)
			}
			if n.waiting[j] > tN {
				queued++
			}
		}
		if queued >= m.cfg.Topology.QueueLimit {
			return min(t+2*hop, t+to), false
		}
	}
	if d := 2*hop + wait; d <= to {
		return t + d, true
	}
	return t + to, false
}

// healthResult applies a check of node obj that concluded at t, and starts
// the next one HealthInterval later.
func (m *model) healthResult(obj int32, t int64, pass bool) {
	n := m.nodes[obj]
	changed := false
	if pass {
		n.okRun++
		n.failRun = 0
		if !n.lbHealthy && n.okRun >= m.cfg.LB.HealthyThreshold {
			n.lbHealthy, changed = true, true
		}
	} else {
		n.failRun++
		n.okRun = 0
		if n.lbHealthy && n.failRun >= m.cfg.LB.UnhealthyThreshold {
			n.lbHealthy, changed = false, true
		}
	}
	if !n.lbHealthy && t >= n.stopped {
		n.retired, changed = true, true
	}
	if changed {
		m.rebuildLB()
	}
	if !n.retired {
		m.k.Schedule(t+int64(m.cfg.LB.HealthInterval), evHealth, obj, 0)
	}
}

// onZoneHealth starts a check of a zone's load-balancer endpoint (the DNS
// view). With a timeout, a zone that is down fails when the timeout
// expires and one that is up passes after the intra-zone round trip.
func (m *model) onZoneHealth(ev kernel.Event) {
	t := ev.At
	up := !m.zoneDn[ev.Obj].contains(t)
	to := int64(m.cfg.LB.HealthTimeout)
	if to == 0 {
		m.zoneHealthResult(ev.Obj, t, up)
		return
	}
	at := t + to
	if rtt := 2 * int64(m.cfg.Network.IntraZone); up && rtt <= to {
		at = t + rtt
	} else {
		up = false
	}
	m.k.Schedule(at, evZoneHealthDone, ev.Obj, boolBit(up))
}

// zoneHealthResult applies a zone check that concluded at t and starts the
// next one HealthInterval later.
func (m *model) zoneHealthResult(obj int32, t int64, up bool) {
	z := int(obj)
	changed := false
	if up {
		m.zoneOK[z]++
		m.zoneBad[z] = 0
		if !m.zoneLB[z] && m.zoneOK[z] >= m.cfg.LB.HealthyThreshold {
			m.zoneLB[z], changed = true, true
		}
	} else {
		m.zoneBad[z]++
		m.zoneOK[z] = 0
		if m.zoneLB[z] && m.zoneBad[z] >= m.cfg.LB.UnhealthyThreshold {
			m.zoneLB[z], changed = false, true
		}
	}
	if changed {
		m.rebuildLB()
	}
	m.k.Schedule(t+int64(m.cfg.LB.HealthInterval), evZoneHealth, obj, 0)
}

// onNotice handles a spot interruption notice: the node drains (if it acts
// on notices) and terminates Notice later; a replacement launches after.
func (m *model) onNotice(ev kernel.Event) {
	n := m.nodes[ev.Obj]
	t := ev.At
	if n.retired || n.stopped != never {
		return
	}
	term := t + int64(m.cfg.Spot.Notice)
	if m.cfg.Spot.Drain {
		n.draining = true
	}
	n.down.add(term, never)
	n.down.normalize()
	n.stopped = term
	if t >= m.warm && t < m.end {
		m.m.interruptions++
	}
	m.k.Schedule(term+int64(m.cfg.Spot.LaunchDelay), evLaunch, ev.Obj, 0)
}

func (m *model) onLaunch(ev kernel.Event) {
	old := m.nodes[ev.Obj]
	m.spotN++
	name := fmt.Sprintf("%s-r%d", old.name, m.spotN)
	n := m.addNode(name, old.zone, ev.At, len(m.keyTier))
	n.itype, n.market = old.itype, old.market
	n.down.normalize()
	m.scheduleRandomSpot(n)
}
