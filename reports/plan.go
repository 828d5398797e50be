package reports

import (
	"fmt"
	"math"
	"strings"

	"tollgate/reports/cost"
	"tollgate/reports/plot"
	"tollgate/schema"
)

// WritePlan writes a plan's report.md, report.html and its frontier plots
// (cost against availability and against p99, with interval error bars) into
// dir. It reads only plan.json's schema and the price sheet (for the "$40"
// claim's own fleet).
func WritePlan(dir string, p *schema.Plan, opts Options) error {
	sh, err := opts.sheet()
	if err != nil {
		return err
	}
	d, figs, err := planDocument(p, sh)
	if err != nil {
		return err
	}
	return write(dir, d, figs, opts)
}

func interval(x schema.Estimate, f func(float64) string) string {
	return fmt.Sprintf("%s [%s, %s]", f(x.Mean), f(x.Lower), f(x.Upper))
}

func avail(x float64) string { return fmt.Sprintf("%.6f", x) }

// estimated reports whether e has an availability estimate (a configuration
// whose steady state already fails has none).
func estimated(e schema.Evaluated) bool { return e.Availability.Upper > 0 }

func planDocument(p *schema.Plan, sh *cost.Sheet) (*document, []*plot.Figure, error) {
	d := &document{title: "Plan: " + p.Spec}
	conf := pct(p.Confidence, 0)
	d.p("**%s**", p.Answer)
	o := p.Objectives
	objs := []string{fmt.Sprintf("availability >= %s at the lower bound of its %s interval", pct(o.Availability, 2), conf)}
	if o.P99MS > 0 {
		objs = append(objs, fmt.Sprintf("p99 <= %s ms", ms(o.P99MS)))
	}
	if o.MaxFalse429Rate > 0 {
		objs = append(objs, fmt.Sprintf("false 429s <= %s", pct(o.MaxFalse429Rate, 2)))
	}
	if o.MaxOverAdmission > 0 {
		objs = append(objs, fmt.Sprintf("over-admission <= %s", pct(o.MaxOverAdmission, 1)))
	}
	d.p("%s requests a month; objectives: %s. Prices: %s sheet of %s. %d configurations evaluated.",
		cost.Count(p.RequestsPerMonth), strings.Join(objs, ", "), p.Region, p.PricesDate, len(p.Evaluated))

	if c := p.Choice; c != nil {
		d.h(2, "The configuration")
		cf := c.Config
		market := fmt.Sprintf("%d spot", cf.Spot)
		if cf.OnDemand > 0 {
			market = fmt.Sprintf("%d on-demand + %d spot", cf.OnDemand, cf.Spot)
		}
		d.table(table{head: []string{"setting", "value"}, rows: [][]string{
			{"instances", fmt.Sprintf("%s (%s), %d per zone in %d zones: %s", cf.InstanceType, cf.Arch, cf.NodesPerZone, cf.Zones, market)},
			{"Redis", cf.Redis},
			{"algorithm", cf.Algorithm},
			{"leases", trim(cf.LeaseBatch, 0)},
			{"health checks", fmt.Sprintf("every %s, out after %d failures", cf.HealthInterval, cf.Fall)},
			{"drain on the spot notice", fmt.Sprint(cf.Drain)},
			{"availability (" + conf + " interval)", interval(c.Availability, avail)},
			{"unavailability", fmt.Sprintf("%s to %s minutes of full outage a month", trim((1-c.Availability.Upper)*p.HoursPerMonth*60, 2), trim((1-c.Availability.Lower)*p.HoursPerMonth*60, 2))},
			{"p99 (" + conf + " interval)", interval(c.P99MS, func(x float64) string { return ms(x) + " ms" })},
		}})
		if sp := c.MonthSpread; sp != nil {
			d.p("That interval is for the expected month. Single months spread around it (%d months drawn from the fault model, "+
				"each fault's count Poisson at its rate, each occurrence one of its simulations): the median month is %s, one "+
				"month in twenty is below %s, and **%s of months meet %s**.", sp.Months, avail(sp.Median), avail(sp.P05),
				pct(sp.Meeting, 1), avail(p.Objectives.Availability))
		}
		rows := [][]string{}
		for _, l := range c.Bill {
			rows = append(rows, []string{cost.ComponentTitle(l.Component), l.Detail, usd(l.USD)})
		}
		rows = append(rows, []string{"**total**", "", "**" + usd(c.MonthlyUSD) + "**"})
		d.p("Its monthly bill, **%s**, is **%s per billion requests**:", usd(c.MonthlyUSD), usd(c.PerBillionUSD))
		d.table(table{head: []string{"component", "how", "USD a month"}, right: []bool{false, false, true}, rows: rows})
	}
	if err := claimLeftOut(d, p, sh); err != nil {
		return nil, nil, err
	}

	if f := p.TrafficFit; f != nil {
		trafficFit(d, f)
	}

	d.h(2, "Fault model")
	var fr [][]string
	for _, f := range p.FaultModel {
		rate := fmt.Sprintf("%.3g %s", f.Rate, f.Unit)
		if f.Rate == 0 && f.Detail != "" {
			rate = "by instance type, " + f.Unit + " (see detail)"
		}
		fr = append(fr, []string{f.Kind, rate, f.Detail, f.Source})
	}
	d.table(table{head: []string{"fault", "rate", "detail", "source"}, rows: fr})
	d.h(2, "Method")
	d.p("%s", p.Method)

	d.h(2, "Every configuration evaluated")
	d.p("Availability and p99 with their %s intervals; error-minutes are (1 - availability) x the month; months meeting is "+
		"the share of single months drawn from the fault model that meet the availability objective (the verdict is on the "+
		"expected month). A verdict is "+
		"*undecided* when an interval still straddles its objective after %d replications.", conf, p.Budget.MaxReplications)
	var rows [][]string
	for _, e := range p.Evaluated {
		a, em, meet := "-", "-", "-"
		if estimated(e) {
			a = interval(e.Availability, avail)
			em = trim(e.ErrorMinutes.Mean, 2)
		}
		if e.MonthSpread != nil {
			meet = pct(e.MonthSpread.Meeting, 1)
		}
		name := e.Name
		if p.Choice != nil && e.Index == p.Choice.Index {
			name = "**" + name + "**"
		}
		rows = append(rows, []string{fmt.Sprintf("#%d", e.Index), name, usd(e.MonthlyUSD), a, em, meet,
			interval(e.P99MS, ms), e.Verdict, fmt.Sprint(e.Replications), e.Reason})
	}
	d.table(table{head: []string{"#", "configuration", "USD a month", "availability", "error-min", "months meeting", "p99 ms", "verdict", "reps", "why"},
		right: []bool{false, false, true, false, true, true, false, false, true, false}, rows: rows})

	figs, err := planFigures(p)
	if err != nil {
		return nil, nil, err
	}
	if len(figs) > 0 {
		d.h(2, "Frontiers")
		d.p("Each point is a configuration (its # in the table), its bar the %s interval; colour is the verdict on every "+
			"objective (a configuration can fail on false 429s with a high availability). Labels that "+
			"would overlap are left out; the table has them all.", conf)
		for _, f := range figs {
			d.figure(figure{fig: f})
		}
	}
	return d, figs, nil
}

// claimLeftOut is the section on what "$40 for a billion requests at 99.99%"
// leaves out, against the plan's answer.
func claimLeftOut(d *document, p *schema.Plan, sh *cost.Sheet) error {
	cc, err := cost.CheckClaim(sh)
	if err != nil {
		return err
	}
	d.h(2, "What the $40 claim leaves out")
	items := []string{fmt.Sprintf("The claim counts compute, load-balancer hours and Redis: on its own fleet (%s, Valkey Serverless) that floor is %s a month for a billion requests.",
		cc.Variant.Name, usd(cc.Floor))}
	c := p.Choice
	if c == nil {
		items = append(items, "No configuration met the objectives with confidence, so no price holds "+pct(p.Objectives.Availability, 2)+" here at all.")
		d.list(items...)
		return nil
	}
	scale := 1e9 / p.RequestsPerMonth
	floor, rest := 0.0, []string{}
	for _, l := range c.Bill {
		switch l.Component {
		case cost.CCompute, cost.CNLBHours, cost.CRedis:
			floor += l.USD
		default:
			if l.USD > 0 {
				rest = append(rest, fmt.Sprintf("%s %s", cost.ComponentTitle(l.Component), usd(l.USD*scale)))
			}
		}
	}
	items = append(items,
		fmt.Sprintf("The cheapest configuration that holds the objectives through the fault model costs %s per billion requests in all, %.1fx the claim's $%.0f.",
			usd(c.PerBillionUSD), c.PerBillionUSD/cost.ClaimUSD, cost.ClaimUSD),
		fmt.Sprintf("Of that, the claim's own components (compute, NLB hours, Redis) come to %s per billion; the rest it leaves out: %s.",
			usd(floor*scale), strings.Join(rest, ", ")))
	for _, e := range p.Evaluated {
		cf := e.Config
		if cf.InstanceType == "c7g.medium" && cf.Zones == 3 && cf.NodesPerZone == 1 && cf.OnDemand == 0 {
			shape := fmt.Sprintf("The claim's shape, three spot c7g.medium in three zones (#%d, Redis %s)", e.Index, cf.Redis)
			if !estimated(e) {
				// the steady state already fails: its reason says which objective
				items = append(items, fmt.Sprintf("%s %s without a fault: %s.", shape, e.Verdict, strings.TrimSuffix(e.Reason,
					"; availability not estimated (the steady state already fails)")))
				continue
			}
			items = append(items, fmt.Sprintf("%s is estimated at availability %s: %s.", shape, interval(e.Availability, avail), e.Verdict))
		}
	}
	items = append(items, fmt.Sprintf("Still not priced anywhere: %s.", strings.Join(cc.Unpriced, "; ")),
		fmt.Sprintf("Spot discounts in the sheet are %s-%s (feed, best zone) and %s-%s (Advisor averages), not the claim's 90%%.",
			pct(cc.SpotFeedMin, 0), pct(cc.SpotFeedMax, 0), pct(cc.SpotAdvisorMin, 0), pct(cc.SpotAdvisorMax, 0)))
	d.list(items...)
	return nil
}

func planFigures(p *schema.Plan) ([]*plot.Figure, error) {
	var av, lat []plot.PlanPoint
	for _, e := range p.Evaluated {
		chosen := p.Choice != nil && e.Index == p.Choice.Index
		label := fmt.Sprintf("#%d", e.Index)
		if estimated(e) {
			av = append(av, plot.PlanPoint{Label: label, MonthlyUSD: e.MonthlyUSD, Y: plot.Nines(e.Availability.Mean),
				Low: plot.Nines(e.Availability.Lower), High: plot.Nines(e.Availability.Upper), Verdict: e.Verdict, Chosen: chosen})
		}
		if e.P99MS.Mean > 0 {
			lat = append(lat, plot.PlanPoint{Label: label, MonthlyUSD: e.MonthlyUSD, Y: e.P99MS.Mean, Low: e.P99MS.Lower,
				High: e.P99MS.Upper, Verdict: e.Verdict, Chosen: chosen})
		}
	}
	var figs []*plot.Figure
	if len(av) > 0 {
		f, err := plot.PlanFrontier("plan_availability", p.Spec+": cost versus availability", "expected monthly availability (nines)",
			av, plot.Nines(p.Objectives.Availability), "objective "+pct(p.Objectives.Availability, 2), true)
		if err != nil {
			return nil, fmt.Errorf("reports: %w", err)
		}
		figs = append(figs, f)
	}
	if len(lat) > 0 {
		f, err := plot.PlanFrontier("plan_p99", p.Spec+": cost versus p99 latency", "p99 latency (ms)", lat,
			p.Objectives.P99MS, "objective "+ms(p.Objectives.P99MS)+" ms", false)
		if err != nil {
			return nil, fmt.Errorf("reports: %w", err)
		}
		figs = append(figs, f)
	}
	return figs, nil
}

// trafficFit is the section on the traffic fitted to a recorded ledger.
func trafficFit(d *document, f *schema.TrafficFit) {
	d.h(2, "Traffic fitted to a ledger")
	var skipped []string
	for _, k := range []string{"aggregate", "unidentified", "no_route", "method_not_allowed"} {
		if n := f.Skipped[k]; n > 0 {
			skipped = append(skipped, fmt.Sprintf("%d %s", n, strings.ReplaceAll(k, "_", " ")))
		}
	}
	sk := "none skipped"
	if len(skipped) > 0 {
		sk = "skipped " + strings.Join(skipped, ", ")
	}
	d.p("`%s`: %d records in %d files, %d requests of identified clients kept (%s), from %s to %s (%s h). Recorded "+
		"rate %s requests a second; the plan's volume is %sx that: rates and key counts are scaled by it (more clients "+
		"behaving as the recorded ones do).", f.Ledger, f.Records, f.Files, f.Requests, sk, f.First.Format("2006-01-02 15:04:05Z"),
		f.Last.Format("2006-01-02 15:04:05Z"), trim(f.SpanS/3600, 2), trim(f.RecordedPerSecond, 3), trim(f.ScaleFactor, 4))
	var rows [][]string
	for _, t := range f.Tiers {
		arr := t.Arrival
		if t.Arrival == "mmpp" {
			arr = fmt.Sprintf("mmpp: x%s for %ss, then %ss", trim(t.BurstFactor, 2), trim(t.HighTimeS, 2), trim(t.LowTimeS, 2))
		}
		rows = append(rows, []string{t.Tier, pct(t.Share, 1), trim(t.Rate, 2), fmt.Sprint(t.Keys), fmt.Sprint(t.ScaledKeys),
			fmt.Sprintf("%s ± %s", trim(t.Zipf, 3), trim(t.ZipfSE, 3)), fmt.Sprintf("%s (z %s)", trim(t.Dispersion, 3), trim(t.DispersionZ, 1)), arr})
	}
	d.table(table{head: []string{"tier", "share", "rate/s", "keys recorded", "keys simulated", "Zipf", "dispersion", "arrival"},
		right: []bool{false, true, true, true, true, false, false, false}, rows: rows})
	var routes []string
	for _, r := range f.Routes {
		routes = append(routes, fmt.Sprintf("%s %s %s", r.Method, r.Route, pct(r.Weight, 1)))
	}
	d.p("Route mix: %s.", strings.Join(routes, ", "))
	if dd := f.Diurnal; dd.Fitted {
		d.p("Daily shape over %d whole hours: amplitude %s ± %s, peak at %s UTC.", dd.Hours, trim(dd.Amplitude, 3), trim(dd.AmplitudeSE, 3),
			peakOf(dd))
	}
	if len(f.Notes) > 0 {
		d.list(f.Notes...)
	}
}

// peakOf is the UTC time of day of the fitted shape's peak: sin peaks where
// t + phase is a quarter period.
func peakOf(dd schema.DiurnalFit) string {
	t := math.Mod(dd.PeriodS/4-dd.PhaseS+dd.PeriodS, dd.PeriodS)
	h := int(t / 3600)
	m := int(math.Mod(t, 3600) / 60)
	return fmt.Sprintf("%02d:%02d", h, m)
}
