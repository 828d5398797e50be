package schema

import (
	"bytes"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestComparisonRoundTrip writes compare.json with WriteComparison and
// reads it back with ReadComparison.
func TestComparisonRoundTrip(t *testing.T) {
	s := fullSummary()
	want := &Comparison{Scenario: "spot-loss", Seed: 42, Kind: CompareSweep, Path: "topology.nodes_per_zone",
		Variants: []Variant{VariantOf("1", filepath.Join("topology.nodes_per_zone=1", "summary.json"), s), {Name: "2", Summary: "b/summary.json"}}}
	if z := zeroFields(reflect.ValueOf(want), "Comparison"); len(z) > 0 {
		t.Fatalf("fields left at zero: %v", z)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, CompareFile)
	if err := WriteComparison(path, want); err != nil {
		t.Fatal(err)
	}
	got, err := ReadComparison(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, want)
	}
	v := got.Variants[0]
	if v.Requests != s.Requests.Total || v.Rate429 != s.Rate429.Overall || v.False429 != s.False429.Rate ||
		v.OverAdmitted != s.OverAdmission.Ratio || v.Availability != s.Availability || v.P99MS != s.LatencyMS.P99 {
		t.Errorf("VariantOf: %+v from %+v", v, s)
	}
	if p := got.SummaryPath(dir, 0); p != filepath.Join(dir, "topology.nodes_per_zone=1", "summary.json") {
		t.Errorf("SummaryPath = %q", p)
	}
}

func TestComparisonValidate(t *testing.T) {
	ok := func() *Comparison {
		return &Comparison{Scenario: "s", Kind: CompareAlgorithms, Variants: []Variant{{Name: "gcra", Summary: "gcra/summary.json"}}}
	}
	cases := []struct {
		name   string
		change func(*Comparison)
		want   []string
	}{
		{"valid", func(*Comparison) {}, nil},
		{"no scenario", func(c *Comparison) { c.Scenario = "" }, []string{"scenario: must be set"}},
		{"bad kind", func(c *Comparison) { c.Kind = "algos" }, []string{`kind: must be "algorithms" or "sweep", got "algos"`}},
		{"sweep without path", func(c *Comparison) { c.Kind = CompareSweep }, []string{"path: must name the swept field"}},
		{"algorithms with path", func(c *Comparison) { c.Path = "x" }, []string{`path: must be empty for kind "algorithms", got "x"`}},
		{"no variants", func(c *Comparison) { c.Variants = nil }, []string{"variants: must not be empty"}},
		{"escaping and absolute paths, repeated and empty names", func(c *Comparison) {
			c.Variants = append(c.Variants, Variant{Name: "gcra", Summary: "../../etc/passwd"}, Variant{Summary: "/tmp/summary.json"}, Variant{Name: "x", Summary: ".."})
		}, []string{`variants[1].name: "gcra" repeats variants[0]`, `variants[1].summary: must be a path inside the comparison's directory, got "../../etc/passwd"`,
			"variants[2].name: must be set", `variants[2].summary: must be a path inside the comparison's directory, got "/tmp/summary.json"`,
			`variants[3].summary: must be a path inside the comparison's directory, got ".."`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cmp := ok()
			c.change(cmp)
			err := cmp.Validate()
			if c.want == nil {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", c.want)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			// The writer refuses what the reader would refuse.
			var buf bytes.Buffer
			if EncodeComparison(&buf, cmp) == nil || buf.Len() != 0 {
				t.Error("EncodeComparison wrote an invalid comparison")
			}
		})
	}
}

func TestDecodeComparisonRejectsBadInput(t *testing.T) {
	for _, in := range []string{
		`{"scenario":"s","kind":"algorithms","variants":[{"name":"a","summary":"a/summary.json"}],"extra":1}`,
		`{"scenario":"s","kind":"algorithms","variants":[{"name":"a","summary":"../a.json"}]}`,
		`not json`,
	} {
		if _, err := DecodeComparison(strings.NewReader(in)); err == nil || !strings.Contains(err.Error(), "compare.json") {
			t.Errorf("%s: %v", in, err)
		}
	}
}
