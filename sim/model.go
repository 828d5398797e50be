package sim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"time"

	"tollgate/engine"
	"tollgate/engine/lease"
	"tollgate/engine/limiter"
	"tollgate/engine/pricing"
	"tollgate/engine/redisstore"
	"tollgate/engine/tier"
	"tollgate/sim/dist"
	"tollgate/sim/kernel"
	"tollgate/sim/oracle"
)

// Event kinds.
const (
	evArrival uint16 = iota + 1
	evRetry
	evSwitch
	evHealth
	evZoneHealth
	evNotice
	evTerminate
	evLaunch
	evClock
	evRelease
	evTrace
	evTick
	evConstant
	evHealthDone
	evZoneHealthDone
)

const never = math.MaxInt64

// node is one gateway instance.
type node struct {
	name   string
	zone   int
	itype  string
	market string
	// clock: local(t) = t + offset + drift*(t - clockAt)
	offset  int64
	drift   float64
	clockAt int64
	// lifecycle (virtual ns)
	launched int64
	stopped  int64
	// down is when the node is unreachable (crash, termination, zone outage).
	down spans
	// draining: readiness fails (after a spot notice with drain).
	draining bool
	// LB view
	lbHealthy  bool
	okRun      int
	failRun    int
	checkPhase int64
	// workers' free times and the start times of waiting requests
	free    []int64
	waiting []int64 // ring buffer
	wHead   int
	wLen    int
	rng     *rand.Rand
	svc     dist.Dist
	breaker *limiter.Breaker
	// brkClean: the breaker is closed with no failures counted, so Allow is
	// true and Success changes nothing; the calls are skipped.
	brkClean   bool
	local      *table // embedded mode
	leaser     *lease.Leaser
	leaseStore *leaseStore
	// lastDecision is the time of the node's last local decision.
	lastDecision int64
	retired      bool
}

func (n *node) clock(t int64) int64 {
	if n.drift == 0 {
		return t + n.offset
	}
	return t + n.offset + int64(n.drift*float64(t-n.clockAt))
}

// group is a client population: one open-loop source.
type group struct {
	cfg      Group
	idx      int
	tier     int
	keyBase  int32
	keys     *dist.Alias
	routes   *dist.Alias
	routeIDs []int
	rng      *rand.Rand // arrivals
	crng     *rand.Rand // client behaviour (jitter)
	// rate in the current state, per ns
	rate  float64
	high  bool
	on    bool
	epoch int64
	// MMPP state rates per ns
	lowRate, highRate, onRate float64
	// constant arrivals: each key's rate in requests per 1e9 s (0: the key
	// never sends), indexed by key - keyBase
	nanoRate []int64
}

// routeRT is a route at run time.
type routeRT struct {
	cfg      Route
	cost     int64
	dist     dist.Dist
	rng      *rand.Rand
	capacity float64 // per second
	sec      int64   // current second index
	count    int64   // admitted this second
	factor   float64 // latency factor from last second's load
	respB    int64
	// total and rejected count the measured requests on this entry.
	total, rejected int64
}

// tierRT is a compiled tier.
type tierRT struct {
	idx  int
	name string
	comp *tier.Compiled
	main planRef
	ops  planRef
	// contract is the tier's contract (burst and rate) as an independent
	// reference on true time: a client within it is compliant.
	contract *oracle.Keys
	failOpen bool
	total    int64
	rejected int64
}

type model struct {
	cfg   *Config
	k     kernel.Kernel
	start int64 // engine microseconds of virtual 0
	end   int64 // virtual ns
	warm  int64

	zones   []string
	nodes   []*node
	healthy []int32   // LB view: healthy node indexes
	byZone  [][]int32 // LB view per zone
	rr      uint64
	zoneLB  []bool // LB zone endpoint healthy in DNS view
	zoneOK  []int
	zoneBad []int
	zoneDn  []spans
	lbZones []int32
	netRng  *rand.Rand

	// Redis: mode redis or cluster (a shared store)
	redisMode bool
	// shards are the store's servers: one in mode redis, redis.shards in
	// mode cluster.
	shards   []*redisShard
	redisSvc dist.Dist
	// keyShard caches each key's shard + 1 in mode cluster (0: not yet
	// computed).
	keyShard []uint8
	store    *table
	opsCount int64

	managed    bool
	mtable     *table
	mthrottle  planRef
	mthrottleT *table

	tiers    []*tierRT
	routes   []*routeRT
	groups   []*group
	keyTier  []int16
	keyGroup []int16
	perKey   int

	clientMode   bool
	opsBucket    bool
	costWeighted bool
	pricer       *pricing.Pricer
	retryMax     []int

	trace    *traceSource
	err      error
	keyNames []string
	// simulated counts every request, warm-up included
	simulated int64
	m         *metrics
	spotN     int
}

const redisOpBytes = 300

// redisShard is one Redis server of the store (the primary of its shard, the
// replica after a failover): when it is down, which zone serves it over time,
// and its FIFO queue.
type redisShard struct {
	primary, replica int // zone indexes; replica -1 without one
	down             spans
	zoneAt           []span // from: switch time, to: zone index
	last             int64  // virtual ns of the latest call taken
	work             int64  // unfinished work at last, ns
	start            int64  // start of the latest call, virtual ns
	rng              *rand.Rand
}

func (m *model) wall(t int64) time.Time {
	return time.UnixMicro(m.start).Add(time.Duration(t))
}

func newModel(cfg *Config) (*model, error) {
	st, err := time.Parse(time.RFC3339, cfg.Start)
	if err != nil {
		return nil, fmt.Errorf("start: %w", err)
	}
	m := &model{cfg: cfg, start: st.UnixMicro(), warm: int64(cfg.Warmup), zones: cfg.Topology.Zones}
	m.end = m.warm + int64(cfg.Duration)
	m.redisMode = cfg.Redis.Mode == RedisSingle || cfg.Redis.Mode == RedisCluster
	m.managed = cfg.Deployment == "managed"
	m.clientMode = cfg.Engine.Clock == "client"
	m.opsBucket = *cfg.Engine.OperationalBucket
	m.costWeighted = *cfg.Engine.CostWeighted
	m.netRng = kernel.Stream(cfg.Seed, "network")
	m.redisSvc, _ = dist.New(dist.Exponential, float64(cfg.Redis.OpTime), 0)

	// tiers: slot layout per key: main plan's policies, then ops.
	maxSlots := 0
	for i := range cfg.Tiers {
		tt := cfg.tierOf(i)
		comp, err := tier.Compile(tt)
		if err != nil {
			return nil, fmt.Errorf("tiers[%d]: %w", i, err)
		}
		rt := &tierRT{idx: i, name: tt.Name, comp: comp, failOpen: tt.FailOpen}
		mainPlan := comp.Plan("")
		if len(mainPlan.Policies) > maxPlan-1 {
			return nil, fmt.Errorf("tiers[%d]: plan has %d policies, the simulator supports %d", i, len(mainPlan.Policies), maxPlan-1)
		}
		rt.main = planRef{plan: mainPlan, concurrency: -1}
		for j, p := range mainPlan.Policies {
			rt.main.slots = append(rt.main.slots, j)
			if p.Algorithm == engine.Concurrency {
				rt.main.concurrency = j
			}
		}
		next := len(mainPlan.Policies)
		rt.ops = planRef{plan: comp.OperationalPlan(), slots: []int{next}, concurrency: -1}
		period := cfg.Tiers[i].Period.D()
		cplan, err := oracle.NewPlan(engine.Limit{Name: tt.Name + "-contract", Algorithm: engine.TokenBucket,
			Capacity: tt.Burst, Rate: tt.Rate, Period: period})
		if err != nil {
			return nil, fmt.Errorf("tiers[%d]: contract: %w", i, err)
		}
		rt.contract = oracle.NewKeys(cplan, 0)
		if err := rt.main.withReference(); err != nil {
			return nil, fmt.Errorf("tiers[%d]: reference: %w", i, err)
		}
		if m.opsBucket {
			if err := rt.ops.withReference(); err != nil {
				return nil, fmt.Errorf("tiers[%d]: operational reference: %w", i, err)
			}
		} else {
			rt.ops = rt.main
		}
		maxSlots = max(maxSlots, next+1)
		m.tiers = append(m.tiers, rt)
	}
	m.perKey = maxSlots

	for i, r := range cfg.Routes {
		d, err := dist.New(dist.Kind(r.Dist), float64(r.Latency), r.Shape)
		if err != nil {
			return nil, fmt.Errorf("routes[%d].dist: %w", i, err)
		}
		cost := engine.Tokens(r.Cost)
		if !m.costWeighted {
			cost = engine.MilliPerToken
		}
		rb := int64(r.ResponseBytes)
		if rb == 0 {
			rb = int64(cfg.Network.ResponseBytes)
		}
		m.routes = append(m.routes, &routeRT{cfg: r, cost: cost, dist: d, capacity: r.Capacity, factor: 1,
			rng: kernel.Stream(cfg.Seed, "backend/"+r.Method+" "+r.Path), respB: rb})
	}
	if cfg.Pricing.Dynamic {
		pc := cfg.Pricing
		pc.Costs = nil
		seen := map[string]bool{}
		for _, r := range cfg.Routes {
			if seen[r.Method+" "+r.Name] {
				continue // several entries on one route and method share its price
			}
			seen[r.Method+" "+r.Name] = true
			pc.Costs = append(pc.Costs, pricing.RouteCost{Route: r.Name, Method: r.Method, Cost: r.Cost, Reference: r.Reference.D()})
		}
		p, err := pricing.New(pc)
		if err != nil {
			return nil, fmt.Errorf("engine.pricing: %w", err)
		}
		m.pricer = p
	}

	// groups and keys
	nkeys := 0
	for gi, g := range cfg.Traffic.Groups {
		ti := -1
		for i, t := range cfg.Tiers {
			if t.Name == g.Tier {
				ti = i
			}
		}
		w, err := dist.ZipfWeights(g.Keys, g.Zipf)
		if err != nil {
			return nil, fmt.Errorf("traffic.groups[%d]: %w", gi, err)
		}
		ka, err := dist.NewAlias(w)
		if err != nil {
			return nil, fmt.Errorf("traffic.groups[%d]: %w", gi, err)
		}
		gr := &group{cfg: g, idx: gi, tier: ti, keyBase: int32(nkeys), keys: ka,
			rng:  kernel.Stream(cfg.Seed, "source/"+g.Name),
			crng: kernel.Stream(cfg.Seed, "clients/"+g.Name)}
		var rw []float64
		for ri, r := range cfg.Routes {
			if len(g.Routes) == 0 || contains(g.Routes, r.Path) {
				gr.routeIDs = append(gr.routeIDs, ri)
				rw = append(rw, r.Weight)
			}
		}
		ra, err := dist.NewAlias(rw)
		if err != nil {
			return nil, fmt.Errorf("traffic.groups[%d].routes: %w", gi, err)
		}
		gr.routes = ra
		perNS := g.Rate / 1e9
		switch g.Arrival {
		case ArrivalMMPP:
			ph := float64(g.HighTime) / float64(g.HighTime+g.LowTime)
			gr.lowRate = perNS / ((1 - ph) + g.BurstFactor*ph)
			gr.highRate = gr.lowRate * g.BurstFactor
		case ArrivalParetoOnOff:
			gr.onRate = perNS * float64(g.OnTime+g.OffTime) / float64(g.OnTime)
		case ArrivalConstant:
			gr.nanoRate = constantRates(g.Rate, w)
		}
		for k := 0; k < g.Keys; k++ {
			m.keyTier = append(m.keyTier, int16(ti))
			m.keyGroup = append(m.keyGroup, int16(gi))
		}
		nkeys += g.Keys
		m.groups = append(m.groups, gr)
	}
	if cfg.Traffic.Source == "trace" {
		ts, err := openTrace(cfg.Traffic.Trace)

		if err != nil {
			return nil, err
		}
		m.trace = ts
	}
	if m.managed {
		m.mtable = newTable(nkeys, m.perKey)
		pol, err := engine.Compile(engine.Limit{Name: "account", Algorithm: engine.TokenBucket,
			Capacity: cfg.Managed.Burst, Rate: cfg.Managed.SteadyRPS, Period: time.Second})
		if err != nil {
			return nil, fmt.Errorf("managed: %w", err)
		}
		m.mthrottle = planRef{plan: engine.NewPlan(pol), slots: []int{0}, concurrency: -1}
	} else if m.redisMode {
		m.store = newTable(nkeys, m.perKey)
		if cfg.Redis.Mode == RedisCluster {
			m.keyShard = make([]uint8, nkeys)
		}
	}
	m.m = newMetrics(m)
	if !m.managed {
		m.setupTopology(nkeys)
	}
	return m, nil
}

// constantRates splits a group's rate (per second) over its keys by their
// Zipf weights w, each in requests per 1e9 seconds, rounded.
func constantRates(rate float64, w []float64) []int64 {
	var sum float64
	for _, x := range w {
		sum += x
	}
	out := make([]int64, len(w))
	for i, x := range w {
		out[i] = int64(math.Round(rate * x / sum * 1e9))
	}
	return out
}

// withReference gives the plan its independent per-key reference.
func (pr *planRef) withReference() error {
	op, err := oracle.PlanOf(pr.plan)
	if err != nil {
		return err
	}
	pr.ref = oracle.NewKeys(op, 0)
	return nil
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

func (m *model) zoneIndex(z string) int {
	for i, zz := range m.zones {
		if zz == z {
			return i
		}
	}
	return -1
}

// addNode creates a node launched at t (ready to serve; the LB must still
// see it healthy).
func (m *model) addNode(name string, zone int, t int64, nkeys int) *node {
	cfg := m.cfg
	n := &node{name: name, zone: zone, itype: cfg.Topology.InstanceType, market: cfg.Topology.Market,
		launched: t, stopped: never, clockAt: t,
		free:     make([]int64, cfg.Topology.Concurrency),
		waiting:  make([]int64, max(cfg.Topology.QueueLimit, 1)),
		rng:      kernel.Stream(cfg.Seed, "node/"+name),
		breaker:  limiter.NewBreaker(cfg.Engine.Breaker),
		brkClean: true}
	n.svc, _ = dist.New(dist.Kind(cfg.Topology.ServiceDist), float64(cfg.Topology.ServiceTime), 0)
	for i := range n.free {
		n.free[i] = t
	}
	if !m.redisMode {
		n.local = newTable(nkeys, m.perKey)
	}
	newLeaser(m, n)
	for _, sp := range m.zoneDn[zone].s {
		n.down.add(sp.from, sp.to)
	}
	idx := int32(len(m.nodes))
	m.nodes = append(m.nodes, n)
	// health checks: phase spread so nodes are not checked in lockstep
	iv := int64(m.cfg.LB.HealthInterval)
	n.checkPhase = (int64(idx) * 7919 * int64(time.Millisecond)) % iv
	m.k.Schedule(t+n.checkPhase, evHealth, idx, 0)
	return n
}

func (m *model) setupTopology(nkeys int) {
	cfg := m.cfg
	nz := len(m.zones)
	m.zoneDn = make([]spans, nz)
	m.zoneLB = make([]bool, nz)
	m.zoneOK = make([]int, nz)
	m.zoneBad = make([]int, nz)
	m.byZone = make([][]int32, nz)
	for _, f := range cfg.Faults {
		if f.Kind == FaultAZ {
			z := m.zoneIndex(f.Target)
			m.zoneDn[z].add(int64(f.At), int64(f.At+f.Duration))
		}
	}
	for z := range m.zoneDn {
		m.zoneDn[z].normalize()
		m.zoneLB[z] = true
		m.k.Schedule(int64(z)*int64(time.Second)%int64(cfg.LB.HealthInterval), evZoneHealth, int32(z), 0)
	}
	// initial nodes: healthy from the start
	total := nz * cfg.Topology.NodesPerZone
	i := 0
	for zi, z := range m.zones {
		for j := 0; j < cfg.Topology.NodesPerZone; j++ {
			n := m.addNode(fmt.Sprintf("%s-%d", z, j), zi, 0, nkeys)
			n.lbHealthy = true
			n.okRun = cfg.LB.HealthyThreshold
			if total > 1 && cfg.Topology.ClockOffsetSpread > 0 {
				n.offset = int64(-float64(cfg.Topology.ClockOffsetSpread) + 2*float64(cfg.Topology.ClockOffsetSpread)*float64(i)/float64(total-1))
			}
			if total > 1 && cfg.Topology.DriftPPMSpread > 0 {
				n.drift = (-cfg.Topology.DriftPPMSpread + 2*cfg.Topology.DriftPPMSpread*float64(i)/float64(total-1)) * 1e-6
			}
			for _, o := range cfg.Topology.Nodes {
				if o.Name == n.name {
					if o.InstanceType != "" {
						n.itype = o.InstanceType
					}
					if o.Market != "" {
						n.market = o.Market
					}
					n.offset = int64(o.ClockOffset)
					n.drift = o.DriftPPM * 1e-6
				}
			}
			i++
		}
	}
	// scheduled faults on nodes
	for fi, f := range cfg.Faults {
		switch f.Kind {
		case FaultSpot:
			m.k.Schedule(int64(f.At), evNotice, int32(m.nodeByName(f.Target)), int64(fi))
		case FaultNodeCrash:
			n := m.nodes[m.nodeByName(f.Target)]
			to := int64(never)
			if f.Duration > 0 {
				to = int64(f.At + f.Duration)
			}
			n.down.add(int64(f.At), to)
		case FaultClock:
			m.k.Schedule(int64(f.At), evClock, int32(m.nodeByName(f.Target)), int64(fi))
		}
	}
	for _, n := range m.nodes {
		n.down.normalize()
		m.scheduleRandomSpot(n)
	}
	m.rebuildLB()
	if m.redisMode {
		m.setupRedis()
	}
}

// setupRedis places the store's servers and lays out each one's availability
// and serving zone from the fault timeline: outages, failovers, and zone
// outages of the zone serving it. Mode redis's one server and cluster shard
// 0 draw their service times from stream "redis", cluster shard i > 0 from
// "redis/shard-<i>": no existing stream moves, and a one-shard cluster runs
// exactly as mode redis with its replica in the second zone.
func (m *model) setupRedis() {
	cfg := m.cfg
	if cfg.Redis.Mode == RedisCluster {
		for i := 0; i < cfg.Redis.Shards; i++ {
			p, r := ClusterZones(i, len(m.zones))
			name := "redis"
			if i > 0 {
				name += "/" + ShardName(i)
			}
			m.shards = append(m.shards, &redisShard{primary: p, replica: r, rng: kernel.Stream(cfg.Seed, name)})
		}
	} else {
		m.shards = []*redisShard{{primary: m.zoneIndex(cfg.Redis.Zone), replica: m.zoneIndex(cfg.Redis.ReplicaZone),
			rng: kernel.Stream(cfg.Seed, "redis")}}
	}
	type ev struct {
		at, dur int64
		kind    string
		zone    int // az-outage: the zone
		shard   int // Redis faults: the shard
	}
	var evs []ev
	for _, f := range cfg.Faults {
		switch f.Kind {
		case FaultRedisOutage, FaultRedisFailover:
			sh, _ := ParseShard(f.Target) // "" (and mode redis): shard 0
			evs = append(evs, ev{int64(f.At), int64(f.Duration), f.Kind, -1, sh})
		case FaultAZ:
			evs = append(evs, ev{int64(f.At), int64(f.Duration), f.Kind, m.zoneIndex(f.Target), -1})
		}
	}
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].at < evs[j].at })
	ft := int64(cfg.Redis.FailoverTime)
	for si, sh := range m.shards {
		primary, replica := sh.primary, sh.replica
		sh.zoneAt = []span{{0, int64(primary)}}
		// walk the faults in time order, tracking which zone serves
		cur := primary
		for _, e := range evs {
			switch {
			case e.kind == FaultAZ && e.zone != cur:
				continue // the serving node is elsewhere
			case e.kind != FaultAZ && e.shard != si:
				continue // a fault of another shard
			case e.kind == FaultRedisOutage:
				sh.down.add(e.at, e.at+e.dur)
				continue
			}
			// the serving node is lost: promote the other node if there is
			// one in another zone that is up
			other := replica
			if cur == replica {
				other = primary
			}
			if other < 0 || other == cur || m.zoneDn[other].contains(e.at) {
				// no replica to promote: the node comes back after the
				// zone outage, or after a restart that takes the failover
				// time
				to := e.at + ft
				if e.kind == FaultAZ {
					to = e.at + e.dur
				}
				sh.down.add(e.at, to)
				continue
			}
			sh.down.add(e.at, e.at+ft)
			cur = other
			sh.zoneAt = append(sh.zoneAt, span{e.at + ft, int64(cur)})
		}
		sh.down.normalize()
	}
}

func (m *model) nodeByName(name string) int {
	for i, n := range m.nodes {
		if n.name == name {
			return i
		}
	}
	return -1
}

// scheduleRandomSpot draws the node's random interruption (if any) from its
// own stream.
func (m *model) scheduleRandomSpot(n *node) {
	rate := m.cfg.Spot.InterruptionsPerNodeHour
	if n.market != "spot" || rate <= 0 {
		return
	}
	r := kernel.Stream(m.cfg.Seed, "spot/"+n.name)
	at := n.launched + int64(r.ExpFloat64()/rate*float64(time.Hour))
	if at < m.end {
		m.k.Schedule(at, evNotice, int32(m.nodeByName(n.name)), -1)
		m.m.addFault(FaultSpot, n.name, at, at+int64(m.cfg.Spot.Notice))
	}
}

// rebuildLB recomputes the LB's healthy target lists.
func (m *model) rebuildLB() {
	m.healthy = m.healthy[:0]
	for z := range m.byZone {
		m.byZone[z] = m.byZone[z][:0]
	}
	for i, n := range m.nodes {
		if n.lbHealthy && !n.retired {
			m.healthy = append(m.healthy, int32(i))
			m.byZone[n.zone] = append(m.byZone[n.zone], int32(i))
		}
	}
	m.lbZones = m.lbZones[:0]
	for z, ok := range m.zoneLB {
		if ok && (m.cfg.LB.CrossZone || len(m.byZone[z]) > 0) {
			m.lbZones = append(m.lbZones, int32(z))
		}
	}
}

// zone returns the zone serving the shard at t.
func (sh *redisShard) zone(t int64) int {
	z := sh.zoneAt[0].to
	for _, s := range sh.zoneAt[1:] {
		if s.from <= t {
			z = s.to
		}
	}
	return int(z)
}

// shardOf returns the shard holding key: the one owning the key's Redis
// Cluster hash slot (cached per key).
func (m *model) shardOf(key int32) *redisShard {
	if len(m.shards) == 1 {
		return m.shards[0]
	}
	c := m.keyShard[key]
	if c == 0 {
		c = uint8(m.shardOfName(m.keyName(key))) + 1
		m.keyShard[key] = c
	}
	return m.shards[c-1]
}

// shardOfName is the index of the shard holding the engine key name.
func (m *model) shardOfName(name string) int {
	return ShardOfSlot(redisstore.KeySlot(name), redisstore.Slots, len(m.shards))
}

// hop is one-way latency between zones.
func (m *model) hop(a, b int) int64 {
	d := int64(m.cfg.Network.IntraZone)
	if a != b {
		d = int64(m.cfg.Network.CrossZone)
	}
	return m.jitter(d)
}

func (m *model) jitter(d int64) int64 {
	if j := m.cfg.Network.Jitter; j > 0 {
		return int64(float64(d) * (1 + j*(2*m.netRng.Float64()-1)))
	}
	return d
}
