package scenarios

import (
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
)

// TestRunAllMatchesRun: runs made in parallel give the summaries the same
// runs give one by one, in the order asked, with each error in its place.
func TestRunAllMatchesRun(t *testing.T) {
	base := short(t, "skewed-clock", "duration", "3s", "warmup", "0s")
	var scs []*Scenario
	for _, a := range []string{"gcra", "fixed-window", "token-bucket"} {
		sc := base.Clone()
		if err := sc.Set("engine.algorithm", a); err != nil {
			t.Fatal(err)
		}
		scs = append(scs, sc)
	}
	bad := base.Clone()
	bad.Config.Engine.Algorithm = "no-such-algorithm"
	scs = append(scs, bad)
	var mu sync.Mutex
	var last float64
	got, errs := RunAll(scs, RunOptions{Progress: func(f float64) {
		mu.Lock()
		last = max(last, f)
		mu.Unlock()
	}}, 3)
	for i, sc := range scs[:3] {
		want, err := Run(sc, RunOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if errs[i] != nil || !reflect.DeepEqual(got[i], want) {
			t.Errorf("%s: RunAll gave another summary than Run (err %v)", sc.Config.Engine.Algorithm, errs[i])
		}
	}
	if errs[3] == nil || !strings.Contains(errs[3].Error(), "no-such-algorithm") || got[3] != nil {
		t.Errorf("bad scenario: %v", errs[3])
	}
	if last < 0.74 {
		t.Errorf("progress reached %v, want the three good runs' share of 1", last)
	}
	if base.Config.Engine.Algorithm == "gcra" || base.Config.Engine.Algorithm == "no-such-algorithm" {
		t.Error("a variant's override reached the scenario it was cloned from")
	}
}

// TestCloneIsDeep: an override of a nested field in a clone leaves the
// original alone.
func TestCloneIsDeep(t *testing.T) {
	sc := short(t, "baseline")
	c := sc.Clone()
	if err := c.SetAll([]string{"tiers.free.rate=1", "traffic.groups.free.zipf=0.1", "topology.zones=[a, b]"}); err != nil {
		t.Fatal(err)
	}
	if sc.Config.Tiers[0].Rate == 1 || sc.Config.Traffic.Groups[0].Zipf == 0.1 || len(sc.Config.Topology.Zones) != 3 || len(c.Config.Topology.Zones) != 2 {
		t.Errorf("the clone's overrides reached the original: %+v", sc.Config.Tiers[0])
	}
}

func TestCI(t *testing.T) {
	names, err := CI()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(names, "baseline") || !slices.Contains(names, "spot-loss") || slices.Contains(names, "month-1b") {
		t.Errorf("CI set %v", names)
	}
	if !slices.IsSorted(names) {
		t.Errorf("CI set not sorted: %v", names)
	}
}
