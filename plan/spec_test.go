package plan

import (
	"errors"
	"strings"
	"testing"
)

const minimalSpec = `
name: t
traffic: {requests_per_month: 1e8}
slo: {availability: 0.999}
search: {instance_types: [c7g.medium]}
`

func TestParseDefaults(t *testing.T) {
	s, err := Parse("t.yaml", []byte(minimalSpec))
	if err != nil {
		t.Fatal(err)
	}
	if s.Traffic.Scenario != "month-1b" || s.Estimate.MinReplications != 5 || s.Estimate.Confidence != 0.95 ||
		len(s.Search.Zones) != 1 || s.Search.Zones[0] != 3 || s.Faults.Spot.Band != "upper" {
		t.Fatalf("defaults not applied: %+v", s)
	}
}

func TestParseErrorsNameFieldAndValue(t *testing.T) {
	cases := []struct {
		name, yaml string
		want       []string
	}{
		{"unknown field", minimalSpec + "bogus: 1\n", []string{"field bogus not found"}},
		{"availability", strings.Replace(minimalSpec, "availability: 0.999", "availability: 1.5", 1), []string{"slo.availability", "1.5"}},
		{"zones", minimalSpec + "  zones: [0, 4]\n", nil}, // replaced below
		{"redis", strings.Replace(minimalSpec, "search: {instance_types: [c7g.medium]}", "search: {instance_types: [c7g.medium], redis: [cluster, mem]}", 1),
			[]string{"search.redis[1]", `"mem"`}},
		{"redis shards", strings.Replace(minimalSpec, "search: {instance_types: [c7g.medium]}", "search: {instance_types: [c7g.medium], redis: [cluster], redis_shards: [0, 65]}", 1),
			[]string{"search.redis_shards[0]", "got 0", "search.redis_shards[1]", "got 65"}},
		{"algorithm", strings.Replace(minimalSpec, "search: {instance_types: [c7g.medium]}", "search: {instance_types: [c7g.medium], algorithms: [leaky]}", 1),
			[]string{"search.algorithms[0]", "leaky"}},
		{"replications", minimalSpec + "estimate: {min_replications: 10, max_replications: 3}\n", []string{"estimate.max_replications", "3"}},
		{"requests", strings.Replace(minimalSpec, "1e8", "-5", 1), []string{"traffic.requests_per_month", "-5"}},
		{"two documents", minimalSpec + "---\nname: u\n", []string{"more than one YAML document"}},
		{"empty", "", []string{"empty file"}},
		{"duration", minimalSpec + "faults: {zone_outages: {median: 5x}}\n", []string{"5x"}},
	}
	cases[2] = struct {
		name, yaml string
		want       []string
	}{"zones", strings.Replace(minimalSpec, "search: {instance_types: [c7g.medium]}", "search: {instance_types: [c7g.medium], zones: [0, 4]}", 1),
		[]string{"search.zones[0]", "got 0", "search.zones[1]", "got 4"}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("t.yaml", []byte(tc.yaml))
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, ErrSpec) {
				t.Errorf("error does not wrap ErrSpec: %v", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if !strings.Contains(err.Error(), "t.yaml") {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
}

func TestParseRefusesHugeSpace(t *testing.T) {
	y := strings.Replace(minimalSpec, "search: {instance_types: [c7g.medium]}",
		"search: {instance_types: [a, b, c, d, e], zones: [1, 2, 3], nodes_per_zone: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16], on_demand_base: [0, 1, 2, 3, 4, 5], spot_share: [0, 0.25, 0.5, 0.75, 1], lease_batch: [0, 1, 2, 3]}", 1)
	_, err := Parse("t.yaml", []byte(y))
	if err == nil || !strings.Contains(err.Error(), "search: spans more than") {
		t.Fatalf("want a search-space error, got %v", err)
	}
}

// FuzzParse: any input gives a spec or an error wrapping ErrSpec, never a
// panic, and an accepted spec validates again after its defaults.
func FuzzParse(f *testing.F) {
	f.Add([]byte(minimalSpec))
	f.Add([]byte("name: x\ntraffic: {requests_per_month: 1e9}\nslo: {availability: 0.9999}\nsearch: {instance_types: [c7g.medium], zones: [1, 2, 3], redis: [none, single, replica], health: [{interval: 5s, fall: 3}]}\n"))
	f.Add([]byte("faults: {zone_outages: {median: 1d, sigma: 2, max: 2d}}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := Parse("fuzz.yaml", b)
		if err != nil {
			if !errors.Is(err, ErrSpec) {
				t.Fatalf("error does not wrap ErrSpec: %v", err)
			}
			return
		}
		s.Defaults()
		if err := s.Validate(); err != nil {
			t.Fatalf("accepted spec fails validation after defaults: %v", err)
		}
	})
}
