package cost_test

import (
	"fmt"
	"os"

	"tollgate/reports/cost"
)

// A billion requests a month on three c7g.medium spot nodes, against the
// managed HTTP API, from the project's price sheet.
func Example() {
	b, err := os.ReadFile("../prices.yaml")
	if err != nil {
		fmt.Println(err)
		return
	}
	sh, err := cost.Parse(b)
	if err != nil {
		fmt.Println(err)
		return
	}
	fleet, err := cost.ParseFleet("c7g.medium:spot:3")
	if err != nil {
		fmt.Println(err)
		return
	}
	u := cost.FleetUsage(sh, 1e9, fleet, cost.DefaultAssumptions())
	c, err := cost.Compare(sh, "3x c7g.medium spot", u)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, bill := range []cost.Bill{c.HTTP, c.Fleet} {
		fmt.Printf("%-22s $%8.2f a month, $%7.2f without egress\n", bill.Name, bill.Total(), bill.Without(cost.CEgress))
	}
	// Output:
	// API Gateway HTTP API   $ 1281.00 a month, $ 930.00 without egress
	// 3x c7g.medium spot     $  438.75 a month, $  87.75 without egress
}
