// Command gwlab is tollgate's lab: it runs scenarios through the simulator,
// compares algorithms, prices fleets and gates CI on SLOs. Run `gwlab help`.
//
// Each subcommand lives in its own file and is listed in commands; the work
// itself is in the packages (scenarios runs and clones, reports writes the
// reports, reports/slo holds the gate), so this command only parses flags
// and calls them.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
)

// command is one gwlab subcommand.
type command struct {
	// summary is the one-line description shown by `gwlab help`.
	summary string
	// run executes the command with its arguments (after the command name).
	run func(args []string, stdout, stderr io.Writer) error
}

// commands maps a subcommand name to its implementation.
var commands = map[string]command{
	"algorithms": {"list the engine's rate-limit algorithms, one per line", algorithmsCommand},
	"bench":      {"measure the simulator: requests per wall- and CPU-second and peak memory of one run: bench [-set path=value]... [-out DIR] NAME|FILE", benchCommand},
	"compare":    {"run one scenario across algorithms or values of one field, in parallel: compare [-algos a,b | -sweep path=v1,v2] [-replications N] [-out DIR] NAME", compareCommand},
	"cost":       {"price N requests a month: API Gateway REST and HTTP against a self-hosted fleet, by component", runCost},
	"list":       {"list the built-in scenarios with their descriptions", listCommand},
	"replay":     {"decide a gatewayd ledger again under its recorded policy or a candidate: replay -ledger FILE|DIR -recorded gatewayd.yaml [-gateway candidate.yaml] [-tier-map FROM=TO,...] [-window D] [-out DIR]", replayCommand},
	"report":     {"write report.md, report.html and figures for DIR/summary.json, or compare DIR/*/summary.json", runReport},
	"run":        {"simulate one scenario and write summary.json: run [-seed N] [-algo NAME] [-set path=value]... [-gateway gatewayd.yaml [-tier-map FROM=TO,...] [-route-map FROM=TO,...]] [-replications N [-confidence 0.95]] [-out DIR] NAME|FILE", runCommand},
	"slo":        {"run the CI scenarios with their fixed seeds and gate on their SLOs and the committed baseline", runSLO},
}

// errUsage marks a usage error: the message was printed, exit 2.
var errUsage = errors.New("usage")

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" {
		usage(stdout)
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "gwlab: unknown command %q\n", args[0])
		usage(stderr)
		return 2
	}
	if err := cmd.run(args[1:], stdout, stderr); err != nil {
		if errors.Is(err, errUsage) || errors.Is(err, flag.ErrHelp) {
			return 2
		}
		fmt.Fprintf(stderr, "gwlab %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: gwlab <command> [flags] [args]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-12s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "run `gwlab <command> -h` for a command's flags")
}
