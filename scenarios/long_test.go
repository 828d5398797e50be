//go:build simlong

package scenarios

import (
	"bytes"
	"testing"
)

// TestEveryScenarioDeterministic runs every built-in scenario twice (the
// month-long ones cut to six hours) and requires byte-identical summaries. It takes about a
// minute of CPU, so it runs in make ci-sim, not make test.
func TestEveryScenarioDeterministic(t *testing.T) {
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			sc := short(t, name)
			if sc.Config.Duration.D()+sc.Config.Warmup.D() > CIMaxDuration {
				// the month-long ones (month-1b, seed-claim-choice)
				if err := sc.Set("duration", "6h"); err != nil {
					t.Fatal(err)
				}
			}
			a := encode(t, mustRun(t, sc))
			b := encode(t, mustRun(t, sc))
			if !bytes.Equal(a, b) {
				t.Fatalf("%s seed %d: two runs differ", name, sc.Config.Seed)
			}
		})
	}
}
