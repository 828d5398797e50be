package cost

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"tollgate/schema"
)

// ErrFleet is wrapped by fleet-spec and usage errors.
var ErrFleet = errors.New("cost: invalid fleet")

// Markets of an instance.
const (
	OnDemand = "on-demand"
	Spot     = "spot"
)

// Log sinks.
const (
	LogsS3         = "s3"         // batched, compressed objects through the free gateway endpoint
	LogsCloudWatch = "cloudwatch" // one log event per request into CloudWatch Logs
	LogsNone       = "none"
)

// FleetNode is Count instances of one type in one market, running all month.
type FleetNode struct {
	Type   string
	Market string
	Count  int
}

// ParseFleet parses a fleet spec: "TYPE:MARKET:COUNT" entries separated by
// commas, e.g. "c7g.medium:spot:3,c7g.medium:on-demand:1". MARKET is spot or
// on-demand. Instance types are checked against the sheet by Bill.
func ParseFleet(spec string) ([]FleetNode, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return nil, fmt.Errorf("%w: fleet: must not be empty", ErrFleet)
	}
	var out []FleetNode
	for i, part := range strings.Split(spec, ",") {
		f := strings.Split(strings.TrimSpace(part), ":")
		if len(f) != 3 {
			return nil, fmt.Errorf("%w: fleet[%d]: want TYPE:MARKET:COUNT, got %q", ErrFleet, i, part)
		}
		if f[0] == "" {
			return nil, fmt.Errorf("%w: fleet[%d].type: must not be empty, got %q", ErrFleet, i, part)
		}
		if f[1] != Spot && f[1] != OnDemand {
			return nil, fmt.Errorf("%w: fleet[%d].market: must be spot or on-demand, got %q", ErrFleet, i, f[1])
		}
		n, err := strconv.Atoi(f[2])
		if err != nil || n < 1 || n > 100000 {
			return nil, fmt.Errorf("%w: fleet[%d].count: must be an integer in 1..100000, got %q", ErrFleet, i, f[2])
		}
		out = append(out, FleetNode{Type: f[0], Market: f[1], Count: n})
	}
	return out, nil
}

// FormatFleet is the inverse of ParseFleet.
func FormatFleet(f []FleetNode) string {
	parts := make([]string, len(f))
	for i, n := range f {
		parts[i] = fmt.Sprintf("%s:%s:%d", n.Type, n.Market, n.Count)
	}
	return strings.Join(parts, ",")
}

// Assumptions are what a bill needs beyond the fleet: payload sizes, logging,
// the Redis choice. The defaults are the worked example's (docs/reports.md).
type Assumptions struct {
	// RequestBytes and ResponseBytes are the average payload sizes through the
	// load balancer; responses leave to the internet.
	RequestBytes, ResponseBytes float64
	// LogBytesPerRequest is one access-log line; LogCompression is the
	// compressed size over the raw size for batched objects.
	LogBytesPerRequest, LogCompression float64
	// Logs is LogsS3, LogsCloudWatch or LogsNone.
	Logs string
	// LogPUTsPerNodeMinute is how often each node ships a batch to S3.
	LogPUTsPerNodeMinute float64
	// CrossAZFraction of requests cross a zone to reach the Redis primary,
	// carrying CrossAZBytesPerRequest.
	CrossAZFraction, CrossAZBytesPerRequest float64
	// EBSGBPerNode is each node's root volume.
	EBSGBPerNode float64
	// Zones is how many zones the load balancer spans (one public IPv4 each).
	Zones int
	// LoadBalancers running all month.
	LoadBalancers int
	// Redis is "serverless:ENGINE", "ENGINE:TYPE", "TYPE" (valkey) or "none".
	Redis string
	// RedisNodes is primary plus replicas for a node-based Redis.
	RedisNodes int
	// RedisDataGB is the rate-limit state held (serverless bills storage).
	RedisDataGB float64
	// RedisOpsPerRequest is store operations per request (ECPU for serverless).
	RedisOpsPerRequest float64
	// NATGateways, if any, run all month and carry every egress GB.
	NATGateways int
}

// DefaultAssumptions returns the worked example's: 1 KB requests, 4 KB
// responses, 500-byte log lines gzipped to a tenth and batched to S3 once a
// minute per node, 2/3 of requests crossing a zone with 300 bytes to Redis,
// 8 GB gp3 per node, one NLB over 3 zones, Valkey Serverless holding 0.1 GB
// at one operation per request, no NAT gateway.
func DefaultAssumptions() Assumptions {
	return Assumptions{
		RequestBytes: 1000, ResponseBytes: 4000,
		LogBytesPerRequest: 500, LogCompression: 0.1, Logs: LogsS3, LogPUTsPerNodeMinute: 1,
		CrossAZFraction: 2.0 / 3, CrossAZBytesPerRequest: 300,
		EBSGBPerNode: 8, Zones: 3, LoadBalancers: 1,
		Redis: "serverless:valkey", RedisNodes: 2, RedisDataGB: 0.1, RedisOpsPerRequest: 1,
	}
}

// Usage is one month of resources, the cost model's input.
type Usage struct {
	// Requests served in the month.
	Requests float64
	// Nodes is instance-hours by type and market.
	Nodes []NodeUsage
	// LoadBalancerHours, LBProcessedGB and LBNewConnsPerS (average) drive the
	// NLB bill.
	LoadBalancerHours, LBProcessedGB, LBNewConnsPerS float64
	PublicIPv4Hours                                  float64
	EBSGBMonths                                      float64
	// RedisNode ("ENGINE:TYPE" or "TYPE") with RedisNodeHours, or
	// RedisServerless (an engine) with RedisDataGB and RedisECPU.
	RedisNode         string
	RedisNodeHours    float64
	RedisServerless   string
	RedisDataGB       float64
	RedisECPU         float64
	CrossAZGB         float64
	EgressGB          float64
	Logs              string
	LogRawGB, LogPUTs float64
	LogCompression    float64
	NATHours, NATGB   float64
	// Notes lists what was assumed rather than measured.
	Notes []string
}

// NodeUsage is hours of one instance type in one market.
type NodeUsage struct {
	Type   string
	Market string
	Hours  float64
}

// FleetUsage is a month of fleet running for requests under a.
func FleetUsage(sh *Sheet, requests float64, fleet []FleetNode, a Assumptions) Usage {
	h := sh.HoursPerMonth
	u := Usage{Requests: requests}
	nodeHours := 0.0
	for _, n := range fleet {
		hrs := float64(n.Count) * h
		u.Nodes = append(u.Nodes, NodeUsage{Type: n.Type, Market: n.Market, Hours: hrs})
		nodeHours += hrs
	}
	a.fill(sh, &u, requests, nodeHours, float64(a.LoadBalancers)*h)
	u.CrossAZGB = requests * a.CrossAZFraction * a.CrossAZBytesPerRequest / 1e9
	u.EgressGB = requests * a.ResponseBytes / 1e9
	u.LBProcessedGB = requests * (a.RequestBytes + a.ResponseBytes) / 1e9
	u.NATGB = 0
	if a.NATGateways > 0 {
		u.NATGB = u.EgressGB
	}
	return u
}

// fill sets what depends only on requests, node-hours and LB hours.
func (a Assumptions) fill(sh *Sheet, u *Usage, requests, nodeHours, lbHours float64) {
	h := sh.HoursPerMonth
	u.LoadBalancerHours = lbHours
	u.LBNewConnsPerS = 0 // keep-alive: bytes dominate (docs/reports.md, worked example)
	u.PublicIPv4Hours = float64(a.Zones) * lbHours
	u.EBSGBMonths = a.EBSGBPerNode * nodeHours / h
	switch r := a.Redis; {
	case r == "" || r == "none":
	case strings.HasPrefix(r, "serverless:"):
		u.RedisServerless = strings.TrimPrefix(r, "serverless:")
		u.RedisDataGB = a.RedisDataGB
		u.RedisECPU = requests * a.RedisOpsPerRequest
	default:
		u.RedisNode = r
		u.RedisNodeHours = float64(a.RedisNodes) * h
	}
	u.Logs = a.Logs
	u.LogRawGB = requests * a.LogBytesPerRequest / 1e9
	u.LogCompression = a.LogCompression
	u.LogPUTs = nodeHours * 60 * a.LogPUTsPerNodeMinute
	u.NATHours = float64(a.NATGateways) * h
}

// SummaryUsage scales a run's fleet section to a month (hours_per_month over
// the measured duration). What the summary measured it takes as measured;
// what it leaves at zero (egress, cross-zone bytes, Redis) comes from a,
// and each such line is listed in Usage.Notes.
func SummaryUsage(sh *Sheet, s *schema.Summary, a Assumptions) (Usage, error) {
	if !(s.DurationS > 0) || math.IsInf(s.DurationS, 0) {
		return Usage{}, fmt.Errorf("%w: duration_s: must be > 0, got %v", ErrFleet, s.DurationS)
	}
	scale := sh.HoursPerMonth * 3600 / s.DurationS
	f := s.Fleet
	reqs := float64(f.Requests)
	if reqs == 0 {
		reqs = float64(s.Requests.Total)
	}
	u := Usage{Requests: reqs * scale}
	nodeHours := 0.0
	for i, n := range f.Nodes {
		if n.Hours < 0 || math.IsNaN(n.Hours) || math.IsInf(n.Hours, 0) {
			return Usage{}, fmt.Errorf("%w: fleet.nodes[%d].hours: must be >= 0, got %v", ErrFleet, i, n.Hours)
		}
		u.Nodes = append(u.Nodes, NodeUsage{Type: n.InstanceType, Market: n.Market, Hours: n.Hours * scale})
		nodeHours += n.Hours * scale
	}
	a.fill(sh, &u, u.Requests, nodeHours, f.LoadBalancerHours*scale)
	// Redis: the run's own nodes if it had any; serverless from a otherwise
	// (but only if the run used a store at all).
	switch {
	case f.RedisNodeHours > 0:
		u.RedisServerless, u.RedisDataGB, u.RedisECPU = "", 0, 0
		u.RedisNode = f.RedisNodeType
		u.RedisNodeHours = f.RedisNodeHours * scale
	case strings.HasPrefix(f.RedisNodeType, "serverless:"):
		u.RedisNode, u.RedisNodeHours = "", 0
		u.RedisServerless = strings.TrimPrefix(f.RedisNodeType, "serverless:")
		u.RedisDataGB = a.RedisDataGB
		u.RedisECPU = u.Requests * s.RedisOpsPerRequest
	case s.RedisOpsPerRequest > 0:
		if u.RedisServerless != "" {
			u.RedisECPU = u.Requests * s.RedisOpsPerRequest
		}
		u.Notes = append(u.Notes, fmt.Sprintf("Redis: the run reports no Redis nodes; priced as %s", a.Redis))
	default:
		u.RedisNode, u.RedisNodeHours, u.RedisServerless, u.RedisDataGB, u.RedisECPU = "", 0, "", 0, 0
	}
	if f.CrossAZGB > 0 {
		u.CrossAZGB = f.CrossAZGB * scale
	} else {
		u.CrossAZGB = u.Requests * a.CrossAZFraction * a.CrossAZBytesPerRequest / 1e9
		u.Notes = append(u.Notes, fmt.Sprintf("cross-AZ bytes: not measured; assumed %.0f%% of requests x %.0f B", a.CrossAZFraction*100, a.CrossAZBytesPerRequest))
	}
	if f.EgressGB > 0 {
		u.EgressGB = f.EgressGB * scale
	} else {
		u.EgressGB = u.Requests * a.ResponseBytes / 1e9
		u.Notes = append(u.Notes, fmt.Sprintf("egress: not measured; assumed %.0f B per response", a.ResponseBytes))
	}
	u.LBProcessedGB = u.Requests*a.RequestBytes/1e9 + u.EgressGB
	if a.NATGateways > 0 {
		u.NATGB = u.EgressGB
	}
	return u, nil
}

// Line is one component of a bill.
type Line struct {
	// Component is a stable name: compute, nlb-hours, nlb-capacity,
	// public-ipv4, ebs, redis, cross-az, logs, egress, nat, requests.
	Component string
	// Detail says how the figure was computed.
	Detail string
	// USD for the month.
	USD float64
}

// Bill is a month's bill for Requests requests.
type Bill struct {
	Name     string
	Requests float64
	Lines    []Line
}

// Total is the sum of the lines.
func (b Bill) Total() float64 {
	t := 0.0
	for _, l := range b.Lines {
		t += l.USD
	}
	return t
}

// Without is the total less the named components.
func (b Bill) Without(components ...string) float64 {
	t := 0.0
	for _, l := range b.Lines {
		if !contains(components, l.Component) {
			t += l.USD
		}
	}
	return t
}

// Line returns the named component's amount (0 if absent).
func (b Bill) Line(component string) float64 {
	t := 0.0
	for _, l := range b.Lines {
		if l.Component == component {
			t += l.USD
		}
	}
	return t
}

// PerMillion is the total per million requests (0 with no requests).
func (b Bill) PerMillion() float64 { return perN(b.Total(), b.Requests, 1e6) }

// PerBillion is the total per billion requests (0 with no requests).
func (b Bill) PerBillion() float64 { return perN(b.Total(), b.Requests, 1e9) }

func perN(total, requests, n float64) float64 {
	if !(requests > 0) {
		return 0
	}
	return total / requests * n
}

// Component names.
const (
	CRequests    = "requests"
	CCompute     = "compute"
	CNLBHours    = "nlb-hours"
	CNLBCapacity = "nlb-capacity"
	CPublicIPv4  = "public-ipv4"
	CEBS         = "ebs"
	CRedis       = "redis"
	CCrossAZ     = "cross-az"
	CLogs        = "logs"
	CEgress      = "egress"
	CNAT         = "nat"
)

// ComponentTitle is a human name for a component.
func ComponentTitle(c string) string {
	switch c {
	case CRequests:
		return "requests (managed)"
	case CCompute:
		return "compute (EC2)"
	case CNLBHours:
		return "NLB hours"
	case CNLBCapacity:
		return "NLB capacity (NLCU)"
	case CPublicIPv4:
		return "public IPv4"
	case CEBS:
		return "EBS volumes"
	case CRedis:
		return "Redis"
	case CCrossAZ:
		return "cross-AZ transfer"
	case CLogs:
		return "logs"
	case CEgress:
		return "internet egress"
	case CNAT:
		return "NAT gateway"
	}
	return c
}

// Managed is which API Gateway product.
type Managed string

// The managed products.
const (
	REST Managed = "rest"
	HTTP Managed = "http"
)

// ManagedBill is API Gateway's bill for u's requests, egress and (if u.Logs is
// cloudwatch) access logs. The managed option needs no fleet or Redis.
func ManagedBill(sh *Sheet, kind Managed, u Usage) Bill {
	t := sh.APIGateway.HTTP
	name := "API Gateway HTTP API"
	if kind == REST {
		t, name = sh.APIGateway.REST, "API Gateway REST API"
	}
	b := Bill{Name: name, Requests: u.Requests}
	b.Lines = append(b.Lines, Line{CRequests, fmt.Sprintf("%s tiered, %s requests", kind, Count(u.Requests)), t.Cost(u.Requests / 1e6)})
	if u.Logs == LogsCloudWatch {
		b.Lines = append(b.Lines, cloudWatchLogs(sh, u))
	}
	b.Lines = append(b.Lines, Line{CEgress, fmt.Sprintf("%.0f GB out, tiered", u.EgressGB), sh.Network.InternetEgress.Cost(u.EgressGB)})
	return b
}

func cloudWatchLogs(sh *Sheet, u Usage) Line {
	ingest := u.LogRawGB * sh.Logs.CloudWatchIngestGB.USD
	store := u.LogRawGB * u.LogCompression * sh.Logs.CloudWatchStorageGBMonth.USD
	return Line{CLogs, fmt.Sprintf("CloudWatch: %.0f GB ingested + %.0f GB stored", u.LogRawGB, u.LogRawGB*u.LogCompression), ingest + store}
}

// FleetBill is the self-hosted bill for u, by component. It fails if an
// instance or Redis type is not in the sheet.
func FleetBill(sh *Sheet, name string, u Usage) (Bill, error) {
	b := Bill{Name: name, Requests: u.Requests}
	var compute float64
	var parts []string
	nodes := append([]NodeUsage(nil), u.Nodes...)
	sort.SliceStable(nodes, func(i, j int) bool {
		if nodes[i].Type != nodes[j].Type {
			return nodes[i].Type < nodes[j].Type
		}
		return nodes[i].Market < nodes[j].Market
	})
	for i, n := range nodes {
		in, ok := sh.Instance(n.Type)
		if !ok {
			return Bill{}, fmt.Errorf("%w: nodes[%d].type: not in the price sheet (have %s), got %q", ErrFleet, i, strings.Join(sh.InstanceTypes(), " "), n.Type)
		}
		var p float64
		switch n.Market {
		case OnDemand:
			p = in.OnDemand.USD
		case Spot:
			p = in.Spot.USD
		default:
			return Bill{}, fmt.Errorf("%w: nodes[%d].market: must be spot or on-demand, got %q", ErrFleet, i, n.Market)
		}
		compute += n.Hours * p
		parts = append(parts, fmt.Sprintf("%.0f h %s %s", n.Hours, n.Type, n.Market))
	}
	b.Lines = append(b.Lines, Line{CCompute, strings.Join(parts, " + "), compute})
	lb := sh.LoadBalancer
	b.Lines = append(b.Lines, Line{CNLBHours, fmt.Sprintf("%.0f LB-hours", u.LoadBalancerHours), u.LoadBalancerHours * lb.NLBHour.USD})
	// NLCU-hours: the largest dimension; with averages over the month the
	// processed bytes give GB / (GB per NLCU-hour) NLCU-hours.
	nlcu := u.LBProcessedGB / lb.NLCU.GBPerHour
	if c := u.LBNewConnsPerS / lb.NLCU.NewConnsPerS * u.LoadBalancerHours; c > nlcu {
		nlcu = c
	}
	if u.LoadBalancerHours == 0 {
		nlcu = 0
	}
	b.Lines = append(b.Lines, Line{CNLBCapacity, fmt.Sprintf("%.0f NLCU-hours (%.0f GB processed)", nlcu, u.LBProcessedGB), nlcu * lb.NLCUHour.USD})
	b.Lines = append(b.Lines, Line{CPublicIPv4, fmt.Sprintf("%.0f address-hours", u.PublicIPv4Hours), u.PublicIPv4Hours * sh.Network.PublicIPv4Hour.USD})
	b.Lines = append(b.Lines, Line{CEBS, fmt.Sprintf("%.1f GB-months gp3", u.EBSGBMonths), u.EBSGBMonths * sh.Storage.EBSGBMonth.USD})
	switch {
	case u.RedisNode != "":
		rn, ok := sh.RedisNode(u.RedisNode)
		if !ok {
			return Bill{}, fmt.Errorf("%w: redis node %q: not in the price sheet", ErrFleet, u.RedisNode)
		}
		b.Lines = append(b.Lines, Line{CRedis, fmt.Sprintf("%.0f node-hours %s %s", u.RedisNodeHours, rn.Engine, rn.Type), u.RedisNodeHours * rn.Hourly.USD})
	case u.RedisServerless != "":
		sl, ok := sh.RedisServerless(u.RedisServerless)
		if !ok {
			return Bill{}, fmt.Errorf("%w: redis serverless engine %q: not in the price sheet", ErrFleet, u.RedisServerless)
		}
		gb := math.Max(u.RedisDataGB, sl.MinGB)
		usd := gb*sl.GBHour.USD*sh.HoursPerMonth + u.RedisECPU/1e6*sl.ECPUPerMillion.USD
		b.Lines = append(b.Lines, Line{CRedis, fmt.Sprintf("%s serverless: %.1f GB stored, %s ECPU", sl.Engine, gb, Count(u.RedisECPU)), usd})
	default:
		b.Lines = append(b.Lines, Line{CRedis, "none", 0})
	}
	b.Lines = append(b.Lines, Line{CCrossAZ, fmt.Sprintf("%.0f GB, billed both ways", u.CrossAZGB), u.CrossAZGB * 2 * sh.Network.CrossAZPerGBEachWay.USD})
	switch u.Logs {
	case LogsS3:
		gz := u.LogRawGB * u.LogCompression
		usd := u.LogPUTs/1000*sh.Logs.S3PutPer1000.USD + gz*sh.Logs.S3StorageGBMonth.USD
		b.Lines = append(b.Lines, Line{CLogs, fmt.Sprintf("S3 batches: %s PUTs + %.0f GB compressed", Count(u.LogPUTs), gz), usd})
	case LogsCloudWatch:
		b.Lines = append(b.Lines, cloudWatchLogs(sh, u))
	default:
		b.Lines = append(b.Lines, Line{CLogs, "none", 0})
	}
	if u.NATHours > 0 {
		b.Lines = append(b.Lines, Line{CNAT, fmt.Sprintf("%.0f NAT-hours + %.0f GB", u.NATHours, u.NATGB), u.NATHours*sh.Network.NATHour.USD + u.NATGB*sh.Network.NATPerGB.USD})
	}
	b.Lines = append(b.Lines, Line{CEgress, fmt.Sprintf("%.0f GB out, tiered", u.EgressGB), sh.Network.InternetEgress.Cost(u.EgressGB)})
	return b, nil
}

// Count formats a count compactly: 1.0e9 -> "1B", 3.33e8 -> "333M".
func Count(n float64) string {
	switch a := math.Abs(n); {
	case a >= 1e9:
		return trimFloat(n/1e9) + "B"
	case a >= 1e6:
		return trimFloat(n/1e6) + "M"
	case a >= 1e3:
		return trimFloat(n/1e3) + "k"
	}
	return trimFloat(n)
}

func trimFloat(x float64) string {
	s := strconv.FormatFloat(x, 'f', 2, 64)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return s
}

// ParseCount parses a request count: an integer or float with an optional
// k, M, B suffix ("1e9", "1B", "250M").
func ParseCount(s string) (float64, error) {
	t := strings.TrimSpace(s)
	mult := 1.0
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'k', 'K':
			mult, t = 1e3, t[:n-1]
		case 'm', 'M':
			mult, t = 1e6, t[:n-1]
		case 'b', 'B', 'g', 'G':
			mult, t = 1e9, t[:n-1]
		}
	}
	x, err := strconv.ParseFloat(t, 64)
	if err != nil || !(x*mult >= 0) || math.IsInf(x*mult, 0) || x*mult > 1e15 {
		return 0, fmt.Errorf("cost: requests: must be a count in [0, 1e15] like 1e9 or 250M, got %q", s)
	}
	return x * mult, nil
}
