package plan

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"time"

	"go.yaml.in/yaml/v3"

	"tollgate/schema"
	"tollgate/sim"
)

// Days into the month at which MonthScenario places its zone outage and its
// Redis failover (each at that day's diurnal peak).
const (
	monthZoneDay  = 10
	monthRedisDay = 20
)

// Spec is the planner's spec (read-only).
func (p *Planner) Spec() *Spec { return p.spec }

// MonthScenario is configuration c as a scenario of one whole month (the
// price sheet's hours_per_month, no warm-up, hourly timeline), named name,
// that holds the spec's objectives through the faults the fault model
// expects, drawn pessimistically:
//
//   - random spot interruptions of every spot node (and of its
//     replacements) at the fault model's rate for c's instance type,
//     rounded to three significant figures;
//   - one zone outage (with faults.zone_outages.per_zone_year > 0) lasting
//     faults.zone_outages.max, in the zone of the Redis primary (of shard 0
//     for a cluster; the first zone without Redis), at the diurnal peak of
//     day 10: the longest outage the model draws, where it hurts most;
//   - one Redis failover (with Redis and faults.redis_failovers.per_month >
//     0) of that primary at the diurnal peak of day 20.
//
// Its SLO is the spec's: min_availability, p99_ms, max_false_429_rate and
// max_over_admission. `gwlab plan` writes it as choice.yaml for the chosen
// configuration; committed as a scenario, `gwlab slo` gates it.
func (p *Planner) MonthScenario(c schema.PlanConfig, name string) (sim.Config, error) {
	cfg, err := Build(&p.base, p.sheet, c)
	if err != nil {
		return sim.Config{}, err
	}
	spots := spotNodes(&cfg)
	rates, err := p.perMonth(c, len(spots))
	if err != nil {
		return sim.Config{}, err
	}
	hours := p.sheet.HoursPerMonth
	cfg.Name = name
	cfg.Seed = p.spec.Seed
	month := time.Duration(hours * float64(time.Hour))
	setWindow(&cfg, 0, month)
	cfg.Interval = sim.Duration(time.Hour)
	cfg.Spot.InterruptionsPerNodeHour = 0
	if len(spots) > 0 {
		cfg.Spot.InterruptionsPerNodeHour = roundSig(rates[kindSpot]/float64(len(spots))/hours, 3)
	}
	cfg.Faults = nil
	f := p.spec.Faults
	zone := cfg.Redis.Zone // the primary's (shard 0's for a cluster)
	if zone == "" {
		zone = cfg.Topology.Zones[0] // no Redis
	}
	if f.ZoneOutages.PerZoneYear > 0 {
		cfg.Faults = append(cfg.Faults, sim.Fault{Kind: sim.FaultAZ, At: sim.Duration(diurnalPeak(&cfg, monthZoneDay*24*time.Hour)),
			Duration: f.ZoneOutages.Max, Target: zone})
	}
	if c.Redis != RedisNone && f.Redis.PerMonth > 0 {
		rf := sim.Fault{Kind: sim.FaultRedisFailover, At: sim.Duration(diurnalPeak(&cfg, monthRedisDay*24*time.Hour))}
		if c.Redis == RedisCluster {
			rf.Target = sim.ShardName(0)
		}
		cfg.Faults = append(cfg.Faults, rf)
	}
	o := p.spec.SLO
	cfg.SLO = sim.SLO{MinAvailability: o.Availability, P99MS: o.P99MS, MaxFalse429Rate: o.MaxFalse429Rate, MaxOverAdmission: o.MaxOverAdmission}
	var faults string
	if len(spots) > 0 {
		faults = fmt.Sprintf("random spot interruptions at %g per spot node-hour", cfg.Spot.InterruptionsPerNodeHour)
	} else {
		faults = "no spot nodes"
	}
	if f.ZoneOutages.PerZoneYear > 0 {
		faults += fmt.Sprintf(", a %v outage of zone %s on day %d", f.ZoneOutages.Max, zone, monthZoneDay)
	}
	if c.Redis != RedisNone && f.Redis.PerMonth > 0 {
		faults += fmt.Sprintf(", a Redis failover on day %d", monthRedisDay)
	}
	cfg.Description = fmt.Sprintf("gwlab plan %s's choice, %s, over a %g-hour month of %.3g requests: %s (each at the diurnal peak); "+
		"its SLO is the spec's", p.spec.Name, Name(c), hours, p.spec.Traffic.RequestsPerMonth, faults)
	if err := cfg.Validate(); err != nil {
		return sim.Config{}, fmt.Errorf("plan: month scenario of %s: %w", Name(c), err)
	}
	return cfg, nil
}

// MonthScenarioYAML is MonthScenario as a scenario file, headed by a comment
// naming the spec and its hash.
func (p *Planner) MonthScenarioYAML(c schema.PlanConfig, name string) ([]byte, error) {
	cfg, err := p.MonthScenario(c, name)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Written by `gwlab plan %s` (spec sha256 %.12s, prices of %s): the chosen configuration over a month\n",
		p.spec.Name, p.header.SpecSHA256, p.header.PricesDate)
	fmt.Fprintf(&b, "# with the fault model's faults and the spec's SLO (plan.MonthScenario, docs/plan.md). Regenerate, don't edit.\n")
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&cfg); err != nil {
		return nil, fmt.Errorf("plan: month scenario of %s: %w", Name(c), err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("plan: month scenario of %s: %w", Name(c), err)
	}
	return b.Bytes(), nil
}

// diurnalPeak is the first time at or after from where cfg's diurnal rate
// peaks (1 + amplitude sin(2 pi (t + phase) / period) at its maximum), to the
// second; from itself without a diurnal shape.
func diurnalPeak(cfg *sim.Config, from time.Duration) time.Duration {
	d := cfg.Traffic.Diurnal
	period := d.Period.D()
	if d.Amplitude == 0 || period <= 0 {
		return from
	}
	// sin peaks where t + phase = period/4 (mod period)
	t := period/4 - d.Phase.D()
	t = ((t % period) + period) % period
	if t < from {
		t += (from - t + period - 1) / period * period
	}
	return t.Round(time.Second)
}

// roundSig rounds x to n significant figures.
func roundSig(x float64, n int) float64 {
	if x == 0 || math.IsNaN(x) || math.IsInf(x, 0) {
		return x
	}
	v, _ := strconv.ParseFloat(strconv.FormatFloat(x, 'g', n, 64), 64)
	return v
}
