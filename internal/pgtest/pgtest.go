// Package pgtest starts a private PostgreSQL server for tests: initdb into a
// temporary directory, postgres on a free loopback port with its Unix socket
// in that directory, trust authentication for the superuser "postgres",
// stopped and removed when the test ends.
//
// The binaries are looked up on PATH, then in Debian's
// /usr/lib/postgresql/<version>/bin (the postgresql package). initdb refuses
// to run as root, so as root the server runs as the unprivileged "postgres"
// user (the package creates it), which then owns the temporary directory.
//
// When PostgreSQL is not installed the test is skipped with a message saying
// so, unless the environment sets TOLLGATE_REQUIRE_POSTGRES=1, in which case
// it fails: CI sets it so a missing server cannot pass silently.
//
//	pg := pgtest.Start(t)
//	pool, err := pgxpool.New(ctx, pg.DSN())
package pgtest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// RequireEnv is the environment variable that turns a missing PostgreSQL
// from a skip into a failure.
const RequireEnv = "TOLLGATE_REQUIRE_POSTGRES"

// startTimeout bounds how long the server may take to accept connections.
const startTimeout = 30 * time.Second

// Server is one PostgreSQL server owned by a test. Its methods are safe for
// concurrent use.
type Server struct {
	tb   testing.TB
	bin  string
	dir  string
	port int
	cred *syscall.Credential

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	log  *os.File
}

// Required reports whether the environment requires PostgreSQL.
func Required() bool { return os.Getenv(RequireEnv) == "1" }

// BinDir returns the directory holding initdb and postgres, or "" when
// PostgreSQL is not installed.
func BinDir() string {
	if p, err := exec.LookPath("initdb"); err == nil {
		if _, err := exec.LookPath("postgres"); err == nil {
			return filepath.Dir(p)
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d
		}
	}
	return ""
}

func version(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

// Start initialises and starts a server, stopped and removed in Cleanup.
func Start(tb testing.TB) *Server {
	tb.Helper()
	bin := BinDir()
	if bin == "" {
		msg := "pgtest: PostgreSQL (initdb, postgres) not found on PATH or in /usr/lib/postgresql/*/bin (install Debian's postgresql package)"
		if Required() {
			tb.Fatalf("%s, and %s=1 requires it", msg, RequireEnv)
		}
		tb.Skipf("%s; skipping (set %s=1 to fail instead)", msg, RequireEnv)
	}
	s := &Server{tb: tb, bin: bin}
	dir, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	s.dir = dir
	tb.Cleanup(func() {
		s.Stop()
		_ = os.RemoveAll(dir)
	})
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			tb.Fatalf("pgtest: running as root needs the unprivileged user postgres (Debian's postgresql package creates it): %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		s.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			tb.Fatalf("pgtest: chown %s: %v", dir, err)
		}
	}
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", s.data(), "-U", "postgres", "-A", "trust",
		"-E", "UTF8", "--locale=C", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		tb.Fatalf("pgtest: initdb: %v\n%s", err, out)
	}
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		if s.port, err = freePort(); err != nil {
			tb.Fatalf("pgtest: free port: %v", err)
		}
		if lastErr = s.Restart(); lastErr == nil {
			return s
		}
	}
	tb.Fatalf("pgtest: could not start postgres: %v\n%s", lastErr, s.Log())
	return nil
}

func (s *Server) data() string { return filepath.Join(s.dir, "data") }

// DSN returns a connection URL for the superuser on the loopback port.
func (s *Server) DSN() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", s.port)
}

// Port returns the server's port; it stays the same across Stop and
// Restart.
func (s *Server) Port() int { return s.port }

// Log returns the server's log so far.
func (s *Server) Log() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "postgres.log"))
	return string(b)
}

// Restart starts the stopped server on its port and waits until it accepts
// connections. Starting a running server does nothing.
func (s *Server) Restart() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return nil
	}
	logf, err := os.OpenFile(filepath.Join(s.dir, "postgres.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o666)
	if err != nil {
		return err
	}
	cmd := exec.Command(filepath.Join(s.bin, "postgres"), "-D", s.data(), "-p", strconv.Itoa(s.port),
		"-k", s.dir, "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "full_page_writes=off",
		"-c", "synchronous_commit=off", "-c", "shared_buffers=16MB", "-c", "max_connections=40",
		"-c", "max_wal_size=256MB")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred, Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("pgtest: start postgres: %w", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(done) }()
	deadline := time.Now().Add(startTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn, err := pgx.Connect(ctx, s.DSN())
		if err == nil {
			_ = conn.Close(ctx)
			cancel()
			break
		}
		cancel()
		select {
		case <-done:
			return fmt.Errorf("postgres exited: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
			return fmt.Errorf("postgres not accepting connections after %v: %v", startTimeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.cmd, s.done = cmd, done
	return nil
}

// Stop shuts the server down (fast shutdown: sessions end, committed data
// stays) and waits for it to exit. Stopping a stopped server does nothing.
func (s *Server) Stop() { s.signal(syscall.SIGINT) }

// Kill stops the server at once (SIGKILL to its process group) and waits.
func (s *Server) Kill() { s.signal(syscall.SIGKILL) }

func (s *Server) signal(sig syscall.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	if sig == syscall.SIGKILL {
		_ = syscall.Kill(-s.cmd.Process.Pid, sig)
	} else {
		_ = s.cmd.Process.Signal(sig)
	}
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.done
	}
	s.cmd, s.done = nil, nil
	// A killed postmaster may leave its children a moment; wait for the
	// lock file's server to be gone before a restart reuses the port.
	if sig == syscall.SIGKILL {
		_ = os.Remove(filepath.Join(s.data(), "postmaster.pid"))
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Exec runs SQL statements against the server, failing the test on error.
func (s *Server) Exec(sql string, args ...any) {
	s.tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.DSN())
	if err != nil {
		s.tb.Fatalf("pgtest: connect: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		s.tb.Fatalf("pgtest: %s: %v", strings.TrimSpace(sql), err)
	}
}
