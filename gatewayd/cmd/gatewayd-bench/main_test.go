package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"tollgate/gatewayd/config"
)

// TestGatewaydConfig: every configuration the bench writes is one gatewayd
// accepts (the file crosses a process boundary), with the store, the lease
// batch and the parking switch the bench asked for.
func TestGatewaydConfig(t *testing.T) {
	dir := t.TempDir()
	for _, g := range []gwConfig{
		{store: "memory"},
		{store: "memory", disableParking: true},
		{store: "redis", redisAddr: "127.0.0.1:6390"},
		{store: "redis-lease", redisAddr: "127.0.0.1:6390", leaseBatch: 50},
	} {
		p, err := gatewaydConfig(dir, "http://127.0.0.1:9000", g)
		if err != nil {
			t.Fatal(err)
		}
		c, err := config.Load(p)
		if err != nil {
			t.Fatalf("%+v: gatewayd refuses the bench's config: %v", g, err)
		}
		if c.Server.DisableParking != g.disableParking {
			t.Errorf("%+v: disable_parking %v", g, c.Server.DisableParking)
		}
		if g.store != "memory" && c.Store.Redis.Addr != g.redisAddr {
			t.Errorf("%+v: redis addr %q", g, c.Store.Redis.Addr)
		}
		if g.store == "redis-lease" && c.Store.Lease.Batch != g.leaseBatch {
			t.Errorf("%+v: lease batch %v", g, c.Store.Lease.Batch)
		}
	}
}

func TestCPUSplit(t *testing.T) {
	for _, c := range []struct {
		n         int
		load, sut string
		nsut      int
	}{{2, "0", "1", 1}, {4, "0-1", "2-3", 2}, {5, "0-1", "2-4", 3}} {
		load, sut, nsut := cpuSplit(c.n)
		if load != c.load || sut != c.sut || nsut != c.nsut {
			t.Errorf("cpuSplit(%d) = %q %q %d, want %q %q %d", c.n, load, sut, nsut, c.load, c.sut, c.nsut)
		}
	}
	p := pinning{mode: "proxy", loadCPUs: "0", sutCPUs: "1", nSUT: 1}
	if p.cpusFor(true) != "1" || p.cpusFor(false) != "0" || p.nginxWorkers() != 1 {
		t.Errorf("proxy pinning: %q %q %d", p.cpusFor(true), p.cpusFor(false), p.nginxWorkers())
	}
	p.mode = "sut"
	if p.cpusFor(false) != "1" || p.nSUTOr1() != 1 {
		t.Errorf("sut pinning: %q %d", p.cpusFor(false), p.nSUTOr1())
	}
	if (pinning{}).cpusFor(true) != "" {
		t.Error("unpinned bench pins")
	}
}

func TestAddrsNeverRepeat(t *testing.T) {
	var a addrs
	seen := map[string]bool{}
	for i := 0; i < 50; i++ {
		addr, err := a.free()
		if err != nil {
			t.Fatal(err)
		}
		if seen[addr] || !strings.HasPrefix(addr, "127.0.0.1:") {
			t.Fatalf("address %q handed out twice or not loopback", addr)
		}
		seen[addr] = true
	}
}

// TestAttackAndReport drives a loopback server open- and closed-model
// through the bench's attack, merges rounds, and renders the report: one
// table per part, with the added latency against the direct row.
func TestAttackAndReport(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Api-Key") != "bench-key" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_, _ = w.Write([]byte("ok"))
	}))
	defer srv.Close()
	hdr := http.Header{"X-Api-Key": []string{"bench-key"}}
	var lat []run1
	for _, name := range []string{"direct upstream", "gatewayd, redis store"} {
		var acc run1
		for round := 0; round < 2; round++ {
			r, err := attack(name, srv.URL+"/v1/x", hdr, 200, 200*time.Millisecond, 0, sut{})
			if err != nil {
				t.Fatal(err)
			}
			acc = merge(acc, r)
		}
		if acc.Sent == 0 || acc.OK != acc.Sent || acc.OKLatency.TotalCount() != int64(acc.OK) {
			t.Fatalf("%s: sent %d ok %d histogram %d errors %v", name, acc.Sent, acc.OK, acc.OKLatency.TotalCount(), acc.Errors())
		}
		lat = append(lat, acc)
	}
	sat, err := attack(nginxName, srv.URL+"/v1/x", hdr, 0, 200*time.Millisecond, 4, sut{})
	if err != nil {
		t.Fatal(err)
	}
	if sat.OK == 0 || sat.Throughput() <= 0 {
		t.Fatalf("closed-model run: ok %d throughput %v", sat.OK, sat.Throughput())
	}
	md, err := report(options{duration: 400 * time.Millisecond, rounds: 2, satWorkers: 4, satDuration: 200 * time.Millisecond},
		pinning{}, lat, []run1{sat}, []memRow{{parking: true, rss0: 10240, rss1: 20480, open: 10}})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| run | offered rate | sent | 2xx | 2xx/s | p50 | p90 | p99 | p99.9 | max | errors | added p50 | added p99 | CPU µs/request | busy |",
		"| direct upstream | 200/s |", "| gatewayd, redis store | 200/s |",
		"| errors | 2xx/s ratio to nginx | CPU µs/request |", "| " + nginxName + " | closed |", "| 1.00 |",
		"| 10 | on (default) | 10.0 MB | 20.0 MB |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
}
