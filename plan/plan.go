// Package plan is `gwlab plan`'s search: for a spec (traffic, SLO, fault
// model, search space; see Spec) it prices every configuration of the search
// space with the cost model (reports/cost), estimates its monthly availability
// and other objectives from replicated short simulations of each fault
// (sim, one simulation per goroutine, each single-threaded and deterministic),
// with confidence intervals, and chooses the cheapest configuration that meets
// every objective at the stated confidence.
//
// The search shards: Shard evaluates the configurations with index i mod n and
// returns a partial, Merge combines the partials of every shard, and Finish
// turns the evaluated configurations into plan.json (package schema). An
// unsharded run is one shard of one, so the bytes are the same either way.
//
// Example:
//
//	spec, _ := plans.Load("seed-claim")
//	p, err := plan.New(spec, sheet, &scenario.Config)
//	part, err := p.Shard(0, 1, plan.RunOptions{Workers: runtime.GOMAXPROCS(0)})
//	result, err := plan.Merge([]*schema.PlanPartial{part})
package plan

import (
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"tollgate/schema"
)

// ErrMerge is wrapped by errors combining partials.
var ErrMerge = errors.New("plan: cannot merge")

// RunOptions tune a run without changing its result.
type RunOptions struct {
	// Workers is how many simulations run at once (at least 1): the size of
	// the pool that every replication of every configuration of the run
	// takes a token from. Up to twice as many configurations are in flight,
	// so the pool stays busy while one configuration waits for the last
	// simulations of its round.
	Workers int
	// Progress, if set, is called after each configuration with how many of
	// the shard's are done and how many there are. It is called from one
	// goroutine at a time.
	Progress func(done, total int)
	// Evaluated, if set, receives each configuration when its evaluation
	// ends, with the wall time from its start to its end, which includes
	// waiting for the pool (under the same lock as Progress).
	Evaluated func(ev schema.Evaluated, took time.Duration)
}

// Shard evaluates the configurations whose index is shard mod shards, with
// opts.Workers simulations at once, and returns them as a partial.
func (p *Planner) Shard(shard, shards int, opts RunOptions) (*schema.PlanPartial, error) {
	if shards < 1 || shard < 0 || shard >= shards {
		return nil, fmt.Errorf("plan: shard: must be i/n with 0 <= i < n, got %d/%d", shard, shards)
	}
	cands := p.Candidates()
	var idx []int
	for i := range cands {
		if i%shards == shard {
			idx = append(idx, i)
		}
	}
	out := make([]schema.Evaluated, len(idx))
	errs := make([]error, len(idx))
	workers := max(opts.Workers, 1)
	sims := newPool(workers)
	work := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	done := 0
	for range min(2*workers, max(len(idx), 1)) {
		wg.Go(func() {
			for j := range work {
				start := time.Now()
				out[j], _, errs[j] = p.evaluate(idx[j], cands[idx[j]], nil, sims)
				took := time.Since(start)
				mu.Lock()
				done++
				if opts.Evaluated != nil && errs[j] == nil {
					opts.Evaluated(out[j], took)
				}
				if opts.Progress != nil {
					opts.Progress(done, len(idx))
				}
				mu.Unlock()
			}
		})
	}
	for j := range idx {
		work <- j
	}
	close(work)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &schema.PlanPartial{PlanHeader: p.header, Shard: shard, Shards: shards, Evaluated: out}, nil
}

// Merge combines the partials of every shard of one plan into plan.json. It
// refuses partials of different plans, a missing or repeated shard, and a
// configuration missing or evaluated twice.
func Merge(parts []*schema.PlanPartial) (*schema.Plan, error) {
	if len(parts) == 0 {
		return nil, fmt.Errorf("%w: no partials", ErrMerge)
	}
	h := parts[0].PlanHeader
	n := parts[0].Shards
	seen := make(map[int]bool, n)
	var all []schema.Evaluated
	for i, pt := range parts {
		if pt.SpecSHA256 != h.SpecSHA256 || pt.Spec != h.Spec {
			return nil, fmt.Errorf("%w: partial %d is of spec %s (%.12s), partial 0 of %s (%.12s)", ErrMerge, i, pt.Spec, pt.SpecSHA256, h.Spec, h.SpecSHA256)
		}
		if pt.Shards != n {
			return nil, fmt.Errorf("%w: partial %d is shard %d/%d, partial 0 one of %d", ErrMerge, i, pt.Shard, pt.Shards, n)
		}
		if seen[pt.Shard] {
			return nil, fmt.Errorf("%w: shard %d/%d given twice", ErrMerge, pt.Shard, n)
		}
		seen[pt.Shard] = true
		all = append(all, pt.Evaluated...)
	}
	for s := range n {
		if !seen[s] {
			return nil, fmt.Errorf("%w: shard %d/%d missing", ErrMerge, s, n)
		}
	}
	return Finish(h, all)
}

// Finish orders the evaluated configurations by index, checks that each of
// the header's candidates is there once, and chooses.
func Finish(h schema.PlanHeader, evaluated []schema.Evaluated) (*schema.Plan, error) {
	ev := append([]schema.Evaluated(nil), evaluated...)
	sort.Slice(ev, func(i, j int) bool { return ev[i].Index < ev[j].Index })
	if len(ev) != h.Candidates {
		return nil, fmt.Errorf("%w: %d configurations evaluated, the search space has %d", ErrMerge, len(ev), h.Candidates)
	}
	for i, e := range ev {
		if e.Index != i {
			return nil, fmt.Errorf("%w: configuration %d missing or repeated (found index %d at position %d)", ErrMerge, i, e.Index, i)
		}
	}
	pl := &schema.Plan{PlanHeader: h, Evaluated: ev, CheaperUndecided: []int{}}
	best := -1
	for i, e := range ev {
		if e.Verdict == schema.VerdictMeets && (best < 0 || e.MonthlyUSD < ev[best].MonthlyUSD) {
			best = i
		}
	}
	for i, e := range ev {
		if e.Verdict == schema.VerdictUndecided && (best < 0 || e.MonthlyUSD < ev[best].MonthlyUSD) {
			pl.CheaperUndecided = append(pl.CheaperUndecided, i)
		}
	}
	conf := fmt.Sprintf("%.0f%%", h.Confidence*100)
	if best < 0 {
		pl.Answer = fmt.Sprintf("No configuration of the %d evaluated meets every objective at %s confidence", len(ev), conf)
		if n := len(pl.CheaperUndecided); n > 0 {
			pl.Answer += fmt.Sprintf("; %d are undecided within the replication budget", n)
		}
		pl.Answer += "."
		return pl, nil
	}
	b := ev[best]
	pl.Choice = &schema.Choice{Index: b.Index, Name: b.Name, Config: b.Config, MonthlyUSD: b.MonthlyUSD,
		PerBillionUSD: b.PerBillionUSD, Bill: b.Bill, Availability: b.Availability, P99MS: b.P99MS, MonthSpread: b.MonthSpread}
	pl.Answer = fmt.Sprintf("%s: $%.2f a month ($%.2f per billion requests), availability %.6f (%s interval %.6f to %.6f)",
		b.Name, b.MonthlyUSD, b.PerBillionUSD, b.Availability.Mean, conf, b.Availability.Lower, b.Availability.Upper)
	if n := len(pl.CheaperUndecided); n > 0 {
		pl.Answer += fmt.Sprintf("; %d cheaper configurations are undecided within the replication budget", n)
	}
	pl.Answer += "."
	return pl, nil
}
