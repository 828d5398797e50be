package redistest

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// clusterTimeout bounds how long a new cluster may take to agree on its
// slots.
const clusterTimeout = 20 * time.Second

// StartCluster starts a Redis Cluster of masters redis-servers (no replicas)
// on free loopback ports, gives each an equal share of the 16384 slots, joins
// them and waits until every node reports cluster_state:ok with every slot
// assigned. It returns the nodes' addresses; the servers stop in the test's
// cleanup. It skips or fails without redis-server as StartServer does.
//
//	addrs := redistest.StartCluster(t, 3)
//	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
func StartCluster(tb testing.TB, masters int) []string {
	tb.Helper()
	if masters < 1 {
		tb.Fatalf("redistest: StartCluster: masters must be >= 1, got %d", masters)
	}
	var addrs []string
	for i := 0; i < masters; i++ {
		s := startServer(tb, []string{"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", "5000"}, clusterPort)
		addrs = append(addrs, s.Addr())
	}
	per := 16384 / masters
	for i, a := range addrs {
		lo, hi := i*per, (i+1)*per-1
		if i == masters-1 {
			hi = 16383
		}
		if _, err := Command(a, "CLUSTER", "ADDSLOTSRANGE", strconv.Itoa(lo), strconv.Itoa(hi)); err != nil {
			tb.Fatalf("redistest: %s: CLUSTER ADDSLOTSRANGE %d %d: %v", a, lo, hi, err)
		}
	}
	for _, a := range addrs[1:] {
		host, port, _ := net.SplitHostPort(addrs[0])
		if _, err := Command(a, "CLUSTER", "MEET", host, port); err != nil {
			tb.Fatalf("redistest: %s: CLUSTER MEET %s: %v", a, addrs[0], err)
		}
	}
	deadline := time.Now().Add(clusterTimeout)
	for {
		ready := 0
		var last string
		for _, a := range addrs {
			info, err := Command(a, "CLUSTER", "INFO")
			last = fmt.Sprintf("%s: %v %s", a, err, strings.Join(strings.Fields(info), " "))
			if err == nil && strings.Contains(info, "cluster_state:ok") && strings.Contains(info, "cluster_slots_assigned:16384") &&
				strings.Contains(info, fmt.Sprintf("cluster_known_nodes:%d", masters)) {
				ready++
			}
		}
		if ready == masters {
			return addrs
		}
		if time.Now().After(deadline) {
			tb.Fatalf("redistest: cluster of %d not ready within %v; last: %s", masters, clusterTimeout, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// clusterPort picks a free port whose cluster bus port (port + 10000) is a
// valid port and free too.
func clusterPort() (int, error) {
	for i := 0; i < 100; i++ {
		p, err := freePort()
		if err != nil {
			return 0, err
		}
		if p+10000 > 65535 {
			continue
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p+10000))
		if err != nil {
			continue
		}
		_ = l.Close()
		return p, nil
	}
	return 0, fmt.Errorf("no free port with a free bus port (port + 10000)")
}

// Command sends one command to the server at addr and returns its reply as
// text: a simple or bulk string, or an integer. An error reply is returned as
// an error; arrays are not supported.
func Command(addr string, args ...string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := c.Write([]byte(b.String())); err != nil {
		return "", err
	}
	r := bufio.NewReader(c)
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", fmt.Errorf("empty reply")
	}
	switch line[0] {
	case '+', ':':
		return line[1:], nil
	case '-':
		return "", fmt.Errorf("%s", line[1:])
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return "", err
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	}
	return "", fmt.Errorf("unsupported reply %q", line)
}
