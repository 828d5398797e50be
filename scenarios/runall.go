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
	jobs := make([]job, len(scs))
	for i, sc := range scs {
		jobs[i] = job{sc, opts}
	}
	return runJobs(jobs, opts.Progress, parallel)
}

// job is one simulation of a batch.
type job struct {
	sc   *Scenario
	opts RunOptions
}

// runJobs runs every job, at most parallel at once, each on its own
// goroutine (a simulation itself is single-threaded), and returns the
// summaries and errors in job order. progress, if set, receives the mean
// fraction done over all jobs.
func runJobs(jobs []job, progress func(float64), parallel int) ([]*schema.Summary, []error) {
	parallel = max(parallel, 1)
	results := make([]*schema.Summary, len(jobs))
	errs := make([]error, len(jobs))
	var mu sync.Mutex
	fracs := make([]float64, len(jobs))
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i, j := range jobs {
		o := j.opts
		o.Progress = nil
		if progress != nil {
			o.Progress = func(f float64) {
				mu.Lock()
				fracs[i] = f
				sum := 0.0
				for _, x := range fracs {
					sum += x
				}
				mu.Unlock()
				progress(sum / float64(len(fracs)))
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			results[i], errs[i] = Run(j.sc, o)
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
