// Package replay feeds what gatewayd recorded, its usage ledger, through a
// rate-limiting policy on the recorded clock: each request is decided at the
// instant the recorded limiter decided it (decided_us), by the engine's own
// transitions in an in-memory store, with the recorded key, tier, route,
// method and cost. Under the policy that wrote the ledger (one gatewayd node
// on the memory store) it reproduces every decision; under a candidate it
// counts the requests decided differently, by tier, route and direction.
//
// It streams: records are read one at a time and held only for one reorder
// window (gatewayd writes a record when it answers, not when it decides), so
// memory grows with the keys and the window, never with the ledger.
//
//	s, err := replay.Run("ledger/", replay.Options{Recorded: rec, Candidate: cand})
//	fmt.Println(s.Replay.DecisionDifferences)
package replay

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"tollgate/engine"
	"tollgate/engine/memstore"
	"tollgate/engine/route"
	"tollgate/engine/tier"
	"tollgate/schema"
)

// ErrPolicy marks a ledger record the policy cannot decide: a tier or a
// route it does not have.
var ErrPolicy = errors.New("replay: the policy does not cover the ledger")

// Policy is a rate-limiting design in the policy vocabulary: a gatewayd
// config's tiers and routes.
type Policy struct {
	// File names the config in the summary and in errors.
	File   string
	Tiers  []tier.Tier
	Routes []route.Route
}

// Options configure a replay.
type Options struct {
	// Recorded is the policy that wrote the ledger; its route costs scale
	// recorded costs onto the candidate's.
	Recorded Policy
	// Candidate is the policy to replay under; zero means Recorded.
	Candidate Policy
	// TierMap maps recorded tier names to the candidate's ("*" for every
	// tier the candidate lacks).
	TierMap map[string]string
	// Window bounds how long a request took from decision to answer, for
	// putting the ledger back in decision order (default 30s, above
	// gatewayd's 29s default upstream timeout).
	Window time.Duration
}

// DefaultWindow is Options.Window's default.
const DefaultWindow = 30 * time.Second

// Decisions of the ledger that a limiter made: the ones a replay compares.
const (
	decisionAllowed = "allowed"
	decisionLimited = "limited"
)

type compiledPolicy struct {
	tiers   map[string]*tier.Compiled
	routes  map[string]route.Route
	table   *route.Table[route.Route]
	names   []string // "name (prefix)" for errors
	tierNms []string
}

func compile(p Policy) (*compiledPolicy, error) {
	tiers, err := tier.CompileAll(p.Tiers)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.File, err)
	}
	c := &compiledPolicy{tiers: tiers, routes: map[string]route.Route{}}
	var prefixes []string
	for _, r := range p.Routes {
		c.routes[r.Name] = r
		prefixes = append(prefixes, r.Prefix)
		c.names = append(c.names, fmt.Sprintf("%s (%s)", r.Name, r.Prefix))
	}
	c.table = route.New(prefixes, p.Routes)
	for _, t := range p.Tiers {
		c.tierNms = append(c.tierNms, t.Name)
	}
	sort.Strings(c.names)
	sort.Strings(c.tierNms)
	return c, nil
}

// routeOf finds a record's route: by the recorded name, else by its path.
func (c *compiledPolicy) routeOf(r *schema.LedgerRecord) (route.Route, bool) {
	if rt, ok := c.routes[r.Route]; ok {
		return rt, true
	}
	return c.table.Match(route.Clean(r.Path))
}

// pending is a settle or release due when the recorded request was answered.
type pending struct {
	at   int64
	seq  int64
	key  string
	plan *engine.Plan
	// settle is the cost delta; release the cost to give back to a
	// concurrency policy (0: none).
	settle, release int64
}

type pendingHeap []pending

func (h pendingHeap) Len() int { return len(h) }
func (h pendingHeap) Less(i, j int) bool {
	if h[i].at != h[j].at {
		return h[i].at < h[j].at
	}
	return h[i].seq < h[j].seq
}
func (h pendingHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *pendingHeap) Push(x any)   { *h = append(*h, x.(pending)) }
func (h *pendingHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// newContract is a key's published contract, burst and sustained rate, kept
// by golang.org/x/time/rate: the reference for false 429s and
// over-admission, sharing no code with the engine. Tokens are in
// millitokens. A key keeps the contract of the tier it was first seen on.
func newContract(t tier.Tier) *rate.Limiter {
	per := t.MainPeriod().Seconds()
	r := t.Rate
	if r <= 0 { // window algorithms: the limit per window
		r = t.Burst
	}
	return rate.NewLimiter(rate.Limit(r*engine.MilliPerToken/per), int(math.Round(t.Burst*engine.MilliPerToken)))
}

// Run replays the ledger at path (a file or a directory of rotated files)
// and returns its summary.
func Run(path string, opts Options) (*schema.Summary, error) {
	if opts.Window <= 0 {
		opts.Window = DefaultWindow
	}
	cand := opts.Candidate
	if cand.File == "" && len(cand.Tiers) == 0 {
		cand = opts.Recorded
	}
	recP, err := compile(opts.Recorded)
	if err != nil {
		return nil, fmt.Errorf("replay: recorded policy: %w", err)
	}
	candP, err := compile(cand)
	if err != nil {
		return nil, fmt.Errorf("replay: candidate policy: %w", err)
	}
	sc, err := schema.NewLedgerScanner(path)
	if err != nil {
		return nil, err
	}
	defer sc.Close()
	rp := &run{opts: opts, rec: recP, cand: candP, store: memstore.New(memstore.Options{Shards: 1}),
		contracts: map[int32]*rate.Limiter{}, keyIndex: map[string]int32{}, sc: sc,
		out: schema.Replay{Ledger: path, Recorded: opts.Recorded.File, Candidate: cand.File,
			Skipped: map[string]int64{}, ByTier: map[string]schema.ReplayDiff{}, ByRoute: map[string]schema.ReplayDiff{}}}
	ord := schema.NewLedgerOrder(sc, opts.Window, rp.keep)
	for ord.Next() {
		if rp.err != nil {
			break
		}
		d, _ := ord.Value()
		rp.decide(&d)
	}
	if rp.err != nil {
		return nil, rp.err
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("replay: %w", err)
	}
	rp.drain(math.MaxInt64)
	st := sc.Stats()
	rp.out.Records = st.Records
	rp.out.Requests = st.Requests
	rp.out.Late = ord.Late
	rp.out.TornLines = len(st.Torn)
	return rp.summary(cand), nil
}

// decision is what a replay keeps of a record while putting the ledger back
// in decision order: a few integers and pointers, not the record's strings.
type decision struct {
	decided, end int64
	// charged is the cost to ask, settle the delta to apply at end
	// (millitokens, on the candidate's prices).
	charged, settle int64
	key             int32
	tier            int32 // index into run.tierNames
	route           int32 // index into run.routeNames
	plan            *engine.Plan
	compiled        *tier.Compiled
	recordedAllowed bool
}

type run struct {
	opts      Options
	rec, cand *compiledPolicy
	store     *memstore.Store
	sc        *schema.LedgerScanner
	err       error
	due       pendingHeap
	seq       int64
	out       schema.Replay

	keyIndex   map[string]int32
	keys       []string
	tierNames  []string
	tierIdx    map[string]int32
	routeNames []string
	routeIdx   map[string]int32
	diffs      []schema.ReplayDiff // by tier, then by route (offset len(tierNames)) at the end
	tierDiffs  map[int32]*schema.ReplayDiff
	routeDiffs map[int32]*schema.ReplayDiff
	contracts  map[int32]*rate.Limiter // by key, on its first tier

	false429, compliant        int64
	overTokens, admittedTokens float64
	overKeys                   map[int32]bool
	errors, answered           int64
	first, last                int64
}

// drain applies the settles and releases due up to now.
func (rp *run) drain(now int64) {
	for len(rp.due) > 0 && rp.due[0].at <= now {
		p := heap.Pop(&rp.due).(pending)
		if p.settle != 0 {
			_, _ = rp.store.Apply(context.Background(), engine.Op{Kind: engine.Settle, Key: p.key, Plan: p.plan, Cost: p.settle, Now: p.at})
		}
		if p.release > 0 {
			_, _ = rp.store.Apply(context.Background(), engine.Op{Kind: engine.Release, Key: p.key, Plan: p.plan, Cost: p.release, Now: p.at})
		}
	}
}

func (rp *run) candidateTier(name string) (*tier.Compiled, string, error) {
	if to := rp.opts.TierMap[name]; to != "" {
		name = to
	}
	if c, ok := rp.cand.tiers[name]; ok {
		return c, name, nil
	}
	if to := rp.opts.TierMap["*"]; to != "" {
		if c, ok := rp.cand.tiers[to]; ok {
			return c, to, nil
		}
	}
	return nil, "", fmt.Errorf("%w: tier %q is not a tier of %s (its tiers: %s); map it with -tier-map %s=TIER",
		ErrPolicy, name, rp.out.Candidate, strings.Join(rp.cand.tierNms, ", "), name)
}

func (rp *run) intern(idx *map[string]int32, names *[]string, n string) int32 {
	if *idx == nil {
		*idx = map[string]int32{}
	}
	i, ok := (*idx)[n]
	if !ok {
		i = int32(len(*names))
		(*idx)[n] = i
		*names = append(*names, n)
	}
	return i
}

// keep turns a record into a decision to replay, or counts it as skipped.
// It runs in file order, as the scanner reads.
func (rp *run) keep(r *schema.LedgerRecord) (int64, decision, bool) {
	if rp.err != nil {
		return 0, decision{}, false
	}
	if !r.Start.IsZero() {
		if s := r.Start.UnixMicro(); rp.first == 0 || s < rp.first {
			rp.first = s
		}
	}
	if e := r.End.UnixMicro(); !r.End.IsZero() && e > rp.last {
		rp.last = e
	}
	rp.answered += r.Requests()
	if r.Status >= 500 {
		rp.errors += r.Requests()
	}
	if (r.Decision != decisionAllowed && r.Decision != decisionLimited) || r.DecidedUS == 0 || r.Unmetered || r.KeyHash == "" {
		// no limiter decision to compare: unauthenticated, unrouted, shed,
		// penalty box, store down (unmetered admissions were not counted)
		rp.out.Skipped[r.Decision] += r.Requests()
		return 0, decision{}, false
	}
	fail := func(err error) (int64, decision, bool) {
		file, line := rp.sc.Pos()
		rp.err = fmt.Errorf("replay: %s line %d (record %s): %w", file, line, r.ID, err)
		return 0, decision{}, false
	}
	ct, tierName, err := rp.candidateTier(r.Tier)
	if err != nil {
		return fail(err)
	}
	cr, ok := rp.cand.routeOf(r)
	if !ok {
		return fail(fmt.Errorf("%w: route %q (path %q) matches no route of %s (its routes: %s)",
			ErrPolicy, r.Route, r.Path, rp.out.Candidate, strings.Join(rp.cand.names, ", ")))
	}
	// The asked cost, carried onto the candidate's price for the route.
	asked := r.Cost
	if asked == 0 { // a ledger written before gatewayd recorded the asked cost
		asked = r.CostCharged
	}
	charged := engine.Tokens(asked)
	settled := charged
	if r.Decision == decisionAllowed {
		settled += engine.Tokens(r.CostSettled) - engine.Tokens(r.CostCharged)
	}
	if rr, ok := rp.rec.routeOf(r); ok && rr.Cost > 0 && rr.Cost != cr.Cost {
		f := cr.Cost / rr.Cost
		charged = int64(math.Round(float64(charged) * f))
		settled = int64(math.Round(float64(settled) * f))
		if charged < 1 {
			charged = 1
		}
	}
	plan := ct.Plan(r.Method)
	if cr.Operational {
		plan = ct.OperationalPlan()
	}
	key, ok := rp.keyIndex[r.KeyHash]
	if !ok {
		key = int32(len(rp.keys))
		rp.keyIndex[r.KeyHash] = key
		rp.keys = append(rp.keys, r.KeyHash)
	}
	return r.DecidedUS, decision{decided: r.DecidedUS, end: max(r.End.UnixMicro(), r.DecidedUS), charged: charged,
		settle: settled - charged, key: key, plan: plan, compiled: ct,
		tier:  rp.intern(&rp.tierIdx, &rp.tierNames, tierName),
		route: rp.intern(&rp.routeIdx, &rp.routeNames, cr.Name), recordedAllowed: r.Decision == decisionAllowed}, true
}

func (rp *run) diff(m *map[int32]*schema.ReplayDiff, i int32) *schema.ReplayDiff {
	if *m == nil {
		*m = map[int32]*schema.ReplayDiff{}
	}
	d := (*m)[i]
	if d == nil {
		d = &schema.ReplayDiff{}
		(*m)[i] = d
	}
	return d
}

// decide asks the store again for one request, in decision order.
func (rp *run) decide(d *decision) {
	rp.drain(d.decided)
	key := rp.keys[d.key]
	res, err := rp.store.Apply(context.Background(), engine.Op{Kind: engine.Acquire, Key: key, Plan: d.plan, Cost: d.charged, Now: d.decided})
	if err != nil {
		rp.err = fmt.Errorf("replay: decide %s at %d: %w", rp.tierNames[d.tier], d.decided, err)
		return
	}
	rp.out.Decided++
	if res.Allowed {
		rp.out.CandidateAdmitted++
		rp.admittedTokens += engine.MilliToTokens(d.charged)
		var release int64
		if d.compiled.ConcurrencyPolicy() != "" {
			release = d.charged
		}
		if d.settle != 0 || release > 0 {
			rp.seq++
			heap.Push(&rp.due, pending{at: d.end, seq: rp.seq, key: key, plan: d.plan, settle: d.settle, release: release})
		}
	} else {
		rp.out.CandidateRefused++
	}
	if d.recordedAllowed {
		rp.out.RecordedAdmitted++
	} else {
		rp.out.RecordedRefused++
	}
	td, rd := rp.diff(&rp.tierDiffs, d.tier), rp.diff(&rp.routeDiffs, d.route)
	td.Decided++
	rd.Decided++
	if res.Allowed != d.recordedAllowed {
		rp.out.DecisionDifferences++
		if res.Allowed {
			rp.out.NewlyAdmitted++
			td.NewlyAdmitted++
			rd.NewlyAdmitted++
		} else {
			rp.out.NewlyRefused++
			td.NewlyRefused++
			rd.NewlyRefused++
		}
	}
	if !res.Allowed {
		td.Refused++
		rd.Refused++
	}

	// the independent contract reference, on the recorded clock
	c := rp.contracts[d.key]
	if c == nil {
		c = newContract(d.compiled.Tier())
		rp.contracts[d.key] = c
	}
	if c.AllowN(time.UnixMicro(d.decided), int(d.charged)) {
		rp.compliant++
		if !res.Allowed {
			rp.false429++
		}
	} else if res.Allowed {
		rp.overTokens += engine.MilliToTokens(d.charged)
		if rp.overKeys == nil {
			rp.overKeys = map[int32]bool{}
		}
		rp.overKeys[d.key] = true
	}
}

func ratio(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func (rp *run) summary(cand Policy) *schema.Summary {
	o := rp.out
	s := &schema.Summary{Version: schema.SummaryVersion, Scenario: "replay", Clock: "recorded", Deployment: "self-hosted"}
	if len(cand.Tiers) > 0 {
		s.Algorithm = string(cand.Tiers[0].MainAlgorithm())
	}
	if rp.last > rp.first {
		s.DurationS = float64(rp.last-rp.first) / 1e6
	}
	s.Requests = schema.Requests{Total: o.Decided, Admitted: o.CandidateAdmitted, Rejected: o.CandidateRefused}
	s.Rate429 = schema.Rate429{Overall: ratio(o.CandidateRefused, o.Decided), PerTier: map[string]float64{}, PerRoute: map[string]float64{}}
	for i, d := range rp.tierDiffs {
		o.ByTier[rp.tierNames[i]] = *d
		s.Rate429.PerTier[rp.tierNames[i]] = ratio(d.Refused, d.Decided)
	}
	for i, d := range rp.routeDiffs {
		o.ByRoute[rp.routeNames[i]] = *d
		s.Rate429.PerRoute[rp.routeNames[i]] = ratio(d.Refused, d.Decided)
	}
	s.False429 = schema.Count{Count: rp.false429, Rate: ratio(rp.false429, o.Decided)}
	s.OverAdmission = schema.OverAdmission{Tokens: rp.overTokens, Keys: int64(len(rp.overKeys))}
	if rp.admittedTokens > 0 {
		s.OverAdmission.Ratio = rp.overTokens / rp.admittedTokens
	}
	s.Availability = 1 - ratio(rp.errors, rp.answered)
	if rp.answered == 0 {
		s.Availability = 0
	}
	o.AdmittedTokens = rp.admittedTokens
	s.Replay = &o
	return s
}
