package sim

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"tollgate/engine/tier"
	"tollgate/schema"
)

// small is a one-zone, one-node scenario with a tier that never refuses, one
// group of the given arrival kind, and no retries.
func small(arrival string, rate float64, keys int) *Config {
	c := &Config{
		Name:     "small",
		Duration: Duration(10 * time.Second),
		Topology: Topology{Zones: []string{"a"}, Concurrency: 64},
		Redis:    Redis{Mode: "embedded"},
		Tiers:    []tier.Tier{{Name: "t", Burst: 1e6, Rate: 1e6}},
		Traffic: Traffic{Groups: []Group{{Name: "g", Tier: "t", Keys: keys, Rate: rate,
			Arrival: arrival, Retry: "none"}}},
	}
	c.Defaults()
	return c
}

func mustRun(t *testing.T, c *Config) (*model, Stats) {
	t.Helper()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	m, err := newModel(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.run(Options{}); err != nil {
		t.Fatal(err)
	}
	return m, Stats{Simulated: m.simulated, Requests: m.m.total}
}

// TestConstantCountExact: a constant-rate key sends exactly rate x T
// requests in a window of T seconds whenever rate x T is whole, whatever
// the window's start and the key's phase. Rates whose inter-arrival is not a
// whole number of nanoseconds (3/s: 333333333.3 ns) catch a lost remainder:
// without the carry the fourth arrival lands before 1 s.
func TestConstantCountExact(t *testing.T) {
	for _, tc := range []struct {
		name            string
		rate            float64
		keys            int
		warmup, measure time.Duration
		stagger         bool
		want            int64
	}{
		{"3/s over 1s", 3, 1, 0, time.Second, false, 3},
		{"3/s over 1s after 0.7s", 3, 1, 700 * time.Millisecond, time.Second, false, 3},
		{"30/s over 10s", 30, 1, 0, 10 * time.Second, false, 300},
		{"7/s over 3s staggered", 7, 1, 1500 * time.Millisecond, 3 * time.Second, true, 21},
		{"0.5/s over 10s", 0.5, 1, 0, 10 * time.Second, false, 5},
		{"7.5/s over 4s staggered", 7.5, 1, 250 * time.Millisecond, 4 * time.Second, true, 30},
		{"1000/s over 2s", 1000, 1, 0, 2 * time.Second, false, 2000},
		{"40/s over 4 keys, 10s", 40, 4, 0, 10 * time.Second, false, 400},
		{"999/s over 9 keys staggered, 5s", 999, 9, 333 * time.Millisecond, 5 * time.Second, true, 4995},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := small(ArrivalConstant, tc.rate, tc.keys)
			c.Traffic.Groups[0].Stagger = tc.stagger
			c.Warmup, c.Duration = Duration(tc.warmup), Duration(tc.measure)
			c.Interval = Duration(c.Duration)
			_, st := mustRun(t, c)
			if st.Requests != tc.want {
				t.Errorf("measured %d requests in %v (seed %d), want exactly %d", st.Requests, tc.measure, c.Seed, tc.want)
			}
		})
	}
}

// TestConstantEveryIntervalExact: with a whole rate, every one-second
// timeline interval holds exactly rate requests (no drift, no jitter).
func TestConstantEveryIntervalExact(t *testing.T) {
	c := small(ArrivalConstant, 30, 1)
	c.Traffic.Groups[0].Stagger = true
	c.Duration, c.Interval = Duration(60*time.Second), Duration(time.Second)
	s, err := Run(c, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Timeline) != 60 {
		t.Fatalf("%d intervals, want 60", len(s.Timeline))
	}
	for _, iv := range s.Timeline {
		if iv.Total != 30 {
			t.Fatalf("interval at %.0fs: %d requests, want 30 (seed %d)", iv.StartS, iv.Total, c.Seed)
		}
	}
}

// TestConstantStagger: 200 keys at 1/s each without stagger arrive at the
// same instants, so a node with one worker and no queue sheds all but one
// of each burst; with stagger their phases spread over the second and the
// node (50us per request) sheds almost none. Stagger is seeded: the same
// seed gives the same bytes, another seed other ones.
func TestConstantStagger(t *testing.T) {
	run := func(stagger bool, seed uint64) ([]byte, int64, int64) {
		c := small(ArrivalConstant, 200, 200)
		c.Seed = seed
		c.Topology.Concurrency, c.Topology.QueueLimit = 1, 0
		c.Topology.ServiceDist = "deterministic"
		c.Traffic.Groups[0].Stagger = stagger
		s, err := Run(c, Options{})
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := schema.EncodeSummary(&b, s); err != nil {
			t.Fatal(err)
		}
		return b.Bytes(), s.Requests.Errors, s.Requests.Total
	}
	_, lockErr, total := run(false, 1)
	if total != 2000 || lockErr < total*9/10 {
		t.Errorf("lockstep: %d errors of %d requests, want 2000 requests and nearly all shed", lockErr, total)
	}
	a, spreadErr, total := run(true, 1)
	if total != 2000 || spreadErr > total/20 {
		t.Errorf("staggered: %d errors of %d requests, want 2000 requests and few shed", spreadErr, total)
	}
	b, _, _ := run(true, 1)
	c, _, _ := run(true, 2)
	if string(a) != string(b) {
		t.Error("the same seed gave different summaries")
	}
	if string(a) == string(c) {
		t.Error("seeds 1 and 2 gave the same summary: the phase ignores the seed")
	}
}

// TestArrivalValidation: bad arrival settings name the field and the value.
func TestArrivalValidation(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(c *Config)
		want []string
	}{
		{"unknown kind", func(c *Config) { c.Traffic.Groups[0].Arrival = "uniform" },
			[]string{`traffic.groups[0].arrival: must be one of poisson, mmpp, pareto-onoff, constant, got "uniform"`}},
		{"constant under diurnal", func(c *Config) { c.Traffic.Diurnal.Amplitude = 0.3 },
			[]string{"traffic.groups[0].arrival: constant does not combine with diurnal modulation", "traffic.diurnal.amplitude must be 0, got 0.3"}},
		{"stagger on poisson", func(c *Config) { c.Traffic.Groups[0].Arrival, c.Traffic.Groups[0].Stagger = ArrivalPoisson, true },
			[]string{`traffic.groups[0].stagger: applies to arrival constant only, got true with arrival "poisson"`}},
		{"negative rate", func(c *Config) { c.Traffic.Groups[0].Rate = -2 },
			[]string{"traffic.groups[0].rate: must be >= 0, got -2"}},
		{"negative health timeout", func(c *Config) { c.LB.HealthTimeout = Duration(-time.Second) },
			[]string{"load_balancer.health_timeout: must be >= 0, got -1s"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := small(ArrivalConstant, 10, 1)
			tc.edit(c)
			err := c.Validate()
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Validate = %v, want ErrInvalid", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
	// poisson under diurnal stays valid
	c := small(ArrivalPoisson, 10, 1)
	c.Traffic.Diurnal.Amplitude = 0.3
	if err := c.Validate(); err != nil {
		t.Errorf("poisson under diurnal: %v", err)
	}
}
