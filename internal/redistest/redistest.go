// Package redistest starts a private redis-server for tests: on a free
// loopback port (never 6379), with persistence off (--save ” --appendonly
// no), stopped when the test ends.
//
// When redis-server is not on PATH the test is skipped with a message saying
// so, unless the environment sets TOLLGATE_REQUIRE_REDIS=1, in which case it
// fails: CI sets it so a missing server cannot pass silently.
//
//	addr := redistest.Start(t) // "127.0.0.1:N"
//	rdb := redis.NewClient(&redis.Options{Addr: addr})
package redistest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// RequireEnv is the environment variable that turns a missing redis-server
// from a skip into a failure.
const RequireEnv = "TOLLGATE_REQUIRE_REDIS"

// startTimeout bounds how long a server may take to answer PING.
const startTimeout = 10 * time.Second

// Server is one redis-server process owned by a test. Its methods are safe
// for concurrent use.
type Server struct {
	tb    testing.TB
	bin   string
	addr  string
	port  int
	extra []string // more redis-server arguments (cluster mode)

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// Installed reports whether redis-server is on PATH.
func Installed() bool {
	_, err := exec.LookPath("redis-server")
	return err == nil
}

// Required reports whether the environment requires a real redis-server
// (TOLLGATE_REQUIRE_REDIS=1).
func Required() bool { return os.Getenv(RequireEnv) == "1" }

// Start starts a redis-server for the test and returns its address,
// "127.0.0.1:N". The server is stopped in t.Cleanup.
func Start(tb testing.TB) string {
	tb.Helper()
	return StartServer(tb).Addr()
}

// StartServer is Start returning a handle that can kill and restart the
// server, for outage tests.
func StartServer(tb testing.TB) *Server {
	tb.Helper()
	return startServer(tb, nil, freePort)
}

// startServer starts redis-server with extra arguments on a port pick chose.
func startServer(tb testing.TB, extra []string, pick func() (int, error)) *Server {
	tb.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		msg := "redistest: redis-server not found on PATH (install Debian's redis-server package)"
		if Required() {
			tb.Fatalf("%s, and %s=1 requires it", msg, RequireEnv)
		}
		tb.Skipf("%s; skipping (set %s=1 to fail instead)", msg, RequireEnv)
	}
	s := &Server{tb: tb, bin: bin, extra: extra}
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port, err := pick()
		if err != nil {
			tb.Fatalf("redistest: pick a free port: %v", err)
		}
		s.port = port
		s.addr = fmt.Sprintf("127.0.0.1:%d", port)
		if lastErr = s.start(); lastErr == nil {
			tb.Cleanup(s.Kill)
			return s
		}
	}
	tb.Fatalf("redistest: could not start redis-server: %v", lastErr)
	return nil
}

// Addr returns the server's address, "127.0.0.1:N"; it stays the same across
// Kill and Restart.
func (s *Server) Addr() string { return s.addr }

// Pid returns the running server's process id, or 0 when it is stopped.
func (s *Server) Pid() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// Kill stops the server at once (SIGKILL) and waits for it to exit. Killing a
// stopped server does nothing. Its data is lost: persistence is off.
func (s *Server) Kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.done
	s.cmd = nil
}

// Restart kills the server if it runs and starts a new, empty one on the same
// port. It fails the test if the new server does not answer.
func (s *Server) Restart() {
	s.tb.Helper()
	s.Kill()
	var err error
	for attempt := 0; attempt < 20; attempt++ {
		if err = s.start(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond) // the port may linger briefly
	}
	s.tb.Fatalf("redistest: restart on %s: %v", s.addr, err)
}

// start launches the process and waits until it answers PING.
func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	dir := s.tb.TempDir()
	logfile := filepath.Join(dir, "redis.log")
	args := append([]string{
		"--port", fmt.Sprint(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no",
		"--protected-mode", "yes", "--loglevel", "warning",
		"--dir", dir, "--logfile", logfile}, s.extra...)
	cmd := exec.Command(s.bin, args...)
	logs := func() string {
		b, _ := os.ReadFile(logfile)
		return strings.TrimSpace(string(b))
	}
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", s.bin, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	deadline := time.Now().Add(startTimeout)
	for {
		// The port may have been taken by another server between freePort
		// and our bind: only our own process's answer counts.
		if pid, err := serverPID(s.addr); err == nil && pid == cmd.Process.Pid {
			s.cmd, s.done = cmd, done
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("redis-server on port %d exited: %s", s.port, logs())
		default:
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-done
			return fmt.Errorf("redis-server on port %d did not answer PING within %v: %s", s.port, startTimeout, logs())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// freePort asks the kernel for a free loopback port. Another process may take
// it before redis-server binds it; StartServer retries then.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		return 0, err
	}
	return port, nil
}

// serverPID asks the server at addr for its process id (INFO server).
func serverPID(addr string) (int, error) {
	info, err := Command(addr, "INFO", "server")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "process_id:"); ok {
			return strconv.Atoi(v)
		}
	}
	return 0, fmt.Errorf("INFO server from %s has no process_id", addr)
}
