package scenarios

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// constantYAML is a scenario with constant-rate, staggered clients and a
// health-check timeout, as a scenario file writes them.
const constantYAML = `
name: steady
duration: 10s
warmup: 1500ms
redis: {mode: embedded}
load_balancer: {health_interval: 1s, health_timeout: 50ms}
tiers: [{name: t, burst: 100, rate: 100}]
traffic:
  groups:
    - {name: g, tier: t, keys: 5, rate: 50, arrival: constant, stagger: true, retry: none}
`

// TestConstantArrivalsFromYAML: the loader accepts arrival constant,
// stagger and load_balancer.health_timeout; the run sends exactly rate x
// duration requests in the measured window; -set reaches the new fields and
// bad values name the file, the field and the value.
func TestConstantArrivalsFromYAML(t *testing.T) {
	sc, err := Parse("steady.yaml", []byte(constantYAML))
	if err != nil {
		t.Fatal(err)
	}
	g := sc.Config.Traffic.Groups[0]
	if g.Arrival != "constant" || !g.Stagger || sc.Config.LB.HealthTimeout.D() != 50*time.Millisecond {
		t.Fatalf("parsed %+v, lb %+v", g, sc.Config.LB)
	}
	s, err := Run(sc, RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Requests.Total != 500 || s.Requests.Errors != 0 {
		t.Errorf("%d requests, %d errors (seed %d), want exactly 500 and none", s.Requests.Total, s.Requests.Errors, s.Seed)
	}
	for _, c := range []struct{ path, value, want string }{
		{"traffic.diurnal.amplitude", "0.5", "steady.yaml: traffic.groups[0].arrival: constant does not combine with diurnal modulation: traffic.diurnal.amplitude must be 0, got 0.5"},
		{"traffic.groups.g.arrival", "uniform", `steady.yaml: traffic.groups[0].arrival: must be one of poisson, mmpp, pareto-onoff, constant, got "uniform"`},
		{"load_balancer.health_timeout", "-1s", "steady.yaml: load_balancer.health_timeout: must be >= 0, got -1s"},
	} {
		sc, err := Parse("steady.yaml", []byte(constantYAML))
		if err != nil {
			t.Fatal(err)
		}
		err = sc.Set(c.path, c.value)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Set(%s, %s) = %v, want %q", c.path, c.value, err, c.want)
		}
	}
	bad := strings.Replace(constantYAML, "arrival: constant, stagger: true", "arrival: poisson, stagger: true", 1)
	if _, err := Parse("steady.yaml", []byte(bad)); err == nil || !strings.Contains(err.Error(), `traffic.groups[0].stagger: applies to arrival constant only, got true with arrival "poisson"`) {
		t.Errorf("stagger on poisson: %v", err)
	}
}
