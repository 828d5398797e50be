package main

import (
	"fmt"
	"io"

	"tollgate/engine"
)

// algorithmsCommand lists the engine's algorithms.
func algorithmsCommand(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		fmt.Fprintln(stderr, "usage: gwlab algorithms")
		return errUsage
	}
	for _, a := range engine.Algorithms() {
		fmt.Fprintf(stdout, "%-15s %s\n", a, a.Description())
	}
	return nil
}
