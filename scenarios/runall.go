package scenarios

import (
	"fmt"
	"sync"
	"time"

	"tollgate/schema"
)

// Clone returns a deep copy of sc (sim.Config.Clone): overriding a field of
// the copy never changes sc.
func (sc *Scenario) Clone() *Scenario {
	return &Scenario{Name: sc.Name, File: sc.File, Config: *sc.Config.Clone()}
}

// RunAll runs every scenario with opts, at most parallel at once (1 when
// parallel < 1), and returns their summaries and errors in the order of scs.
// Each run is deterministic on its own, so the results do not depend on
// parallel. opts.Progress, if set, receives the mean fraction done over all
// runs and may be called from several goroutines at once.
func RunAll(scs []*Scenario, opts RunOptions, parallel int) ([]*schema.Summary, []error) {
	parallel = max(parallel, 1)
	results := make([]*schema.Summary, len(scs))
	errs := make([]error, len(scs))
	var mu sync.Mutex
	fracs := make([]float64, len(scs))
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i, sc := range scs {
		o := opts
		if opts.Progress != nil {
			o.Progress = func(f float64) {
				mu.Lock()
				fracs[i] = f
				sum := 0.0
				for _, x := range fracs {
					sum += x
				}
				mu.Unlock()
				opts.Progress(sum / float64(len(fracs)))
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			results[i], errs[i] = Run(sc, o)
		}()
	}
	wg.Wait()
	return results, errs
}

// CIMaxDuration bounds the virtual duration (warm-up included) of the
// built-in scenarios the SLO gate runs by default: the month-long cost
// reference (month-1b) is left to explicit runs so CI stays within its
// minutes.
const CIMaxDuration = time.Hour

// CI returns the names of the built-in scenarios the SLO gate runs by
// default, sorted: those of at most CIMaxDuration.
func CI() ([]string, error) {
	var out []string
	for _, n := range Names() {
		sc, err := Load(n)
		if err != nil {
			return nil, fmt.Errorf("scenarios: CI set: %w", err)
		}
		if sc.Config.Duration.D()+sc.Config.Warmup.D() <= CIMaxDuration {
			out = append(out, n)
		}
	}
	return out, nil
}
