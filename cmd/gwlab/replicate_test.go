package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"tollgate/schema"
)

// TestRunReplications: gwlab run -replications 3 writes the same bytes on
// one worker and on three; its summary is replication 0's (the plain run's
// bytes plus the intervals); -replications 1 writes exactly the plain
// run's summary.json; bad flags name themselves.
func TestRunReplications(t *testing.T) {
	dir := t.TempDir()
	gw := func(name string, extra ...string) []byte {
		t.Helper()
		out := filepath.Join(dir, name)
		args := append([]string{"run", "-set", "duration=3s", "-set", "warmup=1s", "-out", out}, extra...)
		var o, e bytes.Buffer
		if code := run(append(args, "baseline"), &o, &e); code != 0 {
			t.Fatalf("%v: exit %d: %s", extra, code, e.String())
		}
		b, err := os.ReadFile(filepath.Join(out, "summary.json"))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	plain := gw("plain")
	if one := gw("one", "-replications", "1"); !bytes.Equal(one, plain) {
		t.Error("-replications 1: summary.json differs from the plain run's")
	}
	j1 := gw("j1", "-replications", "3", "-j", "1")
	j3 := gw("j3", "-replications", "3", "-j", "3")
	if !bytes.Equal(j1, j3) {
		t.Error("-replications 3: summary.json differs between -j 1 and -j 3")
	}
	s, err := schema.DecodeSummary(bytes.NewReader(j1))
	if err != nil {
		t.Fatal(err)
	}
	if s.Intervals == nil || s.Intervals.Replications != 3 || s.Intervals.Seeds[0] != s.Seed || s.Intervals.CostPerBillion == nil {
		t.Fatalf("intervals %+v", s.Intervals)
	}
	s.Intervals = nil
	var b bytes.Buffer
	if err := schema.EncodeSummary(&b, s); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b.Bytes(), plain) {
		t.Error("a replicated summary without its intervals differs from the plain run's")
	}
	for _, c := range []struct{ flag, value string }{{"-replications", "0"}, {"-confidence", "1"}, {"-j", "0"}} {
		var o, e bytes.Buffer
		if code := run([]string{"run", c.flag, c.value, "baseline"}, &o, &e); code != 1 || !strings.Contains(e.String(), c.flag+": ") {
			t.Errorf("%s %s: exit %d, %q", c.flag, c.value, code, e.String())
		}
	}
}

// TestCompareReplications: a replicated comparison gives every variant the
// same seeds (common random numbers) and intervals in compare.json that are
// the variants' summaries' own.
func TestCompareReplications(t *testing.T) {
	dir := t.TempDir()
	var o, e bytes.Buffer
	if code := run([]string{"compare", "-algos", "gcra,fixed-window", "-replications", "3", "-set", "duration=3s", "-set", "warmup=1s",
		"-out", dir, "baseline"}, &o, &e); code != 0 {
		t.Fatalf("exit %d: %s", code, e.String())
	}
	c, err := schema.ReadComparison(filepath.Join(dir, schema.CompareFile))
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range c.Variants {
		s, err := schema.ReadSummary(c.SummaryPath(dir, i))
		if err != nil {
			t.Fatal(err)
		}
		if v.Intervals == nil || s.Intervals == nil || *v.Intervals.Get(schema.ObjectiveP99MS) != s.Intervals.P99MS {
			t.Fatalf("%s: compare.json intervals %+v, summary's %+v", v.Name, v.Intervals, s.Intervals)
		}
		if got, want := v.Intervals.Seeds, c.Variants[0].Intervals.Seeds; !slices.Equal(got, want) {
			t.Errorf("%s: seeds %v, want the first variant's %v", v.Name, got, want)
		}
	}
	if !strings.Contains(o.String(), "95% intervals over 3 replications") {
		t.Errorf("intervals not printed: %q", o.String())
	}
}
