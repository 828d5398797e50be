package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tollgate/reports/slo"
	"tollgate/schema"
)

// TestSLOCommittedBaseline runs one fast CI scenario through the real gate
// against the committed baseline (reports/baseline): it must pass, with no
// breach and no regression. `make slo` runs the whole set.
func TestSLOCommittedBaseline(t *testing.T) {
	base := filepath.Join("..", "..", "reports", "baseline")
	if _, err := os.Stat(filepath.Join(base, "heartbeat-abuse.json")); err != nil {
		t.Fatalf("committed baseline missing: %v (run gwlab slo -update)", err)
	}
	var out, errb bytes.Buffer
	if rc := run([]string{"slo", "-baseline", base, "-v", "heartbeat-abuse"}, &out, &errb); rc != 0 {
		t.Fatalf("gwlab slo heartbeat-abuse exited %d\n%s\n%s", rc, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "all pass") || strings.Count(out.String(), "heartbeat-abuse") != len(slo.Names) {
		t.Errorf("table:\n%s", out.String())
	}
}

// TestSLOTightened checks a run whose SLO is tightened below its own figures
// fails the gate with a table naming each breach.
func TestSLOTightened(t *testing.T) {
	base := filepath.Join("..", "..", "reports", "baseline")
	s, err := schema.ReadSummary(filepath.Join(base, "heartbeat-abuse.json"))
	if err != nil {
		t.Fatal(err)
	}
	s.SLO = schema.SLO{P99MS: s.LatencyMS.P99 / 2, MaxCostPerBillion: 1}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "heartbeat-abuse"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := schema.WriteSummary(filepath.Join(dir, "heartbeat-abuse", "summary.json"), s); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	rc := run([]string{"slo", "-baseline", base, "-from", dir}, &out, &errb)
	if rc != 1 {
		t.Fatalf("exit %d, want 1\n%s%s", rc, out.String(), errb.String())
	}
	for _, want := range []string{"STATUS", "p99_ms", "cost_per_billion", "BREACH", "slo: FAIL: 2 breaches, 0 regressions"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if !strings.Contains(errb.String(), "2 breaches") {
		t.Errorf("stderr: %s", errb.String())
	}
	// A regression: worse latency than the baseline, SLO untouched.
	s.SLO = schema.SLO{}
	s.LatencyMS.P99 *= 1.5
	if err := schema.WriteSummary(filepath.Join(dir, "heartbeat-abuse", "summary.json"), s); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	errb.Reset()
	if rc := run([]string{"slo", "-baseline", base, "-from", dir}, &out, &errb); rc != 1 || !strings.Contains(out.String(), "REGRESSION") {
		t.Errorf("regression: exit %d\n%s", rc, out.String())
	}
}

func TestCostCommand(t *testing.T) {
	var out, errb bytes.Buffer
	if rc := run([]string{"cost", "-requests", "1e9", "-fleet", "c7g.medium:spot:3"}, &out, &errb); rc != 0 {
		t.Fatalf("exit %d: %s", rc, errb.String())
	}
	for _, want := range []string{"API Gateway REST API", "3033.10", "930.00", "self-hosted c7g.medium:spot:3", "NLB hours", "interruptions <5%"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	errb.Reset()
	if rc := run([]string{"cost", "-fleet", "c7g.medium:reserved:1"}, &out, &errb); rc != 1 || !strings.Contains(errb.String(), `market: must be spot or on-demand, got "reserved"`) {
		t.Errorf("bad fleet: exit %d, %s", rc, errb.String())
	}
}
