package reports

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"

	"tollgate/reports/cost"
	"tollgate/reports/plot"
	"tollgate/reports/slo"
	"tollgate/schema"
)

// runDocument builds one run's report and its figures.
func runDocument(s *schema.Summary, opts Options) (*document, []*plot.Figure, error) {
	if s.Replay != nil {
		return replayDocument(s, opts), nil, nil
	}
	sh, err := opts.sheet()
	if err != nil {
		return nil, nil, err
	}
	// A run the sheet cannot price (an instance type it lacks, no duration)
	// still gets its report, with the reason in place of the cost.
	rc, costErr := PriceRun(s, opts)
	title := opts.Title
	if title == "" {
		title = fmt.Sprintf("tollgate report: %s / %s", s.Scenario, s.Algorithm)
	}
	d := &document{title: title}
	d.p("Scenario **%s**, algorithm **%s**, seed %d, clock mode %s, deployment %s; %s s measured after %s s of warm-up. Prices: %s sheet dated %s.",
		s.Scenario, s.Algorithm, s.Seed, orDash(s.Clock), orDash(s.Deployment), trim(s.DurationS, 1), trim(s.WarmupS, 1), sh.Region, sh.Date)

	// SLO verdict first: it is what CI and readers look at.
	cpb := math.NaN()
	if costErr == nil {
		cpb = rc.Own().PerBillion()
	}
	rows := slo.Check([]slo.Run{slo.RunOf(s, cpb)}, nil, slo.DefaultTolerances(), true)
	d.h(2, "SLO")
	iv := s.Intervals
	if iv != nil {
		d.p("Replicated run: %d independent replications (seeds %s), %s confidence intervals shown as mean [lower, upper]. Each objective is judged at its interval's unfavourable bound (the upper one of a ceiling, the lower one of availability); an objective whose interval straddles its limit is **undecided**, and more replications may decide it. Every other figure of this report is replication 0's, seed %d.",
			iv.Replications, seedList(iv.Seeds), pct(iv.Confidence, 0), s.Seed)
	}
	var sloRows [][]string
	failed, undecided := 0, 0
	for _, r := range rows {
		target, status, at := "not set", "-", "-"
		if r.Objective != 0 {
			target = bound(r.Metric) + " " + slo.Format(r.Metric, r.Objective)
			at = slo.Format(r.Metric, r.Bound)
			status = "pass"
			switch {
			case strings.HasPrefix(r.Status, slo.StatusUndecided):
				status = "UNDECIDED: the interval straddles the limit"
				failed++
				undecided++
			case r.Status == slo.StatusExpected:
				status = "breach, expected (a demonstration of a bad design)"
			case r.Status == slo.StatusMet:
				status = "MET, but the scenario expects a breach"
				failed++
			case r.Failed():
				status = "BREACH"
				failed++
			}
		}
		if iv != nil {
			sloRows = append(sloRows, []string{r.Metric, target, slo.FormatActual(r), at, status})
		} else {
			sloRows = append(sloRows, []string{r.Metric, target, slo.Format(r.Metric, r.Actual), status})
		}
	}
	switch {
	case undecided > 0:
		d.p("**FAIL**: %d of the scenario's objectives are not met with confidence, %d of them undecided.", failed, undecided)
	case failed > 0:
		d.p("**FAIL**: %d of the scenario's objectives are breached.", failed)
	case len(s.SLO.ExpectBreach) > 0:
		d.p("**Demonstration**: the scenario shows a design that breaks %s, as it expects; every other objective it sets is met.", strings.Join(s.SLO.ExpectBreach, ", "))
	case s.SLO.P99MS == 0 && s.SLO.Max429Rate == 0 && s.SLO.MaxFalse429Rate == 0 && s.SLO.MaxOverAdmission == 0 && s.SLO.MinAvailability == 0 && s.SLO.MaxCostPerBillion == 0:
		d.p("The scenario sets no SLO.")
	default:
		d.p("**Pass**: every objective the scenario sets is met.")
	}
	if iv != nil {
		d.table(table{head: []string{"objective", "target", "mean [lower, upper]", "judged at", "status"}, right: []bool{false, true, true, true, false}, rows: sloRows})
		intervalSection(d, s, cpb)
	} else {
		d.table(table{head: []string{"objective", "target", "actual", "status"}, right: []bool{false, true, true, false}, rows: sloRows})
	}

	// Requests.
	rq := s.Requests
	d.h(2, "Requests")
	d.table(table{head: []string{"outcome", "requests", "share"}, right: []bool{false, true, true}, rows: [][]string{
		{"total", count(rq.Total), share(rq.Total, rq.Total)},
		{"admitted", count(rq.Admitted), share(rq.Admitted, rq.Total)},
		{"rejected (429)", count(rq.Rejected), share(rq.Rejected, rq.Total)},
		{"errors (5xx, timeouts, unreachable)", count(rq.Errors), share(rq.Errors, rq.Total)},
		{"of which client retries", count(rq.Retries), share(rq.Retries, rq.Total)},
	}})

	// Latency.
	var figs []*plot.Figure
	d.h(2, "Latency")
	latRow := func(name string, p schema.Percentiles) []string {
		return []string{name, ms(p.P50), ms(p.P90), ms(p.P99), ms(p.P999), ms(p.Mean), ms(p.Max)}
	}
	d.table(table{head: []string{"ms", "p50", "p90", "p99", "p99.9", "mean", "max"}, right: []bool{false, true, true, true, true, true, true},
		rows: [][]string{latRow("end to end", s.LatencyMS), latRow("added by the gateway", s.GatewayLatencyMS)}})
	if f, err := plot.LatencyCDF(s.Scenario+" / "+s.Algorithm, []plot.Series{{Label: s.Algorithm, CDF: s.LatencyCDF}}, s.LatencyMS); err == nil {
		figs = append(figs, f)
		d.figure(figure{fig: f})
	} else if !errors.Is(err, plot.ErrNoData) {
		return nil, nil, err
	}

	// 429s and correctness.
	d.h(2, "429s, correctness and availability")
	d.table(table{head: []string{"figure", "value"}, right: []bool{false, true}, rows: [][]string{
		{"429 rate", pct(s.Rate429.Overall, 3)},
		{"false 429s (compliant clients refused)", fmt.Sprintf("%s (%s)", count(s.False429.Count), pct(s.False429.Rate, 4))},
		{"over-admission (cost admitted beyond the policy)", fmt.Sprintf("%s tokens, %s of admitted, %d keys", trim(s.OverAdmission.Tokens, 1), pct(s.OverAdmission.Ratio, 4), s.OverAdmission.Keys)},
		{"availability", fmt.Sprintf("%s (%s nines)", pct(s.Availability, 4), nines(s.Availability))},
		{"unmetered (fail-open) admissions", count(s.Unmetered)},
		{"Redis operations per request", trim(s.RedisOpsPerRequest, 3)},
	}})
	if len(s.Rate429.PerTier) > 0 {
		tiers := make([]string, 0, len(s.Rate429.PerTier))
		for t := range s.Rate429.PerTier {
			tiers = append(tiers, t)
		}
		sort.Strings(tiers)
		var tr [][]string
		for _, t := range tiers {
			tr = append(tr, []string{t, pct(s.Rate429.PerTier[t], 3)})
		}
		d.table(table{head: []string{"tier", "429 rate"}, right: []bool{false, true}, rows: tr})
	}
	if len(s.Rate429.PerRoute) > 0 {
		routes := make([]string, 0, len(s.Rate429.PerRoute))
		for r := range s.Rate429.PerRoute {
			routes = append(routes, r)
		}
		sort.Strings(routes)
		var rr [][]string
		for _, r := range routes {
			rr = append(rr, []string{r, pct(s.Rate429.PerRoute[r], 3)})
		}
		d.table(table{head: []string{"route", "429 rate"}, right: []bool{false, true}, rows: rr})
	}
	if f, err := plot.Timeline(s.Scenario+" / "+s.Algorithm, s.Timeline, s.IntervalS, s.Faults); err == nil {
		figs = append(figs, f)
		d.figure(figure{fig: f})
	} else if !errors.Is(err, plot.ErrNoData) {
		return nil, nil, err
	}

	// Faults.
	d.h(2, "Faults")
	if len(s.Faults) == 0 {
		d.p("No faults were injected.")
	} else {
		var fr [][]string
		for _, f := range s.Faults {
			fr = append(fr, []string{f.Kind, orDash(f.Target), trim(f.StartS, 1), trim(f.EndS, 1), count(f.Errors), trim(f.ErrorWindowS, 1), trim(f.RecoveryS, 1)})
		}
		d.table(table{head: []string{"fault", "target", "start s", "end s", "errors", "error window s", "recovery s"},
			right: []bool{false, false, true, true, true, true, true}, rows: fr})
	}

	// Cost.
	if costErr != nil {
		d.h(2, "Cost")
		d.p("**Cost not computed:** %v.", costErr)
	} else {
		figs = append(figs, costSection(d, s, rc, opts)...)
	}
	if err := claimSection(d, s, rc, sh, costErr == nil); err != nil {
		return nil, nil, err
	}
	if opts.NoFigures {
		figs = nil
		var kept []any
		for _, b := range d.blocks {
			if _, ok := b.(figure); !ok {
				kept = append(kept, b)
			}
		}
		d.blocks = kept
	}
	return d, figs, nil
}

// intervalSection is a replicated run's headline figures: replication 0's
// beside the interval over all replications.
func intervalSection(d *document, s *schema.Summary, cpb float64) {
	iv := s.Intervals
	d.h(2, "Replications")
	rows := [][]string{
		{"availability", pct(s.Availability, 4), estimate(iv.Availability, func(x float64) string { return pct(x, 4) })},
		{"p50 latency, ms", ms(s.LatencyMS.P50), estimate(iv.P50MS, ms)},
		{"p99 latency, ms", ms(s.LatencyMS.P99), estimate(iv.P99MS, ms)},
		{"429 rate", pct(s.Rate429.Overall, 3), estimate(iv.Rate429, func(x float64) string { return pct(x, 3) })},
		{"false 429s", pct(s.False429.Rate, 4), estimate(iv.False429Rate, func(x float64) string { return pct(x, 4) })},
		{"over-admission", pct(s.OverAdmission.Ratio, 4), estimate(iv.OverAdmission, func(x float64) string { return pct(x, 4) })},
	}
	if iv.CostPerBillion != nil {
		rows = append(rows, []string{"USD per billion (" + iv.PriceSheet + " sheet)", usd(cpb), estimate(*iv.CostPerBillion, usd)})
	}
	d.table(table{head: []string{"figure", fmt.Sprintf("replication 0 (seed %d)", s.Seed), fmt.Sprintf("mean [lower, upper], %s, %d replications", pct(iv.Confidence, 0), iv.Replications)},
		right: []bool{false, true, true}, rows: rows})
}

// estimate renders an interval as "mean [lower, upper]" with f.
func estimate(e schema.Estimate, f func(float64) string) string {
	return fmt.Sprintf("%s [%s, %s]", f(e.Mean), f(e.Lower), f(e.Upper))
}

// seedList lists seeds, eliding the middle of a long list.
func seedList(seeds []uint64) string {
	var parts []string
	for i, sd := range seeds {
		if len(seeds) > 6 && i == 3 {
			parts = append(parts, "...")
		}
		if len(seeds) <= 6 || i < 3 || i == len(seeds)-1 {
			parts = append(parts, fmt.Sprint(sd))
		}
	}
	return strings.Join(parts, ", ")
}

func bound(metric string) string {
	if metric == slo.Availability {
		return ">="
	}
	return "<="
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// billRow is one option of a cost comparison table.
func billRow(b cost.Bill) []string {
	return []string{b.Name, usd(b.Total()), usd(b.Without(cost.CEgress)), usd(b.PerMillion()), usd(b.PerBillion())}
}

var billHead = []string{"option", "USD / month", "excl. egress", "per million", "per billion"}
var billRight = []bool{false, true, true, true, true}

func costSection(d *document, s *schema.Summary, rc RunCost, opts Options) []*plot.Figure {
	u := rc.Usage
	sh, _ := opts.sheet()
	d.h(2, "Cost")
	d.p("The run is scaled to a month (%s h of the price sheet over %s s measured): **%s requests a month**. Every option below serves that traffic; internet egress is billed the same way to all of them.",
		trim(sh.HoursPerMonth, 1), trim(s.DurationS, 1), cost.Count(u.Requests))
	var bills []cost.Bill
	if rc.Managed {
		bills = []cost.Bill{rc.REST, rc.HTTP}
		if rc.HTTP.Name != "API Gateway HTTP API" {
			// The scenario's own price replaced the HTTP tiers: show both.
			bills = append(bills, cost.ManagedBill(sh, cost.HTTP, u))
		}
	} else {
		bills = []cost.Bill{rc.REST, rc.HTTP, rc.Fleet}
	}
	var rows [][]string
	for _, b := range bills {
		rows = append(rows, billRow(b))
	}
	d.table(table{head: billHead, right: billRight, rows: rows})
	if !rc.Managed {
		d.h(3, "Self-hosted bill by component")
		var cr [][]string
		tot := rc.Fleet.Total()
		for _, l := range rc.Fleet.Lines {
			sh := "-"
			if tot > 0 {
				sh = pct(l.USD/tot, 1)
			}
			cr = append(cr, []string{cost.ComponentTitle(l.Component), l.Detail, usd(l.USD), sh})
		}
		d.table(table{head: []string{"component", "basis (a month)", "USD / month", "share"}, right: []bool{false, false, true, true}, rows: cr})
		if s.Fleet.Interruptions > 0 {
			d.p("Spot interruptions during the run: %d.", s.Fleet.Interruptions)
		}
	}
	if len(u.Notes) > 0 {
		d.p("Assumed rather than measured:")
		d.list(u.Notes...)
	}
	f, err := plot.CostBreakdown(fmt.Sprintf("%s requests a month", cost.Count(u.Requests)), bills)
	if err != nil {
		return nil
	}
	d.figure(figure{fig: f})
	return []*plot.Figure{f}
}

// claimSection answers the seed claim: "$40 per billion requests at 99.99%".
func claimSection(d *document, s *schema.Summary, rc RunCost, sh *cost.Sheet, priced bool) error {
	c, err := cost.CheckClaim(sh)
	if err != nil {
		return fmt.Errorf("reports: %w", err)
	}
	d.h(2, "The \"$40 per billion requests at 99.99%\" claim")
	own := rc.Own()
	meets := "meets"
	if s.Availability < cost.ClaimAvailability {
		meets = "does **not** meet"
	}
	if priced {
		d.p("**This run:** %s costs %s per billion requests all included (%s without internet egress) at %s requests a month, with %s availability (%s nines): it %s 99.99%%.",
			strings.TrimPrefix(own.Name, "self-hosted: "), usd(own.PerBillion()), usd(perBillion(own.Without(cost.CEgress), own.Requests)),
			cost.Count(own.Requests), pct(s.Availability, 4), nines(s.Availability), meets)
	}
	d.p("**The claim's own fleet**, three %s spot nodes (one per zone) behind an NLB with Valkey Serverless, priced completely for a billion requests a month with 1 KB requests and 4 KB responses, costs **%s**. The $40 headline counts only compute, NLB hours and Redis (%s here); it leaves out:",
		c.Variant.Fleet[0].Type, usd(c.Bill.Total()), usd(c.Floor))
	var om [][]string
	left := 0.0
	for _, l := range c.Omitted {
		om = append(om, []string{cost.ComponentTitle(l.Component), l.Detail, usd(l.USD)})
		left += l.USD
	}
	om = append(om, []string{"**total left out**", "", usd(left)})
	d.table(table{head: []string{"left out", "basis", "USD / month"}, right: []bool{false, false, true}, rows: om})
	d.list(
		"Not priced by the sheet at all: "+strings.Join(c.Unpriced, "; ")+".",
		fmt.Sprintf("Spot discounts in this sheet are %s-%s (AWS price feed, best zone) and %s-%s (Spot Instance Advisor averages), **not 90%%**. With one on-demand node as a base and two spot nodes, the EC2 saving against three on-demand nodes is %s.",
			pct(c.SpotFeedMin, 0), pct(c.SpotFeedMax, 0), pct(c.SpotAdvisorMin, 0), pct(c.SpotAdvisorMax, 0), pct(c.SpotSavingS2, 0)),
		"99.99% is a design target, not an AWS guarantee: NLB, EC2 region and ElastiCache SLAs of 99.99% each compose to about 99.97%, and a spot interruption gives two minutes' notice; only a simulated run with faults (like this one, if it injects them) says whether a fleet holds four nines.",
	)
	var vr [][]string
	for _, v := range cost.WorkedVariants() {
		b, err := cost.FleetBill(sh, v.Name, cost.FleetUsage(sh, cost.ClaimRequests, v.Fleet, v.Assumptions))
		if err != nil {
			return fmt.Errorf("reports: %w", err)
		}
		vr = append(vr, []string{v.Name, usd(b.Without(cost.CEgress)), usd(b.Total())})
	}
	http := cost.ManagedBill(sh, cost.HTTP, cost.FleetUsage(sh, cost.ClaimRequests, nil, cost.DefaultAssumptions()))
	rest := cost.ManagedBill(sh, cost.REST, cost.FleetUsage(sh, cost.ClaimRequests, nil, cost.DefaultAssumptions()))
	vr = append(vr, []string{http.Name, usd(http.Without(cost.CEgress)), usd(http.Total())}, []string{rest.Name, usd(rest.Without(cost.CEgress)), usd(rest.Total())})
	d.p("A billion requests a month on other fleets (the worked example in docs/reports.md), S3 logs, 4 KB responses:")
	d.table(table{head: []string{"fleet", "excl. egress", "all included"}, right: []bool{false, true, true}, rows: vr})
	return nil
}

func perBillion(total, requests float64) float64 {
	if !(requests > 0) {
		return 0
	}
	return total / requests * 1e9
}
