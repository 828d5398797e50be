// Package cost is tollgate's cost model: a dated price sheet (every price with
// its source and date, validated strictly) and the bills it gives for a month
// of traffic, managed (AWS API Gateway REST and HTTP APIs, tiered per million
// requests) and self-hosted (a gateway fleet behind a network load balancer
// with Redis for rate-limit state), by component, per million and per billion
// requests.
//
// The defaults reproduce the worked example of a billion requests a month in
// docs/reports.md: a fleet of three c7g.medium on-demand costs about $153 a
// month before egress, against $930 for the HTTP API and $3,033.10 for the
// REST API.
//
// Example:
//
//	sh, _ := cost.Parse(yamlBytes)
//	fleet, _ := cost.ParseFleet("c7g.medium:spot:3")
//	u := cost.FleetUsage(sh, 1e9, fleet, cost.DefaultAssumptions())
//	bill, _ := cost.FleetBill(sh, "3x c7g.medium spot", u)
//	fmt.Printf("$%.2f per billion\n", bill.PerBillion())
//
// Nothing here reads the clock or the network; every function is pure.
package cost
