package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"tollgate/schema"
)

// TestRunGateway: the built-in spot-loss scenario runs against gatewayd's
// example config with every group mapped onto its tier, and the summary
// names the config's tier; without the map the run fails naming both files
// and listing the config's tiers.
func TestRunGateway(t *testing.T) {
	example := filepath.Join("..", "..", "gatewayd", "example.yaml")
	short := []string{"-set", "duration=20s", "-set", "warmup=2s", "-set", "faults[0].at=5s"}
	var out, errb bytes.Buffer
	args := append(append([]string{"run", "-gateway", example, "-out", t.TempDir()}, short...), "spot-loss")
	if code := run(args, &out, &errb); code == 0 {
		t.Fatalf("ran without -tier-map: %s", out.String())
	}
	for _, want := range []string{`"free"`, "spot-loss.yaml", "example.yaml", "its tiers: basic", "-tier-map"} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("error lacks %q:\n%s", want, errb.String())
		}
	}
	dir := t.TempDir()
	out.Reset()
	errb.Reset()
	args = append(append([]string{"run", "-gateway", example, "-tier-map", "*=basic", "-out", dir}, short...), "spot-loss")
	if code := run(args, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	s, err := schema.ReadSummary(filepath.Join(dir, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Rate429.PerTier) != 1 {
		t.Fatalf("tiers %v, want only the config's basic", s.Rate429.PerTier)
	}
	if _, ok := s.Rate429.PerTier["basic"]; !ok || s.Requests.Total == 0 {
		t.Fatalf("tiers %v requests %d, want basic", s.Rate429.PerTier, s.Requests.Total)
	}
	if _, ok := s.Rate429.PerRoute["api"]; !ok || len(s.Rate429.PerRoute) != 1 {
		t.Fatalf("routes %v, want only the config's api", s.Rate429.PerRoute)
	}
	// example.yaml's single basic tier (burst 10, 1/s) refuses most of the
	// scenario's traffic; its memory store decides per node, so the fleet
	// admits more than one budget: the simulator reports it.
	if s.Rate429.Overall < 0.5 || s.OverAdmission.Ratio <= 0 {
		t.Errorf("429 %v over-admission %v: the example's tight tier on a per-node memory store should show both", s.Rate429.Overall, s.OverAdmission.Ratio)
	}
}

func TestRunGatewayMapsNeedGateway(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"run", "-tier-map", "*=basic", "baseline"}, &out, &errb); code == 0 || !strings.Contains(errb.String(), "need -gateway") {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
}
