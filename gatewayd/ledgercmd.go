package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os/signal"
	"sort"
	"syscall"
	"time"

	"tollgate/gatewayd/config"
	"tollgate/gatewayd/gateway"
	"tollgate/gatewayd/ledger/pgship"
	"tollgate/gatewayd/redact"
	"tollgate/schema"
)

const ledgerUsage = `Usage:
  gatewayd ledger verify DIR|FILE      check a ledger: records, torn lines, duplicate ids, time range;
                                       exits 1 on damage or duplicates (a torn last line is reported, not damage)
  gatewayd ledger migrate -config FILE apply the PostgreSQL migrations (ledger.postgres)
  gatewayd ledger ship -config FILE    ship the ledger into PostgreSQL until SIGTERM (-once: one pass, then exit)
`

// ledgerCmd runs the ledger subcommands.
func ledgerCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, ledgerUsage)
		return 2
	}
	switch args[0] {
	case "verify":
		if len(args) != 2 {
			fmt.Fprint(stderr, ledgerUsage)
			return 2
		}
		return verify(args[1], stdout, stderr)
	case "migrate", "ship":
		fs := flag.NewFlagSet("gatewayd ledger "+args[0], flag.ContinueOnError)
		fs.SetOutput(stderr)
		cfgPath := fs.String("config", "gatewayd.yaml", "gatewayd config file; its ledger.dir and ledger.postgres are used")
		once := fs.Bool("once", false, "ship: one pass, then exit (non-zero if it failed)")
		if err := fs.Parse(args[1:]); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			return 2
		}
		log, redactor, _ := newLogger(stderr, "info", "text")
		cfg, err := config.Load(*cfgPath)
		if err != nil {
			fmt.Fprintf(stderr, "gatewayd: invalid config:\n%s\n", redact.String(indent(err)))
			return 1
		}
		redactor.SetSecrets(secrets(cfg)...)
		if cfg.Ledger.Postgres == nil {
			fmt.Fprintf(stderr, "gatewayd ledger %s: %s has no ledger.postgres section\n", args[0], *cfgPath)
			return 1
		}
		pool, s, err := gateway.ShipperFor(cfg.Ledger, log)
		if err != nil {
			fmt.Fprintf(stderr, "gatewayd ledger %s: %v\n", args[0], err)
			return 1
		}
		defer pool.Close()
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
		defer stop()
		if args[0] == "migrate" {
			applied, err := pgship.Migrate(ctx, pool)
			if err != nil {
				fmt.Fprintf(stderr, "gatewayd ledger migrate: %v\n", err)
				return 1
			}
			fmt.Fprintf(stdout, "applied %d migrations %v\n", len(applied), applied)
			return 0
		}
		if *once {
			if _, err := pgship.Migrate(ctx, pool); err != nil {
				fmt.Fprintf(stderr, "gatewayd ledger ship: %v\n", err)
				return 1
			}
			n, err := s.ShipOnce(ctx)
			fmt.Fprintf(stdout, "shipped %d records\n", n)
			if err != nil {
				fmt.Fprintf(stderr, "gatewayd ledger ship: %v\n", err)
				return 1
			}
			return 0
		}
		_ = s.Run(ctx)
		fmt.Fprintf(stdout, "shipped %d records\n", s.Shipped())
		return 0
	}
	fmt.Fprintf(stderr, "gatewayd ledger: unknown subcommand %q\n%s", args[0], ledgerUsage)
	return 2
}

// verify reads a ledger through schema and reports it.
func verify(path string, stdout, stderr io.Writer) int {
	seen := map[string]struct{}{}
	var dups []string
	ndup := 0
	st, err := schema.ReadLedger(path, func(r schema.LedgerRecord) error {
		if _, ok := seen[r.ID]; ok {
			ndup++
			if len(dups) < 20 {
				dups = append(dups, r.ID)
			}
			return nil
		}
		seen[r.ID] = struct{}{}
		return nil
	})
	fmt.Fprintf(stdout, "files      %d\nrecords    %d\nrequests   %d\n", st.Files, st.Records, st.Requests)
	if !st.First.IsZero() {
		fmt.Fprintf(stdout, "from       %s\nto         %s\n", st.First.Format(time.RFC3339Nano), st.Last.Format(time.RFC3339Nano))
	}
	fmt.Fprintf(stdout, "torn lines %d\n", len(st.Torn))
	for _, tl := range st.Torn {
		fmt.Fprintf(stdout, "  %s line %d (%d bytes, skipped)\n", tl.File, tl.Line, tl.Bytes)
	}
	sort.Strings(dups)
	fmt.Fprintf(stdout, "duplicates %d\n", ndup)
	for _, id := range dups {
		fmt.Fprintf(stdout, "  %s\n", id)
	}
	if err != nil {
		fmt.Fprintf(stderr, "gatewayd ledger verify: %v\n", err)
		return 1
	}
	if ndup > 0 {
		fmt.Fprintf(stderr, "gatewayd ledger verify: %d duplicate ids\n", ndup)
		return 1
	}
	fmt.Fprintln(stdout, "ok")
	return 0
}
