package engine

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Duration is a time.Duration written as a string in every file tollgate
// reads (gatewayd configs, scenario files, plan specs): a Go duration
// ("250ms", "30m", "720h") or a whole or fractional number of days with a
// "d" suffix ("30d", "1.5d"). It is the one duration type of the policy
// vocabulary; the zero value is 0.
type Duration time.Duration

// maxDays bounds a "d" duration so that it fits an int64 of nanoseconds.
const maxDays = 100000

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String returns the duration's Go string form ("1m30s").
func (d Duration) String() string { return time.Duration(d).String() }

// ParseDuration parses a duration string, accepting a trailing "d" for days.
// Its error names the value.
func ParseDuration(s string) (Duration, error) {
	s = strings.TrimSpace(s)
	if n, ok := strings.CutSuffix(s, "d"); ok && n != "" && !strings.ContainsAny(n, "hmsuµn") {
		f, err := strconv.ParseFloat(n, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > maxDays {
			return 0, fmt.Errorf("invalid duration %q: want a duration like \"250ms\", \"30m\" or \"30d\"", s)
		}
		return Duration(f * 24 * float64(time.Hour)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q: want a duration like \"250ms\", \"30m\" or \"30d\"", s)
	}
	return Duration(d), nil
}

// UnmarshalYAML decodes a duration string, naming the line and the value on
// error.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: want a duration string like \"250ms\" or \"30d\"", n.Line)
	}
	v, err := ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*d = v
	return nil
}

// MarshalYAML encodes a duration as its string.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }
