// Command replaybench measures gwlab replay at scale against gwlab run on the
// same traffic, in one run: it writes a ledger of -n records (rotated files,
// schema.LedgerRecord, recorded decisions kept by golang.org/x/time/rate for
// a 20-token, 2-per-second tier so the recorded policy reproduces them), then
// runs `gwlab replay` on it and `gwlab run` with the same ledger as a trace
// source, and reports records per second, CPU and peak resident memory of
// each process.
//
//	go run ./replay/cmd/replaybench -gwlab bin/gwlab -n 10000000 -out docs/benchmarks/replay.md
package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"golang.org/x/time/rate"

	"tollgate/schema"
)

const recordedConfig = `# written by replaybench
auth:
  api_keys:
    keys:
      - {sha256: %s, tier: basic}
tiers:
  - {name: basic, burst: 20, rate: 2}
routes:
  - {name: api, prefix: /, methods: [GET], upstream: "http://127.0.0.1:9", cost: 1}
`

const scenario = `# written by replaybench: the same ledger as the simulator's trace source
name: replay-bench
seed: 1
duration: %s
topology: {zones: [a], nodes_per_zone: 1, concurrency: 64, queue_limit: 1000000}
redis: {mode: embedded}
tiers:
  - {name: basic, burst: 20, rate: 2}
routes:
  - {name: api, path: /v1/items, prefix: /, cost: 1, latency: 1ms}
traffic: {source: trace, trace: %s}
`

func main() {
	n := flag.Int("n", 10_000_000, "records")
	keys := flag.Int("keys", 10_000, "distinct keys")
	perSec := flag.Int("rate", 10_000, "recorded requests per second")
	dir := flag.String("dir", filepath.Join("out", "bench-replay"), "work directory (the ledger is reused if its size matches)")
	gwlab := flag.String("gwlab", filepath.Join("bin", "gwlab"), "the gwlab binary")
	out := flag.String("out", "", "write the markdown table here too")
	flag.Parse()
	if err := run(*n, *keys, *perSec, *dir, *gwlab, *out); err != nil {
		fmt.Fprintln(os.Stderr, "replaybench:", err)
		os.Exit(1)
	}
}

type measured struct {
	wall, cpu time.Duration
	maxRSS    int64 // bytes
	stdout    string
}

func measure(name string, args ...string) (measured, error) {
	cmd := exec.Command(name, args...)
	var so strings.Builder
	cmd.Stdout = &so
	cmd.Stderr = os.Stderr
	t0 := time.Now()
	if err := cmd.Run(); err != nil {
		return measured{}, fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	return measured{wall: time.Since(t0), cpu: time.Duration(ru.Utime.Nano() + ru.Stime.Nano()),
		maxRSS: ru.Maxrss * 1024, stdout: so.String()}, nil
}

func run(n, keys, perSec int, dir, gwlab, out string) error {
	ledger := filepath.Join(dir, "ledger")
	span := time.Duration(n) * time.Second / time.Duration(perSec)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	st, err := schema.ReadLedger(ledger, func(schema.LedgerRecord) error { return nil })
	if err != nil || st.Records != int64(n) {
		fmt.Fprintf(os.Stderr, "replaybench: writing %d records over %v into %s\n", n, span, ledger)
		if err := writeLedger(ledger, n, keys, perSec); err != nil {
			return err
		}
	}
	if st, err = schema.ReadLedger(ledger, func(schema.LedgerRecord) error { return nil }); err != nil {
		return err
	}
	cfg := filepath.Join(dir, "recorded.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(recordedConfig, hashOf("key-0"))), 0o644); err != nil {
		return err
	}
	sc := filepath.Join(dir, "scenario.yaml")
	if err := os.WriteFile(sc, []byte(fmt.Sprintf(scenario, (span+2*time.Second).String(), ledger)), 0o644); err != nil {
		return err
	}
	rp, err := measure(gwlab, "replay", "-ledger", ledger, "-recorded", cfg, "-out", filepath.Join(dir, "replay"))
	if err != nil {
		return err
	}
	sim, err := measure(gwlab, "run", "-out", filepath.Join(dir, "run"), sc)
	if err != nil {
		return err
	}
	s, err := schema.ReadSummary(filepath.Join(dir, "replay", "summary.json"))
	if err != nil {
		return err
	}
	row := func(name string, m measured) string {
		return fmt.Sprintf("| %s | %.1f s | %.1f s | **%.0f k** | %.0f k | **%.0f MiB** |", name, m.wall.Seconds(), m.cpu.Seconds(),
			float64(n)/m.wall.Seconds()/1e3, float64(n)/m.cpu.Seconds()/1e3, float64(m.maxRSS)/(1<<20))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Measured %s on %d cores (%s, %s): %d ledger records (%.2f GB in %d rotated files), %d keys, %d requests a second over %v.\n\n",
		time.Now().UTC().Format("2006-01-02"), runtime.NumCPU(), runtime.GOOS+"/"+runtime.GOARCH, runtime.Version(), n,
		float64(ledgerBytes(ledger))/1e9, st.Files, keys, perSec, span)
	b.WriteString("| process | wall | CPU | records per wall-second | per CPU-second | peak RSS |\n|---|---:|---:|---:|---:|---:|\n")
	b.WriteString(row("`gwlab replay` (recorded policy)", rp) + "\n")
	b.WriteString(row("`gwlab run`, the same ledger as trace source", sim) + "\n")
	fmt.Fprintf(&b, "\nreplay against run: %.2fx records per wall-second, %.2fx peak memory. The replay found %d decision differences in %d decided records (%d late).\n",
		sim.wall.Seconds()/rp.wall.Seconds(), float64(rp.maxRSS)/float64(sim.maxRSS), s.Replay.DecisionDifferences, s.Replay.Decided, s.Replay.Late)
	fmt.Print(b.String())
	if out != "" {
		return os.WriteFile(out, []byte("# gwlab replay at scale\n\nWritten by `make bench-replay` (replay/cmd/replaybench).\n\n"+b.String()), 0o644)
	}
	return nil
}

func hashOf(k string) string {
	h := sha256.Sum256([]byte(k))
	return hex.EncodeToString(h[:])
}

func ledgerBytes(dir string) int64 {
	var t int64
	files, _ := schema.LedgerFiles(dir)
	for _, f := range files {
		if fi, err := os.Stat(f); err == nil {
			t += fi.Size()
		}
	}
	return t
}

// writeLedger writes n records in answer order, rotating at 64 MiB, the
// recorded decision of each kept per key by x/time/rate (burst 20, 2/s).
func writeLedger(dir string, n, keys, perSec int) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	hashes := make([]string, keys)
	lims := make([]*rate.Limiter, keys)
	for i := range hashes {
		hashes[i] = hashOf(fmt.Sprintf("key-%d", i))
		lims[i] = rate.NewLimiter(2, 20)
	}
	var f *os.File
	var w *bufio.Writer
	var size int64
	seq := 0
	rotate := func() error {
		if f != nil {
			if err := w.Flush(); err != nil {
				return err
			}
			if err := f.Close(); err != nil {
				return err
			}
		}
		seq++
		var err error
		f, err = os.Create(filepath.Join(dir, fmt.Sprintf("usage-20261101T000000Z-1-%06d.jsonl", seq)))
		if err != nil {
			return err
		}
		w, size = bufio.NewWriterSize(f, 1<<20), 0
		return nil
	}
	if err := rotate(); err != nil {
		return err
	}
	step := time.Second / time.Duration(perSec)
	var line []byte
	for i := 0; i < n; i++ {
		k := (i * 7919) % keys
		dec := t0.Add(time.Duration(i) * step)
		allowed := lims[k].AllowN(dec, 1)
		r := schema.LedgerRecord{ID: fmt.Sprintf("r%d", i), KeyHash: hashes[k], Tier: "basic", Route: "api", Method: "GET",
			Path: "/v1/items", Status: 429, Decision: "limited", Cost: 1, Start: dec.Add(-50 * time.Microsecond),
			End: dec.Add(300 * time.Microsecond), DecidedUS: dec.UnixMicro()}
		if allowed {
			r.Status, r.Decision, r.CostCharged, r.CostSettled = 200, "allowed", 1, 1
		}
		var err error
		if line, err = json.Marshal(&r); err != nil {
			return err
		}
		line = append(line, '\n')
		if size+int64(len(line)) > 64<<20 {
			if err := rotate(); err != nil {
				return err
			}
		}
		if _, err := w.Write(line); err != nil {
			return err
		}
		size += int64(len(line))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return f.Close()
}
