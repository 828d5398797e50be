package redistest

import (
	"strings"
	"testing"
)

// TestRedisStartKillRestart: the server answers on a loopback port other than
// 6379, is gone after Kill, and comes back, empty, on the same address after
// Restart.
func TestRedisStartKillRestart(t *testing.T) {
	srv := StartServer(t)
	addr := srv.Addr()
	if !strings.HasPrefix(addr, "127.0.0.1:") || strings.HasSuffix(addr, ":6379") {
		t.Fatalf("address %q, want a loopback port other than 6379", addr)
	}
	pid, err := serverPID(addr)
	if err != nil || pid != srv.Pid() {
		t.Fatalf("INFO process_id %d (%v), want our server's %d", pid, err, srv.Pid())
	}
	srv.Kill()
	if srv.Pid() != 0 {
		t.Fatalf("Pid after Kill: %d, want 0", srv.Pid())
	}
	if _, err := serverPID(addr); err == nil {
		t.Fatal("server still answers after Kill")
	}
	srv.Kill() // killing a stopped server does nothing
	srv.Restart()
	if pid, err := serverPID(addr); err != nil || pid != srv.Pid() || pid == 0 {
		t.Fatalf("after Restart: process_id %d (%v), want %d", pid, err, srv.Pid())
	}
}
