package plans

import (
	"errors"
	"testing"

	"tollgate/plan"
	"tollgate/reports"
	"tollgate/scenarios"
)

// TestBuiltinsLoad: every built-in spec parses, its scenario loads and every
// configuration of its search space makes a valid simulator config.
func TestBuiltinsLoad(t *testing.T) {
	sh, err := reports.DefaultPrices()
	if err != nil {
		t.Fatal(err)
	}
	if len(Names()) == 0 {
		t.Fatal("no built-in specs")
	}
	for _, n := range Names() {
		spec, err := Load(n)
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		sc, err := scenarios.Load(spec.Traffic.Scenario)
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		p, err := plan.New(spec, sh, &sc.Config)
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		if p.Header().Candidates < 2 {
			t.Errorf("%s: %d candidates", n, p.Header().Candidates)
		}
	}
	if _, err := Load("no-such-plan"); !errors.Is(err, ErrUnknown) {
		t.Errorf("unknown name: %v", err)
	}
}
