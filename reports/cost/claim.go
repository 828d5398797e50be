package cost

import "fmt"

// Variant is a named self-hosted fleet with its assumptions.
type Variant struct {
	Name        string
	Fleet       []FleetNode
	Assumptions Assumptions
}

// WorkedVariants are the worked example's fleets S1..S5' (docs/reports.md): three
// nodes, one per zone, with Valkey Serverless for the medium fleets and a
// node-based Valkey primary and replica (cache.t4g.small) for the large ones.
func WorkedVariants() []Variant {
	d := DefaultAssumptions()
	nodes := d
	nodes.Redis, nodes.RedisNodes = "valkey:cache.t4g.small", 2
	three := func(t, m string) []FleetNode { return []FleetNode{{t, m, 3}} }
	return []Variant{
		{"S1: 3x c7g.medium on-demand", three("c7g.medium", OnDemand), d},
		{"S2: 1 on-demand + 2 spot c7g.medium", []FleetNode{{"c7g.medium", OnDemand, 1}, {"c7g.medium", Spot, 2}}, d},
		{"S3: 3x c7g.medium spot", three("c7g.medium", Spot), d},
		{"S4: 3x c7g.large on-demand", three("c7g.large", OnDemand), nodes},
		{"S4-spot: 3x c7g.large spot", three("c7g.large", Spot), nodes},
		{"S5: 3x c7i.large on-demand", three("c7i.large", OnDemand), nodes},
		{"S5': 3x c6i.large on-demand", three("c6i.large", OnDemand), nodes},
	}
}

// Comparison is the managed alternatives and one self-hosted fleet for the
// same month of traffic.
type Comparison struct {
	REST, HTTP, Fleet Bill
}

// Compare prices u three ways.
func Compare(sh *Sheet, fleetName string, u Usage) (Comparison, error) {
	fb, err := FleetBill(sh, fleetName, u)
	if err != nil {
		return Comparison{}, err
	}
	return Comparison{REST: ManagedBill(sh, REST, u), HTTP: ManagedBill(sh, HTTP, u), Fleet: fb}, nil
}

// ClaimUSD and ClaimRequests are the seed article's headline: a billion
// requests for $40 at 99.99% uptime; ClaimSpotDiscount is its "90%".
const (
	ClaimUSD          = 40.0
	ClaimRequests     = 1e9
	ClaimAvailability = 0.9999
	ClaimSpotDiscount = 0.90
)

// ClaimCheck takes the "$40 per billion" claim apart against the sheet.
type ClaimCheck struct {
	// Variant is the fleet priced: S3 of WorkedVariants.
	Variant Variant
	// Bill is the cheapest worked fleet (three c7g.medium spot, one per zone,
	// Valkey Serverless) priced completely for a billion requests.
	Bill Bill
	// Floor is what the claim counts: compute, NLB hours and Redis.
	Floor float64
	// Omitted is every other line of Bill, with its amount.
	Omitted []Line
	// Unpriced names costs the sheet has no price for.
	Unpriced []string
	// SpotFeedMin/Max are the sheet's spot discounts from the price feed
	// (best zone); SpotAdvisorMin/Max the Advisor's averages.
	SpotFeedMin, SpotFeedMax, SpotAdvisorMin, SpotAdvisorMax float64
	// SpotSavingS2 is the EC2 saving of one on-demand plus two spot nodes
	// against three on-demand (S2 against S1), the claim's "spot plus an
	// on-demand base" design.
	SpotSavingS2 float64
}

// floorComponents are what the $40 headline counts.
var floorComponents = []string{CCompute, CNLBHours, CRedis}

// CheckClaim prices the claim's fleet and lists what the headline leaves out.
func CheckClaim(sh *Sheet) (ClaimCheck, error) {
	vs := WorkedVariants()
	var s1, s2, s3 Variant
	for _, v := range vs {
		switch v.Name[:3] {
		case "S1:":
			s1 = v
		case "S2:":
			s2 = v
		case "S3:":
			s3 = v
		}
	}
	bill := func(v Variant) (Bill, error) {
		return FleetBill(sh, v.Name, FleetUsage(sh, ClaimRequests, v.Fleet, v.Assumptions))
	}
	b3, err := bill(s3)
	if err != nil {
		return ClaimCheck{}, fmt.Errorf("cost: claim: %w", err)
	}
	b1, err := bill(s1)
	if err != nil {
		return ClaimCheck{}, fmt.Errorf("cost: claim: %w", err)
	}
	b2, err := bill(s2)
	if err != nil {
		return ClaimCheck{}, fmt.Errorf("cost: claim: %w", err)
	}
	c := ClaimCheck{Variant: s3, Bill: b3}
	for _, l := range b3.Lines {
		if contains(floorComponents, l.Component) {
			c.Floor += l.USD
		} else {
			c.Omitted = append(c.Omitted, l)
		}
	}
	c.Unpriced = []string{"monitoring (CloudWatch metrics, alarms, dashboards)", "engineering and on-call time", "backend compute (both options need it)"}
	c.SpotFeedMin, c.SpotFeedMax, c.SpotAdvisorMin, c.SpotAdvisorMax = sh.SpotDiscounts()
	if od := b1.Line(CCompute); od > 0 {
		c.SpotSavingS2 = 1 - b2.Line(CCompute)/od
	}
	return c, nil
}
