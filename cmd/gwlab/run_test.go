package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tollgate/sim/summary"
)

func TestRunWritesSummary(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	code := run([]string{"run", "-seed", "5", "-set", "duration=5s", "-set", "warmup=1s", "-out", dir, "baseline"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	s, err := summary.ReadFile(filepath.Join(dir, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	if s.Scenario != "baseline" || s.Seed != 5 || s.DurationS != 5 || s.Requests.Total == 0 {
		t.Errorf("summary %+v", s.Requests)
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

func TestCompareWritesVariants(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	code := run([]string{"compare", "-algos", "fixed-window,gcra", "-set", "duration=5s", "-set", "warmup=0s", "-out", dir, "skewed-clock"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	b, err := os.ReadFile(filepath.Join(dir, "compare.json"))
	if err != nil {
		t.Fatal(err)
	}
	var c Comparison
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	if len(c.Variants) != 2 || c.Kind != "algorithms" {
		t.Fatalf("compare.json %+v", c)
	}
	for _, v := range c.Variants {
		s, err := summary.ReadFile(filepath.Join(dir, v.Summary))
		if err != nil {
			t.Fatal(err)
		}
		if s.Algorithm != v.Name {
			t.Errorf("%s: summary algorithm %q", v.Name, s.Algorithm)
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
