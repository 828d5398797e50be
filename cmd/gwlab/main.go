// Command gwlab is tollgate's lab: it runs scenarios through the simulator,
// compares algorithms, prices fleets and gates CI on SLOs. Run `gwlab help`.
//
// Each subcommand lives in its own file and registers itself in commands from
// an init function, so the areas (simulator, reports) stay apart.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"

	"tollgate/schema"
)

// command is one gwlab subcommand.
type command struct {
	// summary is the one-line description shown by `gwlab help`.
	summary string
	// run executes the command with its arguments (after the command name).
	run func(args []string, stdout, stderr io.Writer) error
}

// commands maps a subcommand name to its implementation.
var commands = map[string]command{}

// afterRun hooks run after each simulated run has written summary.json into
// dir (the reports register one that writes report.md, report.html and plots).
var afterRun []func(dir string, s *schema.Summary) error

// afterCompare hooks run after `gwlab compare` has written compare.json into
// dir (the reports register one that writes the comparison report and plots).
var afterCompare []func(dir string) error

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
