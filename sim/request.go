package sim

import (
	"math"
	"time"

	"tollgate/engine"
	"tollgate/engine/limiter"
)

// outcome kinds
const (
	okAdmitted = iota
	okRejected
	okError
)

type outcome struct {
	kind       int
	end        int64 // virtual ns the client has the answer
	gw         int64 // gateway-added latency, ns
	retryAfter int64 // ns
	permanent  bool
	unmetered  bool
	// undecided: the request failed before the gateway's limiter decided it
	// (no healthy target, node or zone down, shed, store down and
	// fail-closed)
	undecided bool
	cost      int64
	ops       int64 // store operations
}

func (m *model) trueUS(t int64) int64 { return m.start + t/1000 }

// request runs one request (an arrival or a retry) sent at t by key on route.
func (m *model) request(t int64, key int32, ri int, attempt int) {
	m.simulated++
	rt := m.routes[ri]
	tr := m.tiers[m.keyTier[key]]
	cost := rt.cost
	if m.pricer != nil && m.costWeighted {
		cost = engine.Tokens(m.pricer.Price(rt.cfg.Name, rt.cfg.Method))
	}
	pr := &tr.main
	metered := !rt.cfg.Operational
	if !metered {
		pr = &tr.ops
	}
	var o outcome
	if m.managed {
		o = m.serveManaged(t, key, rt, pr, cost)
	} else {
		o = m.serveFleet(t, key, rt, tr, pr, cost)
	}
	// The contract is charged, at the send time, for the requests the
	// gateway decided (admitted, refused, or admitted and then failed
	// upstream). An attempt that failed before any decision is not a use of
	// the contract: the client got nothing and no store was charged.
	// Charging it would leave the contract of a key held at its limit out of
	// phase with the gateway's for good (both then refill at the same rate),
	// and call every later refusal of that key a false 429: a 15-second
	// Redis failover turned 0.005% into 0.56% of a month's requests so.
	compliant := false
	if metered && !o.undecided {
		compliant = tr.contract.Acquire(key, m.trueUS(t), cost)
	}
	o.cost = cost
	if t >= m.warm && t < m.end {
		m.m.record(t, tr, rt, &o, attempt > 0, compliant && metered)
	}
	// client behaviour after a refusal or an error
	if o.kind == okAdmitted || o.permanent {
		return
	}
	gi := m.keyGroup[key]
	if gi < 0 {
		return
	}
	g := m.groups[gi]
	if attempt >= g.cfg.MaxRetries || g.cfg.Retry == "none" {
		return
	}
	var wait int64
	switch g.cfg.Retry {
	case "honour":
		if o.kind == okRejected {
			wait = o.retryAfter
			if g.cfg.RetryAfterSeconds {
				sec := int64(time.Second)
				wait = max(sec, (wait+sec-1)/sec*sec)
			}
		} else {
			wait = int64(g.cfg.RetryDelay) << min(attempt, 20)
		}
		if g.cfg.Jitter > 0 {
			wait += int64(float64(wait) * g.cfg.Jitter * g.crng.Float64())
		}
	default: // ignore
		wait = int64(g.cfg.RetryDelay)
		if g.cfg.Jitter > 0 {
			wait += int64(float64(wait) * g.cfg.Jitter * g.crng.Float64())
		}
	}
	at := o.end + wait
	if at < m.end {
		m.k.Schedule(at, evRetry, key, int64(ri)|int64(attempt+1)<<32)
	}
}

// decide applies the plan for key in a store at nowUS (engine microseconds),
// then holds the admitted cost against the exact reference on true time.
func (m *model) decide(st *table, key int32, pr *planRef, nowUS, trueUS, cost int64) engine.Decision {
	d := st.apply(key, pr, nowUS, engine.Acquire, cost)
	if d.Allowed {
		m.reference(key, pr, trueUS, cost)
	}
	return d
}

// reference charges an admitted request to the plan's independent reference
// (sim/oracle: the same policies on true time, one state for the whole
// system, no engine code): what it refuses was admitted beyond the policy.
func (m *model) reference(key int32, pr *planRef, trueUS, cost int64) {
	if !pr.ref.Acquire(key, trueUS, cost) {
		m.m.excess(key, cost, trueUS)
	}
}

func (m *model) serveManaged(t int64, key int32, rt *routeRT, pr *planRef, cost int64) outcome {
	cl := m.jitter(int64(m.cfg.Network.Client))
	tGW := t + cl
	added := int64(m.cfg.Managed.AddedLatency)
	now := m.trueUS(tGW)
	o := outcome{gw: added}
	d := m.mthrottleTab().apply(0, &m.mthrottle, now, engine.Acquire, engine.MilliPerToken)
	if d.Allowed {
		d = m.decide(m.mtable, key, pr, now, now, cost)
	}
	if !d.Allowed {
		o.kind = okRejected
		o.retryAfter = d.RetryAfterUS * 1000
		o.permanent = d.Permanent
		o.end = tGW + added + cl
		return o
	}
	bl, ok := m.backend(rt, tGW+added)
	if !ok {
		o.kind = okError
		o.end = tGW + added + int64(m.cfg.Backend.Timeout) + cl
		return o
	}
	o.end = tGW + added + bl + cl
	m.m.egress += rt.respB
	return o
}

func (m *model) mthrottleTab() *table {
	if m.mthrottleT == nil {
		m.mthrottleT = newTable(1, 1)
	}
	return m.mthrottleT
}

// backend returns the backend's latency for a request admitted at t, and
// false if it exceeds the backend timeout.
func (m *model) backend(rt *routeRT, t int64) (int64, bool) {
	sec := t / int64(time.Second)
	if sec != rt.sec {
		rho := 0.0
		if sec == rt.sec+1 && rt.capacity > 0 {
			rho = float64(rt.count) / rt.capacity
		}
		rt.factor = 1 / (1 - math.Min(rho, 0.95))
		if m.pricer != nil {
			m.pricer.SetLoad(rho)
			m.pricer.Tick(m.wall(t))
		}
		rt.sec, rt.count = sec, 0
	}
	rt.count++
	bl := int64(rt.dist.Sample(rt.rng) * rt.factor)
	if m.pricer != nil {
		m.pricer.Observe(rt.cfg.Name, rt.cfg.Method, time.Duration(bl))
	}
	return bl, bl <= int64(m.cfg.Backend.Timeout)
}

func (m *model) serveFleet(t int64, key int32, rt *routeRT, tr *tierRT, pr *planRef, cost int64) outcome {
	cfg := m.cfg
	cl := m.jitter(int64(cfg.Network.Client))
	tLB := t + cl
	connErr := int64(cfg.LB.ConnectErrorLatency)
	var o outcome
	if len(m.lbZones) == 0 {
		o.kind, o.end, o.undecided = okError, tLB+connErr+cl, true
		return o
	}
	z := int(m.lbZones[0])
	if len(m.lbZones) > 1 {
		z = int(m.lbZones[m.netRng.IntN(len(m.lbZones))])
	}
	if m.zoneDn[z].contains(tLB) {
		o.kind, o.end, o.undecided = okError, tLB+connErr+cl, true
		return o
	}
	targets := m.healthy
	if !cfg.LB.CrossZone {
		targets = m.byZone[z]
	}
	if len(targets) == 0 {
		o.kind, o.end, o.undecided = okError, tLB+connErr+cl, true
		return o
	}
	ni := targets[m.rr%uint64(len(targets))]
	m.rr++
	n := m.nodes[ni]
	back := m.hop(n.zone, z)
	tN := tLB + back
	if n.zone != z {
		m.m.cross += int64(cfg.Network.RequestBytes) + rt.respB
	}
	if n.down.contains(tN) {
		o.kind, o.end, o.undecided = okError, tN+connErr+back+cl, true
		return o
	}
	// the node's workers: FCFS over Concurrency servers
	for n.wLen > 0 && n.waiting[n.wHead] <= tN {
		n.wHead++
		if n.wHead == len(n.waiting) {
			n.wHead = 0
		}
		n.wLen--
	}
	w := 0
	for i := 1; i < len(n.free); i++ {
		if n.free[i] < n.free[w] {
			w = i
		}
	}
	start := max(tN, n.free[w])
	if start > tN {
		if n.wLen >= cfg.Topology.QueueLimit {
			o.kind, o.end, o.undecided = okError, tN+back+cl, true // shed: 503
			return o
		}
		i := n.wHead + n.wLen
		if i >= len(n.waiting) {
			i -= len(n.waiting)
		}
		n.waiting[i] = start
		n.wLen++
	}
	done := start + int64(n.svc.Sample(n.rng))
	n.free[w] = done

	decided := done
	var d engine.Decision
	failed := false
	if m.redisMode && n.leaser != nil {
		d, decided, failed, o.ops = m.viaLease(n, key, pr, cost, done)
	} else if m.redisMode {
		if n.brkClean || n.breaker.Allow(m.wall(done)) {
			var trueAt int64
			var applied bool
			d, decided, trueAt, failed, applied = m.redisCall(n, key, pr, engine.Acquire, cost, done)
			if applied {
				o.ops = 1
			}
			if d.Allowed && !failed {
				m.reference(key, pr, m.trueUS(trueAt), cost)
			}
		} else {
			failed = true
		}
	} else {
		// the in-process store serialises decisions under its lock, so they
		// take effect in time order
		at := max(done, n.lastDecision)
		n.lastDecision = at
		d = m.decide(n.local, key, pr, m.start+n.clock(at)/1000, m.trueUS(at), cost)
	}
	o.gw = decided - tN
	if failed {
		// the failure policy is engine/limiter's, as in gatewayd: fail-open
		// admits unmetered, fail-closed refuses with the breaker's
		// remaining cooldown as Retry-After
		fd := limiter.FailureDecision(pr.plan, tr.failOpen, n.breaker.RetryAfter(m.wall(decided)))
		if !fd.Allowed {
			o.kind, o.undecided = okError, true
			o.retryAfter = fd.RetryAfterUS * 1000
			o.end = decided + back + cl
			return o
		}
		o.unmetered = true
		m.reference(key, pr, m.trueUS(done), cost)
	} else if !d.Allowed {
		o.kind = okRejected
		o.retryAfter = d.RetryAfterUS * 1000
		o.permanent = d.Permanent
		o.end = decided + back + cl
		if kill := n.down.firstIn(tN, decided); kill != never {
			o.kind, o.end = okError, kill+back+cl
		}
		return o
	}
	bl, ok := m.backend(rt, decided)
	tResp := decided + 2*m.hop(n.zone, n.zone) + bl
	if !ok {
		o.kind = okError
		o.end = decided + int64(cfg.Backend.Timeout) + back + cl
		return o
	}
	if pr.concurrency >= 0 {
		m.k.Schedule(tResp, evRelease, key, int64(ni)<<32|int64(cost)&0xffffffff|boolBit(pr == &tr.ops)<<62|boolBit(!failed)<<61)
	}
	if kill := n.down.firstIn(tN, tResp); kill != never {
		o.kind, o.end = okError, kill+back+cl
		return o
	}
	o.end = tResp + back + cl
	m.m.egress += rt.respB
	return o
}

func boolBit(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// release returns a concurrency slot when the response has left.
func (m *model) release(key int32, arg int64) {
	ni := int(arg >> 32 & 0x1fffffff)
	cost := arg & 0xffffffff
	tr := m.tiers[m.keyTier[key]]
	pr := &tr.main
	if arg>>62&1 == 1 {
		pr = &tr.ops
	}
	t := m.k.Now()
	pr.ref.Release(key, cost)
	if arg>>61&1 == 0 {
		return // admitted open while the store was down: nothing to return
	}
	if m.redisMode {
		if m.shardOf(key).down.contains(t) {
			return // the lease times out instead
		}
		now := m.start + t/1000
		if m.clientMode {
			now = m.start + m.nodes[ni].clock(t)/1000
		}
		if t >= m.warm {
			m.m.ops++
		}
		m.store.apply(key, pr, now, engine.Release, cost)
		return
	}
	n := m.nodes[ni]
	n.local.apply(key, pr, m.start+n.clock(t)/1000, engine.Release, cost)
}

// redisCall sends one operation from node n at time at to Redis and returns
// the decision, when the node has the answer (or gives up), the true time the
// decision took effect, and whether the call failed (Redis down or slower
// than the timeout; a late call still takes effect in Redis). The call goes
// to the key's shard. It feeds the node's circuit breaker: one per node for
// the whole store, as gatewayd has one breaker per store (its limiter's),
// cluster or not, so failures on one shard open it for every key.
func (m *model) redisCall(n *node, key int32, pr *planRef, kind engine.OpKind, cost, at int64) (d engine.Decision, decided, trueAt int64, failed, applied bool) {
	cfg := m.cfg
	sh := m.shardOf(key)
	rz := sh.zone(at)
	rh := m.hop(n.zone, rz)
	tR := at + rh
	if rz != n.zone {
		m.m.cross += 2 * redisOpBytes
	}
	if sh.down.contains(tR) {
		failed = true
		decided = at + int64(cfg.Redis.Timeout)
	} else {
		// FIFO single server (the key's shard) by its unfinished work W
		// (Lindley): exact for calls taken in arrival order; a call that
		// arrives up to a hop earlier than one already taken sees the work
		// as of that one, and never pushes the server's clock ahead of the
		// others.
		if tR > sh.last {
			sh.work = max(0, sh.work-(tR-sh.last))
			sh.last = tR
		}
		svc := int64(m.redisSvc.Sample(sh.rng))
		// Redis's clock never runs backwards: a call taken out of order
		// starts no earlier than the last one did
		rs := max(tR+sh.work, sh.start)
		sh.start = rs
		sh.work += svc
		end := rs + svc
		nowUS := m.start + (rs+int64(cfg.Redis.ClockOffset))/1000
		trueAt = rs
		if m.clientMode {
			nowUS = m.start + n.clock(at)/1000
			trueAt = at
		}
		d = m.store.apply(key, pr, nowUS, kind, cost)
		applied = true
		decided = end + m.hop(rz, n.zone)
		if decided-at > int64(cfg.Redis.Timeout) {
			failed = true
			decided = at + int64(cfg.Redis.Timeout)
		}
	}
	if failed {
		n.brkClean = false
		n.breaker.Failure(m.wall(decided))
	} else if !n.brkClean {
		n.breaker.Success(m.wall(decided))
		n.brkClean = true
	}
	return d, decided, trueAt, failed, applied
}
