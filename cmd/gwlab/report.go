package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"tollgate/reports"
	"tollgate/schema"
)

func runReport(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	prices := fs.String("prices", "", "price sheet YAML (default: the embedded reports/prices.yaml)")
	compare := fs.Bool("compare", false, "compare the runs of DIR (its compare.json, else DIR/*/summary.json) side by side and write the report into DIR")
	param := fs.String("param", "", "with -compare: the swept parameter's name, for the frontier's title")
	noFigures := fs.Bool("no-figures", false, "write report.md and report.html without figures")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: gwlab report [-prices FILE] [-no-figures] DIR")
		fmt.Fprintln(stderr, "       gwlab report -compare [-param NAME] [-prices FILE] DIR")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errUsage
	}
	dir := fs.Arg(0)
	sh, err := reports.LoadPrices(*prices)
	if err != nil {
		return err
	}
	opts := reports.Options{Prices: sh, NoFigures: *noFigures, Param: *param}
	if *compare {
		if err := reports.WriteComparisonDir(dir, opts); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s\n", filepath.Join(dir, "report.html"))
		return nil
	}
	path := filepath.Join(dir, "summary.json")
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%s: no summary.json (use -compare for a directory of runs)", dir)
	}
	s, err := schema.ReadSummary(path)
	if err != nil {
		return err
	}
	if err := reports.WriteRun(dir, s, opts); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s\n", filepath.Join(dir, "report.html"))
	return nil
}
