package schema

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// PlanVersion is the plan.json and plan-partial schema version (2: month
// spreads).
const PlanVersion = 2

// ErrPlan is wrapped by every plan.json or partial decoding error.
var ErrPlan = errors.New("schema: invalid plan file")

// Plan is plan.json, `gwlab plan`'s result: the cheapest evaluated deployment
// that meets every objective with the stated confidence, and every deployment
// evaluated. The same spec, price sheet and seed give the same bytes, whether
// the search ran in one process or in shards merged afterwards.
type Plan struct {
	PlanHeader
	// Choice is the cheapest configuration whose every objective is met at
	// the stated confidence; nil when none is.
	Choice *Choice `json:"choice"`
	// Answer is one sentence: the choice, or why there is none.
	Answer string `json:"answer"`
	// CheaperUndecided lists the indexes of configurations cheaper than the
	// choice (or all, without a choice) whose verdict is undecided.
	CheaperUndecided []int `json:"cheaper_undecided"`
	// Evaluated is every configuration of the search space, by index.
	Evaluated []Evaluated `json:"evaluated"`
}

// Choice is the chosen configuration with its bill and estimates.
type Choice struct {
	// Index is its position in Evaluated.
	Index  int        `json:"index"`
	Name   string     `json:"name"`
	Config PlanConfig `json:"config"`
	// MonthlyUSD is the month's bill, Bill its components.
	MonthlyUSD    float64    `json:"monthly_usd"`
	PerBillionUSD float64    `json:"per_billion_usd"`
	Bill          []BillLine `json:"bill"`
	// Availability is the expected monthly availability and its interval.
	Availability Estimate `json:"availability"`
	P99MS        Estimate `json:"p99_ms"`
	// MonthSpread is how the availability of single months spreads.
	MonthSpread *MonthSpread `json:"month_spread,omitempty"`
}

// MonthSpread is how availability spreads between single months, as the
// fault model draws them: each fault's count in a month is Poisson at its
// monthly rate and each occurrence's errors are one of its simulated
// replications, drawn at random (a compound-Poisson bootstrap). It is not
// the expected month's interval (Evaluated.Availability): a configuration
// whose expected month meets 99.99% can still miss it in the month its
// zone goes dark.
type MonthSpread struct {
	// Months is how many months were drawn.
	Months int `json:"months"`
	// P05 and Median are the 5th percentile and the median of the months'
	// availability.
	P05    float64 `json:"p05"`
	Median float64 `json:"median"`
	// Meeting is the share of months at or above the availability
	// objective.
	Meeting float64 `json:"meeting"`
}

// PlanHeader is what a plan and each of its partials share: the question
// asked and how it was estimated. Partials merge only with equal headers.
type PlanHeader struct {
	Version int    `json:"version"`
	Spec    string `json:"spec"`
	// SpecSHA256 is the hash of the spec's bytes, the price sheet's bytes and
	// the estimator's settings, so partials of different questions never merge.
	SpecSHA256 string `json:"spec_sha256"`
	Seed       uint64 `json:"seed"`
	// PricesDate is the price sheet's date; Region its region.
	PricesDate string `json:"prices_date"`
	Region     string `json:"region"`
	// RequestsPerMonth is the traffic the plan is for.
	RequestsPerMonth float64 `json:"requests_per_month"`
	// HoursPerMonth is the month's length (the price sheet's).
	HoursPerMonth float64 `json:"hours_per_month"`
	// Confidence is the interval's level (0.95).
	Confidence float64 `json:"confidence"`
	// Objectives are the SLO every configuration is held to.
	Objectives PlanObjectives `json:"objectives"`
	// FaultModel is the fault rates and where they come from.
	FaultModel []FaultRate `json:"fault_model"`
	// Budget is the replication budget per configuration.
	Budget PlanBudget `json:"budget"`
	// Candidates is the size of the search space.
	Candidates int `json:"candidates"`
	// Method describes the estimator in one paragraph (for report.md).
	Method string `json:"method"`
	// TrafficFit is the traffic model fitted to a recorded ledger
	// (traffic.ledger); absent when the traffic is the scenario's.
	TrafficFit *TrafficFit `json:"traffic_fit,omitempty"`
}

// TrafficFit is the simulator's traffic model fitted to a recorded gatewayd
// ledger and scaled to the plan's monthly volume (package sim/ledgerfit fits
// it; docs/plan.md says what it keeps and what it loses).
type TrafficFit struct {
	// Ledger is the path the spec named (a file or a directory).
	Ledger string `json:"ledger"`
	// Files and Records are what was read; Requests the records kept (a
	// request of an identified client, one per record); Skipped the rest by
	// reason (aggregate, unidentified, no_route, method_not_allowed).
	Files    int              `json:"files"`
	Records  int64            `json:"records"`
	Requests int64            `json:"requests"`
	Skipped  map[string]int64 `json:"skipped"`
	// First and Last are the earliest and latest arrival kept; SpanS the
	// seconds between them.
	First time.Time `json:"first"`
	Last  time.Time `json:"last"`
	SpanS float64   `json:"span_s"`
	// RecordedPerSecond is the recorded mean request rate (over whole days
	// when a diurnal shape was fitted); ScaleFactor is the plan's rate over
	// it, applied to rates and key counts.
	RecordedPerSecond float64 `json:"recorded_per_second"`
	ScaleFactor       float64 `json:"scale_factor"`
	// Tiers is the fit per tier, by name.
	Tiers []TierFit `json:"tiers"`
	// Routes is the recorded route mix, by route and method.
	Routes []RouteFit `json:"routes"`
	// Diurnal is the 24 h shape fitted to hourly counts.
	Diurnal DiurnalFit `json:"diurnal"`
	// Notes say what was kept from the spec or scenario, and why.
	Notes []string `json:"notes"`
}

// TierFit is one tier's fitted traffic group.
type TierFit struct {
	Tier     string `json:"tier"`
	Requests int64  `json:"requests"`
	// Share is the tier's share of the recorded requests; Rate its scaled
	// mean rate per second.
	Share float64 `json:"share"`
	Rate  float64 `json:"rate"`
	// Keys is the distinct keys recorded, ScaledKeys the group's keys after
	// scaling (keys scale, per-key behaviour is kept).
	Keys       int `json:"keys"`
	ScaledKeys int `json:"scaled_keys"`
	// Zipf is the maximum-likelihood key popularity exponent over the
	// recorded keys' rank-frequency, ZipfSE its standard error.
	Zipf   float64 `json:"zipf"`
	ZipfSE float64 `json:"zipf_se"`
	// Dispersion is the index of dispersion of per-second counts (1 for
	// Poisson), DispersionZ its standard score against Poisson.
	Dispersion  float64 `json:"dispersion"`
	DispersionZ float64 `json:"dispersion_z"`
	// Arrival is poisson or mmpp; for mmpp the burst factor and the mean
	// high and low state durations in seconds.
	Arrival     string  `json:"arrival"`
	BurstFactor float64 `json:"burst_factor,omitempty"`
	HighTimeS   float64 `json:"high_time_s,omitempty"`
	LowTimeS    float64 `json:"low_time_s,omitempty"`
}

// RouteFit is one route and method of the recorded mix.
type RouteFit struct {
	Route    string  `json:"route"`
	Method   string  `json:"method"`
	Requests int64   `json:"requests"`
	Weight   float64 `json:"weight"`
}

// DiurnalFit is the fitted rate shape 1 + Amplitude x sin(2 pi (t + Phase) /
// Period), t the UTC time of day; Fitted is false when the ledger spans less
// than 24 whole hours (the spec's or scenario's shape is kept).
type DiurnalFit struct {
	Fitted    bool    `json:"fitted"`
	Hours     int     `json:"hours"`
	Amplitude float64 `json:"amplitude"`
	// AmplitudeSE is the amplitude's standard error from the fit's residuals.
	AmplitudeSE float64 `json:"amplitude_se"`
	PeriodS     float64 `json:"period_s"`
	PhaseS      float64 `json:"phase_s"`
}

// PlanObjectives are the SLO of a plan; a zero field is not checked.
type PlanObjectives struct {
	// Availability is the minimum monthly availability; it must hold at the
	// lower bound of its interval.
	Availability float64 `json:"availability"`
	// P99MS is the maximum p99 latency; it must hold at the upper bound.
	P99MS float64 `json:"p99_ms,omitempty"`
	// MaxFalse429Rate is the maximum share of compliant requests refused.
	MaxFalse429Rate float64 `json:"max_false_429_rate,omitempty"`
	// MaxOverAdmission is the maximum over-admission ratio.
	MaxOverAdmission float64 `json:"max_over_admission,omitempty"`
}

// PlanBudget bounds the replications per configuration.
type PlanBudget struct {
	MinReplications int `json:"min_replications"`
	MaxReplications int `json:"max_replications"`
	Batch           int `json:"batch"`
}

// FaultRate is one fault of the model with its rate and source.
type FaultRate struct {
	// Kind is a simulator fault kind (spot-interruption, az-outage,
	// redis-failover).
	Kind string `json:"kind"`
	// Rate and Unit state the model's rate ("per instance-hour",
	// "per zone-year", "per month"); per-type spot rates are in Detail.
	Rate   float64 `json:"rate"`
	Unit   string  `json:"unit"`
	Detail string  `json:"detail"`
	Source string  `json:"source"`
}

// PlanConfig is one deployment of the search space.
type PlanConfig struct {
	InstanceType string `json:"instance_type"`
	// Arch is arm64 or amd64 (from the price sheet).
	Arch         string `json:"arch"`
	Zones        int    `json:"zones"`
	NodesPerZone int    `json:"nodes_per_zone"`
	// OnDemand and Spot count the nodes of each market (the on-demand base
	// first, spread over the zones).
	OnDemand int `json:"on_demand"`
	Spot     int `json:"spot"`
	// Redis is none (each node decides alone), single, replica (primary
	// and replica in another zone), or cluster (RedisShards shards, each a
	// primary and a replica in the next zone).
	Redis string `json:"redis"`
	// RedisShards is the cluster's shard count (cluster only; absent
	// otherwise).
	RedisShards int `json:"redis_shards,omitempty"`
	// LeaseBatch is engine.lease_batch (0: a store call per request).
	LeaseBatch float64 `json:"lease_batch"`
	Algorithm  string  `json:"algorithm"`
	// HealthInterval is the load balancer's health-check interval; Fall its
	// unhealthy threshold.
	HealthInterval string `json:"health_interval"`
	Fall           int    `json:"fall"`
	// Drain makes spot nodes drain on the interruption notice.
	Drain bool `json:"drain"`
}

// Estimate is an estimate with its confidence interval.
type Estimate struct {
	Mean  float64 `json:"mean"`
	Lower float64 `json:"lower"`
	Upper float64 `json:"upper"`
}

// BillLine is one component of a monthly bill.
type BillLine struct {
	Component string  `json:"component"`
	Detail    string  `json:"detail"`
	USD       float64 `json:"usd"`
}

// Verdicts of a configuration.
const (
	VerdictMeets     = "meets"
	VerdictFails     = "fails"
	VerdictUndecided = "undecided"
)

// Evaluated is one configuration with its figures.
type Evaluated struct {
	Index  int        `json:"index"`
	Name   string     `json:"name"`
	Config PlanConfig `json:"config"`
	// MonthlyUSD is the month's bill; PerBillionUSD the same per 1e9 requests.
	MonthlyUSD    float64    `json:"monthly_usd"`
	PerBillionUSD float64    `json:"per_billion_usd"`
	Bill          []BillLine `json:"bill"`
	// Availability is the expected monthly availability.
	Availability Estimate `json:"availability"`
	// ErrorMinutes is (1 - availability) x the month's minutes: the expected
	// unavailability as minutes of total outage. Availability counts requests
	// (client retries included), like the simulator's.
	ErrorMinutes  Estimate `json:"error_minutes"`
	P99MS         Estimate `json:"p99_ms"`
	False429Rate  Estimate `json:"false_429_rate"`
	OverAdmission Estimate `json:"over_admission"`
	Rate429       Estimate `json:"rate_429"`
	// Faults is each fault's simulated impact per occurrence.
	Faults []FaultImpact `json:"faults"`
	// MonthSpread is how single months spread (with an availability
	// estimate).
	MonthSpread *MonthSpread `json:"month_spread,omitempty"`
	// Replications is the most replications of any kind (steady state or a
	// fault; each FaultImpact has its own); Simulations counts every
	// simulation run for this configuration.
	Replications int `json:"replications"`
	Simulations  int `json:"simulations"`
	// Verdict is meets, fails or undecided; Reason says why.
	Verdict string `json:"verdict"`
	Reason  string `json:"reason"`
}

// FaultImpact is one fault's impact on one configuration.
type FaultImpact struct {
	Kind string `json:"kind"`
	// PerMonth is the expected occurrences in a month on this configuration.
	PerMonth float64 `json:"per_month"`
	// Replications is the short simulations of this fault.
	Replications int `json:"replications"`
	// ErrorsPerEvent is the server-side errors one occurrence adds, beyond
	// the steady state's.
	ErrorsPerEvent Estimate `json:"errors_per_event"`
	// Extra429PerEvent is the 429s one occurrence adds.
	Extra429PerEvent Estimate `json:"extra_429_per_event"`
	// P99MS is the p99 latency over the fault's window (fault and recovery).
	P99MS Estimate `json:"p99_ms"`
	// WindowS is the mean simulated window (fault and recovery) in seconds.
	WindowS float64 `json:"window_s"`
}

// PlanPartial is one shard's result: `gwlab plan -shard i/n` writes it and
// `gwlab merge` combines the partials of every shard into plan.json.
type PlanPartial struct {
	PlanHeader
	// Shard is i of n (0-based), Shards is n.
	Shard  int `json:"shard"`
	Shards int `json:"shards"`
	// Evaluated holds the configurations with Index % Shards == Shard.
	Evaluated []Evaluated `json:"evaluated"`
}

// EncodePlan writes p as indented JSON with a trailing newline.
func EncodePlan(w io.Writer, p *Plan) error { return encode(w, p) }

// EncodePartial writes p as indented JSON with a trailing newline.
func EncodePartial(w io.Writer, p *PlanPartial) error { return encode(w, p) }

func encode(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("schema: encode: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// DecodePlan reads a plan.json strictly (unknown fields are errors) and
// checks its version.
func DecodePlan(r io.Reader) (*Plan, error) {
	var p Plan
	if err := decode(r, &p); err != nil {
		return nil, err
	}
	if p.Version != PlanVersion {
		return nil, fmt.Errorf("%w: version: must be %d, got %d", ErrPlan, PlanVersion, p.Version)
	}
	return &p, nil
}

// DecodePartial reads a partial strictly and checks its version and shard.
func DecodePartial(r io.Reader) (*PlanPartial, error) {
	var p PlanPartial
	if err := decode(r, &p); err != nil {
		return nil, err
	}
	if p.Version != PlanVersion {
		return nil, fmt.Errorf("%w: version: must be %d, got %d", ErrPlan, PlanVersion, p.Version)
	}
	if p.Shards < 1 || p.Shard < 0 || p.Shard >= p.Shards {
		return nil, fmt.Errorf("%w: shard: must be i/n with 0 <= i < n, got %d/%d", ErrPlan, p.Shard, p.Shards)
	}
	return &p, nil
}

func decode(r io.Reader, v any) error {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %v", ErrPlan, err)
	}
	if dec.More() {
		return fmt.Errorf("%w: trailing data after the JSON object", ErrPlan)
	}
	return nil
}

// ReadPlan reads the plan.json at path.
func ReadPlan(path string) (*Plan, error) {
	return readFile(path, "", DecodePlan)
}

// ReadPartial reads the partial at path.
func ReadPartial(path string) (*PlanPartial, error) {
	return readFile(path, "", DecodePartial)
}
