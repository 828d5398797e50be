package main

import (
	"flag"
	"fmt"
	"io"
	"path/filepath"

	"tollgate/gatewayd/config"
	"tollgate/replay"
	"tollgate/scenarios"
)

func replayCommand(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	ledger := fs.String("ledger", "", "the gatewayd ledger: one JSONL file or its directory of rotated files")
	recorded := fs.String("recorded", "", "the gatewayd config that wrote the ledger")
	candidate := fs.String("gateway", "", "the candidate gatewayd config to replay under (default: -recorded)")
	tierMap := fs.String("tier-map", "", "map recorded tiers to the candidate's, FROM=TO[,...]; '*' as FROM maps every tier the candidate lacks")
	window := fs.Duration("window", replay.DefaultWindow, "the longest a request took from decision to answer (reorders the ledger)")
	out := fs.String("out", filepath.Join("out", "replay"), "output directory")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: gwlab replay -ledger FILE|DIR -recorded gatewayd.yaml [-gateway candidate.yaml] [-tier-map FROM=TO,...] [-window D] [-out DIR]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 || *ledger == "" || *recorded == "" {
		fs.Usage()
		return errUsage
	}
	rec, err := config.Load(*recorded)
	if err != nil {
		return err
	}
	opts := replay.Options{Recorded: policyOf(*recorded, rec), Window: *window}
	if *candidate != "" {
		cand, err := config.Load(*candidate)
		if err != nil {
			return err
		}
		opts.Candidate = policyOf(*candidate, cand)
	}
	if opts.TierMap, err = scenarios.ParseMap("-tier-map", *tierMap); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "gwlab replay: %s under %s\n", *ledger, map[bool]string{true: *candidate, false: *recorded}[*candidate != ""])
	s, err := replay.Run(*ledger, opts)
	if err != nil {
		return err
	}
	if err := writeRun(*out, s); err != nil {
		return err
	}
	r := s.Replay
	fmt.Fprintf(stdout, "replay: %d records (%d requests), %d decided again: %d decision differences (%d newly refused, %d newly admitted), 429 %.2f%% -> %s\n",
		r.Records, r.Requests, r.Decided, r.DecisionDifferences, r.NewlyRefused, r.NewlyAdmitted, 100*s.Rate429.Overall,
		filepath.Join(*out, "summary.json"))
	return nil
}

// policyOf is a gatewayd config's rate-limiting policy.
func policyOf(file string, c *config.Config) replay.Policy {
	return replay.Policy{File: file, Tiers: c.PolicyTiers(), Routes: c.PolicyRoutes()}
}
