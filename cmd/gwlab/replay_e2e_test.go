package main

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"tollgate/schema"
)

// replayConfig is a one-node gatewayd on the memory store with four keys on
// one tier; TIER is the tier's limits.
const replayConfig = `
listen: LISTEN
admin_listen: ADMIN
auth:
  api_keys:
    keys:
KEYS
tiers:
  - {name: basic, TIER}
routes:
  - {name: api, prefix: /, methods: [GET, POST], upstream: UPSTREAM, cost: 1}
ledger: {dir: LEDGER}
`

func keyHash(k string) string {
	out, _ := exec.Command("sh", "-c", "printf %s "+k+" | sha256sum").Output()
	return strings.Fields(string(out))[0]
}

func writeReplayConfig(t *testing.T, path, listen, admin, upstream, ledger, tier string, keys []string) {
	t.Helper()
	var kb strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&kb, "      - {sha256: %s, tier: basic}\n", keyHash(k))
	}
	c := strings.NewReplacer("LISTEN", listen, "ADMIN", admin, "UPSTREAM", upstream, "LEDGER", ledger,
		"TIER", tier, "KEYS\n", kb.String()).Replace(replayConfig)
	if err := os.WriteFile(path, []byte(c), 0o600); err != nil {
		t.Fatal(err)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestReplayGatewaydLedger: a real gatewayd answers a few thousand requests
// from four keys, some refused; gwlab replay on its ledger under the
// recorded config decides every one of them the same, and under a tighter
// candidate reports exactly the newly refused and newly admitted requests an
// independent count (golang.org/x/time/rate over the recorded decision
// instants) finds.
func TestReplayGatewaydLedger(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "gatewayd")
	if out, err := exec.Command("go", "build", "-o", bin, "../../gatewayd").CombinedOutput(); err != nil {
		t.Fatalf("build gatewayd: %v\n%s", err, out)
	}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	defer up.Close()
	keys := []string{"key-a", "key-b", "key-c", "key-d"}
	listen, admin := freeAddr(t), freeAddr(t)
	recorded := filepath.Join(dir, "recorded.yaml")
	ledger := filepath.Join(dir, "ledger")
	writeReplayConfig(t, recorded, listen, admin, up.URL, ledger, "burst: 20, rate: 40", keys)
	var log bytes.Buffer
	cmd := exec.Command(bin, "-config", recorded)
	cmd.Stderr = &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + admin + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("gatewayd not ready: %v\n%s", err, log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}

	// four clients, 800 requests each, as fast as the gateway answers: well
	// above 40/s, so most are refused after the burst.
	const perKey = 800
	var mu sync.Mutex
	status := map[int]int{}
	answered := 0
	var wg sync.WaitGroup
	for _, k := range keys {
		wg.Add(1)
		go func(k string) {
			defer wg.Done()
			c := &http.Client{Timeout: 10 * time.Second}
			for i := 0; i < perKey; i++ {
				req, _ := http.NewRequest("GET", "http://"+listen+"/v1/items", nil)
				req.Header.Set("X-API-Key", k)
				resp, err := c.Do(req)
				if err != nil {
					t.Errorf("%s: %v", k, err)
					return
				}
				resp.Body.Close()
				mu.Lock()
				status[resp.StatusCode]++
				answered++
				mu.Unlock()
			}
		}(k)
	}
	wg.Wait()
	if status[200] == 0 || status[429] == 0 || status[200]+status[429] != answered {
		t.Fatalf("statuses %v: want both 200s and 429s and nothing else", status)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("gatewayd exit: %v\n%s", err, log.String())
	}

	// the recorded policy decides every request as recorded
	out := filepath.Join(dir, "same")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"replay", "-ledger", ledger, "-recorded", recorded, "-out", out}, &stdout, &stderr); code != 0 {
		t.Fatalf("replay: exit %d: %s", code, stderr.String())
	}
	s, err := schema.ReadSummary(filepath.Join(out, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	r := s.Replay
	if r == nil || r.Records != int64(answered) || r.Decided != int64(answered) || r.DecisionDifferences != 0 {
		t.Fatalf("replay under the recorded policy: %+v, want %d records all decided the same", r, answered)
	}
	if r.RecordedRefused != int64(status[429]) || r.CandidateRefused != int64(status[429]) {
		t.Fatalf("refused recorded %d replayed %d, clients saw %d", r.RecordedRefused, r.CandidateRefused, status[429])
	}
	for _, f := range []string{"report.md", "report.html"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}

	// a tighter candidate, and an independent count of what it changes
	candidate := filepath.Join(dir, "candidate.yaml")
	writeReplayConfig(t, candidate, listen, admin, up.URL, ledger, "burst: 10, rate: 25", keys)
	recs, _, err := schema.ReadLedgerAll(ledger)
	if err != nil {
		t.Fatal(err)
	}
	sort.SliceStable(recs, func(i, j int) bool { return recs[i].DecidedUS < recs[j].DecidedUS })
	lims := map[string]*rate.Limiter{}
	var newlyRefused, newlyAdmitted int64
	for _, rec := range recs {
		l := lims[rec.KeyHash]
		if l == nil {
			l = rate.NewLimiter(25, 10)
			lims[rec.KeyHash] = l
		}
		ok := l.AllowN(time.UnixMicro(rec.DecidedUS), 1)
		switch {
		case !ok && rec.Decision == "allowed":
			newlyRefused++
		case ok && rec.Decision == "limited":
			newlyAdmitted++
		}
	}
	out = filepath.Join(dir, "tighter")
	if code := run([]string{"replay", "-ledger", ledger, "-recorded", recorded, "-gateway", candidate, "-out", out}, &stdout, &stderr); code != 0 {
		t.Fatalf("replay: exit %d: %s", code, stderr.String())
	}
	s, err = schema.ReadSummary(filepath.Join(out, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	r = s.Replay
	if newlyRefused == 0 {
		t.Fatal("the independent count finds nothing newly refused: the candidate is not tighter")
	}
	if r.NewlyRefused != newlyRefused || r.NewlyAdmitted != newlyAdmitted || r.DecisionDifferences != newlyRefused+newlyAdmitted {
		t.Fatalf("replay: newly refused %d admitted %d (differences %d); independent count: %d and %d",
			r.NewlyRefused, r.NewlyAdmitted, r.DecisionDifferences, newlyRefused, newlyAdmitted)
	}
	if d := r.ByTier["basic"]; d.NewlyRefused != newlyRefused || r.ByRoute["api"].NewlyRefused != newlyRefused {
		t.Fatalf("breakdown %+v %+v", r.ByTier, r.ByRoute)
	}
}
