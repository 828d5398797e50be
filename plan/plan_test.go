package plan

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"tollgate/reports"
	"tollgate/reports/cost"
	"tollgate/scenarios"
	"tollgate/schema"
)

// tinySpec plans a small month (1e7 requests, about 4 per second) so the
// short simulations take milliseconds.
const tinySpec = `
name: tiny
seed: 3
traffic: {requests_per_month: 1e7, scenario: month-1b}
slo: {availability: 0.999, p99_ms: 80, max_over_admission: 0.5}
faults:
  spot: {per_instance_hour: 0.002}
  zone_outages: {per_zone_year: 4, median: 10m, sigma: 0.5, max: 30m}
  redis_failovers: {per_month: 1}
search:
  instance_types: [c7g.medium, c7i.large]
  zones: [1, 3]
  on_demand_base: [0, 1]
  redis: [none, replica]
estimate: {warmup: 30s, steady: 2m, min_replications: 4, max_replications: 8, batch: 4}
`

func tinyPlanner(t *testing.T, specYAML string) (*Planner, *cost.Sheet) {
	t.Helper()
	spec, err := Parse("tiny.yaml", []byte(specYAML))
	if err != nil {
		t.Fatal(err)
	}
	sh, err := reports.DefaultPrices()
	if err != nil {
		t.Fatal(err)
	}
	sc, err := scenarios.Load(spec.Traffic.Scenario)
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(spec, sh, &sc.Config)
	if err != nil {
		t.Fatal(err)
	}
	return p, sh
}

func TestCandidatesAndBuild(t *testing.T) {
	p, sh := tinyPlanner(t, tinySpec)
	cands := p.Candidates()
	// 2 types x (1 zone: base 0 -> 1 spot, base 1 -> 1 od) + (3 zones: 3 spot, 1od+2spot) x 2 redis
	if len(cands) != 2*(2+2)*2 {
		t.Fatalf("want 16 candidates, got %d: %v", len(cands), cands)
	}
	seen := map[schema.PlanConfig]bool{}
	for _, c := range cands {
		if seen[c] {
			t.Fatalf("duplicate candidate %+v", c)
		}
		seen[c] = true
		cfg, err := Build(&p.base, sh, c)
		if err != nil {
			t.Fatal(err)
		}
		if got := len(spotNodes(&cfg)); got != c.Spot {
			t.Errorf("%s: %d spot nodes in the simulator config, want %d", Name(c), got, c.Spot)
		}
		if (c.Redis == RedisNone) != (cfg.Redis.Mode == "embedded") {
			t.Errorf("%s: redis mode %q", Name(c), cfg.Redis.Mode)
		}
		if c.Redis == RedisReplica && c.Zones > 1 && cfg.Redis.ReplicaZone == cfg.Redis.Zone {
			t.Errorf("%s: replica in the primary's zone", Name(c))
		}
		in, _ := sh.Instance(c.InstanceType)
		if cfg.Topology.Concurrency != in.VCPU || c.Arch != in.Arch {
			t.Errorf("%s: concurrency %d arch %s, want the sheet's %d %s", Name(c), cfg.Topology.Concurrency, c.Arch, in.VCPU, in.Arch)
		}
	}
	if p.base.Traffic.Groups[0].Rate+p.base.Traffic.Groups[1].Rate < 3.8 || p.base.Traffic.Groups[0].Rate+p.base.Traffic.Groups[1].Rate > 3.81 {
		t.Errorf("traffic not scaled to 1e7 a month over 730 h: %+v", p.base.Traffic.Groups)
	}
}

func TestUnknownInstanceType(t *testing.T) {
	spec, err := Parse("t.yaml", []byte(strings.Replace(tinySpec, "c7i.large", "z9.huge", 1)))
	if err != nil {
		t.Fatal(err)
	}
	sh, _ := reports.DefaultPrices()
	sc, _ := scenarios.Load("month-1b")
	_, err = New(spec, sh, &sc.Config)
	if err == nil || !errors.Is(err, ErrSpec) || !strings.Contains(err.Error(), `search.instance_types[1]`) || !strings.Contains(err.Error(), "z9.huge") {
		t.Fatalf("want an error naming search.instance_types[1] and z9.huge, got %v", err)
	}
}

func encodePlan(t *testing.T, pl *schema.Plan) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := schema.EncodePlan(&b, pl); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestShardedEqualsUnsharded: three shards merged give the unsharded bytes,
// and two runs give the same bytes (determinism across goroutines).
func TestShardedEqualsUnsharded(t *testing.T) {
	p, _ := tinyPlanner(t, tinySpec)
	whole, err := p.Shard(0, 1, RunOptions{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	plWhole, err := Merge([]*schema.PlanPartial{whole})
	if err != nil {
		t.Fatal(err)
	}
	var parts []*schema.PlanPartial
	for i := 2; i >= 0; i-- {
		pt, err := p.Shard(i, 3, RunOptions{Workers: 1})
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, pt)
	}
	plSharded, err := Merge(parts)
	if err != nil {
		t.Fatal(err)
	}
	a, b := encodePlan(t, plWhole), encodePlan(t, plSharded)
	if !bytes.Equal(a, b) {
		t.Fatalf("sharded plan differs from unsharded:\n%s\n----\n%s", a, b)
	}
	// The answer is sane: every verdict set, a choice that meets, and the
	// choice is the cheapest that meets.
	for _, e := range plWhole.Evaluated {
		if e.Verdict == "" || e.Reason == "" || e.MonthlyUSD <= 0 {
			t.Errorf("%s: verdict %q reason %q cost %v", e.Name, e.Verdict, e.Reason, e.MonthlyUSD)
		}
	}
	if plWhole.Choice == nil {
		t.Fatalf("no choice: %s", plWhole.Answer)
	}
	for _, e := range plWhole.Evaluated {
		if e.Verdict == schema.VerdictMeets && e.MonthlyUSD < plWhole.Choice.MonthlyUSD {
			t.Errorf("%s meets and costs %v, less than the choice %v", e.Name, e.MonthlyUSD, plWhole.Choice.MonthlyUSD)
		}
	}
	if c := plWhole.Choice; c.Availability.Lower < 0.999 || c.Availability.Lower > c.Availability.Mean || c.Availability.Mean > c.Availability.Upper {
		t.Errorf("choice availability %+v", c.Availability)
	}
	// A one-zone on-demand configuration loses everything in a zone outage:
	// 4 a year of 11.3 minutes on average (median 10m, sigma 0.5) is 3.8
	// minutes a month, and each client request fails three times (month-1b's
	// clients retry twice), so about 11.3 error-minutes.
	for _, e := range plWhole.Evaluated {
		if e.Config.Zones == 1 && e.Config.Spot == 0 && len(e.Faults) > 0 {
			if m := e.ErrorMinutes.Mean; m < 9 || m > 14 {
				t.Errorf("%s: %.2f error-minutes a month, want about 11.3 from zone outages", e.Name, m)
			}
		}
	}
	// Merge refuses a missing shard and a partial of another plan.
	if _, err := Merge(parts[:2]); !errors.Is(err, ErrMerge) {
		t.Errorf("merge of 2 of 3 shards: %v", err)
	}
	other := *parts[0]
	other.SpecSHA256 = "x"
	if _, err := Merge([]*schema.PlanPartial{&other, parts[1], parts[2]}); !errors.Is(err, ErrMerge) {
		t.Errorf("merge across plans: %v", err)
	}
	if _, err := Merge([]*schema.PlanPartial{parts[0], parts[0], parts[2]}); !errors.Is(err, ErrMerge) {
		t.Errorf("merge with a repeated shard: %v", err)
	}
}

// TestCommonRandomNumbers: replication r's draws do not depend on the
// configuration, and differ between replications.
func TestCommonRandomNumbers(t *testing.T) {
	p, _ := tinyPlanner(t, tinySpec)
	q, _ := tinyPlanner(t, strings.Replace(tinySpec, "zones: [1, 3]", "zones: [2]", 1))
	for _, k := range []string{kindSteady, kindSpot, kindZone} {
		if p.draw(k, 3) != q.draw(k, 3) {
			t.Errorf("%s: replication 3 draws differ between search spaces", k)
		}
		if p.draw(k, 3) == p.draw(k, 4) {
			t.Errorf("%s: replications 3 and 4 draw the same", k)
		}
	}
}

func TestDecide(t *testing.T) {
	p, _ := tinyPlanner(t, tinySpec)
	iv := func(m, l, u float64) schema.Estimate { return schema.Estimate{Mean: m, Lower: l, Upper: u} }
	cases := []struct {
		name  string
		avail schema.Estimate
		p99   schema.Estimate
		spent bool
		want  string
		words string
	}{
		{"meets", iv(0.9995, 0.9992, 0.9998), iv(30, 29, 31), false, schema.VerdictMeets, "every objective"},
		{"fails availability", iv(0.998, 0.997, 0.9985), iv(30, 29, 31), false, schema.VerdictFails, "availability"},
		{"fails p99", iv(0.9995, 0.9992, 0.9998), iv(90, 85, 95), false, schema.VerdictFails, "p99"},
		{"straddles", iv(0.999, 0.998, 0.9995), iv(30, 29, 31), true, schema.VerdictUndecided, "budget spent"},
	}
	for _, tc := range cases {
		ev := schema.Evaluated{Availability: tc.avail, P99MS: tc.p99, Replications: 8}
		p.decide(&ev, tc.spent)
		if ev.Verdict != tc.want || !strings.Contains(ev.Reason, tc.words) {
			t.Errorf("%s: verdict %q reason %q", tc.name, ev.Verdict, ev.Reason)
		}
	}
}

func TestZoneControl(t *testing.T) {
	p, sh := tinyPlanner(t, tinySpec)
	for _, c := range []struct {
		zones int
		redis string
		store bool
	}{{3, RedisSingle, true}, {3, RedisReplica, false}, {1, RedisSingle, false}, {3, RedisNone, false}} {
		cfg, err := Build(&p.base, sh, schema.PlanConfig{InstanceType: "c7g.medium", Zones: c.zones, NodesPerZone: 1, Spot: c.zones,
			Redis: c.redis, Algorithm: "gcra", HealthInterval: "10s", Fall: 2})
		if err != nil {
			t.Fatal(err)
		}
		zc := p.zoneControl(&cfg)
		if (zc.storeZone != "") != c.store {
			t.Errorf("%d zones, redis %s: store zone %q", c.zones, c.redis, zc.storeZone)
		}
		want := p.zoneMean
		if c.store {
			want /= float64(c.zones)
		}
		if zc.mean != want {
			t.Errorf("%d zones, redis %s: control mean %v, want %v", c.zones, c.redis, zc.mean, want)
		}
	}
	zc := zoneCV{storeZone: "a"}
	got := zc.values([]sample{{target: "a", durationS: 10}, {target: "b", durationS: 20}, {target: "a", durationS: 30}})
	if got[0] != 10 || got[1] != 0 || got[2] != 30 {
		t.Errorf("values = %v", got)
	}
}

// TestWorkersSameBytes: the partial is byte-identical whatever the size of
// the simulation pool, including more workers than configurations, and
// Evaluate (its own pool) gives each configuration the Shard gives it.
// Progress counts every configuration once, in order.
func TestWorkersSameBytes(t *testing.T) {
	p, _ := tinyPlanner(t, tinySpec)
	encode := func(pt *schema.PlanPartial) []byte {
		var b bytes.Buffer
		if err := schema.EncodePartial(&b, pt); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	var want []byte
	var one *schema.PlanPartial
	for _, w := range []int{1, 3, 40} {
		var seen []int
		pt, err := p.Shard(0, 1, RunOptions{Workers: w, Progress: func(done, total int) {
			if total != p.Header().Candidates {
				t.Errorf("workers %d: progress total %d, want %d", w, total, p.Header().Candidates)
			}
			seen = append(seen, done)
		}})
		if err != nil {
			t.Fatal(err)
		}
		for i, d := range seen {
			if d != i+1 {
				t.Fatalf("workers %d: progress %v, want 1, 2, ... %d", w, seen, len(pt.Evaluated))
			}
		}
		if len(seen) != len(pt.Evaluated) {
			t.Errorf("workers %d: progress called %d times for %d configurations", w, len(seen), len(pt.Evaluated))
		}
		got := encode(pt)
		if want == nil {
			want, one = got, pt
			continue
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("workers %d: partial differs from workers 1:\n%s\n----\n%s", w, got, want)
		}
	}
	cands := p.Candidates()
	for _, i := range []int{0, len(cands) - 1} {
		ev, err := p.Evaluate(i, cands[i])
		if err != nil {
			t.Fatal(err)
		}
		var a, b bytes.Buffer
		if err := schema.EncodePartial(&a, &schema.PlanPartial{Evaluated: []schema.Evaluated{ev}}); err != nil {
			t.Fatal(err)
		}
		if err := schema.EncodePartial(&b, &schema.PlanPartial{Evaluated: []schema.Evaluated{one.Evaluated[i]}}); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a.Bytes(), b.Bytes()) {
			t.Errorf("Evaluate(%d) differs from the shard's:\n%s\n----\n%s", i, a.Bytes(), b.Bytes())
		}
	}
}
