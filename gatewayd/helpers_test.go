package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"tollgate/schema"
)

// gatewaydBin is the binary built once by TestMain.
var gatewaydBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gatewayd-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	gatewaydBin = filepath.Join(dir, "gatewayd")
	build := exec.Command("go", "build", "-o", gatewaydBin, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build gatewayd:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	if leaks := leakedSecrets(); len(leaks) > 0 {
		fmt.Fprintf(os.Stderr, "secrets in gatewayd output:\n%s\n", strings.Join(leaks, "\n"))
		code = 1
	}
	os.Exit(code)
}

// The secret check: every test registers the keys, tokens and passwords it
// hands gatewayd (noteSecret), every gatewayd process's log and every -check
// output is kept (keepOutput), and no output may contain any secret. Each
// process is checked when it stops, and TestMain checks every output against
// every secret once more at the end, so a secret registered by a later test
// is still looked for in an earlier test's logs.
var (
	secretsMu sync.Mutex
	secretSet = map[string]bool{"demo-key": true}
	outputs   []*syncBuffer
)

// noteSecret registers secrets no gatewayd output may contain.
func noteSecret(s ...string) {
	secretsMu.Lock()
	defer secretsMu.Unlock()
	for _, x := range s {
		if x != "" {
			secretSet[x] = true
		}
	}
}

// keepOutput registers an output for the final secret check.
func keepOutput(b *syncBuffer) {
	secretsMu.Lock()
	defer secretsMu.Unlock()
	outputs = append(outputs, b)
}

// secretsIn returns the registered secrets that s contains.
func secretsIn(s string) []string {
	secretsMu.Lock()
	defer secretsMu.Unlock()
	var out []string
	for x := range secretSet {
		if strings.Contains(s, x) {
			out = append(out, x)
		}
	}
	return out
}

func leakedSecrets() []string {
	secretsMu.Lock()
	outs := append([]*syncBuffer(nil), outputs...)
	secretsMu.Unlock()
	var leaks []string
	for _, o := range outs {
		text := o.String()
		for _, x := range secretsIn(text) {
			for _, line := range strings.Split(text, "\n") {
				if strings.Contains(line, x) {
					leaks = append(leaks, fmt.Sprintf("%q in: %s", x, line))
				}
			}
		}
	}
	return leaks
}

// demoKeyHash is the SHA-256 of "demo-key".
const demoKeyHash = "c48a01f49fd0f2cc404bc3cbbc80e91457a3d41bb429a695243de4c61794155c"

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// gw is one gatewayd process.
type gw struct {
	t        testing.TB
	cmd      *exec.Cmd
	url      string // proxy listener base URL
	admin    string // admin base URL
	cfgPath  string
	ledger   string
	log      *syncBuffer
	done     chan struct{}
	exitCode int
}

// freeAddrs returns two distinct free loopback addresses: both listeners are
// open at once, so the kernel cannot hand out the same port twice.
func freeAddrs(t testing.TB) (string, string) {
	t.Helper()
	a, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	defer b.Close()
	return a.Addr().String(), b.Addr().String()
}

// startGW writes cfg (with LEDGER replaced by a fresh directory) and starts
// gatewayd on free ports given by -listen and -admin-listen, then waits for
// /readyz.
func startGW(t testing.TB, cfg string) *gw {
	t.Helper()
	listen, admin := freeAddrs(t)
	return startGWAt(t, cfg, listen, admin)
}

// startGWAt is startGW on given listen and admin addresses (a test that must
// know the admin address before gatewayd starts: a Prometheus scraping it).
func startGWAt(t testing.TB, cfg, listen, admin string) *gw {
	t.Helper()
	dir := t.TempDir()
	g := &gw{t: t, cfgPath: filepath.Join(dir, "gatewayd.yaml"), ledger: filepath.Join(dir, "ledger"),
		log: &syncBuffer{}, done: make(chan struct{})}
	cfg = strings.ReplaceAll(cfg, "LEDGER", g.ledger)
	cfg = strings.ReplaceAll(cfg, "DIR", dir)
	if err := os.WriteFile(g.cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	g.launchAt(listen, admin)
	return g
}

// restart starts a new gatewayd process on the same config and ledger
// directory (after this one exited or was killed).
func (g *gw) restart() *gw {
	g.t.Helper()
	n := &gw{t: g.t, cfgPath: g.cfgPath, ledger: g.ledger, log: &syncBuffer{}, done: make(chan struct{})}
	n.launch()
	return n
}

// launch starts the process on free ports given by -listen and
// -admin-listen and waits for /readyz.
func (g *gw) launch() {
	g.t.Helper()
	listen, admin := freeAddrs(g.t)
	g.launchAt(listen, admin)
}

// launchAt is launch on given addresses.
func (g *gw) launchAt(listen, admin string) {
	t := g.t
	t.Helper()
	g.url, g.admin = "http://"+listen, "http://"+admin
	g.cmd = exec.Command(gatewaydBin, "-config", g.cfgPath, "-listen", listen, "-admin-listen", admin)
	g.cmd.Stderr = g.log
	keepOutput(g.log)
	if err := g.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		err := g.cmd.Wait()
		g.exitCode = 0
		if ee, ok := err.(*exec.ExitError); ok {
			g.exitCode = ee.ExitCode()
		} else if err != nil {
			g.exitCode = -1
		}
		close(g.done)
	}()
	t.Cleanup(func() {
		select {
		case <-g.done:
		default:
			_ = g.cmd.Process.Kill()
			<-g.done
		}
		if leaks := secretsIn(g.log.String()); len(leaks) > 0 {
			t.Errorf("gatewayd's log holds secrets %q", leaks)
		}
		if t.Failed() {
			t.Logf("gatewayd log:\n%s", g.log.String())
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(g.admin + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		select {
		case <-g.done:
			t.Fatalf("gatewayd exited with %d before ready:\n%s", g.exitCode, g.log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("gatewayd not ready:\n%s", g.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// signal sends sig to the process.
func (g *gw) signal(sig syscall.Signal) {
	if err := g.cmd.Process.Signal(sig); err != nil {
		g.t.Fatal(err)
	}
}

// wait waits for the process to exit and returns its exit code.
func (g *gw) wait() int {
	select {
	case <-g.done:
	case <-time.After(60 * time.Second):
		g.t.Fatalf("gatewayd did not exit:\n%s", g.log.String())
	}
	return g.exitCode
}

// stop sends SIGTERM, requires exit 0 and returns the ledger records.
func (g *gw) stop() []schema.LedgerRecord {
	g.t.Helper()
	g.signal(syscall.SIGTERM)
	if code := g.wait(); code != 0 {
		g.t.Fatalf("exit code %d:\n%s", code, g.log.String())
	}
	recs, _, err := schema.ReadLedgerAll(g.ledger)
	if err != nil {
		g.t.Fatal(err)
	}
	return recs
}

// metric returns the sum of a metric's samples whose labels contain all of
// the given label pairs.
func (g *gw) metric(name string, labels ...string) float64 {
	g.t.Helper()
	resp, err := http.Get(g.admin + "/metrics")
	if err != nil {
		g.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `(\{[^}]*\})? (\S+)$`)
	sum := 0.0
	for _, m := range re.FindAllStringSubmatch(string(b), -1) {
		ok := true
		for i := 0; i+1 < len(labels); i += 2 {
			if !strings.Contains(m[1], labels[i]+`="`+labels[i+1]+`"`) {
				ok = false
			}
		}
		if ok {
			v, _ := strconv.ParseFloat(m[2], 64)
			sum += v
		}
	}
	return sum
}

// waitFor polls cond until it holds (no timing assertion: a deadline only
// bounds a hung test).
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// result is one response, read fully.
type result struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

var client = &http.Client{Timeout: 30 * time.Second}

func do(t testing.TB, method, url string, body io.Reader, hdr map[string]string) result {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := result{status: resp.StatusCode, header: resp.Header, raw: string(b)}
	_ = json.Unmarshal(b, &r.body)
	return r
}

func key(k string) map[string]string { return map[string]string{"X-API-Key": k} }

// upstream is a real HTTP upstream: it echoes what it saw, waits ?delay=
// (or, with ?hold=1, until release), and counts requests.
type upstream struct {
	*httptest.Server
	mu       sync.Mutex
	seen     []http.Header
	bodies   [][]byte
	arrived  chan struct{}
	held     chan struct{}
	released sync.Once
}

// release lets every ?hold=1 request, present and future, answer.
func (u *upstream) release() { u.released.Do(func() { close(u.held) }) }

func newUpstream(t testing.TB) *upstream {
	u := &upstream{arrived: make(chan struct{}, 1024), held: make(chan struct{})}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		n := len(body)
		h := r.Header.Clone()
		if len(r.TransferEncoding) > 0 {
			h["Transfer-Encoding"] = r.TransferEncoding // as received; net/http takes it out of Header
		}
		u.mu.Lock()
		u.seen = append(u.seen, h)
		u.bodies = append(u.bodies, body)
		u.mu.Unlock()
		select {
		case u.arrived <- struct{}{}:
		default:
		}
		if r.URL.Query().Get("hold") == "1" {
			select {
			case <-u.held:
			case <-r.Context().Done():
				return
			}
		}
		if d, err := time.ParseDuration(r.URL.Query().Get("delay")); err == nil {
			select {
			case <-time.After(d):
			case <-r.Context().Done():
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("RateLimit", `"upstream";r=999`) // the gateway must strip this
		_ = json.NewEncoder(w).Encode(map[string]any{"path": r.URL.Path, "tier": r.Header.Get("X-Tollgate-Tier"),
			"api_key": r.Header.Get("X-API-Key"), "body_bytes": n, "request_id": r.Header.Get("X-Request-Id")})
	}))
	t.Cleanup(func() { u.release(); u.Close() })
	return u
}

func (u *upstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.seen)
}

type netDialer struct{}

func (netDialer) dial(addr string) (net.Conn, error) {
	return net.DialTimeout("tcp", addr, 5*time.Second)
}

// execOut runs a command and returns its combined output, kept for the
// secret check.
func execOut(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	b := &syncBuffer{}
	b.Write(out)
	keepOutput(b)
	return string(out), err
}

// last returns the headers of the last request the upstream saw.
func (u *upstream) last() http.Header {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.seen) == 0 {
		return nil
	}
	return u.seen[len(u.seen)-1]
}
