package main

import (
	"fmt"
	"io"

	"tollgate/scenarios"
)

// listCommand lists the built-in scenarios.
func listCommand(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		fmt.Fprintln(stderr, "usage: gwlab list")
		return errUsage
	}
	for _, n := range scenarios.Names() {
		fmt.Fprintf(stdout, "%-16s %s\n", n, scenarios.Describe(n))
	}
	return nil
}
