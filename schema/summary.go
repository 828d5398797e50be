package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// SummaryVersion is the version of summary.json written in every summary.
const SummaryVersion = 1

// Summary is summary.json: the outcome of one simulated (or measured) run,
// the one file every simulated run writes and every report, comparison and
// SLO check reads. Maps are encoded with sorted keys, so the same run gives
// the same bytes.
type Summary struct {
	Version   int    `json:"version"`
	Scenario  string `json:"scenario"`
	Seed      uint64 `json:"seed"`
	Algorithm string `json:"algorithm"`
	// Clock is the engine clock mode: "server" (the store's clock) or "client".
	Clock string `json:"clock"`
	// Deployment is "self-hosted" or "managed".
	Deployment string `json:"deployment"`
	// DurationS is the measured duration in virtual seconds, after warm-up.
	DurationS float64 `json:"duration_s"`
	WarmupS   float64 `json:"warmup_s"`

	Requests Requests `json:"requests"`
	// LatencyMS is end-to-end latency of answered requests, client to client.
	LatencyMS Percentiles `json:"latency_ms"`
	// GatewayLatencyMS is the latency the gateway adds (queueing, limiter
	// decision including store round trips), excluding the backend.
	GatewayLatencyMS Percentiles `json:"gateway_latency_ms"`
	// LatencyCDF is the end-to-end latency distribution for plots.
	LatencyCDF []CDFPoint `json:"latency_cdf"`

	Rate429 Rate429 `json:"rate_429"`
	// False429 counts refusals of compliant clients: requests a client sent
	// while within its tier's contracted rate that were refused anyway.
	False429 Count `json:"false_429"`
	// OverAdmission is cost admitted beyond what the policy allows, summed over
	// keys (measured against an exact per-key reference limiter).
	OverAdmission OverAdmission `json:"over_admission"`
	// Availability is the fraction of requests answered without a server-side
	// error (5xx, timeout, connection failure); 429s count as available.
	Availability float64 `json:"availability"`
	// Unmetered counts fail-open admissions made while the store was down.
	Unmetered int64 `json:"unmetered"`

	Faults []Fault `json:"faults"`
	// Timeline is per-interval counters over the run.
	Timeline []Interval `json:"timeline"`
	// IntervalS is the width of one Timeline interval in seconds.
	IntervalS float64 `json:"interval_s"`

	// RedisOpsPerRequest is store operations (script calls) per request.
	RedisOpsPerRequest float64 `json:"redis_ops_per_request"`
	// Fleet is what the cost model needs.
	Fleet Fleet `json:"fleet"`
	// SLO is the scenario's SLO block, copied so a summary can be checked alone.
	SLO SLO `json:"slo"`
	// Replay is set when the summary is of gwlab replay: a recorded ledger
	// decided again under a policy. Requests, Rate429, False429 and
	// OverAdmission are then the replayed policy's, over the records a
	// limiter decided.
	Replay *Replay `json:"replay,omitempty"`
	// Intervals is set when the run was replicated (gwlab run or compare
	// -replications N, N >= 2): confidence intervals of the headline
	// figures over N independent replications. Every other field of the
	// summary is replication 0's, the run with the summary's own seed.
	Intervals *Intervals `json:"intervals,omitempty"`
}

// Intervals are the headline figures of a replicated run: each the mean of
// the replications' figures with its two-sided Student-t confidence interval
// (package stats). A replicated comparison runs replication r of every
// variant with the same seed (common random numbers).
type Intervals struct {
	// Replications is how many independent replications were run,
	// Confidence the intervals' two-sided level (0.95).
	Replications int     `json:"replications"`
	Confidence   float64 `json:"confidence"`
	// Seeds are the replications' seeds in order: Seeds[0] is the summary's
	// own seed, the others are drawn from it (scenarios.ReplicationSeed).
	Seeds []uint64 `json:"seeds"`
	// Availability, latency percentiles (end to end, in ms), the 429 rate,
	// the false-429 rate and the over-admission ratio: the figures of the
	// same names in the summary, replicated.
	Availability  Estimate `json:"availability"`
	P50MS         Estimate `json:"p50_ms"`
	P99MS         Estimate `json:"p99_ms"`
	Rate429       Estimate `json:"rate_429"`
	False429Rate  Estimate `json:"false_429_rate"`
	OverAdmission Estimate `json:"over_admission"`
	// CostPerBillion is the self-hosted (or managed) cost per billion
	// requests in USD, priced with the sheet named by PriceSheet when the
	// run was made; absent when the sheet could not price the run.
	CostPerBillion *Estimate `json:"cost_per_billion,omitempty"`
	PriceSheet     string    `json:"price_sheet,omitempty"`
}

// Get returns the interval of the named objective (Objectives), or nil when
// the intervals do not hold it.
func (iv *Intervals) Get(name string) *Estimate {
	if iv == nil {
		return nil
	}
	switch name {
	case ObjectiveP99MS:
		return &iv.P99MS
	case ObjectiveRate429:
		return &iv.Rate429
	case ObjectiveFalse429Rate:
		return &iv.False429Rate
	case ObjectiveOverAdmission:
		return &iv.OverAdmission
	case ObjectiveAvailability:
		return &iv.Availability
	case ObjectiveCostPerBillion:
		return iv.CostPerBillion
	}
	return nil
}

// Validate returns every problem of iv at once, each naming the field and
// the value: at least two replications, one seed each, a confidence in
// (0, 1) and every interval ordered lower <= mean <= upper.
func (iv *Intervals) Validate() error {
	var errs []error
	if iv.Replications < 2 {
		errs = append(errs, fmt.Errorf("intervals.replications: must be at least 2, got %d", iv.Replications))
	}
	if len(iv.Seeds) != iv.Replications {
		errs = append(errs, fmt.Errorf("intervals.seeds: must hold one seed per replication (%d), got %d", iv.Replications, len(iv.Seeds)))
	}
	if !(iv.Confidence > 0 && iv.Confidence < 1) {
		errs = append(errs, fmt.Errorf("intervals.confidence: must be in (0, 1), got %v", iv.Confidence))
	}
	for _, f := range []struct {
		name string
		e    *Estimate
	}{{"availability", &iv.Availability}, {"p50_ms", &iv.P50MS}, {"p99_ms", &iv.P99MS}, {"rate_429", &iv.Rate429},
		{"false_429_rate", &iv.False429Rate}, {"over_admission", &iv.OverAdmission}, {"cost_per_billion", iv.CostPerBillion}} {
		if f.e != nil && !(f.e.Lower <= f.e.Mean && f.e.Mean <= f.e.Upper) {
			errs = append(errs, fmt.Errorf("intervals.%s: want lower <= mean <= upper, got %v <= %v <= %v", f.name, f.e.Lower, f.e.Mean, f.e.Upper))
		}
	}
	return errors.Join(errs...)
}

// Replay is what gwlab replay found: the ledger read, and the requests the
// replayed policy decided differently from the recorded decision.
type Replay struct {
	// Ledger is the ledger file or directory replayed; Recorded and
	// Candidate the configs of the recorded and the replayed policy.
	Ledger    string `json:"ledger"`
	Recorded  string `json:"recorded"`
	Candidate string `json:"candidate"`
	// Records is how many ledger records were read, Requests how many
	// requests they stand for (aggregates count their requests).
	Records  int64 `json:"records"`
	Requests int64 `json:"requests"`
	// Decided is how many records carried a limiter decision (allowed or
	// limited, not fail-open) and were decided again.
	Decided int64 `json:"decided"`
	// Skipped counts requests with no limiter decision to compare, by their
	// recorded decision (unauthenticated, no_route, penalty, unavailable, ...).
	Skipped map[string]int64 `json:"skipped"`
	// Late counts records answered so long after their decision that they
	// were replayed out of decision order (see the reorder window).
	Late int64 `json:"late"`
	// TornLines is how many torn last lines (a crash mid-write) were skipped.
	TornLines int `json:"torn_lines"`
	// DecisionDifferences is how many requests the replayed policy decided
	// differently from the recorded decision: NewlyRefused (recorded
	// allowed, now refused) plus NewlyAdmitted.
	DecisionDifferences int64 `json:"decision_differences"`
	NewlyRefused        int64 `json:"newly_refused"`
	NewlyAdmitted       int64 `json:"newly_admitted"`
	// RecordedAdmitted/Refused and CandidateAdmitted/Refused split Decided
	// by the recorded and the replayed decision.
	RecordedAdmitted  int64 `json:"recorded_admitted"`
	RecordedRefused   int64 `json:"recorded_refused"`
	CandidateAdmitted int64 `json:"candidate_admitted"`
	CandidateRefused  int64 `json:"candidate_refused"`
	// AdmittedTokens is the cost the replayed policy admitted, in tokens
	// (what would be billed).
	AdmittedTokens float64 `json:"admitted_tokens"`
	// ByTier and ByRoute break the differences down by the replayed
	// policy's tier and route names.
	ByTier  map[string]ReplayDiff `json:"by_tier"`
	ByRoute map[string]ReplayDiff `json:"by_route"`
}

// ReplayDiff is one tier's or route's part of a replay.
type ReplayDiff struct {
	Decided       int64 `json:"decided"`
	Refused       int64 `json:"refused"`
	NewlyRefused  int64 `json:"newly_refused"`
	NewlyAdmitted int64 `json:"newly_admitted"`
}

// Requests counts requests by outcome. Total = Admitted + Rejected + Errors.
type Requests struct {
	Total    int64 `json:"total"`
	Admitted int64 `json:"admitted"`
	// Rejected is refused with 429 by the limiter.
	Rejected int64 `json:"rejected"`
	// Errors is failed server-side: 5xx, 503 shed, timeout, no node reachable.
	Errors int64 `json:"errors"`
	// Retries counts requests that were client retries of an earlier refusal.
	Retries int64 `json:"retries"`
}

// Percentiles of a latency distribution in milliseconds.
type Percentiles struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p999"`
	Mean float64 `json:"mean"`
	Max  float64 `json:"max"`
}

// CDFPoint is one point of a cumulative distribution: Fraction of values <= ValueMS.
type CDFPoint struct {
	ValueMS  float64 `json:"value_ms"`
	Fraction float64 `json:"fraction"`
}

// Rate429 is the share of requests refused with 429.
type Rate429 struct {
	Overall float64            `json:"overall"`
	PerTier map[string]float64 `json:"per_tier"`
	// PerRoute is the 429 share per route name (the gatewayd config's
	// names under gwlab run -gateway).
	PerRoute map[string]float64 `json:"per_route,omitempty"`
}

// Count is a count with its rate over all requests.
type Count struct {
	Count int64   `json:"count"`
	Rate  float64 `json:"rate"`
}

// OverAdmission is cost admitted beyond the policy.
type OverAdmission struct {
	// Tokens is the excess cost in tokens summed over keys.
	Tokens float64 `json:"tokens"`
	// Ratio is Tokens over the cost admitted in total.
	Ratio float64 `json:"ratio"`
	// Keys is how many keys saw any excess.
	Keys int64 `json:"keys"`
}

// Fault is one fault of the timeline and what it did.
type Fault struct {
	Kind   string  `json:"kind"`
	Target string  `json:"target"`
	StartS float64 `json:"start_s"`
	EndS   float64 `json:"end_s"`
	// Errors is server-side errors from the fault's start until recovery.
	Errors int64 `json:"errors"`
	// ErrorWindowS is the time from the first to the last error attributable to
	// the fault (0 if none).
	ErrorWindowS float64 `json:"error_window_s"`
	// RecoveryS is the time from the fault's start until the error rate is back
	// to its pre-fault level (0 if it never rose).
	RecoveryS float64 `json:"recovery_s"`
}

// Interval is the counters of one timeline interval.
type Interval struct {
	StartS   float64 `json:"start_s"`
	Total    int64   `json:"total"`
	Admitted int64   `json:"admitted"`
	Rejected int64   `json:"rejected"`
	Errors   int64   `json:"errors"`
	Rate429  float64 `json:"rate_429"`
	P99MS    float64 `json:"p99_ms"`
	// Rate429PerTier is the interval's 429 share per tier (tiers with traffic
	// in the interval only).
	Rate429PerTier map[string]float64 `json:"rate_429_per_tier,omitempty"`
}

// Fleet is the resources the run used, for the cost model.
type Fleet struct {
	// Nodes is the node-hours per instance type and market.
	Nodes []NodeHours `json:"nodes"`
	// LoadBalancerHours is hours of the L4 load balancer.
	LoadBalancerHours float64 `json:"load_balancer_hours"`
	// RedisNodeHours is hours of Redis nodes (primary and replicas).
	RedisNodeHours float64 `json:"redis_node_hours"`
	RedisNodeType  string  `json:"redis_node_type"`
	// CrossAZGB is gigabytes sent across zones.
	CrossAZGB float64 `json:"cross_az_gb"`
	// EgressGB is gigabytes of responses sent to the internet.
	EgressGB float64 `json:"egress_gb"`
	// Requests is requests served by the fleet (the managed model bills these).
	Requests int64 `json:"requests"`
	// Interruptions counts spot interruptions.
	Interruptions int64 `json:"interruptions"`
	// ManagedPricePerMillionUSD is the managed gateway's request price in USD
	// per million requests (managed deployments only; 0 otherwise).
	ManagedPricePerMillionUSD float64 `json:"managed_price_per_million_usd,omitempty"`
	// ManagedCostUSD is Requests priced at ManagedPricePerMillionUSD.
	ManagedCostUSD float64 `json:"managed_cost_usd,omitempty"`
}

// NodeHours is hours of one instance type in one market.
type NodeHours struct {
	InstanceType string  `json:"instance_type"`
	Market       string  `json:"market"` // "spot" or "on-demand"
	Hours        float64 `json:"hours"`
}

// SLO is a scenario's service-level objectives. A zero field is not checked.
type SLO struct {
	P99MS             float64 `json:"p99_ms,omitempty"`
	Max429Rate        float64 `json:"max_429_rate,omitempty"`
	MaxFalse429Rate   float64 `json:"max_false_429_rate,omitempty"`
	MaxOverAdmission  float64 `json:"max_over_admission,omitempty"`
	MinAvailability   float64 `json:"min_availability,omitempty"`
	MaxCostPerBillion float64 `json:"max_cost_per_billion,omitempty"`
	// ExpectBreach names the objectives (Objectives) a scenario demonstrating
	// a bad design must still breach; the gate fails if one of them is met.
	ExpectBreach []string `json:"expect_breach,omitempty"`
}

// Objective names, as expect_breach, the SLO gate's tables and its
// tolerances name them.
const (
	ObjectiveP99MS          = "p99_ms"
	ObjectiveRate429        = "rate_429"
	ObjectiveFalse429Rate   = "false_429_rate"
	ObjectiveOverAdmission  = "over_admission"
	ObjectiveAvailability   = "availability"
	ObjectiveCostPerBillion = "cost_per_billion"
)

// Objectives lists the objective names in table order.
var Objectives = []string{ObjectiveP99MS, ObjectiveRate429, ObjectiveFalse429Rate, ObjectiveOverAdmission,
	ObjectiveAvailability, ObjectiveCostPerBillion}

// Limit returns the SLO's limit for the named objective (0: not checked, or
// an unknown name).
func (o SLO) Limit(name string) float64 {
	switch name {
	case ObjectiveP99MS:
		return o.P99MS
	case ObjectiveRate429:
		return o.Max429Rate
	case ObjectiveFalse429Rate:
		return o.MaxFalse429Rate
	case ObjectiveOverAdmission:
		return o.MaxOverAdmission
	case ObjectiveAvailability:
		return o.MinAvailability
	case ObjectiveCostPerBillion:
		return o.MaxCostPerBillion
	}
	return 0
}

// Expects reports whether the SLO expects the named objective to breach.
func (o SLO) Expects(name string) bool {
	for _, n := range o.ExpectBreach {
		if n == name {
			return true
		}
	}
	return false
}

// EncodeSummary writes s as indented JSON with a trailing newline,
// refusing invalid intervals.
func EncodeSummary(w io.Writer, s *Summary) error {
	if s.Intervals != nil {
		if err := s.Intervals.Validate(); err != nil {
			return fmt.Errorf("schema: summary: %w", err)
		}
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("schema: summary: encode: %w", err)
	}
	b = append(b, '\n')
	_, err = w.Write(b)
	return err
}

// DecodeSummary reads a summary, rejecting unknown fields.
func DecodeSummary(r io.Reader) (*Summary, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var s Summary
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("schema: summary: decode: %w", err)
	}
	if s.Intervals != nil {
		if err := s.Intervals.Validate(); err != nil {
			return nil, fmt.Errorf("schema: summary: %w", err)
		}
	}
	return &s, nil
}

// ReadSummary decodes the summary.json in path.
func ReadSummary(path string) (*Summary, error) {
	return readFile(path, "summary: ", DecodeSummary)
}

// WriteSummary encodes s into path.
func WriteSummary(path string, s *Summary) error {
	var buf bytes.Buffer
	if err := EncodeSummary(&buf, s); err != nil {
		return err
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("schema: summary: %w", err)
	}
	return nil
}
