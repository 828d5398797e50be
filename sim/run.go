package sim

import (
	"errors"
	"fmt"
	"math"

	"tollgate/sim/kernel"
	"tollgate/sim/summary"
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
func Run(cfg *Config, opts Options) (*summary.Summary, error) {
	s, _, err := RunStats(cfg, opts)
	return s, err
}

// RunStats is Run that also returns the run's Stats.
func RunStats(cfg *Config, opts Options) (*summary.Summary, Stats, error) {
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
		if target == "" {
			target = "redis"
		}
		m.m.addFault(f.Kind, target, start, end)
	}
	for _, g := range m.groups {
		m.startGroup(g)
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
	case evHealth:
		m.onHealth(ev)
	case evZoneHealth:
		m.onZoneHealth(ev)
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
	case "poisson":
		g.rate = g.cfg.Rate / 1e9
	case "mmpp":
		ph := float64(g.cfg.HighTime) / float64(g.cfg.HighTime+g.cfg.LowTime)
		g.high = g.rng.Float64() < ph
		m.enterState(g, 0)
	case "pareto-onoff":
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
	case "mmpp":
		if g.high {
			g.rate = g.highRate
			d = g.rng.ExpFloat64() * float64(g.cfg.HighTime)
		} else {
			g.rate = g.lowRate
			d = g.rng.ExpFloat64() * float64(g.cfg.LowTime)
		}
	case "pareto-onoff":
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

func (m *model) onHealth(ev kernel.Event) {
	n := m.nodes[ev.Obj]
	if n.retired {
		return
	}
	t := ev.At
	pass := !n.down.contains(t) && !n.draining
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
		m.k.Schedule(t+int64(m.cfg.LB.HealthInterval), evHealth, ev.Obj, 0)
	}
}

func (m *model) onZoneHealth(ev kernel.Event) {
	z := int(ev.Obj)
	t := ev.At
	changed := false
	if !m.zoneDn[z].contains(t) {
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
	m.k.Schedule(t+int64(m.cfg.LB.HealthInterval), evZoneHealth, ev.Obj, 0)
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
