package cost

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ErrSheet is wrapped by every price-sheet parse or validation error.
var ErrSheet = errors.New("cost: invalid price sheet")

// Sheet is a dated price sheet: every price carries its source, the date of
// that source and a confidence tag. A Sheet is only ever used after Validate
// (Parse and LoadFile validate); it is read-only afterwards and safe for
// concurrent use.
type Sheet struct {
	// Version is the sheet format version; only 1 exists.
	Version  int    `yaml:"version"`
	Region   string `yaml:"region"`
	Currency string `yaml:"currency"`
	// Date is when the sheet as a whole was compiled (YYYY, YYYY-MM or YYYY-MM-DD).
	Date string `yaml:"date"`
	// HoursPerMonth converts hourly prices to a month (AWS uses 730).
	HoursPerMonth float64 `yaml:"hours_per_month"`

	APIGateway   APIGateway   `yaml:"api_gateway"`
	Instances    []Instance   `yaml:"instances"`
	LoadBalancer LoadBalancer `yaml:"load_balancer"`
	Network      Network      `yaml:"network"`
	Storage      Storage      `yaml:"storage"`
	Redis        Redis        `yaml:"redis"`
	Logs         Logs         `yaml:"logs"`
	// SpotInterruption gives the Advisor's interruption-frequency bands
	// their meaning as monthly shares, for fault models (gwlab plan).
	SpotInterruption SpotInterruption `yaml:"spot_interruption"`
}

// SpotInterruption is what the Spot Instance Advisor's interruption-frequency
// bands mean: the share of a type's spot instances that AWS reclaimed over the
// trailing month, as a range per band.
type SpotInterruption struct {
	// Definition quotes how the source defines the frequency.
	Definition string             `yaml:"definition"`
	Bands      []InterruptionBand `yaml:"bands"`
	Source     string             `yaml:"source"`
	Date       string             `yaml:"date"`
	Confidence string             `yaml:"confidence"`
}

// InterruptionBand is one band of Bands with its monthly share range, 0..1.
// Open-ended bands (">20%") carry an assumed upper bound, said in Note.
type InterruptionBand struct {
	Band        string  `yaml:"band"`
	MonthlyLow  float64 `yaml:"monthly_low"`
	MonthlyHigh float64 `yaml:"monthly_high"`
	Note        string  `yaml:"note"`
}

// SpotRate is the spot interruption rate per instance-hour of an instance
// type, from its Advisor band: the band's upper share (upper true, the
// conservative reading) or its midpoint, turned into a constant hazard over
// the sheet's month: -ln(1 - share) / hours_per_month.
func (s *Sheet) SpotRate(instanceType string, upper bool) (perHour float64, band string, err error) {
	in, ok := s.Instance(instanceType)
	if !ok {
		return 0, "", fmt.Errorf("%w: instance type: not in the price sheet (have %s), got %q", ErrFleet, strings.Join(s.InstanceTypes(), " "), instanceType)
	}
	for _, b := range s.SpotInterruption.Bands {
		if b.Band == in.Advisor.Interruption {
			share := b.MonthlyHigh
			if !upper {
				share = (b.MonthlyLow + b.MonthlyHigh) / 2
			}
			return -math.Log1p(-share) / s.HoursPerMonth, b.Band, nil
		}
	}
	return 0, "", fmt.Errorf("%w: spot_interruption.bands: no band %q (instance %s)", ErrSheet, in.Advisor.Interruption, instanceType)
}

// Price is one price in the sheet's currency with where it came from.
type Price struct {
	USD  float64 `yaml:"usd"`
	Unit string  `yaml:"unit"`
	// Source names the document the price was read from.
	Source string `yaml:"source"`
	// Date is the source's date: YYYY, YYYY-MM or YYYY-MM-DD.
	Date string `yaml:"date"`
	// Confidence is A (AWS's own data), B (transcribed or several sources
	// agree) or C (one secondary source or memory).
	Confidence string `yaml:"confidence"`
}

// Tier is one step of a tiered price: Next units at USD per unit. The last
// tier of a Tiered has Next 0 and covers everything beyond.
type Tier struct {
	Next float64 `yaml:"next"`
	USD  float64 `yaml:"usd"`
}

// Tiered is a volume-tiered price.
type Tiered struct {
	// Unit is what Next and the per-unit price count ("million requests", "GB").
	Unit       string `yaml:"unit"`
	Tiers      []Tier `yaml:"tiers"`
	Source     string `yaml:"source"`
	Date       string `yaml:"date"`
	Confidence string `yaml:"confidence"`
}

// APIGateway holds the managed gateway's per-request prices.
type APIGateway struct {
	REST Tiered `yaml:"rest"`
	HTTP Tiered `yaml:"http"`
}

// Instance is one EC2 instance type with its on-demand and spot prices.
type Instance struct {
	Type      string  `yaml:"type"`
	Arch      string  `yaml:"arch"`
	VCPU      int     `yaml:"vcpu"`
	MemoryGiB float64 `yaml:"memory_gib"`
	OnDemand  Price   `yaml:"on_demand"`
	// Spot is the lowest-zone spot price from AWS's feed: an optimistic bound.
	Spot    Price   `yaml:"spot"`
	Advisor Advisor `yaml:"advisor"`
}

// Advisor is the Spot Instance Advisor's view of an instance type.
type Advisor struct {
	// AvgSavings is the average spot discount against on-demand, 0..1.
	AvgSavings float64 `yaml:"avg_savings"`
	// Interruption is the interruption-frequency band: one of Bands.
	Interruption string `yaml:"interruption"`
	Source       string `yaml:"source"`
	Date         string `yaml:"date"`
}

// Bands are the Spot Instance Advisor's interruption-frequency bands.
var Bands = []string{"<5%", "5-10%", "10-15%", "15-20%", ">20%"}

// LoadBalancer is the L4 (network) load balancer's prices.
type LoadBalancer struct {
	NLBHour  Price `yaml:"nlb_hour"`
	NLCUHour Price `yaml:"nlcu_hour"`
	NLCU     NLCU  `yaml:"nlcu"`
}

// NLCU is what one network load balancer capacity unit buys per hour (TCP);
// an hour is billed on the largest dimension.
type NLCU struct {
	NewConnsPerS float64 `yaml:"new_conns_per_s"`
	ActiveConns  float64 `yaml:"active_conns"`
	GBPerHour    float64 `yaml:"gb_per_hour"`
	Source       string  `yaml:"source"`
	Date         string  `yaml:"date"`
}

// Network is data transfer and addressing.
type Network struct {
	// CrossAZPerGBEachWay is charged on both sides of a cross-zone transfer.
	CrossAZPerGBEachWay Price  `yaml:"cross_az_per_gb_each_way"`
	InternetEgress      Tiered `yaml:"internet_egress"`
	PublicIPv4Hour      Price  `yaml:"public_ipv4_hour"`
	NATHour             Price  `yaml:"nat_hour"`
	NATPerGB            Price  `yaml:"nat_per_gb"`
}

// Storage is block storage.
type Storage struct {
	EBSGBMonth Price `yaml:"ebs_gp3_gb_month"`
}

// Redis is the rate-limit store's prices: node-based and serverless.
type Redis struct {
	Nodes      []RedisNode       `yaml:"nodes"`
	Serverless []RedisServerless `yaml:"serverless"`
}

// RedisNode is one ElastiCache node type for one engine.
type RedisNode struct {
	Type   string `yaml:"type"`
	Engine string `yaml:"engine"`
	Hourly Price  `yaml:"hourly"`
}

// RedisServerless is ElastiCache Serverless for one engine.
type RedisServerless struct {
	Engine         string  `yaml:"engine"`
	GBHour         Price   `yaml:"gb_hour"`
	MinGB          float64 `yaml:"min_gb"`
	ECPUPerMillion Price   `yaml:"ecpu_per_million"`
}

// Logs is log shipping: per-request CloudWatch against batched S3 objects.
type Logs struct {
	CloudWatchIngestGB       Price `yaml:"cloudwatch_ingest_gb"`
	CloudWatchStorageGBMonth Price `yaml:"cloudwatch_storage_gb_month"`
	S3StorageGBMonth         Price `yaml:"s3_storage_gb_month"`
	S3PutPer1000             Price `yaml:"s3_put_per_1000"`
	FirehoseGB               Price `yaml:"firehose_gb"`
}

// Parse decodes a sheet strictly (unknown fields are errors) and validates
// it, returning every problem at once with its field path.
func Parse(b []byte) (*Sheet, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var s Sheet
	if err := dec.Decode(&s); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: empty document", ErrSheet)
		}
		return nil, fmt.Errorf("%w: %v", ErrSheet, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: more than one YAML document", ErrSheet)
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return &s, nil
}

// LoadFile reads and parses the sheet in path.
func LoadFile(path string) (*Sheet, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cost: price sheet: %w", err)
	}
	s, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

var dateRE = regexp.MustCompile(`^(19|20)\d\d(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?)?$`)

// Validate checks every field and returns all problems joined, each naming
// the field and the value, wrapped in ErrSheet.
func (s *Sheet) Validate() error {
	var v validator
	if s.Version != 1 {
		v.addf("version", "must be 1, got %d", s.Version)
	}
	v.nonEmpty("region", s.Region)
	if s.Currency != "USD" {
		v.addf("currency", "must be USD, got %q", s.Currency)
	}
	v.date("date", s.Date)
	if !(s.HoursPerMonth >= 672 && s.HoursPerMonth <= 745) {
		v.addf("hours_per_month", "must be between 672 and 745, got %v", s.HoursPerMonth)
	}
	v.tiered("api_gateway.rest", s.APIGateway.REST)
	v.tiered("api_gateway.http", s.APIGateway.HTTP)
	if len(s.Instances) == 0 {
		v.addf("instances", "must list at least one instance type")
	}
	seen := map[string]int{}
	for i, in := range s.Instances {
		p := fmt.Sprintf("instances[%d]", i)
		v.nonEmpty(p+".type", in.Type)
		if j, dup := seen[in.Type]; dup && in.Type != "" {
			v.addf(p+".type", "duplicate of instances[%d], got %q", j, in.Type)
		}
		seen[in.Type] = i
		if in.Arch != "arm64" && in.Arch != "amd64" {
			v.addf(p+".arch", "must be arm64 or amd64, got %q", in.Arch)
		}
		if in.VCPU <= 0 || in.VCPU > 1024 {
			v.addf(p+".vcpu", "must be in 1..1024, got %d", in.VCPU)
		}
		v.positive(p+".memory_gib", in.MemoryGiB)
		v.price(p+".on_demand", in.OnDemand)
		v.price(p+".spot", in.Spot)
		if in.Spot.USD > in.OnDemand.USD {
			v.addf(p+".spot.usd", "must not exceed on_demand.usd %v, got %v", in.OnDemand.USD, in.Spot.USD)
		}
		if !(in.Advisor.AvgSavings >= 0 && in.Advisor.AvgSavings < 1) {
			v.addf(p+".advisor.avg_savings", "must be in [0, 1), got %v", in.Advisor.AvgSavings)
		}
		if !contains(Bands, in.Advisor.Interruption) {
			v.addf(p+".advisor.interruption", "must be one of %s, got %q", strings.Join(Bands, " "), in.Advisor.Interruption)
		}
		v.nonEmpty(p+".advisor.source", in.Advisor.Source)
		v.date(p+".advisor.date", in.Advisor.Date)
	}
	lb := s.LoadBalancer
	v.price("load_balancer.nlb_hour", lb.NLBHour)
	v.price("load_balancer.nlcu_hour", lb.NLCUHour)
	v.positive("load_balancer.nlcu.new_conns_per_s", lb.NLCU.NewConnsPerS)
	v.positive("load_balancer.nlcu.active_conns", lb.NLCU.ActiveConns)
	v.positive("load_balancer.nlcu.gb_per_hour", lb.NLCU.GBPerHour)
	v.nonEmpty("load_balancer.nlcu.source", lb.NLCU.Source)
	v.date("load_balancer.nlcu.date", lb.NLCU.Date)
	n := s.Network
	v.price("network.cross_az_per_gb_each_way", n.CrossAZPerGBEachWay)
	v.tiered("network.internet_egress", n.InternetEgress)
	v.price("network.public_ipv4_hour", n.PublicIPv4Hour)
	v.price("network.nat_hour", n.NATHour)
	v.price("network.nat_per_gb", n.NATPerGB)
	v.price("storage.ebs_gp3_gb_month", s.Storage.EBSGBMonth)
	if len(s.Redis.Nodes) == 0 && len(s.Redis.Serverless) == 0 {
		v.addf("redis", "must list at least one node type or serverless engine")
	}
	seenNode := map[string]int{}
	for i, rn := range s.Redis.Nodes {
		p := fmt.Sprintf("redis.nodes[%d]", i)
		v.nonEmpty(p+".type", rn.Type)
		v.engine(p+".engine", rn.Engine)
		k := rn.Engine + ":" + rn.Type
		if j, dup := seenNode[k]; dup {
			v.addf(p, "duplicate of redis.nodes[%d], got %q", j, k)
		}
		seenNode[k] = i
		v.price(p+".hourly", rn.Hourly)
	}
	seenSL := map[string]int{}
	for i, sl := range s.Redis.Serverless {
		p := fmt.Sprintf("redis.serverless[%d]", i)
		v.engine(p+".engine", sl.Engine)
		if j, dup := seenSL[sl.Engine]; dup {
			v.addf(p+".engine", "duplicate of redis.serverless[%d], got %q", j, sl.Engine)
		}
		seenSL[sl.Engine] = i
		v.price(p+".gb_hour", sl.GBHour)
		if !(sl.MinGB >= 0 && sl.MinGB < 1e6) {
			v.addf(p+".min_gb", "must be in [0, 1e6), got %v", sl.MinGB)
		}
		v.price(p+".ecpu_per_million", sl.ECPUPerMillion)
	}
	l := s.Logs
	v.price("logs.cloudwatch_ingest_gb", l.CloudWatchIngestGB)
	v.price("logs.cloudwatch_storage_gb_month", l.CloudWatchStorageGBMonth)
	v.price("logs.s3_storage_gb_month", l.S3StorageGBMonth)
	v.price("logs.s3_put_per_1000", l.S3PutPer1000)
	v.price("logs.firehose_gb", l.FirehoseGB)
	si := s.SpotInterruption
	v.nonEmpty("spot_interruption.definition", si.Definition)
	v.nonEmpty("spot_interruption.source", si.Source)
	v.date("spot_interruption.date", si.Date)
	v.confidence("spot_interruption.confidence", si.Confidence)
	seenBand := map[string]int{}
	for i, b := range si.Bands {
		p := fmt.Sprintf("spot_interruption.bands[%d]", i)
		if !contains(Bands, b.Band) {
			v.addf(p+".band", "must be one of %s, got %q", strings.Join(Bands, " "), b.Band)
		}
		if j, dup := seenBand[b.Band]; dup {
			v.addf(p+".band", "duplicate of spot_interruption.bands[%d], got %q", j, b.Band)
		}
		seenBand[b.Band] = i
		if !(b.MonthlyLow >= 0 && b.MonthlyLow <= b.MonthlyHigh && b.MonthlyHigh < 1) {
			v.addf(p, "monthly_low and monthly_high must satisfy 0 <= low <= high < 1, got %v and %v", b.MonthlyLow, b.MonthlyHigh)
		}
	}
	for _, b := range Bands {
		if _, ok := seenBand[b]; !ok {
			v.addf("spot_interruption.bands", "must list band %q", b)
		}
	}
	if len(v.errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w:\n%w", ErrSheet, errors.Join(v.errs...))
}

type validator struct{ errs []error }

func (v *validator) addf(path, format string, args ...any) {
	v.errs = append(v.errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
}

func (v *validator) nonEmpty(path, s string) {
	if strings.TrimSpace(s) == "" {
		v.addf(path, "must not be empty")
	}
}

func (v *validator) positive(path string, x float64) {
	if !(x > 0) || math.IsInf(x, 0) {
		v.addf(path, "must be > 0 and finite, got %v", x)
	}
}

func (v *validator) date(path, d string) {
	if !dateRE.MatchString(d) {
		v.addf(path, "must be YYYY, YYYY-MM or YYYY-MM-DD, got %q", d)
	}
}

func (v *validator) engine(path, e string) {
	if e != "valkey" && e != "redis-oss" {
		v.addf(path, "must be valkey or redis-oss, got %q", e)
	}
}

// maxUSD bounds any single unit price: anything above is a typo.
const maxUSD = 1e5

func (v *validator) usd(path string, x float64) {
	if !(x >= 0 && x <= maxUSD) {
		v.addf(path, "must be in [0, %g], got %v", float64(maxUSD), x)
	}
}

func (v *validator) price(path string, p Price) {
	v.usd(path+".usd", p.USD)
	v.nonEmpty(path+".unit", p.Unit)
	v.nonEmpty(path+".source", p.Source)
	v.date(path+".date", p.Date)
	v.confidence(path+".confidence", p.Confidence)
}

func (v *validator) confidence(path, c string) {
	if c != "A" && c != "B" && c != "C" {
		v.addf(path, "must be A, B or C, got %q", c)
	}
}

func (v *validator) tiered(path string, t Tiered) {
	v.nonEmpty(path+".unit", t.Unit)
	v.nonEmpty(path+".source", t.Source)
	v.date(path+".date", t.Date)
	v.confidence(path+".confidence", t.Confidence)
	if len(t.Tiers) == 0 {
		v.addf(path+".tiers", "must list at least one tier")
		return
	}
	for i, tr := range t.Tiers {
		p := fmt.Sprintf("%s.tiers[%d]", path, i)
		v.usd(p+".usd", tr.USD)
		last := i == len(t.Tiers)-1
		switch {
		case last && tr.Next != 0:
			v.addf(p+".next", "must be omitted on the last tier (it covers everything beyond), got %v", tr.Next)
		case !last && !(tr.Next > 0 && tr.Next < 1e15):
			v.addf(p+".next", "must be > 0 and < 1e15 on every tier but the last, got %v", tr.Next)
		}
	}
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

// Instance returns the instance type named t.
func (s *Sheet) Instance(t string) (Instance, bool) {
	for _, in := range s.Instances {
		if in.Type == t {
			return in, true
		}
	}
	return Instance{}, false
}

// InstanceTypes returns the sheet's instance type names, sorted.
func (s *Sheet) InstanceTypes() []string {
	out := make([]string, 0, len(s.Instances))
	for _, in := range s.Instances {
		out = append(out, in.Type)
	}
	sort.Strings(out)
	return out
}

// RedisNode returns the node type named by name: "engine:type" or "type"
// (valkey assumed, the cheaper engine).
func (s *Sheet) RedisNode(name string) (RedisNode, bool) {
	engine, typ, ok := strings.Cut(name, ":")
	if !ok {
		engine, typ = "valkey", name
	}
	for _, rn := range s.Redis.Nodes {
		if rn.Engine == engine && rn.Type == typ {
			return rn, true
		}
	}
	return RedisNode{}, false
}

// RedisServerless returns the serverless prices for engine.
func (s *Sheet) RedisServerless(engine string) (RedisServerless, bool) {
	for _, sl := range s.Redis.Serverless {
		if sl.Engine == engine {
			return sl, true
		}
	}
	return RedisServerless{}, false
}

// SpotDiscounts returns the range of spot discounts in the sheet: from the
// feed (1 - spot/on-demand) and from the Advisor's average savings, each as
// fractions in [0, 1].
func (s *Sheet) SpotDiscounts() (feedMin, feedMax, advisorMin, advisorMax float64) {
	feedMin, advisorMin = 1, 1
	for _, in := range s.Instances {
		if in.OnDemand.USD <= 0 {
			continue
		}
		d := 1 - in.Spot.USD/in.OnDemand.USD
		feedMin, feedMax = math.Min(feedMin, d), math.Max(feedMax, d)
		advisorMin, advisorMax = math.Min(advisorMin, in.Advisor.AvgSavings), math.Max(advisorMax, in.Advisor.AvgSavings)
	}
	if feedMin > feedMax {
		feedMin = feedMax
	}
	if advisorMin > advisorMax {
		advisorMin = advisorMax
	}
	return feedMin, feedMax, advisorMin, advisorMax
}

// Cost returns the bill for quantity units under t's tiers.
func (t Tiered) Cost(quantity float64) float64 {
	if !(quantity > 0) {
		return 0
	}
	total, left := 0.0, quantity
	for i, tr := range t.Tiers {
		n := left
		if i < len(t.Tiers)-1 && tr.Next < n {
			n = tr.Next
		}
		total += n * tr.USD
		left -= n
		if left <= 0 {
			break
		}
	}
	return total
}
