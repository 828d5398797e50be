package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tollgate/scenarios"
	"tollgate/schema"
)

// TestMain lets a test run this binary as gwlab in a separate process: with
// GWLAB_TEST_MAIN=1 it runs the command line and exits.
func TestMain(m *testing.M) {
	if os.Getenv("GWLAB_TEST_MAIN") == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// gwlabProcess starts gwlab args in a separate process.
func gwlabProcess(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "GWLAB_TEST_MAIN=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("gwlab %s:\n%s", strings.Join(args, " "), out.String())
		}
	})
	return cmd
}

// TestPlanShardsMergeByteIdentical: two shards run at the same time in two
// processes, merged by a third, give the plan.json an unsharded run writes.
func TestPlanShardsMergeByteIdentical(t *testing.T) {
	dir := t.TempDir()
	spec := filepath.Join("testdata", "tiny-plan.yaml")
	shards := []*exec.Cmd{
		gwlabProcess(t, "plan", "-shard", "0/2", "-j", "1", "-out", filepath.Join(dir, "s0"), spec),
		gwlabProcess(t, "plan", "-shard", "1/2", "-j", "1", "-out", filepath.Join(dir, "s1"), spec),
	}
	var out, errb bytes.Buffer
	if code := run([]string{"plan", "-out", filepath.Join(dir, "whole"), spec}, &out, &errb); code != 0 {
		t.Fatalf("unsharded plan: exit %d: %s", code, errb.String())
	}
	for i, c := range shards {
		if err := c.Wait(); err != nil {
			t.Fatalf("shard %d: %v", i, err)
		}
	}
	merge := gwlabProcess(t, "merge", "-spec", spec, "-out", filepath.Join(dir, "merged"),
		filepath.Join(dir, "s1", "partial-1-of-2.json"), filepath.Join(dir, "s0", "partial-0-of-2.json"))
	if err := merge.Wait(); err != nil {
		t.Fatalf("merge: %v", err)
	}
	a, b := readPair(t, dir, "plan.json")
	if !bytes.Equal(a, b) {
		t.Fatalf("merged plan.json (%d bytes) differs from the unsharded one (%d bytes)", len(b), len(a))
	}
	p, err := schema.ReadPlan(filepath.Join(dir, "merged", "plan.json"))
	if err != nil {
		t.Fatal(err)
	}
	if p.Choice == nil || p.Choice.MonthlyUSD <= 0 || len(p.Evaluated) != p.Candidates {
		t.Fatalf("plan: choice %+v, %d evaluated of %d", p.Choice, len(p.Evaluated), p.Candidates)
	}
	// the choice as a month scenario: written by both, the same bytes, and
	// a scenario gwlab loads
	if ca, cb := readPair(t, dir, "choice.yaml"); !bytes.Equal(ca, cb) {
		t.Errorf("merged choice.yaml differs from the unsharded one")
	}
	sc, err := scenarios.Load(filepath.Join(dir, "whole", "choice.yaml"))
	if err != nil {
		t.Fatalf("choice.yaml does not load as a scenario: %v", err)
	}
	if sc.Name != p.Spec+"-choice" || sc.Config.SLO.MinAvailability != p.Objectives.Availability {
		t.Errorf("choice.yaml: name %q, min_availability %g; want %q and the spec's %g", sc.Name, sc.Config.SLO.MinAvailability,
			p.Spec+"-choice", p.Objectives.Availability)
	}
	// merge refuses a spec that is not the partials'
	other := filepath.Join(dir, "other.yaml")
	sb, err := os.ReadFile(spec)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(other, bytes.Replace(sb, []byte("seed: "), []byte("seed: 9"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	if code := run([]string{"merge", "-spec", other, "-out", filepath.Join(dir, "bad"), filepath.Join(dir, "s0", "partial-0-of-2.json"),
		filepath.Join(dir, "s1", "partial-1-of-2.json")}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "is not the partials' spec") {
		t.Errorf("merge with another spec: exit %d, %q", code, errb.String())
	}
	// merge refuses an incomplete set
	if code := run([]string{"merge", "-out", filepath.Join(dir, "bad"), filepath.Join(dir, "s0", "partial-0-of-2.json")}, &out, &errb); code != 1 ||
		!strings.Contains(errb.String(), "shard 1/2 missing") {
		t.Errorf("merge of one of two shards: exit %d, %q", code, errb.String())
	}
}

// readPair reads file from the unsharded run's directory and the merge's.
func readPair(t *testing.T, dir, file string) (whole, merged []byte) {
	t.Helper()
	whole, err := os.ReadFile(filepath.Join(dir, "whole", file))
	if err != nil {
		t.Fatal(err)
	}
	merged, err = os.ReadFile(filepath.Join(dir, "merged", file))
	if err != nil {
		t.Fatal(err)
	}
	return whole, merged
}

func TestPlanUsage(t *testing.T) {
	var out, errb bytes.Buffer
	for _, args := range [][]string{{"plan"}, {"merge", "x.json"}} {
		if code := run(args, &out, &errb); code != 2 {
			t.Errorf("%v: exit %d", args, code)
		}
	}
	if code := run([]string{"plan", "-shard", "2/2", "seed-claim"}, &out, &errb); code != 1 || !strings.Contains(errb.String(), `"2/2"`) {
		t.Errorf("bad shard: exit %d, %q", code, errb.String())
	}
}

func TestProgressLine(t *testing.T) {
	cases := []struct {
		done, total int
		elapsed     time.Duration
		want        string
	}{
		{0, 10, 0, "[..............................] 0/10 configurations, ? left"},
		{5, 10, time.Minute, "[###############...............] 5/10 configurations, 1m0s left"},
		{10, 10, 3 * time.Minute, "[##############################] 10/10 configurations, 0s left"},
	}
	for _, c := range cases {
		if got := strings.TrimSpace(progressLine(c.done, c.total, c.elapsed)); got != c.want {
			t.Errorf("progressLine(%d, %d, %v) = %q, want %q", c.done, c.total, c.elapsed, got, c.want)
		}
	}
	var b bytes.Buffer
	now := time.Unix(0, 0)
	bar := newProgressBar(&b, func() time.Time { return now })
	now = now.Add(30 * time.Second)
	bar.update(1, 4)
	bar.finish()
	if want := fmt.Sprintf("\r%s\n", progressLine(1, 4, 30*time.Second)); b.String() != want {
		t.Errorf("bar wrote %q, want %q", b.String(), want)
	}
}

// TestPlanGatewayTraffic: a plan spec may take its design from a gatewayd
// config, as gwlab run -gateway does; a group the config has no tier for is
// an error naming both files unless traffic.tier_map maps it.
func TestPlanGatewayTraffic(t *testing.T) {
	tiny, err := os.ReadFile(filepath.Join("testdata", "tiny-plan.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	example, _ := filepath.Abs(filepath.Join("..", "..", "gatewayd", "example.yaml"))
	dir := t.TempDir()
	write := func(name, traffic string) string {
		p := filepath.Join(dir, name)
		spec := strings.Replace(string(tiny), "traffic: {requests_per_month: 1e7, scenario: month-1b}", traffic, 1)
		if err := os.WriteFile(p, []byte(spec), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	unmapped := write("unmapped.yaml", fmt.Sprintf("traffic: {requests_per_month: 1e7, scenario: month-1b, gateway: %q}", example))
	var out, errb bytes.Buffer
	if code := run([]string{"plan", "-out", filepath.Join(dir, "u"), unmapped}, &out, &errb); code == 0 ||
		!strings.Contains(errb.String(), "traffic.gateway") || !strings.Contains(errb.String(), "example.yaml (its tiers: basic)") {
		t.Fatalf("unmapped tiers: exit %d: %s", code, errb.String())
	}
	mapped := write("mapped.yaml", fmt.Sprintf("traffic: {requests_per_month: 1e7, scenario: month-1b, gateway: %q, tier_map: {'*': basic}}", example))
	errb.Reset()
	if code := run([]string{"plan", "-j", "2", "-out", filepath.Join(dir, "m"), mapped}, &out, &errb); code != 0 {
		t.Fatalf("mapped: exit %d: %s", code, errb.String())
	}
	p, err := schema.ReadPlan(filepath.Join(dir, "m", "plan.json"))
	if err != nil || len(p.Evaluated) != p.Candidates || p.Candidates == 0 {
		t.Fatalf("plan %v: %v", p, err)
	}
}
