package main

import (
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"tollgate/reports"
	"tollgate/reports/cost"
)

func runCost(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("cost", flag.ContinueOnError)
	fs.SetOutput(stderr)
	def := cost.DefaultAssumptions()
	requests := fs.String("requests", "1e9", "requests a month (1e9, 1B, 250M, ...)")
	fleet := fs.String("fleet", "c7g.medium:on-demand:3", "self-hosted fleet: TYPE:MARKET:COUNT[,...], MARKET spot or on-demand, running all month")
	prices := fs.String("prices", "", "price sheet YAML (default: the embedded reports/prices.yaml)")
	redis := fs.String("redis", def.Redis, "rate-limit store: serverless:valkey, serverless:redis-oss, [ENGINE:]NODE_TYPE or none")
	redisNodes := fs.Int("redis-nodes", def.RedisNodes, "node-based Redis: primary plus replicas")
	logs := fs.String("logs", def.Logs, "access logs: s3 (batched), cloudwatch (per request) or none")
	reqBytes := fs.Float64("request-bytes", def.RequestBytes, "average request size through the load balancer, bytes")
	respBytes := fs.Float64("response-bytes", def.ResponseBytes, "average response size (internet egress), bytes")
	zones := fs.Int("zones", def.Zones, "zones the load balancer spans (one public IPv4 each)")
	nat := fs.Int("nat", 0, "NAT gateways running all month (carrying the egress)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: gwlab cost [-requests N] [-fleet TYPE:MARKET:COUNT,...] [-prices FILE] [flags]")
		fmt.Fprintln(stderr, "Prices a month of traffic managed (API Gateway REST, HTTP) and self-hosted, per million and per billion.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return errUsage
	}
	n, err := cost.ParseCount(*requests)
	if err != nil {
		return err
	}
	fl, err := cost.ParseFleet(*fleet)
	if err != nil {
		return err
	}
	sh, err := reports.LoadPrices(*prices)
	if err != nil {
		return err
	}
	switch *logs {
	case cost.LogsS3, cost.LogsCloudWatch, cost.LogsNone:
	default:
		return fmt.Errorf("-logs: must be s3, cloudwatch or none, got %q", *logs)
	}
	if *zones < 1 || *zones > 10 {
		return fmt.Errorf("-zones: must be in 1..10, got %d", *zones)
	}
	if !(*reqBytes >= 0) || !(*respBytes >= 0) || *reqBytes > 1e9 || *respBytes > 1e9 {
		return fmt.Errorf("-request-bytes and -response-bytes: must be in [0, 1e9], got %v and %v", *reqBytes, *respBytes)
	}
	if *redisNodes < 1 || *nat < 0 {
		return fmt.Errorf("-redis-nodes must be >= 1 and -nat >= 0, got %d and %d", *redisNodes, *nat)
	}
	a := def
	a.Redis, a.RedisNodes, a.Logs, a.RequestBytes, a.ResponseBytes, a.Zones, a.NATGateways = *redis, *redisNodes, *logs, *reqBytes, *respBytes, *zones, *nat
	u := cost.FleetUsage(sh, n, fl, a)
	cmp, err := cost.Compare(sh, "self-hosted "+cost.FormatFleet(fl), u)
	if err != nil {
		return err
	}
	return printCost(stdout, sh, n, fl, cmp)
}

func printCost(w io.Writer, sh *cost.Sheet, n float64, fl []cost.FleetNode, c cost.Comparison) error {
	fmt.Fprintf(w, "%s requests a month; prices: %s, %s sheet dated %s\n\n", cost.Count(n), sh.Currency, sh.Region, sh.Date)
	bills := []cost.Bill{c.REST, c.HTTP, c.Fleet}
	width := len("OPTION")
	for _, b := range bills {
		width = max(width, len(b.Name))
	}
	fmt.Fprintf(w, "%-*s  %12s  %12s  %11s  %12s\n", width, "OPTION", "USD/MONTH", "EXCL. EGRESS", "PER MILLION", "PER BILLION")
	for _, b := range bills {
		fmt.Fprintf(w, "%-*s  %12.2f  %12.2f  %11.4f  %12.2f\n", width, b.Name, b.Total(), b.Without(cost.CEgress), b.PerMillion(), b.PerBillion())
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SELF-HOSTED COMPONENT\tUSD/MONTH\tSHARE\tBASIS")
	tot := c.Fleet.Total()
	for _, l := range c.Fleet.Lines {
		share := 0.0
		if tot > 0 {
			share = l.USD / tot * 100
		}
		fmt.Fprintf(tw, "%s\t%10.2f\t%5.1f%%\t%s\n", cost.ComponentTitle(l.Component), l.USD, share, l.Detail)
	}
	fmt.Fprintf(tw, "total\t%10.2f\t\t\n", tot)
	if err := tw.Flush(); err != nil {
		return err
	}
	// Spot risk of the types used.
	seen := map[string]bool{}
	var notes []string
	for _, f := range fl {
		if f.Market != cost.Spot || seen[f.Type] {
			continue
		}
		seen[f.Type] = true
		in, _ := sh.Instance(f.Type)
		notes = append(notes, fmt.Sprintf("%s spot: %.0f%% below on-demand (feed, best zone), %.0f%% on average (Advisor), interruptions %s of the time",
			f.Type, (1-in.Spot.USD/in.OnDemand.USD)*100, in.Advisor.AvgSavings*100, in.Advisor.Interruption))
	}
	sort.Strings(notes)
	if len(notes) > 0 {
		fmt.Fprintf(w, "\n%s\n", strings.Join(notes, "\n"))
	}
	return nil
}
