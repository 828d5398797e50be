package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// CompareFile is the name of a comparison's index in its directory.
const CompareFile = "compare.json"

// Kinds of comparison.
const (
	// CompareAlgorithms runs one scenario once per algorithm.
	CompareAlgorithms = "algorithms"
	// CompareSweep runs one scenario once per value of one field.
	CompareSweep = "sweep"
)

// Comparison is compare.json: the variants of one `gwlab compare` and where
// their summaries are, in the order they were asked for.
type Comparison struct {
	Scenario string `json:"scenario"`
	// Seed is the seed every variant ran with.
	Seed uint64 `json:"seed"`
	// Kind is CompareAlgorithms or CompareSweep.
	Kind string `json:"kind"`
	// Path is the swept field's YAML path (sweeps only).
	Path     string    `json:"path,omitempty"`
	Variants []Variant `json:"variants"`
}

// Variant is one run of a comparison, with the headline figures of its
// summary.
type Variant struct {
	// Name is the algorithm or the swept value.
	Name string `json:"name"`
	// Summary is the variant's summary.json path, relative to the directory
	// of compare.json and inside it.
	Summary      string  `json:"summary"`
	Requests     int64   `json:"requests"`
	Rate429      float64 `json:"rate_429"`
	False429     float64 `json:"false_429_rate"`
	OverAdmitted float64 `json:"over_admission_ratio"`
	Availability float64 `json:"availability"`
	P99MS        float64 `json:"p99_ms"`
	// Intervals is the variant's summary's intervals when the comparison
	// was replicated (gwlab compare -replications N): replication r of
	// every variant ran with the same seed, Intervals.Seeds[r].
	Intervals *Intervals `json:"intervals,omitempty"`
}

// VariantOf is the variant named name whose summary s is at summaryPath
// (relative to compare.json's directory).
func VariantOf(name, summaryPath string, s *Summary) Variant {
	return Variant{Name: name, Summary: filepath.ToSlash(summaryPath), Requests: s.Requests.Total,
		Rate429: s.Rate429.Overall, False429: s.False429.Rate, OverAdmitted: s.OverAdmission.Ratio,
		Availability: s.Availability, P99MS: s.LatencyMS.P99, Intervals: s.Intervals}
}

// Validate returns every problem of c at once, each naming the field and the
// value.
func (c *Comparison) Validate() error {
	var errs []error
	if c.Scenario == "" {
		errs = append(errs, errors.New("scenario: must be set"))
	}
	switch c.Kind {
	case CompareAlgorithms:
		if c.Path != "" {
			errs = append(errs, fmt.Errorf("path: must be empty for kind %q, got %q", c.Kind, c.Path))
		}
	case CompareSweep:
		if c.Path == "" {
			errs = append(errs, fmt.Errorf("path: must name the swept field for kind %q", c.Kind))
		}
	default:
		errs = append(errs, fmt.Errorf("kind: must be %q or %q, got %q", CompareAlgorithms, CompareSweep, c.Kind))
	}
	if len(c.Variants) == 0 {
		errs = append(errs, errors.New("variants: must not be empty"))
	}
	names := map[string]int{}
	for i, v := range c.Variants {
		if v.Name == "" {
			errs = append(errs, fmt.Errorf("variants[%d].name: must be set", i))
		} else if j, dup := names[v.Name]; dup {
			errs = append(errs, fmt.Errorf("variants[%d].name: %q repeats variants[%d]", i, v.Name, j))
		} else {
			names[v.Name] = i
		}
		if v.Intervals != nil {
			if err := v.Intervals.Validate(); err != nil {
				errs = append(errs, fmt.Errorf("variants[%d].%w", i, err))
			}
		}
		p := filepath.FromSlash(v.Summary)
		if v.Summary == "" || filepath.IsAbs(p) || filepath.Clean(p) == ".." || strings.HasPrefix(filepath.Clean(p), ".."+string(filepath.Separator)) {
			errs = append(errs, fmt.Errorf("variants[%d].summary: must be a path inside the comparison's directory, got %q", i, v.Summary))
		}
	}
	return errors.Join(errs...)
}

// EncodeComparison validates c and writes it as indented JSON with a
// trailing newline.
func EncodeComparison(w io.Writer, c *Comparison) error {
	if err := c.Validate(); err != nil {
		return fmt.Errorf("schema: compare.json: %w", err)
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return fmt.Errorf("schema: compare.json: encode: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// DecodeComparison reads a comparison, rejecting unknown fields, and
// validates it.
func DecodeComparison(r io.Reader) (*Comparison, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var c Comparison
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("schema: compare.json: decode: %w", err)
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("schema: compare.json: %w", err)
	}
	return &c, nil
}

// ReadComparison decodes the compare.json in path.
func ReadComparison(path string) (*Comparison, error) {
	return readFile(path, "", DecodeComparison)
}

// WriteComparison encodes c into path.
func WriteComparison(path string, c *Comparison) error {
	var buf bytes.Buffer
	if err := EncodeComparison(&buf, c); err != nil {
		return err
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("schema: %w", err)
	}
	return nil
}

// SummaryPath is the path of variant i's summary.json for a compare.json in
// dir.
func (c *Comparison) SummaryPath(dir string, i int) string {
	return filepath.Join(dir, filepath.FromSlash(c.Variants[i].Summary))
}
