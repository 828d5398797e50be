package plan

import (
	"bytes"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"tollgate/scenarios"
	"tollgate/schema"
	"tollgate/sim"
)

// TestMonthScenario checks the choice as a month: the written scenario file
// reads back as the same config, carries the spec's SLO, the fault model's
// spot rate, one zone outage of the model's longest duration in the Redis
// primary's zone at day 10's diurnal peak and one Redis failover at day
// 20's.
func TestMonthScenario(t *testing.T) {
	p, sh := tinyPlanner(t, tinySpec)
	var c schema.PlanConfig
	found := false
	for _, x := range p.Candidates() {
		if x.Zones == 3 && x.Redis == RedisReplica && x.Spot == 3 && x.InstanceType == "c7g.medium" {
			c, found = x, true
		}
	}
	if !found {
		t.Fatal("no 3-zone spot replica candidate in tinySpec")
	}
	cfg, err := p.MonthScenario(c, "tiny-choice")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := cfg.Duration.D(), time.Duration(sh.HoursPerMonth*float64(time.Hour)); got != want || cfg.Warmup != 0 {
		t.Errorf("duration %v warm-up %v, want %v and 0", got, cfg.Warmup, want)
	}
	if cfg.Spot.InterruptionsPerNodeHour != 0.002 {
		t.Errorf("spot rate %g, want the spec's 0.002", cfg.Spot.InterruptionsPerNodeHour)
	}
	want := sim.SLO{MinAvailability: 0.999, P99MS: 80, MaxOverAdmission: 0.5}
	if !reflect.DeepEqual(cfg.SLO, want) {
		t.Errorf("SLO %+v, want %+v", cfg.SLO, want)
	}
	if len(cfg.Faults) != 2 {
		t.Fatalf("faults %+v, want a zone outage and a Redis failover", cfg.Faults)
	}
	z, r := cfg.Faults[0], cfg.Faults[1]
	if z.Kind != sim.FaultAZ || z.Target != cfg.Redis.Zone || z.Duration.D() != 30*time.Minute {
		t.Errorf("zone fault %+v, want a 30m outage of the primary's zone %s", z, cfg.Redis.Zone)
	}
	if r.Kind != sim.FaultRedisFailover {
		t.Errorf("second fault %+v, want a Redis failover", r)
	}
	for _, f := range []struct {
		at  time.Duration
		day int
	}{{z.At.D(), monthZoneDay}, {r.At.D(), monthRedisDay}} {
		d := cfg.Traffic.Diurnal
		x := math.Sin(2 * math.Pi * float64(f.at+d.Phase.D()) / float64(d.Period.D()))
		if x < 0.9999 || f.at < time.Duration(f.day)*24*time.Hour || f.at >= time.Duration(f.day+1)*24*time.Hour {
			t.Errorf("fault at %v: sin %.5f, want the diurnal peak of day %d", f.at, x, f.day)
		}
	}
	b, err := p.MonthScenarioYAML(c, "tiny-choice")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte("# Written by `gwlab plan tiny`")) {
		t.Errorf("scenario file lacks its header:\n%.200s", b)
	}
	sc, err := scenarios.Parse("tiny-choice.yaml", b)
	if err != nil {
		t.Fatalf("the written scenario does not load: %v\n%s", err, b)
	}
	// (pointer fields differ in address, so compare the configs' YAML)
	got, err := yaml.Marshal(&sc.Config)
	if err != nil {
		t.Fatal(err)
	}
	wantY, err := yaml.Marshal(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, wantY) {
		t.Errorf("scenario file reads back as another config:\n got %s\nwant %s", got, wantY)
	}
	if !strings.Contains(cfg.Description, "a 30m0s outage of zone") {
		t.Errorf("description %q does not name the zone outage", cfg.Description)
	}
}

// TestMonthScenarioNoRedis: without Redis the zone outage strikes the
// first zone and there is no Redis failover.
func TestMonthScenarioNoRedis(t *testing.T) {
	p, _ := tinyPlanner(t, tinySpec)
	for _, c := range p.Candidates() {
		if c.Redis != RedisNone || c.Zones != 3 {
			continue
		}
		cfg, err := p.MonthScenario(c, "x")
		if err != nil {
			t.Fatal(err)
		}
		if len(cfg.Faults) != 1 || cfg.Faults[0].Kind != sim.FaultAZ || cfg.Faults[0].Target != cfg.Topology.Zones[0] {
			t.Errorf("%s: faults %+v, want one outage of zone %s", Name(c), cfg.Faults, cfg.Topology.Zones[0])
		}
		if c.Spot == 0 && cfg.Spot.InterruptionsPerNodeHour != 0 {
			t.Errorf("%s: on-demand only, spot rate %g", Name(c), cfg.Spot.InterruptionsPerNodeHour)
		}
		return
	}
	t.Fatal("no 3-zone candidate without Redis")
}

func TestDiurnalPeak(t *testing.T) {
	day := 24 * time.Hour
	cfg := &sim.Config{}
	cfg.Traffic.Diurnal = sim.Diurnal{Amplitude: 0.5, Period: sim.Duration(day)}
	for _, tc := range []struct{ phase, from, want time.Duration }{
		{0, 0, 6 * time.Hour},
		{0, 10 * day, 10*day + 6*time.Hour},
		{0, 10*day + 7*time.Hour, 11*day + 6*time.Hour},
		{3 * time.Hour, 10 * day, 10*day + 3*time.Hour},
		{-6 * time.Hour, 0, 12 * time.Hour},
		{20 * time.Hour, 0, 10 * time.Hour},
	} {
		cfg.Traffic.Diurnal.Phase = sim.Duration(tc.phase)
		if got := diurnalPeak(cfg, tc.from); got != tc.want {
			t.Errorf("phase %v from %v: %v, want %v", tc.phase, tc.from, got, tc.want)
		}
	}
	cfg.Traffic.Diurnal.Amplitude = 0
	if got := diurnalPeak(cfg, 5*time.Hour); got != 5*time.Hour {
		t.Errorf("flat: %v, want from", got)
	}
}

func TestRoundSig(t *testing.T) {
	for _, tc := range []struct{ x, want float64 }{{0.000123456, 0.000123}, {0, 0}, {1234.5, 1230}, {0.0099996, 0.01}} {
		if got := roundSig(tc.x, 3); got != tc.want {
			t.Errorf("roundSig(%g) = %g, want %g", tc.x, got, tc.want)
		}
	}
}
