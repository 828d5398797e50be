package main

import (
	"fmt"
	"io"

	"tollgate/scenarios"
)

func init() {
	commands["list"] = command{
		summary: "list the built-in scenarios with their descriptions",
		run: func(args []string, stdout, stderr io.Writer) error {
			if len(args) > 0 {
				fmt.Fprintln(stderr, "usage: gwlab list")
				return errUsage
			}
			for _, n := range scenarios.Names() {
				fmt.Fprintf(stdout, "%-16s %s\n", n, scenarios.Describe(n))
			}
			return nil
		},
	}
}
