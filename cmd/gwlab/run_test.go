package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"tollgate/reports"
	"tollgate/scenarios"
	"tollgate/schema"
)

func TestRunWritesSummary(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	code := run([]string{"run", "-seed", "5", "-set", "duration=5s", "-set", "warmup=1s", "-out", dir, "baseline"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	s, err := schema.ReadSummary(filepath.Join(dir, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	if s.Scenario != "baseline" || s.Seed != 5 || s.DurationS != 5 || s.Requests.Total == 0 {
		t.Errorf("summary %+v", s.Requests)
	}
	// Writer to reader: summary.json as gwlab run wrote it reads back as the
	// summary the same run gives in process.
	sc, err := scenarios.Load("baseline")
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range []string{"duration=5s", "warmup=1s"} {
		k, v, _ := strings.Cut(kv, "=")
		if err := sc.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	want, err := scenarios.Run(sc, scenarios.RunOptions{Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("summary.json read back differs from the run's summary:\n got %+v\nwant %+v", s, want)
	}
	if !strings.Contains(errb.String(), "seed 5") {
		t.Errorf("seed not printed first: %q", errb.String())
	}
	if code := run([]string{"run", "-set", "engine.clok=x", "baseline"}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "clok") {
		t.Errorf("bad -set: exit %d, %q", code, errb.String())
	}
	if code := run([]string{"run"}, &out, &errb); code != 2 {
		t.Errorf("no scenario: exit %d", code)
	}
}

// TestRunSetOrder: -set traffic.source=trace and -set traffic.trace=F are
// valid only together; gwlab run accepts them in either order and replays
// the ledger both times.
func TestRunSetOrder(t *testing.T) {
	ledger := filepath.Join(t.TempDir(), "usage.jsonl")
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 40 {
		at := t0.Add(time.Duration(i) * 50 * time.Millisecond)
		r := schema.LedgerRecord{ID: fmt.Sprintf("r%d", i), KeyHash: fmt.Sprintf("k%d", i%4), Tier: "free", Route: "/", Method: "GET",
			Path: "/", Status: 200, Decision: "allowed", CostCharged: 1, CostSettled: 1, Start: at, End: at.Add(time.Millisecond), DecidedUS: at.UnixMicro()}
		if err := enc.Encode(&r); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(ledger, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	var first *schema.Summary
	for _, sets := range [][]string{
		{"traffic.source=trace", "traffic.trace=" + ledger},
		{"traffic.trace=" + ledger, "traffic.source=trace"},
	} {
		dir := t.TempDir()
		// traffic.groups=[]: the ledger's requests only (the simulator
		// runs a scenario's groups beside its trace).
		args := []string{"run", "-out", dir, "-set", "duration=3s", "-set", "warmup=0s", "-set", "traffic.groups=[]"}
		for _, kv := range sets {
			args = append(args, "-set", kv)
		}
		var out, errb bytes.Buffer
		if code := run(append(args, "baseline"), &out, &errb); code != 0 {
			t.Fatalf("%q: exit %d: %s", sets, code, errb.String())
		}
		s, err := schema.ReadSummary(filepath.Join(dir, "summary.json"))
		if err != nil {
			t.Fatal(err)
		}
		if s.Requests.Total != 40 {
			t.Errorf("%q: %d requests, want the ledger's 40", sets, s.Requests.Total)
		}
		if first == nil {
			first = s
		} else if !reflect.DeepEqual(first, s) {
			t.Errorf("the two orders gave different summaries")
		}
	}
	var out, errb bytes.Buffer
	if code := run([]string{"run", "-set", "traffic.source=trace", "baseline"}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "traffic.trace") {
		t.Errorf("source=trace without a trace: exit %d, %q", code, errb.String())
	}
}

func TestCompareWritesVariants(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	code := run([]string{"compare", "-algos", "fixed-window,gcra", "-set", "duration=5s", "-set", "warmup=0s", "-out", dir, "skewed-clock"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	// Writer to readers: compare.json as gwlab compare wrote it, read by the
	// schema and by the reports, agrees with each variant's summary.json.
	c, err := schema.ReadComparison(filepath.Join(dir, schema.CompareFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Variants) != 2 || c.Kind != schema.CompareAlgorithms || c.Scenario != "skewed-clock" {
		t.Fatalf("compare.json %+v", c)
	}
	ss, labels, param, err := reports.ReadComparison(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ss) != 2 || param != "" {
		t.Fatalf("reports read %d summaries, param %q", len(ss), param)
	}
	for i, v := range c.Variants {
		s, err := schema.ReadSummary(c.SummaryPath(dir, i))
		if err != nil {
			t.Fatal(err)
		}
		if s.Algorithm != v.Name || labels[i] != v.Name {
			t.Errorf("%s: summary algorithm %q, reports' label %q", v.Name, s.Algorithm, labels[i])
		}
		if !reflect.DeepEqual(ss[i], s) {
			t.Errorf("%s: the reports read another summary than %s", v.Name, v.Summary)
		}
		if want := schema.VariantOf(v.Name, v.Summary, s); v != want {
			t.Errorf("variant %+v, its summary says %+v", v, want)
		}
	}
	code = run([]string{"compare", "-sweep", "engine.clock=server,client", "-set", "duration=5s", "-out", dir, "skewed-clock"}, &out, &errb)
	if code != 0 {
		t.Fatalf("sweep exit %d: %s", code, errb.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "engine.clock=client", "summary.json")); err != nil {
		t.Error(err)
	}
}

func TestListNamesScenarios(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"list"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, n := range []string{"baseline", "spot-loss", "month-1b"} {
		if !strings.Contains(out.String(), n) {
			t.Errorf("list lacks %s", n)
		}
	}
}

// TestHelpListsCommands: every command of the table is listed by gwlab help
// and dispatched by name; an unknown one is a usage error.
func TestHelpListsCommands(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"help"}, &out, &errb); code != 0 {
		t.Fatalf("help: exit %d", code)
	}
	for _, n := range []string{"algorithms", "bench", "compare", "cost", "list", "report", "run", "slo"} {
		if _, ok := commands[n]; !ok || !strings.Contains(out.String(), "  "+n+" ") {
			t.Errorf("command %s missing from the table or from help:\n%s", n, out.String())
		}
	}
	if code := run([]string{"algorithms"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "gcra") {
		t.Errorf("algorithms: exit %d", code)
	}
	if code := run([]string{"nope"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), `unknown command "nope"`) {
		t.Errorf("unknown command: exit %d, %q", code, errb.String())
	}
}
