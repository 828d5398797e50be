package slo

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tollgate/schema"
)

// TestGatePricesRunAndBaselineAlike: a price change alone is no regression,
// a worse run is, a run without a baseline fails, and a pricing error names
// the scenario.
func TestGatePricesRunAndBaselineAlike(t *testing.T) {
	s := sampleSummary()
	base := map[string]*schema.Summary{s.Scenario: sampleSummary()}
	for _, cpb := range []float64{110, 190} {
		rows, err := Gate([]*schema.Summary{s}, base, DefaultTolerances(), func(*schema.Summary) (float64, error) { return cpb, nil })
		if err != nil {
			t.Fatal(err)
		}
		if err := Verdict(rows); err != nil {
			t.Errorf("at %v per billion: %v", cpb, err)
		}
	}
	worse := sampleSummary()
	worse.LatencyMS.P99 *= 1.5
	worse.SLO = schema.SLO{}
	price := func(*schema.Summary) (float64, error) { return 110, nil }
	rows, err := Gate([]*schema.Summary{worse}, base, DefaultTolerances(), price)
	if err != nil {
		t.Fatal(err)
	}
	if err := Verdict(rows); !errors.Is(err, ErrGate) || !strings.Contains(err.Error(), "0 breaches, 1 regressions, 0 checks without a baseline") {
		t.Errorf("regression: %v", err)
	}
	rows, err = Gate([]*schema.Summary{s}, nil, DefaultTolerances(), price)
	if err != nil {
		t.Fatal(err)
	}
	if err := Verdict(rows); !errors.Is(err, ErrGate) || !strings.Contains(err.Error(), "checks without a baseline") {
		t.Errorf("no baseline: %v", err)
	}
	_, err = Gate([]*schema.Summary{s}, base, DefaultTolerances(), func(*schema.Summary) (float64, error) { return 0, errors.New("no price") })
	if err == nil || !strings.Contains(err.Error(), "spot-loss: no price") {
		t.Errorf("pricing error: %v", err)
	}
}

func TestReadRuns(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"zeta", "alpha"} {
		s := sampleSummary()
		s.Scenario = name
		if err := os.MkdirAll(filepath.Join(dir, name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := schema.WriteSummary(filepath.Join(dir, name, "summary.json"), s); err != nil {
			t.Fatal(err)
		}
	}
	all, err := ReadRuns(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 || all[0].Scenario != "alpha" || all[1].Scenario != "zeta" {
		t.Errorf("ReadRuns: %d runs", len(all))
	}
	one, err := ReadRuns(dir, []string{"zeta"})
	if err != nil || len(one) != 1 || one[0].Scenario != "zeta" {
		t.Errorf("named: %v, %v", one, err)
	}
	if _, err := ReadRuns(dir, []string{"missing"}); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing run: %v", err)
	}
}
