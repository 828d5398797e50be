// Package testredis starts a private redis-server for gatewayd's tests: on a
// free loopback port (never 6379), persistence off (--save ” --appendonly
// no), stopped when the test ends. Without redis-server on PATH the test is
// skipped, or fails when TOLLGATE_REQUIRE_REDIS=1 (as CI sets it).
package testredis

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// RequireEnv turns a missing redis-server from a skip into a failure.
const RequireEnv = "TOLLGATE_REQUIRE_REDIS"

// Server is a redis-server owned by one test.
type Server struct {
	Addr string
	cmd  *exec.Cmd
	done chan struct{}
}

// Start starts a server and registers its cleanup.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv(RequireEnv) == "1" {
			t.Fatalf("testredis: redis-server not on PATH and %s=1 requires it", RequireEnv)
		}
		t.Skipf("testredis: redis-server not on PATH (apt-get install redis-server); skipping (set %s=1 to fail instead)", RequireEnv)
	}
	var last error
	for attempt := 0; attempt < 5; attempt++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		_ = l.Close()
		dir := t.TempDir()
		s := &Server{Addr: fmt.Sprintf("127.0.0.1:%d", port), done: make(chan struct{})}
		s.cmd = exec.Command(bin, "--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
			"--dir", dir, "--logfile", filepath.Join(dir, "redis.log"))
		if err := s.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { _ = s.cmd.Wait(); close(s.done) }()
		if last = s.waitReady(port); last == nil {
			t.Cleanup(s.Kill)
			return s
		}
		s.Kill()
	}
	t.Fatalf("testredis: could not start redis-server: %v", last)
	return nil
}

// waitReady waits until our process answers with its own pid.
func (s *Server) waitReady(port int) error {
	rdb := redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: -1})
	defer rdb.Close()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			return fmt.Errorf("redis-server on port %d exited", port)
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		info, err := rdb.Info(ctx, "server").Result()
		cancel()
		if err == nil && containsPID(info, s.cmd.Process.Pid) {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("redis-server on port %d did not answer", port)
}

func containsPID(info string, pid int) bool {
	want := fmt.Sprintf("process_id:%d\r", pid)
	for i := 0; i+len(want) <= len(info); i++ {
		if info[i:i+len(want)] == want {
			return true
		}
	}
	return false
}

// Kill stops the server at once (SIGKILL) and waits for it.
func (s *Server) Kill() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Kill()
	<-s.done
}
