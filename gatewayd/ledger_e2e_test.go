package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"tollgate/gatewayd/ledger/pgship"
	"tollgate/internal/pgtest"
	"tollgate/schema"
)

// ledgerConfig is a generous tier (nothing is limited) on one route, with
// extra appended under ledger:.
func ledgerConfig(upstream, ledgerExtra, extra string) string {
	return fmt.Sprintf(`
auth:
  api_keys:
    keys:
      - sha256: %s
        tier: big
tiers:
  - name: big
    burst: 1000000
    rate: 1000000
    period: 1s
routes:
  - name: v1
    prefix: /v1/
    methods: [GET, POST]
    upstream: %s
ledger:
  dir: LEDGER
%s
%s`, demoKeyHash, upstream, ledgerExtra, extra)
}

// load runs clients that send authenticated requests until stop is closed
// and collects the X-Request-Id of every complete response.
type loadGen struct {
	mu   sync.Mutex
	ids  map[string]int // id -> status
	wg   sync.WaitGroup
	stop chan struct{}
}

func startLoad(url string, clients int) *loadGen {
	l := &loadGen{ids: map[string]int{}, stop: make(chan struct{})}
	for c := 0; c < clients; c++ {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			cl := &http.Client{Timeout: 10 * time.Second}
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				req, _ := http.NewRequest("GET", url+"/v1/work", nil)
				req.Header.Set("X-API-Key", "demo-key")
				resp, err := cl.Do(req)
				if err != nil {
					time.Sleep(5 * time.Millisecond) // the gateway is down: do not spin
					continue
				}
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err == nil {
					l.mu.Lock()
					l.ids[resp.Header.Get("X-Request-Id")] = resp.StatusCode
					l.mu.Unlock()
				}
			}
		}()
	}
	return l
}

func (l *loadGen) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.ids)
}

func (l *loadGen) end() map[string]int {
	close(l.stop)
	l.wg.Wait()
	return l.ids
}

// ledgerIDs reads the ledger through schema and counts each id.
func ledgerIDs(t *testing.T, dir string) (map[string]int, schema.LedgerStats) {
	t.Helper()
	ids := map[string]int{}
	st, err := schema.ReadLedger(dir, func(r schema.LedgerRecord) error { ids[r.ID]++; return nil })
	if err != nil {
		t.Fatalf("ledger: %v", err)
	}
	return ids, st
}

// pgIDs returns each id's row count in tollgate_usage.
func pgIDs(t *testing.T, dsn string) map[string]int {
	t.Helper()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	rows, err := pool.Query(ctx, `SELECT id, count(*) FROM tollgate_usage GROUP BY id`)
	if err != nil {
		if strings.Contains(err.Error(), "42P01") {
			return map[string]int{} // not migrated yet
		}
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			t.Fatal(err)
		}
		out[id] = n
	}
	return out
}

// verifyCmd runs `gatewayd ledger verify dir`.
func verifyCmd(t *testing.T, dir string) (string, int) {
	t.Helper()
	out, err := exec.Command(gatewaydBin, "ledger", "verify", dir).CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), code
}

func TestKill9SyncEveryAnsweredIDInLedgerAndPostgres(t *testing.T) {
	up := newUpstream(t)
	pgCfg := ""
	var pg *pgtest.Server
	if pgtest.BinDir() != "" || pgtest.Required() {
		pg = pgtest.Start(t)
		pgCfg = fmt.Sprintf("  postgres: {dsn: %q, source: node-a, interval: 100ms}\n", pg.DSN())
	} else {
		t.Log("PostgreSQL not installed: checking the local ledger only (set " + pgtest.RequireEnv + "=1 to require it)")
	}
	g := startGW(t, ledgerConfig(up.URL, "  durability: sync\n"+pgCfg, ""))
	l := startLoad(g.url, 8)
	waitFor(t, "1500 answered requests", func() bool { return l.count() >= 1500 })
	g.signal(syscall.SIGKILL)
	g.wait()
	got := l.end()

	ids, st := ledgerIDs(t, g.ledger)
	missing := 0
	for id := range got {
		if ids[id] != 1 {
			missing++
			if missing < 5 {
				t.Errorf("answered id %s is in the ledger %d times, want 1", id, ids[id])
			}
		}
	}
	if missing > 0 {
		t.Fatalf("%d of %d answered ids not exactly once in the ledger after SIGKILL", missing, len(got))
	}
	t.Logf("%d answered, %d records after SIGKILL, torn %v", len(got), st.Records, st.Torn)
	if out, code := verifyCmd(t, g.ledger); code != 0 {
		t.Errorf("verify after SIGKILL exited %d:\n%s", code, out)
	}
	if pg == nil {
		return
	}
	// A restart catches PostgreSQL up: every record exactly once.
	g2 := g.restart()
	waitFor(t, "PostgreSQL to hold the ledger", func() bool { return len(pgIDs(t, pg.DSN())) >= len(ids) })
	g2.stop()
	ids, _ = ledgerIDs(t, g.ledger)
	rows := pgIDs(t, pg.DSN())
	for id := range ids {
		if rows[id] != 1 {
			t.Fatalf("ledger id %s has %d rows in PostgreSQL, want 1", id, rows[id])
		}
	}
	for id := range got {
		if rows[id] != 1 {
			t.Fatalf("answered id %s has %d rows in PostgreSQL", id, rows[id])
		}
	}
	if len(rows) != len(ids) {
		t.Errorf("PostgreSQL holds %d ids, the ledger %d", len(rows), len(ids))
	}
}

func TestPostgresOutageUnderLoad(t *testing.T) {
	pg := pgtest.Start(t)
	up := newUpstream(t)
	g := startGW(t, ledgerConfig(up.URL, fmt.Sprintf("  postgres: {dsn: %q, source: node-a, interval: 100ms, batch_size: 500}\n", pg.DSN()), ""))
	l := startLoad(g.url, 4)
	waitFor(t, "rows in PostgreSQL", func() bool { return len(pgIDs(t, pg.DSN())) > 200 })
	pg.Stop()
	stoppedAt := l.count()
	outage := 30 * time.Second
	t.Logf("PostgreSQL stopped for %v under load", outage)
	time.Sleep(outage) // the fault's duration, not a wait for an event
	if l.count() <= stoppedAt {
		t.Fatal("no request answered while PostgreSQL was down")
	}
	if err := pg.Restart(); err != nil {
		t.Fatal(err)
	}
	got := l.end()
	waitFor(t, "the daemon's shipper to catch up", func() bool {
		ids, _ := ledgerIDs(t, g.ledger)
		return len(pgIDs(t, pg.DSN())) >= len(ids)
	})
	recs := g.stop()
	want := map[string]bool{}
	for _, r := range recs {
		want[r.ID] = true
	}
	// The daemon's final pass may not have had time: ship the rest as an
	// operator would.
	if out, err := exec.Command(gatewaydBin, "ledger", "ship", "-once", "-config", g.cfgPath).CombinedOutput(); err != nil {
		t.Fatalf("gatewayd ledger ship -once: %v\n%s", err, out)
	}
	rows := pgIDs(t, pg.DSN())
	for id := range got {
		if rows[id] != 1 {
			t.Fatalf("answered id %s has %d rows, want 1", id, rows[id])
		}
	}
	for id, n := range rows {
		if n != 1 || !want[id] {
			t.Fatalf("row id %s: %d rows, in the ledger %v", id, n, want[id])
		}
	}
	if len(rows) != len(want) {
		t.Fatalf("PostgreSQL holds %d ids, the ledger %d", len(rows), len(want))
	}
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, pg.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	s := pgship.New(pool, pgship.Options{}, nil)
	parts, err := s.Partitions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m := time.Now().UTC()
	m = time.Date(m.Year(), m.Month(), 1, 0, 0, 0, 0, time.UTC)
	for _, p := range []string{pgship.PartitionName(m), pgship.PartitionName(m.AddDate(0, 1, 0))} {
		if !strings.Contains(strings.Join(parts, ","), p) {
			t.Errorf("partition %s missing from %v", p, parts)
		}
	}
}

// rss returns the process's resident set size in bytes.
func rss(t *testing.T, pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

func TestDiskFullRefusesThenRecovers(t *testing.T) {
	mnt := t.TempDir()
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, "size=2m"); err != nil {
		if os.Getenv("TOLLGATE_REQUIRE_MOUNT") == "1" {
			t.Fatalf("mount tmpfs: %v (TOLLGATE_REQUIRE_MOUNT=1 requires it)", err)
		}
		t.Skipf("mount tmpfs refused (%v): this test needs root; set TOLLGATE_REQUIRE_MOUNT=1 to fail instead", err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(mnt, syscall.MNT_DETACH) })
	up := newUpstream(t)
	const bound = 256 << 10
	cfg := strings.Replace(ledgerConfig(up.URL, fmt.Sprintf(
		"  durability: sync\n  sync_wait: 200ms\n  fail_after: 300ms\n  on_failure: refuse\n  max_pending_bytes: %d\n", bound), ""),
		"LEDGER", filepath.Join(mnt, "ledger"), 1)
	g := startGW(t, cfg)
	g.ledger = filepath.Join(mnt, "ledger")
	l := startLoad(g.url, 4)
	waitFor(t, "some answers", func() bool { return l.count() >= 200 })
	base := rss(t, g.cmd.Process.Pid)
	maxRSS := base
	filler := filepath.Join(mnt, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := f.Write(make([]byte, 4096)); err != nil {
			break
		}
	}
	f.Close()
	ready := func() int {
		resp, err := http.Get(g.admin + "/readyz")
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	waitFor(t, "readyz 503 on a full disk", func() bool {
		maxRSS = max(maxRSS, rss(t, g.cmd.Process.Pid))
		return ready() == 503
	})
	r := do(t, "GET", g.url+"/v1/x", nil, key("demo-key"))
	if r.status != 503 || r.body["error"] != "ledger_unavailable" {
		t.Errorf("on a full disk: %d %s, want 503 ledger_unavailable", r.status, r.raw)
	}
	if p := g.metric("gatewayd_ledger_pending_bytes"); p > bound {
		t.Errorf("pending %v bytes over the %d bound", p, bound)
	}
	if e := g.metric("gatewayd_ledger_write_errors"); e == 0 {
		t.Error("no write errors counted")
	}
	for i := 0; i < 50; i++ { // refused load goes on for a while
		maxRSS = max(maxRSS, rss(t, g.cmd.Process.Pid))
		time.Sleep(10 * time.Millisecond)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "readyz 200 after space returns", func() bool { return ready() == 200 })
	if r := do(t, "GET", g.url+"/v1/x", nil, key("demo-key")); r.status != 200 {
		t.Errorf("after recovery: %d %s", r.status, r.raw)
	}
	got := l.end()
	g.stop()
	// Growth bounded: the pending bound plus the Go runtime's slack, not
	// the unbounded pile-up of records.
	if maxRSS-base > bound+48<<20 {
		t.Errorf("resident memory grew by %d bytes over the disk-full episode (bound %d)", maxRSS-base, bound)
	}
	out, code := verifyCmd(t, g.ledger)
	if code != 0 || !strings.Contains(out, "torn lines 0") {
		t.Errorf("verify after recovery exited %d:\n%s", code, out)
	}
	ids, _ := ledgerIDs(t, g.ledger)
	for id, status := range got {
		if status == 200 && ids[id] != 1 {
			t.Fatalf("admitted id %s in the ledger %d times", id, ids[id])
		}
	}
}

func TestUnauthenticatedFloodBounded(t *testing.T) {
	up := newUpstream(t)
	g := startGW(t, ledgerConfig(up.URL, "", ""))
	path := "/v1/" + strings.Repeat("a", 50<<10)
	var wg sync.WaitGroup
	var mu sync.Mutex
	n401 := 0
	for c := 0; c < 8; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := &http.Client{Timeout: 10 * time.Second}
			for i := 0; i < 5000/8; i++ {
				resp, err := cl.Get(g.url + path)
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				mu.Lock()
				if resp.StatusCode == 401 {
					n401++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	recs := g.stop()
	var size int64
	files, _ := schema.LedgerFiles(g.ledger)
	for _, f := range files {
		fi, _ := os.Stat(f)
		size += fi.Size()
	}
	var counted int64
	for _, r := range recs {
		if r.Decision == "unauthenticated" {
			counted += r.Requests()
			if len(r.Path) > 512 || !r.PathTruncated || r.Client == "" {
				t.Fatalf("aggregate %s: path %d bytes, truncated %v, client %q", r.ID, len(r.Path), r.PathTruncated, r.Client)
			}
		}
	}
	if counted != int64(n401) || n401 < 4992 {
		t.Errorf("ledger counts %d 401s, clients got %d", counted, n401)
	}
	if size >= 1<<20 {
		t.Errorf("%d requests with 50 KB paths grew the ledger by %d bytes, want < 1 MB", n401, size)
	}
	t.Logf("%d 401s with 50 KB paths: %d records, %d bytes of ledger", n401, len(recs), size)
}

func TestExpectContinueRecordsFinalStatus(t *testing.T) {
	up := newUpstream(t)
	g := startGW(t, ledgerConfig(up.URL, "", ""))
	tr := &http.Transport{ExpectContinueTimeout: 5 * time.Second}
	req, _ := http.NewRequest("POST", g.url+"/v1/upload", strings.NewReader(strings.Repeat("x", 10000)))
	req.Header.Set("X-API-Key", "demo-key")
	req.Header.Set("Expect", "100-continue")
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	recs := g.stop()
	if resp.StatusCode != 200 || len(recs) != 1 || recs[0].Status != 200 {
		t.Fatalf("client got %d; ledger %+v; want one record with status 200", resp.StatusCode, recs)
	}
}

func TestLedgerVerifyCommand(t *testing.T) {
	line := func(id string) string {
		return `{"id":"` + id + `","method":"GET","path":"/","status":200,"decision":"allowed","cost_charged":1,"cost_settled":1,"start":"2026-12-01T10:00:00Z","end":"2026-12-01T10:00:01Z"}` + "\n"
	}
	for _, tc := range []struct {
		name, a, b string
		code       int
		want       string
	}{
		{"clean with a torn tail", line("a"), line("b") + `{"id":"c","me`, 0, "torn lines 1"},
		{"duplicate id", line("a"), line("a"), 1, "duplicates 1"},
		{"damage mid-file", line("a") + "garbage\n" + line("b"), line("c"), 1, "usage-1.jsonl line 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, "usage-1.jsonl"), []byte(tc.a), 0o600)
			os.WriteFile(filepath.Join(dir, "usage-2.jsonl"), []byte(tc.b), 0o600)
			out, code := verifyCmd(t, dir)
			if code != tc.code || !strings.Contains(out, tc.want) {
				t.Errorf("exit %d, want %d; output lacks %q:\n%s", code, tc.code, tc.want, out)
			}
		})
	}
}

func TestLedgerMigrateCommand(t *testing.T) {
	pg := pgtest.Start(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "gatewayd.yaml")
	body := strings.ReplaceAll(ledgerConfig("http://127.0.0.1:9", "  postgres: {dsn_env: TEST_PG_DSN}\n", ""), "LEDGER", filepath.Join(dir, "ledger"))
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func() string {
		cmd := exec.Command(gatewaydBin, "ledger", "migrate", "-config", cfg)
		cmd.Env = append(os.Environ(), "TEST_PG_DSN="+pg.DSN())
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("migrate: %v\n%s", err, out)
		}
		return string(out)
	}
	all, _ := pgship.Migrations()
	if out := run(); !strings.Contains(out, fmt.Sprintf("applied %d migrations", len(all))) {
		t.Errorf("first migrate: %s", out)
	}
	if out := run(); !strings.Contains(out, "applied 0 migrations") {
		t.Errorf("second migrate: %s", out)
	}
}
