// Package promtest starts a private Prometheus server for tests (Debian's
// prometheus package): a temporary config and storage directory, a free
// loopback port, short scrape and evaluation intervals, stopped when the
// test ends. It also finds promtool.
//
// When the binary is not on PATH the test is skipped with a message saying
// so, unless the environment sets TOLLGATE_REQUIRE_PROMETHEUS=1, in which case
// it fails: CI sets it so a missing Prometheus cannot pass silently.
//
//	p := promtest.Start(t, promtest.Options{Targets: []string{adminAddr}, RuleFiles: []string{"deploy/prometheus/rules.yml"}})
//	client, _ := api.NewClient(api.Config{Address: p.URL})
package promtest

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// RequireEnv is the environment variable that turns a missing prometheus or
// promtool from a skip into a failure.
const RequireEnv = "TOLLGATE_REQUIRE_PROMETHEUS"

// startTimeout bounds how long Prometheus may take to report ready.
const startTimeout = 30 * time.Second

// Required reports whether the environment requires the real binaries.
func Required() bool { return os.Getenv(RequireEnv) == "1" }

// Binary returns the path of name (prometheus or promtool) on PATH, or skips
// (fails with TOLLGATE_REQUIRE_PROMETHEUS=1) the test when it is absent.
func Binary(tb testing.TB, name string) string {
	tb.Helper()
	bin, err := exec.LookPath(name)
	if err != nil {
		msg := fmt.Sprintf("promtest: %s not found on PATH (install Debian's prometheus package)", name)
		if Required() {
			tb.Fatalf("%s, and %s=1 requires it", msg, RequireEnv)
		}
		tb.Skipf("%s; skipping (set %s=1 to fail instead)", msg, RequireEnv)
	}
	return bin
}

// Options configure a server.
type Options struct {
	// Job is the scrape job's name (default "gatewayd").
	Job string
	// Targets are host:port addresses scraped at /metrics.
	Targets []string
	// RuleFiles are rule files loaded (paths relative to the working
	// directory are made absolute).
	RuleFiles []string
	// Interval is the scrape and rule evaluation interval (default 1s).
	Interval time.Duration
}

// Server is one prometheus process owned by a test.
type Server struct {
	// URL is the server's base URL, http://127.0.0.1:N.
	URL string
	// Dir holds its config, storage and log.
	Dir string
}

// Start starts Prometheus for the test; it is stopped in tb.Cleanup. It
// returns once /-/ready answers 200.
func Start(tb testing.TB, o Options) *Server {
	tb.Helper()
	bin := Binary(tb, "prometheus")
	if o.Job == "" {
		o.Job = "gatewayd"
	}
	if o.Interval <= 0 {
		o.Interval = time.Second
	}
	dir := tb.TempDir()
	var rules []string
	for _, f := range o.RuleFiles {
		abs, err := filepath.Abs(f)
		if err != nil {
			tb.Fatalf("promtest: rule file %q: %v", f, err)
		}
		rules = append(rules, abs)
	}
	cfg := map[string]any{
		"global": map[string]any{"scrape_interval": o.Interval.String(), "evaluation_interval": o.Interval.String(),
			"scrape_timeout": o.Interval.String()},
		"rule_files": rules,
	}
	if len(o.Targets) > 0 {
		cfg["scrape_configs"] = []any{map[string]any{"job_name": o.Job,
			"static_configs": []any{map[string]any{"targets": o.Targets}}}}
	}
	data, err := yaml.Marshal(cfg)
	if err != nil {
		tb.Fatalf("promtest: config: %v", err)
	}
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, data, 0o600); err != nil {
		tb.Fatalf("promtest: %v", err)
	}
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port, err := freePort()
		if err != nil {
			tb.Fatalf("promtest: pick a free port: %v", err)
		}
		s := &Server{URL: fmt.Sprintf("http://127.0.0.1:%d", port), Dir: dir}
		if lastErr = s.start(tb, bin, cfgPath, port); lastErr == nil {
			return s
		}
	}
	tb.Fatalf("promtest: could not start prometheus: %v", lastErr)
	return nil
}

// start launches the process and waits until it is ready.
func (s *Server) start(tb testing.TB, bin, cfgPath string, port int) error {
	storage, err := os.MkdirTemp(s.Dir, "data-")
	if err != nil {
		return err
	}
	logPath := filepath.Join(s.Dir, fmt.Sprintf("prometheus-%d.log", port))
	logf, err := os.Create(logPath)
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, "--config.file="+cfgPath, "--storage.tsdb.path="+storage,
		fmt.Sprintf("--web.listen-address=127.0.0.1:%d", port), "--log.level=warn")
	cmd.Stdout, cmd.Stderr = logf, logf
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		_ = logf.Close()
		return fmt.Errorf("start %s: %w", bin, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); _ = logf.Close(); close(done) }()
	logs := func() string {
		b, _ := os.ReadFile(logPath)
		return strings.TrimSpace(string(b))
	}
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(startTimeout)
	for {
		select {
		case <-done:
			return fmt.Errorf("prometheus on port %d exited: %s", port, logs())
		default:
		}
		if resp, err := client.Get(s.URL + "/-/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				tb.Cleanup(func() {
					_ = cmd.Process.Kill()
					<-done
					if tb.Failed() {
						tb.Logf("promtest: prometheus log:\n%s", logs())
					}
				})
				return nil
			}
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-done
			return fmt.Errorf("prometheus on port %d not ready within %v: %s", port, startTimeout, logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// freePort asks the kernel for a free loopback port. Another process may take
// it before prometheus binds it; Start retries then.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	return port, l.Close()
}

// Eventually polls cond every 100ms until it reports true or timeout passes,
// then fails the test with cond's last message. No fixed sleeps: the wait
// ends as soon as the event happens.
func Eventually(tb testing.TB, timeout time.Duration, what string, cond func() (bool, string)) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, msg := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("promtest: %s not seen within %v; last: %s", what, timeout, msg)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
