// Command gatewayd-bench measures gatewayd on loopback and writes the table
// to docs/benchmarks/gatewayd.md (`make bench-gatewayd`):
//
//  1. latency added over a direct call to the upstream, p50 and p99, at
//     constant open-model rates (vegeta's ConstantPacer; up to 5,000 rps),
//     with the Redis store (exact, and behind local leases) and the memory
//     store, beside a bare httputil.ReverseProxy (the Go floor) and nginx,
//     with the CPU each row's processes used per request;
//  2. saturation throughput of gatewayd against nginx proxy_pass with
//     limit_req (Debian's nginx) in front of the same upstream, as a ratio;
//  3. resident memory of gatewayd holding 10,000 idle keep-alive connections.
//
// It starts everything itself on free loopback ports: redis-server, the demo
// upstream, gatewayd and nginx, and stops them at the end. By default (-pin
// sut) it splits the CPUs with taskset: the load generator (this process) on
// the first half, the system under test (upstream, redis-server and the proxy
// being measured) on the second, so the load generator never takes CPU from
// the proxy, and gatewayd and nginx get the same CPUs (GOMAXPROCS = nginx
// workers). Every gateway
// admits every request (the limits are set far above the load), so what is
// measured is the cost of the full path: auth, pricing, the limiter's store
// round trip, the proxy, the ledger.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"tollgate/internal/loadgen"
)

type options struct {
	gatewayd, upstream string
	out                string
	rates              string
	duration           time.Duration
	satDuration        time.Duration
	satWorkers         int
	idleConns          int
	parts              string
	settle             time.Duration
	disableParking     bool
	rounds             int
	pin                string
	leaseBatch         float64
	serveBare          string
	bareUpstream       string
}

func main() {
	var o options
	flag.StringVar(&o.gatewayd, "gatewayd", "bin/gatewayd", "gatewayd binary")
	flag.StringVar(&o.upstream, "upstream", "bin/demo-upstream", "demo-upstream binary")
	flag.StringVar(&o.out, "out", "docs/benchmarks/gatewayd.md", "markdown file to write ('' prints only)")
	flag.StringVar(&o.rates, "rates", "1000,2500,5000", "constant request rates for the latency runs, per second, comma-separated")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "length of each latency run")
	flag.DurationVar(&o.satDuration, "sat-duration", 5*time.Second, "length of each saturation run")
	flag.IntVar(&o.satWorkers, "sat-workers", 64, "concurrent connections in the saturation runs")
	flag.IntVar(&o.idleConns, "idle-conns", 10000, "idle keep-alive connections for the memory measurement")
	flag.StringVar(&o.parts, "parts", "latency,saturation,memory", "which measurements to run, comma-separated")
	flag.DurationVar(&o.settle, "settle", 5*time.Second, "idle time before reading RSS with the connections open")
	flag.IntVar(&o.rounds, "rounds", 5, "latency runs are split into this many interleaved rounds per target")
	flag.BoolVar(&o.disableParking, "disable-parking", false, "run gatewayd with server.disable_parking (for comparison)")
	flag.StringVar(&o.pin, "pin", "sut", "CPU split with taskset (needs 2+ CPUs): 'proxy' runs the proxy under test "+
		"(gatewayd or nginx) alone on the second half of the CPUs and the load generator, upstream and redis-server on the first; "+
		"'sut' moves the upstream and redis-server to the proxy's half; 'off' does not pin")
	flag.Float64Var(&o.leaseBatch, "lease-batch", 100, "store.lease.batch of the leased Redis target (0 leaves that target out)")
	flag.StringVar(&o.serveBare, "serve-bare-proxy", "", "internal: serve a bare httputil.ReverseProxy on this address (the floor row) and exit on SIGTERM")
	flag.StringVar(&o.bareUpstream, "bare-upstream", "", "internal: the bare proxy's upstream URL")
	flag.Parse()
	if o.serveBare != "" {
		if err := serveBare(o.serveBare, o.bareUpstream); err != nil {
			fmt.Fprintln(os.Stderr, "gatewayd-bench: bare proxy:", err)
			os.Exit(1)
		}
		return
	}
	var pin pinning
	switch o.pin {
	case "off":
	case "proxy", "sut":
		var err error
		if pin, err = pinSelf(o.pin); err != nil {
			fmt.Fprintln(os.Stderr, "gatewayd-bench: not pinning CPUs:", err)
			pin = pinning{}
		}
	default:
		fmt.Fprintf(os.Stderr, "gatewayd-bench: -pin: want proxy, sut or off, got %q\n", o.pin)
		os.Exit(2)
	}
	if err := run(o, pin); err != nil {
		fmt.Fprintln(os.Stderr, "gatewayd-bench:", err)
		os.Exit(1)
	}
}

// procs tracks the processes started, stopped in reverse order. Safe for
// concurrent use (a signal may stop them while the bench starts more).
type procs struct {
	pin  pinning
	mu   sync.Mutex
	list []*exec.Cmd
}

// start starts a process; proxy marks the proxy under test (gatewayd or
// nginx), which runs on its own CPUs when the bench pins (see pinSelf).
func (p *procs) start(proxy bool, name string, args ...string) (*exec.Cmd, error) {
	if cpus := p.pin.cpusFor(proxy); cpus != "" {
		// Go programs size GOMAXPROCS from the affinity mask, so gatewayd
		// gets GOMAXPROCS = len(proxy CPUs), as nginx gets that many workers.
		args = append([]string{"-c", cpus, name}, args...)
		name = "taskset"
	}
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p.mu.Lock()
	p.list = append(p.list, cmd)
	p.mu.Unlock()
	return cmd, nil
}

func (p *procs) stopAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := len(p.list) - 1; i >= 0; i-- {
		c := p.list[i]
		_ = c.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = c.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = c.Process.Kill()
			<-done
		}
	}
	p.list = nil
}

// addrs hands out free loopback addresses, never the same one twice (the
// kernel may reuse a just-closed port). Not safe for concurrent use.
type addrs struct{ used map[string]bool }

func (a *addrs) free() (string, error) {
	if a.used == nil {
		a.used = map[string]bool{}
	}
	for {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", err
		}
		addr := l.Addr().String()
		l.Close()
		if !a.used[addr] {
			a.used[addr] = true
			return addr, nil
		}
	}
}

func waitHTTP(url string, hdr http.Header) error {
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		req, _ := http.NewRequest("GET", url, nil)
		req.Header = hdr
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s did not answer 200", url)
}

// gwConfig is what varies between the gatewayd configurations the bench
// writes.
type gwConfig struct {
	// store is memory, redis or redis-lease.
	store, redisAddr string
	disableParking   bool
	// leaseBatch is store.lease.batch of the redis-lease store.
	leaseBatch float64
}

// gatewaydConfig writes a gatewayd configuration into dir and returns its
// path.
func gatewaydConfig(dir, upstream string, g gwConfig) (string, error) {
	store, redisAddr := g.store, g.redisAddr
	st := "store: {kind: memory}\n"
	switch store {
	case "redis":
		st = fmt.Sprintf("store:\n  kind: redis\n  redis: {addr: %s, timeout: 200ms, pool_size: 128}\n", redisAddr)
	case "redis-lease":
		st = fmt.Sprintf("store:\n  kind: redis\n  redis: {addr: %s, timeout: 200ms, pool_size: 128, prefix: tgl}\n  lease: {batch: %g, ttl: 1s}\n",
			redisAddr, g.leaseBatch)
	}
	cfg := fmt.Sprintf(`%s
server: {max_in_flight: 100000, disable_parking: %t}
auth:
  api_keys:
    keys: [{sha256: %s, tier: bench}]
tiers:
  - {name: bench, burst: 1000000, rate: 1000000}
routes:
  - {name: v1, prefix: /v1/, upstream: %s}
ledger: {dir: %s, durability: batch}
`, st, g.disableParking, benchKeyHash, upstream, filepath.Join(dir, "ledger-"+store))
	p := filepath.Join(dir, "gatewayd-"+store+".yaml")
	return p, os.WriteFile(p, []byte(cfg), 0o600)
}

// benchKeyHash is the SHA-256 of "bench-key".
const benchKeyHash = "b0962662e937d44c699c8305d90cbf190b3150c59b13863d1380b5cc3c711bb7"

// run1 is one target's load run: loadgen's record, and the CPU time the
// system under test used.
type run1 struct {
	*loadgen.Run
	rate int
	// cpu is the CPU time (user + system) the system under test's processes
	// used during the run: the proxy, the upstream and redis-server.
	cpu  [3]float64
	wall float64 // seconds the attack lasted
}

// lat is the run's 2xx latency percentiles.
func (r run1) lat() loadgen.Latency { return loadgen.LatencyOf(r.OKLatency) }

// sut names the processes whose CPU time a run accounts: pids of the proxy
// (0 for the direct row), the upstream and redis-server (0 if none).
type sut [3]int

// cpuSeconds is the user + system CPU time of pid and its descendants (nginx's
// workers are children of its master), in seconds; 0 if pid is 0 or gone.
func cpuSeconds(pid int) float64 {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	st := string(b)
	i := strings.LastIndexByte(st, ')')
	if i < 0 || i+2 > len(st) {
		return 0
	}
	f := strings.Fields(st[i+2:])
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseFloat(f[11], 64)
	k, _ := strconv.ParseFloat(f[12], 64)
	t := (u + k) / clockTicks
	if kids, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid)); err == nil {
		for _, c := range strings.Fields(string(kids)) {
			if n, err := strconv.Atoi(c); err == nil {
				t += cpuSeconds(n)
			}
		}
	}
	return t
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat's times (100 on Linux).
const clockTicks = 100

// attack runs loadgen against url with keep-alive connections. rate 0 means
// closed-model, as fast as workers allow.
func attack(name, url string, hdr http.Header, rate int, du time.Duration, workers int, who sut) (run1, error) {
	var cpu0 [3]float64
	for i, pid := range who {
		cpu0[i] = cpuSeconds(pid)
	}
	opt := loadgen.Options{Name: name, Duration: du, Rate: float64(rate), Timeout: 10 * time.Second, KeepAlive: true,
		Workers: 64, MaxWorkers: 10000}
	if rate == 0 {
		opt.Workers = uint64(workers)
	}
	start := time.Now()
	lr, err := loadgen.Attack(context.Background(),
		[]loadgen.Tenant{{Name: name, Rate: 1, Target: vegeta.Target{Method: "GET", URL: url, Header: hdr}}}, opt)
	if err != nil {
		return run1{}, fmt.Errorf("%s: %w", name, err)
	}
	r := run1{Run: lr, rate: rate, wall: time.Since(start).Seconds()}
	for i, pid := range who {
		r.cpu[i] = cpuSeconds(pid) - cpu0[i]
	}
	return r, nil
}

// merge adds run b (same target, another round) into a.
func merge(a, b run1) run1 {
	if a.Run == nil {
		return b
	}
	a.Run.Merge(b.Run)
	for i := range a.cpu {
		a.cpu[i] += b.cpu[i]
	}
	a.wall += b.wall
	return a
}

func rssKB(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(v)
			if len(f) > 0 {
				return strconv.ParseInt(f[0], 10, 64)
			}
		}
	}
	return 0, errors.New("no VmRSS")
}

// idleConns opens n keep-alive connections to addr, sends one request on
// each and reads its response, leaving the connection open and idle.
func idleConns(addr, path string, n int) ([]net.Conn, error) {
	conns := make([]net.Conn, n)
	var mu sync.Mutex
	var firstErr error
	sem := make(chan struct{}, 100)
	var wg sync.WaitGroup
	req := "GET " + path + " HTTP/1.1\r\nHost: bench\r\nX-API-Key: bench-key\r\n\r\n"
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := net.DialTimeout("tcp", addr, 10*time.Second)
			if err == nil {
				_ = c.SetDeadline(time.Now().Add(30 * time.Second))
				if _, err = c.Write([]byte(req)); err == nil {
					var resp *http.Response
					if resp, err = http.ReadResponse(bufio.NewReader(c), nil); err == nil {
						_, _ = io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						if resp.StatusCode != 200 {
							err = fmt.Errorf("status %d", resp.StatusCode)
						}
					}
				}
				_ = c.SetDeadline(time.Time{})
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if firstErr == nil {
					firstErr = err
				}
				if c != nil {
					c.Close()
				}
				return
			}
			conns[i] = c
		}(i)
	}
	wg.Wait()
	return conns, firstErr
}

const nginxConf = `worker_processes %[4]d;
daemon off;
master_process on;
pid %[1]s/nginx.pid;
error_log %[1]s/nginx-error.log warn;
events { worker_connections 20000; }
http {
  access_log off;
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
  limit_req_zone $http_x_api_key zone=perkey:10m rate=1000000r/s;
  upstream app { server %[2]s; keepalive 512; }
  server {
    listen %[3]s;
    location /v1/ {
      limit_req zone=perkey burst=1000000 nodelay;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_pass http://app;
    }
  }
}
`

func run(o options, pin pinning) error {
	dir, err := os.MkdirTemp("", "gatewayd-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	ps := procs{pin: pin}
	defer ps.stopAll()
	var free addrs
	// Interrupted, the bench still stops what it started; a closed stdout
	// (| head) does not kill it before the cleanup either.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGPIPE)
	go func() {
		for sig := range sigs {
			if sig == syscall.SIGPIPE {
				continue
			}
			ps.stopAll()
			os.Exit(1)
		}
	}()
	hdr := http.Header{"X-Api-Key": []string{"bench-key"}}

	upAddr, _ := free.free()
	upCmd, err := ps.start(false, o.upstream, "-listen", upAddr, "-quiet")
	if err != nil {
		return err
	}
	if err := waitHTTP("http://"+upAddr+"/v1/x", nil); err != nil {
		return err
	}
	upPID := upCmd.Process.Pid
	redisAddr, _ := free.free()
	_, rport, _ := net.SplitHostPort(redisAddr)
	redisPID := 0
	if _, err := exec.LookPath("redis-server"); err != nil {
		fmt.Fprintln(os.Stderr, "redis-server not found: the Redis rows are skipped")
	} else {
		rc, err := ps.start(false, "redis-server", "--port", rport, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir)
		if err != nil {
			return err
		}
		redisPID = rc.Process.Pid
	}
	// The targets, in the order of every table: each with the processes whose
	// CPU time it accounts.
	type target struct {
		name, url string
		who       sut
		redis     bool // a gatewayd on the Redis store
	}
	targets := []target{{name: "direct upstream", url: "http://" + upAddr + "/v1/x", who: sut{0, upPID, 0}}}

	// The floor: a bare httputil.ReverseProxy, no gateway logic, so the
	// table separates Go's HTTP stack from what gatewayd adds.
	if exe, err := os.Executable(); err == nil {
		bareAddr, _ := free.free()
		bc, err := ps.start(true, exe, "-serve-bare-proxy", bareAddr, "-bare-upstream", "http://"+upAddr)
		if err != nil {
			return err
		}
		if err := waitHTTP("http://"+bareAddr+"/v1/x", hdr); err != nil {
			return fmt.Errorf("bare proxy: %w", err)
		}
		targets = append(targets, target{name: "bare Go ReverseProxy (floor)", url: "http://" + bareAddr + "/v1/x", who: sut{bc.Process.Pid, upPID, 0}})
	}
	if _, err := exec.LookPath("nginx"); err == nil {
		nginxAddr, _ := free.free()
		conf := filepath.Join(dir, "nginx.conf")
		if err := os.WriteFile(conf, []byte(fmt.Sprintf(nginxConf, dir, upAddr, nginxAddr, pin.nginxWorkers())), 0o600); err != nil {
			return err
		}
		nc, err := ps.start(true, "nginx", "-p", dir, "-c", conf)
		if err != nil {
			return err
		}
		if err := waitHTTP("http://"+nginxAddr+"/v1/x", hdr); err != nil {
			return fmt.Errorf("nginx: %w", err)
		}
		targets = append(targets, target{name: nginxName, url: "http://" + nginxAddr + "/v1/x", who: sut{nc.Process.Pid, upPID, 0}})
	} else {
		fmt.Fprintln(os.Stderr, "nginx not found: the nginx rows and the saturation ratio are skipped")
	}
	stores := []string{"memory"}
	if redisPID != 0 {
		stores = append(stores, "redis")
		if o.leaseBatch > 0 {
			stores = append(stores, "redis-lease")
		}
	}
	for _, store := range stores {
		cfg, err := gatewaydConfig(dir, "http://"+upAddr, gwConfig{store: store, redisAddr: redisAddr,
			disableParking: o.disableParking, leaseBatch: o.leaseBatch})
		if err != nil {
			return err
		}
		listen, _ := free.free()
		admin, _ := free.free()
		cmd, err := ps.start(true, o.gatewayd, "-config", cfg, "-listen", listen, "-admin-listen", admin, "-log-level", "error")
		if err != nil {
			return err
		}
		if err := waitHTTP("http://"+listen+"/v1/x", hdr); err != nil {
			return fmt.Errorf("gatewayd (%s): %w", store, err)
		}
		name := "gatewayd, " + store + " store"
		if store == "redis-lease" {
			name = fmt.Sprintf("gatewayd, redis store, leases of %g", o.leaseBatch)
		}
		t := target{name: name, url: "http://" + listen + "/v1/x", who: sut{cmd.Process.Pid, upPID, 0}}
		if store != "memory" {
			t.who[2], t.redis = redisPID, true
		}
		targets = append(targets, t)
	}

	// 1. Added latency at a constant rate.
	var lat []run1
	if strings.Contains(o.parts, "latency") {
		fmt.Fprintf(os.Stderr, "latency runs: %s rps for %v each\n", o.rates, o.duration)
		for _, rs := range strings.Split(o.rates, ",") {
			rate, err := strconv.Atoi(strings.TrimSpace(rs))
			if err != nil || rate <= 0 {
				return fmt.Errorf("-rates: bad rate %q", rs)
			}
			// Interleaved rounds, so a stall caused by other work on the
			// machine spreads over every target instead of spoiling one.
			for _, tg := range targets {
				if _, err := attack("warm-up", tg.url, hdr, rate, time.Second/2, 0, sut{}); err != nil {
					return err
				}
			}
			acc := make([]run1, len(targets))
			slice := o.duration / time.Duration(o.rounds)
			for round := 0; round < o.rounds; round++ {
				for i, tg := range targets {
					r, err := attack(tg.name, tg.url, hdr, rate, slice, 0, tg.who)
					if err != nil {
						return err
					}
					acc[i] = merge(acc[i], r)
				}
			}
			for _, r := range acc {
				fmt.Fprintf(os.Stderr, "  %5d rps %-40s sent %d ok %d p50 %v p99 %v cpu %.1f us/req errors %v\n",
					rate, r.Name, r.Sent, r.OK, r.lat().P50, r.lat().P99, 1e6*sum(r.cpu)/float64(max(1, r.Sent)), r.Errors())
				lat = append(lat, r)
			}
		}
	}

	// 2. Saturation throughput.
	var sat []run1
	if strings.Contains(o.parts, "saturation") {
		fmt.Fprintf(os.Stderr, "saturation runs: %d connections for %v each\n", o.satWorkers, o.satDuration)
		for _, tg := range targets {
			name := tg.name
			if strings.HasPrefix(name, "direct") {
				name += " (ceiling)"
			}
			if _, err := attack("warm-up", tg.url, hdr, 0, time.Second, o.satWorkers, sut{}); err != nil {
				return err
			}
			r, err := attack(name, tg.url, hdr, 0, o.satDuration, o.satWorkers, tg.who)
			if err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "  %-40s %.0f req/s ok %d p99 %v errors %v\n", r.Name, r.Throughput(), r.OK, r.lat().P99, r.Errors())
			sat = append(sat, r)
		}
	}

	// 3. Memory with idle keep-alive connections, on a fresh gatewayd.
	if !strings.Contains(o.parts, "memory") {
		md, err := report(o, pin, lat, sat, nil)
		if err != nil {
			return err
		}
		fmt.Print(md)
		return nil
	}
	var mems []memRow
	for _, dp := range []bool{false, true} {
		m, err := measureMemory(o, &ps, &free, dir, upAddr, redisAddr, hdr, dp)
		if err != nil {
			return err
		}
		mems = append(mems, m)
	}

	md, err := report(o, pin, lat, sat, mems)
	if err != nil {
		return err
	}
	fmt.Print(md)
	if o.out != "" {
		if err := os.MkdirAll(filepath.Dir(o.out), 0o755); err != nil {
			return err
		}
		return os.WriteFile(o.out, []byte(md), 0o644)
	}
	return nil
}

// memRow is one memory measurement.
type memRow struct {
	parking    bool
	rss0, rss1 int64 // KB
	open       int
}

// measureMemory starts a fresh gatewayd (memory store), opens the idle
// keep-alive connections and reads its resident memory.
func measureMemory(o options, ps *procs, free *addrs, dir, upAddr, redisAddr string, hdr http.Header, noPark bool) (memRow, error) {
	m := memRow{parking: !noPark}
	cfg, err := gatewaydConfig(dir, "http://"+upAddr, gwConfig{store: "memory", redisAddr: redisAddr, disableParking: noPark})
	if err != nil {
		return m, err
	}
	listen, _ := free.free()
	admin, _ := free.free()
	cmd, err := ps.start(true, o.gatewayd, "-config", cfg, "-listen", listen, "-admin-listen", admin, "-log-level", "error")
	if err != nil {
		return m, err
	}
	defer func() { _ = cmd.Process.Signal(syscall.SIGTERM) }()
	if err := waitHTTP("http://"+listen+"/v1/x", hdr); err != nil {
		return m, err
	}
	if m.rss0, err = rssKB(cmd.Process.Pid); err != nil {
		return m, fmt.Errorf("rss: %w", err)
	}
	fmt.Fprintf(os.Stderr, "memory (parking %v): opening %d keep-alive connections\n", m.parking, o.idleConns)
	conns, cerr := idleConns(listen, "/v1/x", o.idleConns)
	for _, c := range conns {
		if c != nil {
			m.open++
		}
	}
	time.Sleep(o.settle) // let the runtime settle; RSS is read, not timed
	m.rss1, err = rssKB(cmd.Process.Pid)
	for _, c := range conns {
		if c != nil {
			c.Close()
		}
	}
	if err != nil {
		return m, fmt.Errorf("rss with connections open (did gatewayd exit?): %w", err)
	}
	fmt.Fprintf(os.Stderr, "  RSS %d KB idle, %d KB with %d connections open (err %v)\n", m.rss0, m.rss1, m.open, cerr)
	return m, nil
}

// nginxName is the nginx target's row name.
const nginxName = "nginx proxy_pass + limit_req"

func sum(v [3]float64) float64 { return v[0] + v[1] + v[2] }

// cpuSplitUS is a run's CPU per request sent, in µs: total (proxy + upstream
// + redis-server), the parts that ran omitted.
func cpuSplitUS(r run1) string {
	if r.Run == nil || r.Sent == 0 || r.wall == 0 {
		return "-"
	}
	per := func(v float64) float64 { return 1e6 * v / float64(r.Sent) }
	parts := []string{}
	for i, v := range r.cpu {
		if i == 0 || v > 0 {
			parts = append(parts, fmt.Sprintf("%.0f", per(v)))
		} else {
			parts = append(parts, "0")
		}
	}
	return fmt.Sprintf("%.0f = %s", per(sum(r.cpu)), strings.Join(parts, " + "))
}

// busy is the share of the system under test's CPUs its processes used.
func busy(r run1, p pinning) string {
	if r.wall == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f%%", 100*sum(r.cpu)/r.wall/float64(p.nSUTOr1()))
}

// nSUTOr1 is how many CPUs the system under test runs on: its half when
// pinned, else all of them.
func (p pinning) nSUTOr1() int {
	if p.mode == "sut" && p.nSUT > 0 {
		return p.nSUT
	}
	return runtime.NumCPU()
}

// serveBare runs a bare httputil.ReverseProxy to upstream with gatewayd's
// transport settings and nothing else (no auth, limiter, ledger or metrics),
// until SIGTERM: the floor Go's HTTP stack sets on this machine.
func serveBare(addr, upstream string) error {
	u, err := url.Parse(upstream)
	if err != nil || u.Host == "" {
		return fmt.Errorf("-bare-upstream: want an http URL, got %q", upstream)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.Transport = &http.Transport{MaxIdleConns: 512, MaxIdleConnsPerHost: 512, IdleConnTimeout: 90 * time.Second}
	srv := &http.Server{Addr: addr, Handler: rp, ReadHeaderTimeout: 5 * time.Second}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go func() { <-sigs; _ = srv.Close() }()
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "model name"); ok {
			return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
		}
	}
	return "unknown CPU"
}

func report(o options, pin pinning, lat, sat []run1, mems []memRow) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "# gatewayd benchmarks\n\n")
	ncpu := runtime.NumCPU()
	if v, err := strconv.Atoi(os.Getenv(pinnedEnv)); err == nil {
		ncpu = v
	}
	fmt.Fprintf(&b, "Measured by `make bench-gatewayd` (gatewayd/cmd/gatewayd-bench) on %s, %d CPUs (%s), %s, %s.\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), ncpu, cpuModel(), runtime.Version(), runtime.GOOS+"/"+runtime.GOARCH)
	fmt.Fprintf(&b, "Everything runs on the same machine over loopback: the load generator (internal/loadgen: vegeta's library,\n"+
		"open model, constant pacer, HDR histograms), the demo upstream (no service time), redis-server, gatewayd and nginx.\n")
	switch pin.mode {
	case "proxy":
		fmt.Fprintf(&b, "The CPUs are split with taskset (`-pin proxy`): the proxy under test (gatewayd or nginx) alone on CPU %s,\n"+
			"the load generator, the demo upstream and redis-server on CPU %s, as if the gateway had its own host; gatewayd\n"+
			"runs with GOMAXPROCS %d and nginx with %d worker(s).\n", pin.sutCPUs, pin.loadCPUs, pin.nSUT, pin.nginxWorkers())
	case "sut":
		fmt.Fprintf(&b, "The CPUs are split with taskset (`-pin sut`): the load generator on CPU %s, the system under test (demo\n"+
			"upstream, redis-server, gatewayd or nginx) on CPU %s; gatewayd runs with GOMAXPROCS %d and nginx with %d worker(s).\n",
			pin.loadCPUs, pin.sutCPUs, pin.nSUT, pin.nginxWorkers())
	default:
		fmt.Fprintf(&b, "The CPUs are not split (-pin=off or one CPU): the load generator competes with the system under test.\n")
	}
	fmt.Fprintf(&b, "Other work on the machine makes absolute figures noisy; ratios measured in one run are the result.\n"+
		"Every gateway admits every request (limits far above the load): the full path is measured (API-key auth,\n"+
		"pricing, the limiter's store call, proxy, ledger append).\n\n")

	fmt.Fprintf(&b, "## Latency added over a direct call (open model, constant rate, keep-alive)\n\n")
	fmt.Fprintf(&b, "Latency is of 2xx answers. CPU per request is the user + system time of the system under test's processes\n"+
		"during the run (from /proc), split as proxy + upstream + redis-server; busy is their total over the run's wall\n"+
		"time, as a share of the %d CPU(s) they run on. A proxy's own cost per request is what decides the rate its CPU\n"+
		"can carry.\n\n", max(1, pin.nSUTOr1()))
	fmt.Fprintf(&b, "Each target gets %v at each rate, in %d interleaved rounds (every target in turn, then again), so\n"+
		"a stall caused by other work on the machine spreads over every target.\n\n", o.duration, o.rounds)
	var base loadgen.Latency
	var verdicts []string
	under := map[string][]string{} // target -> rates with added p99 < 1 ms
	var order []string
	var rows []loadgen.Row
	for _, r := range lat {
		added50, added99 := "-", "-"
		l := r.lat()
		if strings.HasPrefix(r.Name, "direct") {
			base = l
			if want := float64(r.rate) * o.duration.Seconds(); float64(r.Sent) < 0.95*want {
				verdicts = append(verdicts, fmt.Sprintf("At %d rps the load generator could not keep pace even against the bare upstream "+
					"(%d of %.0f requests sent): on this machine that rate measures CPU saturation, not the gateway.", r.rate, r.Sent, want))
			}
		} else {
			added50, added99 = loadgen.MS(l.P50-base.P50), loadgen.MS(l.P99-base.P99)
		}
		rows = append(rows, loadgen.Row{Run: r.Run, Extra: []string{added50, added99, cpuSplitUS(r), busy(r, pin)}})
		if strings.HasPrefix(r.Name, "direct") {
			continue
		}
		if _, ok := under[r.Name]; !ok {
			order = append(order, r.Name)
			under[r.Name] = nil
		}
		held := r.OK == r.Sent && float64(r.Sent) >= 0.95*float64(r.rate)*o.duration.Seconds()
		if held && l.P99-base.P99 < time.Millisecond {
			under[r.Name] = append(under[r.Name], strconv.Itoa(r.rate))
		}
		if strings.Contains(r.Name, "redis") && r.rate == 5000 {
			verdict := "met"
			if l.P99-base.P99 >= time.Millisecond || !held {
				verdict = "NOT met"
			}
			verdicts = append(verdicts, fmt.Sprintf("Target p99 added < 1 ms at 5000 rps with the Redis store (%s): **%s** (added p99 %s, %d of %d requests sent and answered 200).",
				r.Name, verdict, loadgen.MS(l.P99-base.P99), r.OK, int(float64(r.rate)*o.duration.Seconds())))
		}
	}
	if err := loadgen.Table(&b, []string{"added p50", "added p99", "CPU µs/request", "busy"}, rows); err != nil {
		return "", err
	}
	if len(verdicts) > 0 {
		fmt.Fprintf(&b, "\n%s\n", strings.Join(verdicts, "\n\n"))
	}
	if len(order) > 0 {
		fmt.Fprintf(&b, "\nRates (of those measured) at which each proxy added under 1 ms at p99 and answered every request 200:\n\n")
		for _, n := range order {
			rs := strings.Join(under[n], ", ")
			if rs == "" {
				rs = "none"
			}
			fmt.Fprintf(&b, "- %s: %s\n", n, rs)
		}
	}

	if len(sat) > 0 {
		fmt.Fprintf(&b, "\n## Saturation throughput (%d keep-alive connections, as fast as they go, %v)\n\n", o.satWorkers, o.satDuration)
		var ngx float64
		for _, r := range sat {
			if r.Name == nginxName {
				ngx = r.Throughput()
			}
		}
		var rows []loadgen.Row
		for _, r := range sat {
			ratio := "-"
			if ngx > 0 {
				ratio = fmt.Sprintf("%.2f", r.Throughput()/ngx)
			}
			rows = append(rows, loadgen.Row{Run: r.Run, Extra: []string{ratio, cpuSplitUS(r)}})
		}
		if err := loadgen.Table(&b, []string{"2xx/s ratio to nginx", "CPU µs/request"}, rows); err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "\nThe direct row is the ceiling: the bare upstream, driven by the same load generator. nginx: Debian's package,\n"+
			"`worker_processes %d`, `limit_req zone=perkey burst=1000000 nodelay` keyed on `$http_x_api_key`, upstream\n"+
			"keepalive 512, access log off. gatewayd: default settings (GOMAXPROCS from its CPUs), ledger on with durability batch (batched, fsynced; sync against batch is in docs/benchmarks/ledger.md).\n",
			pin.nginxWorkers())
	}

	if len(mems) > 0 {
		fmt.Fprintf(&b, "\n## Resident memory with idle keep-alive connections\n\n")
		fmt.Fprintf(&b, "A fresh gatewayd (memory store); each connection makes one request and then stays open and idle.\n\n")
		fmt.Fprintf(&b, "| idle connections | parking | RSS before | RSS with the connections open |\n|---|---|---|---|\n")
		for _, m := range mems {
			park := "on (default)"
			if !m.parking {
				park = "off (`server.disable_parking`)"
			}
			fmt.Fprintf(&b, "| %d | %s | %.1f MB | %.1f MB |\n", m.open, park, float64(m.rss0)/1024, float64(m.rss1)/1024)
		}
		m := mems[0]
		verdict := "met"
		if m.rss1 >= 64*1024 || m.open < o.idleConns {
			verdict = "NOT met"
		}
		fmt.Fprintf(&b, "\nTarget < 64 MB with %d idle keep-alive connections (the seed claimed 128 MB): **%s** (%.1f MB with parking).\n",
			o.idleConns, verdict, float64(m.rss1)/1024)
	}
	b.WriteString(notes)
	return b.String(), nil
}

// notes explain the figures; the same text follows every run's tables.
const notes = `
## Reading these figures

- The rows. *direct upstream* is the baseline every "added" figure is taken against. *bare Go ReverseProxy* is
  net/http's server and httputil.ReverseProxy with gatewayd's transport settings and nothing else (no auth,
  limiter, ledger or metrics): the floor any gateway built on Go's HTTP stack starts from on this machine.
  *nginx* is the C reference. The three gatewayd rows are the full request path with the memory store, with the
  Redis store deciding every request, and with the Redis store behind local leases (` + "`store.lease`" + `: one Redis call takes
  a batch of tokens for the key, and the node admits from it until it runs out or its TTL passes; docs/gatewayd.md).
- CPU per request decides everything else here. With the CPU split (the default) the system under test has one CPU
  for the upstream, redis-server and the proxy together, so at a rate R the busy share is R x (CPU per request).
  A queue grows without bound as busy nears 100%, and long before that its tail is what p99 measures: the rows
  whose busy share is high are the rows whose added p99 explodes. Compare a proxy's CPU per request with the
  bare Go floor to see what gatewayd itself costs, and with nginx to see what the Go stack costs.
- Where the time goes on this machine (perf and pprof, memory store): this is a paravirtualized VM with page-table
  isolation, where every system call and every context switch is expensive (perf shows about 40% of gatewayd's
  cycles in the hypervisor's interrupt-enable path after context switches and socket wake-ups). A Go proxy makes
  about 3 context switches per request (its goroutines' network waits plus the runtime's sysmon and thread
  hand-offs) against nginx's 1.5, and the rest of its cost is net/http's server, http.Transport's read and write
  loops, header copying and garbage collection. gatewayd's own code (auth, limiter, pricing, headers, metrics,
  ledger) is the difference between its memory row and the bare floor.
- With the Redis store every request is decided by the engine's Lua script on redis-server before it is proxied;
  requests that arrive while a round trip is in flight share the next one (one pipelined ApplyBatch). The round
  trip costs gatewayd (go-redis, the batcher) and redis-server CPU on the same core. Leases take that cost off
  most requests, at the price of a bounded over-admission (nodes x batch over any window) and leases spent for up
  to their TTL while Redis is down. When the CPU is starved, round trips exceed the store timeout, the circuit
  breaker opens and the bench tier, which fails closed, answers 503: that is the failure policy working.
- The load generator and the system under test share one machine; with the split they do not compete for a CPU,
  but other work on the machine still can, and an added p99 can come out negative when the direct row drew the
  longer stall. Run ` + "`make bench-gatewayd`" + ` on a quiet host with more cores (ideally the load generator, the upstream
  and Redis on other hosts) for absolute figures.
- Parking (gatewayd/park) is what keeps idle keep-alive connections cheap: without it net/http holds a goroutine
  and about 8 KiB of buffers per connection. The second memory row shows the same gateway with it turned off.
`

// Pinning. On one machine the load generator and the system under test
// compete for the same CPUs, and whichever proxy costs less leaves more CPU
// to the load generator, which skews a saturation ratio. With -pin the bench
// re-executes itself under taskset on the first half of the CPUs (the load
// generator, vegeta, runs in this process) and starts every process of the
// system under test (demo upstream, redis-server, gatewayd, nginx) on the
// second half. nginx gets as many workers as gatewayd gets GOMAXPROCS.
type pinning struct {
	// mode is "proxy", "sut" or "" (not pinned).
	mode              string
	loadCPUs, sutCPUs string
	// nSUT is how many CPUs the system under test gets (0: not pinned).
	nSUT int
}

// cpusFor returns the taskset CPU list for a process: the proxy under test
// on the second half; the upstream and redis-server on the first half
// (-pin proxy) or the second (-pin sut); "" when not pinned.
func (p pinning) cpusFor(proxy bool) string {
	switch {
	case p.mode == "":
		return ""
	case proxy || p.mode == "sut":
		return p.sutCPUs
	}
	return p.loadCPUs
}

const pinnedEnv = "GATEWAYD_BENCH_PINNED"

// cpuSplit returns the two halves of CPUs 0..n-1 as taskset lists.
func cpuSplit(n int) (load, sut string, nsut int) {
	h := n / 2
	list := func(a, b int) string {
		if a == b-1 {
			return strconv.Itoa(a)
		}
		return fmt.Sprintf("%d-%d", a, b-1)
	}
	return list(0, h), list(h, n), n - h
}

// pinSelf re-executes the bench under taskset on the load generator's CPUs
// (once; the environment marks the pinned run) and returns the split.
func pinSelf(mode string) (pinning, error) {
	n := runtime.NumCPU()
	if v := os.Getenv(pinnedEnv); v != "" {
		n, _ = strconv.Atoi(v)
	}
	if n < 2 {
		return pinning{}, fmt.Errorf("%d CPU: nothing to split", n)
	}
	ts, err := exec.LookPath("taskset")
	if err != nil {
		return pinning{}, err
	}
	p := pinning{mode: mode}
	p.loadCPUs, p.sutCPUs, p.nSUT = cpuSplit(n)
	if os.Getenv(pinnedEnv) != "" {
		return p, nil
	}
	if p.sutCPUs == "" { // unreachable; keeps the split well-formed
		return pinning{}, errors.New("no CPUs for the proxy")
	}
	exe, err := os.Executable()
	if err != nil {
		return pinning{}, err
	}
	env := append(os.Environ(), pinnedEnv+"="+strconv.Itoa(n))
	return pinning{}, syscall.Exec(ts, append([]string{"taskset", "-c", p.loadCPUs, exe}, os.Args[1:]...), env)
}

// nginxWorkers is nginx's worker count: the SUT's CPUs when pinned, else
// one per CPU (as worker_processes auto would choose).
func (p pinning) nginxWorkers() int {
	if p.nSUT > 0 {
		return p.nSUT
	}
	return runtime.NumCPU()
}
