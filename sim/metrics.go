package sim

import (
	"math"
	"sort"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"tollgate/schema"
)

// faultTrack counts requests and errors per second around one fault.
type faultTrack struct {
	f          schema.Fault
	start, end int64 // virtual ns
	from, to   int64 // tracked range
	tot, errs  []int32
	first      int64
	last       int64
	errors     int64
}

const (
	faultLead    = 60 * int64(time.Second)
	faultHorizon = 600 * int64(time.Second)
)

// metrics are the run's streaming aggregates: histograms and counters only,
// never a record per request.
type metrics struct {
	m        *model
	e2e, gw  *hdrhistogram.Histogram
	iv       *hdrhistogram.Histogram
	ivIdx    int
	ivWidth  int64
	timeline []schema.Interval

	total, admitted, rejected, errors, retries, unmetered int64
	false429                                              int64
	admittedMilli, excessMilli                            int64
	excessKey                                             []bool
	excessKeys                                            int64
	ops                                                   int64
	cross, egress                                         int64
	interruptions                                         int64

	// tierIv counts total and rejected per interval and tier:
	// [interval*ntiers*2 + tier*2 + {0 total, 1 rejected}]
	tierIv []int64

	faults  []*faultTrack
	active  []*faultTrack
	nextChk int64
}

func newMetrics(m *model) *metrics {
	iv := int64(m.cfg.Interval)
	n := int((int64(m.cfg.Duration) + iv - 1) / iv)
	mt := &metrics{m: m,
		e2e:      hdrhistogram.New(1, int64(time.Hour/time.Microsecond), 3),
		gw:       hdrhistogram.New(1, int64(time.Hour/time.Microsecond), 3),
		iv:       hdrhistogram.New(1, int64(time.Hour/time.Microsecond), 2),
		ivWidth:  iv,
		timeline: make([]schema.Interval, n),
	}
	for i := range mt.timeline {
		mt.timeline[i].StartS = float64(int64(i)*iv) / 1e9
	}
	mt.tierIv = make([]int64, n*len(m.tiers)*2)
	return mt
}

// addFault tracks a fault from start to end (virtual ns).
func (mt *metrics) addFault(kind, target string, start, end int64) {
	from := max(start-faultLead, 0)
	to := end + faultHorizon
	if to > mt.m.end {
		to = mt.m.end
	}
	if to <= from {
		to = from + int64(time.Second)
	}
	n := int((to-from)/int64(time.Second)) + 1
	ft := &faultTrack{f: schema.Fault{Kind: kind, Target: target,
		StartS: secs(start - mt.m.warm), EndS: secs(end - mt.m.warm)},
		start: start, end: end, from: from, to: to,
		tot: make([]int32, n), errs: make([]int32, n), first: -1}
	mt.faults = append(mt.faults, ft)
	mt.nextChk = 0
}

func secs(ns int64) float64 { return float64(ns) / 1e9 }

func usOf(ns int64) int64 {
	v := ns / 1000
	if v < 1 {
		return 1
	}
	return v
}

// record counts one request sent at t.
func (mt *metrics) record(t int64, tr *tierRT, rt *routeRT, o *outcome, retry, compliant bool) {
	mt.total++
	mt.ops += o.ops
	tr.total++
	rt.total++
	if retry {
		mt.retries++
	}
	idx := int((t - mt.m.warm) / mt.ivWidth)
	if idx != mt.ivIdx {
		mt.closeInterval()
		mt.ivIdx = idx
	}
	in := &mt.timeline[idx]
	in.Total++
	ti := (idx*len(mt.m.tiers) + tr.idx) * 2
	mt.tierIv[ti]++
	if o.kind == okRejected {
		mt.tierIv[ti+1]++
	}
	isErr := false
	switch o.kind {
	case okAdmitted:
		mt.admitted++
		mt.admittedMilli += o.cost
		in.Admitted++
		if o.unmetered {
			mt.unmetered++
		}
	case okRejected:
		mt.rejected++
		tr.rejected++
		rt.rejected++
		in.Rejected++
		if compliant {
			mt.false429++
		}
	default:
		mt.errors++
		in.Errors++
		isErr = true
	}
	if !isErr {
		v := usOf(o.end - t)
		mt.e2e.RecordValue(v)
		mt.iv.RecordValue(v)
		mt.gw.RecordValue(usOf(o.gw))
	}
	if len(mt.faults) > 0 {
		mt.faultRecord(t, isErr)
	}
}

func (mt *metrics) faultRecord(t int64, isErr bool) {
	if t >= mt.nextChk {
		mt.active = mt.active[:0]
		next := int64(math.MaxInt64)
		for _, f := range mt.faults {
			if t >= f.from && t < f.to {
				mt.active = append(mt.active, f)
				next = min(next, f.to)
			} else if f.from > t {
				next = min(next, f.from)
			}
		}
		mt.nextChk = next
	}
	for _, f := range mt.active {
		if t < f.from || t >= f.to {
			continue
		}
		b := (t - f.from) / int64(time.Second)
		f.tot[b]++
		if isErr {
			f.errs[b]++
			if t >= f.start {
				f.errors++
				if f.first < 0 {
					f.first = t
				}
				f.last = t
			}
		}
	}
}

func (mt *metrics) closeInterval() {
	if mt.ivIdx >= 0 && mt.ivIdx < len(mt.timeline) && mt.iv.TotalCount() > 0 {
		mt.timeline[mt.ivIdx].P99MS = float64(mt.iv.ValueAtQuantile(99)) / 1000
	}
	mt.iv.Reset()
}

// excess counts cost admitted beyond the reference for key.
func (mt *metrics) excess(key int32, cost, trueUS int64) {
	if trueUS < mt.m.start+mt.m.warm/1000 || trueUS >= mt.m.start+mt.m.end/1000 {
		return
	}
	mt.excessMilli += cost
	if int(key) >= len(mt.excessKey) {
		n := max(int(key)+1, 2*len(mt.excessKey))
		b := make([]bool, n)
		copy(b, mt.excessKey)
		mt.excessKey = b
	}
	if !mt.excessKey[key] {
		mt.excessKey[key] = true
		mt.excessKeys++
	}
}

func percentiles(h *hdrhistogram.Histogram) schema.Percentiles {
	if h.TotalCount() == 0 {
		return schema.Percentiles{}
	}
	ms := func(v int64) float64 { return float64(v) / 1000 }
	return schema.Percentiles{P50: ms(h.ValueAtQuantile(50)), P90: ms(h.ValueAtQuantile(90)),
		P99: ms(h.ValueAtQuantile(99)), P999: ms(h.ValueAtQuantile(99.9)),
		Mean: math.Round(h.Mean()) / 1000, Max: ms(h.Max())}
}

func ratio(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// summarize builds the run's summary.
func (m *model) summarize() *schema.Summary {
	mt := m.m
	mt.closeInterval()
	cfg := m.cfg
	alg := cfg.Engine.Algorithm
	if alg == "" && len(cfg.Tiers) > 0 {
		alg = string(m.tiers[0].comp.Tier().Algorithm)
		if alg == "" {
			alg = "token-bucket"
		}
	}
	s := &schema.Summary{Version: schema.SummaryVersion, Scenario: cfg.Name, Seed: cfg.Seed, Algorithm: alg,
		Clock: cfg.Engine.Clock, Deployment: cfg.Deployment,
		DurationS: secs(int64(cfg.Duration)), WarmupS: secs(int64(cfg.Warmup)), IntervalS: secs(mt.ivWidth)}
	s.Requests = schema.Requests{Total: mt.total, Admitted: mt.admitted, Rejected: mt.rejected, Errors: mt.errors, Retries: mt.retries}
	s.LatencyMS = percentiles(mt.e2e)
	s.GatewayLatencyMS = percentiles(mt.gw)
	if mt.e2e.TotalCount() > 0 {
		for _, q := range []float64{0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 99, 99.9, 99.99, 100} {
			v := mt.e2e.ValueAtQuantile(q)
			s.LatencyCDF = append(s.LatencyCDF, schema.CDFPoint{ValueMS: float64(v) / 1000, Fraction: q / 100})
		}
	}
	s.Rate429 = schema.Rate429{Overall: ratio(mt.rejected, mt.total), PerTier: map[string]float64{}}
	for _, t := range m.tiers {
		s.Rate429.PerTier[t.name] = ratio(t.rejected, t.total)
	}
	// per route name: several entries (methods, paths) may share a name
	byRoute := map[string][2]int64{}
	for _, r := range m.routes {
		c := byRoute[r.cfg.Name]
		byRoute[r.cfg.Name] = [2]int64{c[0] + r.total, c[1] + r.rejected}
	}
	s.Rate429.PerRoute = map[string]float64{}
	for name, c := range byRoute {
		s.Rate429.PerRoute[name] = ratio(c[1], c[0])
	}
	s.False429 = schema.Count{Count: mt.false429, Rate: ratio(mt.false429, mt.total)}
	s.OverAdmission = schema.OverAdmission{Tokens: float64(mt.excessMilli) / 1000,
		Ratio: ratio(mt.excessMilli, mt.admittedCost()), Keys: mt.excessKeys}
	s.Availability = 1
	if mt.total > 0 {
		s.Availability = 1 - ratio(mt.errors, mt.total)
	}
	s.Unmetered = mt.unmetered
	s.Faults = []schema.Fault{}
	for _, f := range mt.faults {
		s.Faults = append(s.Faults, f.result())
	}
	sort.SliceStable(s.Faults, func(i, j int) bool { return s.Faults[i].StartS < s.Faults[j].StartS })
	for i := range mt.timeline {
		in := &mt.timeline[i]
		in.Rate429 = ratio(in.Rejected, in.Total)
		for j, t := range m.tiers {
			k := (i*len(m.tiers) + j) * 2
			if mt.tierIv[k] > 0 {
				if in.Rate429PerTier == nil {
					in.Rate429PerTier = map[string]float64{}
				}
				in.Rate429PerTier[t.name] = ratio(mt.tierIv[k+1], mt.tierIv[k])
			}
		}
	}
	s.Timeline = mt.timeline
	s.RedisOpsPerRequest = ratio(mt.ops, mt.total)
	s.Fleet = m.fleet()
	s.SLO = schema.SLO(cfg.SLO)
	return s
}

// admittedCost is the metered cost admitted, for the over-admission ratio.
func (mt *metrics) admittedCost() int64 { return mt.admittedMilli }

func (f *faultTrack) result() schema.Fault {
	r := f.f
	r.Errors = f.errors
	if f.first >= 0 {
		r.ErrorWindowS = secs(f.last - f.first)
	}
	// baseline: error rate over the lead-in before the fault
	lead := int((f.start - f.from) / int64(time.Second))
	var bt, be int64
	for i := 0; i < lead && i < len(f.tot); i++ {
		bt += int64(f.tot[i])
		be += int64(f.errs[i])
	}
	base := ratio(be, bt)
	lastBad := -1
	for i := lead; i < len(f.tot); i++ {
		if f.tot[i] > 0 && ratio(int64(f.errs[i]), int64(f.tot[i])) > base+0.001 {
			lastBad = i
		}
	}
	if lastBad >= 0 {
		r.RecoveryS = secs(f.from + int64(lastBad+1)*int64(time.Second) - f.start)
	}
	return r
}

func (m *model) fleet() schema.Fleet {
	cfg := m.cfg
	mt := m.m
	fl := schema.Fleet{Requests: mt.total, Interruptions: mt.interruptions,
		CrossAZGB: float64(mt.cross) / 1e9, EgressGB: float64(mt.egress) / 1e9, Nodes: []schema.NodeHours{}}
	hours := secs(int64(cfg.Duration)) / 3600
	if m.managed {
		fl.ManagedPricePerMillionUSD = cfg.Managed.PricePerMillion
		fl.ManagedCostUSD = float64(mt.total) / 1e6 * cfg.Managed.PricePerMillion
		return fl
	}
	fl.LoadBalancerHours = hours
	if m.redisMode {
		nr := 1.0
		switch {
		case cfg.Redis.Mode == RedisCluster:
			nr = 2 * float64(cfg.Redis.Shards) // a primary and a replica per shard
		case cfg.Redis.ReplicaZone != "":
			nr = 2
		}
		fl.RedisNodeHours = nr * hours
		fl.RedisNodeType = cfg.Redis.NodeType
	}
	type k struct{ it, mk string }
	acc := map[k]float64{}
	for _, n := range m.nodes {
		from := max(n.launched, m.warm)
		to := min(n.stopped, m.end)
		if to > from {
			acc[k{n.itype, n.market}] += secs(to-from) / 3600
		}
	}
	for kk, h := range acc {
		fl.Nodes = append(fl.Nodes, schema.NodeHours{InstanceType: kk.it, Market: kk.mk, Hours: h})
	}
	sort.Slice(fl.Nodes, func(i, j int) bool {
		if fl.Nodes[i].InstanceType != fl.Nodes[j].InstanceType {
			return fl.Nodes[i].InstanceType < fl.Nodes[j].InstanceType
		}
		return fl.Nodes[i].Market < fl.Nodes[j].Market
	})
	return fl
}
