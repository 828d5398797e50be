package main

import (
	"flag"
	"fmt"
	"io"
	"runtime"
	"syscall"
	"time"

	"tollgate/scenarios"
	"tollgate/sim"
)

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// peakRSS returns the process's peak resident set in bytes (Linux reports
// ru_maxrss in KiB).
func peakRSS() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return int64(ru.Maxrss) * 1024
}

func benchCommand(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "also write summary.json and its report into this directory")
	var sets setFlags
	fs.Var(&sets, "set", "override a scenario field (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: gwlab bench [-set path=value]... [-out DIR] NAME|FILE")
		return errUsage
	}
	sc, err := scenarios.Load(fs.Arg(0))
	if err != nil {
		return err
	}
	if err := applySets(sc, sets); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "gwlab bench: %s seed %d, GOMAXPROCS %d\n", sc.Name, sc.Config.Seed, runtime.GOMAXPROCS(0))
	bar := newProgress(stderr, sc.Name)
	cfg := sc.Config
	c0, w0 := cpuTime(), time.Now()
	s, st, err := sim.RunStats(&cfg, sim.Options{Progress: bar.update})
	wall, cpu := time.Since(w0), cpuTime()-c0
	bar.done()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "scenario %s: %d requests (%d measured), %d events, %.0fs simulated\n",
		s.Scenario, st.Simulated, st.Requests, st.Events, s.DurationS+s.WarmupS)
	fmt.Fprintf(stdout, "wall %.2fs, cpu %.2fs: %.0f requests per wall-second, %.0f per CPU-second, %.0f events per CPU-second\n",
		wall.Seconds(), cpu.Seconds(), float64(st.Simulated)/wall.Seconds(), float64(st.Simulated)/cpu.Seconds(), float64(st.Events)/cpu.Seconds())
	fmt.Fprintf(stdout, "peak RSS %.1f MiB\n", float64(peakRSS())/(1<<20))
	if *out != "" {
		if err := writeRun(*out, s); err != nil {
			return err
		}
		printResult(stdout, *out, s)
	}
	return nil
}
