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

// TestRedisCluster: StartCluster gives a cluster whose slots are all
// assigned and spread over its masters, and whose nodes answer for them.
func TestRedisCluster(t *testing.T) {
	addrs := StartCluster(t, 3)
	if len(addrs) != 3 {
		t.Fatalf("%d addresses, want 3", len(addrs))
	}
	for _, a := range addrs {
		info, err := Command(a, "CLUSTER", "INFO")
		if err != nil || !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, "cluster_size:3") {
			t.Fatalf("%s: %v\n%s", a, err, info)
		}
	}
	// A key is served by its slot's owner and redirected by the others.
	moved := 0
	for _, a := range addrs {
		if _, err := Command(a, "SET", "k", "v"); err != nil {
			if !strings.HasPrefix(err.Error(), "MOVED ") {
				t.Fatalf("%s: SET: %v", a, err)
			}
			moved++
		}
	}
	if moved != 2 {
		t.Fatalf("%d of 3 nodes redirected SET k, want 2 (one owner)", moved)
	}
}
