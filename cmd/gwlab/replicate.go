package main

import (
	"flag"
	"fmt"
	"io"
	"math"
	"runtime"

	"tollgate/reports"
	"tollgate/scenarios"
	"tollgate/schema"
)

// replicationFlags are -replications, -confidence and -j, shared by run and
// compare.
type replicationFlags struct {
	n    *int
	conf *float64
	jobs *int
}

func addReplicationFlags(fs *flag.FlagSet) replicationFlags {
	return replicationFlags{
		n: fs.Int("replications", 1, "independent replications: replication 0 uses the scenario's seed, the others seeds drawn from it; "+
			"with 2 or more, summary.json gets confidence intervals of its headline figures"),
		conf: fs.Float64("confidence", scenarios.DefaultConfidence, "two-sided confidence level of the intervals (with -replications 2 or more)"),
		jobs: fs.Int("j", runtime.GOMAXPROCS(0), "simulations to run at once"),
	}
}

// validate names the flag and the value of a bad setting.
func (f replicationFlags) validate() error {
	switch {
	case *f.n < 1:
		return fmt.Errorf("-replications: must be at least 1, got %d", *f.n)
	case !(*f.conf > 0 && *f.conf < 1):
		return fmt.Errorf("-confidence: must be in (0, 1), got %v", *f.conf)
	case *f.jobs < 1:
		return fmt.Errorf("-j: must be at least 1, got %d", *f.jobs)
	}
	return nil
}

// runReplicated runs each scenario -replications times on -j workers
// (replication r of every scenario with the same seed) and returns one
// summary per scenario: replication 0's, with the intervals over all
// replications when there are two or more, each replication's cost per
// billion priced with the embedded sheet.
func (f replicationFlags) run(scs []*scenarios.Scenario, names []string, opts scenarios.RunOptions) ([]*schema.Summary, error) {
	reps, errs := scenarios.RunReplicated(scs, opts, *f.n, *f.jobs)
	for i, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("%s: %w", names[i], err)
		}
	}
	out := make([]*schema.Summary, len(scs))
	for i, rs := range reps {
		var costs []float64
		sheet := ""
		if len(rs) > 1 {
			sh, err := reports.DefaultPrices()
			if err != nil {
				return nil, err
			}
			sheet = sh.Region + " " + sh.Date
			for _, s := range rs {
				c, err := reports.CostPerBillion(s, reports.Options{Prices: sh})
				if err != nil {
					c = math.NaN() // the sheet cannot price it: no cost interval
				}
				costs = append(costs, c)
			}
		}
		s, err := scenarios.Replicated(rs, costs, *f.conf, sheet)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", names[i], err)
		}
		out[i] = s
	}
	return out, nil
}

// printIntervals prints a replicated run's intervals on one line.
func printIntervals(w io.Writer, s *schema.Summary) {
	iv := s.Intervals
	if iv == nil {
		return
	}
	e := func(x schema.Estimate, scale float64, prec int) string {
		return fmt.Sprintf("%.*f [%.*f, %.*f]", prec, x.Mean*scale, prec, x.Lower*scale, prec, x.Upper*scale)
	}
	line := fmt.Sprintf("  %g%% intervals over %d replications: availability %s, p99 %s ms, 429 %s%%, false 429 %s%%, over-admission %s%%",
		100*iv.Confidence, iv.Replications, e(iv.Availability, 1, 5), e(iv.P99MS, 1, 2), e(iv.Rate429, 100, 2),
		e(iv.False429Rate, 100, 3), e(iv.OverAdmission, 100, 3))
	if iv.CostPerBillion != nil {
		line += ", USD per billion " + e(*iv.CostPerBillion, 1, 2)
	}
	fmt.Fprintln(w, line)
}
