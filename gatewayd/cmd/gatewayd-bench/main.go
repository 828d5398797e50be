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
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	vegeta "github.com/tsenart/vegeta/v12/lib"
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
	switch o.pin {
	case "off":
	case "proxy", "sut":
		pinMode = o.pin
		if err := pinSelf(); err != nil {
			fmt.Fprintln(os.Stderr, "gatewayd-bench: not pinning CPUs:", err)
			pinMode = ""
		}
	default:
		fmt.Fprintf(os.Stderr, "gatewayd-bench: -pin: want proxy, sut or off, got %q\n", o.pin)
		os.Exit(2)
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "gatewayd-bench:", err)
		os.Exit(1)
	}
}

// procs tracks the processes started, stopped in reverse order. Safe for
// concurrent use (a signal may stop them while the bench starts more).
type procs struct {
	mu   sync.Mutex
	list []*exec.Cmd
}

// start starts a process; proxy marks the proxy under test (gatewayd or
// nginx), which runs on its own CPUs when the bench pins (see pinSelf).
func (p *procs) start(proxy bool, name string, args ...string) (*exec.Cmd, error) {
	if cpus := cpusFor(proxy); cpus != "" {
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

// used remembers the addresses handed out, so two calls never return the
// same port (the kernel may reuse a just-closed one).
var used = map[string]bool{}

func freeAddr() (string, error) {
	for {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", err
		}
		a := l.Addr().String()
		l.Close()
		if !used[a] {
			used[a] = true
			return a, nil
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

var disableParking bool

// leaseBatch is store.lease.batch of the "redis-lease" gateway.
var leaseBatch float64

func gatewaydConfig(dir, upstream, store, redisAddr string) (string, error) {
	st := "store: {kind: memory}\n"
	switch store {
	case "redis":
		st = fmt.Sprintf("store:\n  kind: redis\n  redis: {addr: %s, timeout: 200ms, pool_size: 128}\n", redisAddr)
	case "redis-lease":
		st = fmt.Sprintf("store:\n  kind: redis\n  redis: {addr: %s, timeout: 200ms, pool_size: 128, prefix: tgl}\n  lease: {batch: %g, ttl: 1s}\n",
			redisAddr, leaseBatch)
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
ledger: {dir: %s}
`, st, disableParking, benchKeyHash, upstream, filepath.Join(dir, "ledger-"+store))
	p := filepath.Join(dir, "gatewayd-"+store+".yaml")
	return p, os.WriteFile(p, []byte(cfg), 0o600)
}

// benchKeyHash is the SHA-256 of "bench-key".
const benchKeyHash = "b0962662e937d44c699c8305d90cbf190b3150c59b13863d1380b5cc3c711bb7"

type latency struct{ p50, p99, p999, max time.Duration }

type run1 struct {
	hist       *hdrhistogram.Histogram
	name       string
	rate       int
	sent, ok   int
	errs       map[string]int
	lat        latency
	throughput float64
	// cpu is the CPU time (user + system) the system under test's processes
	// used during the run: the proxy, the upstream and redis-server.
	cpu  [3]float64
	wall float64 // seconds the attack lasted
}

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

// attack runs vegeta against url. rate 0 means as fast as workers allow.
func attack(name, url string, hdr http.Header, rate int, du time.Duration, workers int, who sut) run1 {
	var cpu0 [3]float64
	for i, pid := range who {
		cpu0[i] = cpuSeconds(pid)
	}
	// Our own transport, so the attack's connections are closed afterwards
	// and do not pile up across runs.
	ht := &http.Transport{MaxIdleConns: 10000, MaxIdleConnsPerHost: 10000, IdleConnTimeout: 30 * time.Second,
		DialContext: (&net.Dialer{Timeout: 10 * time.Second}).DialContext}
	defer ht.CloseIdleConnections()
	opts := []func(*vegeta.Attacker){vegeta.Client(&http.Client{Transport: ht, Timeout: 10 * time.Second}),
		vegeta.KeepAlive(true), vegeta.MaxBody(0)}
	var pacer vegeta.Pacer = vegeta.ConstantPacer{Freq: rate, Per: time.Second}
	if rate == 0 {
		pacer = vegeta.ConstantPacer{}
		opts = append(opts, vegeta.Workers(uint64(workers)), vegeta.MaxWorkers(uint64(workers)))
	} else {
		opts = append(opts, vegeta.Workers(64))
	}
	a := vegeta.NewAttacker(opts...)
	tr := vegeta.NewStaticTargeter(vegeta.Target{Method: "GET", URL: url, Header: hdr})
	h := hdrhistogram.New(1, int64(30*time.Second/time.Microsecond), 3)
	r := run1{name: name, rate: rate, errs: map[string]int{}}
	start := time.Now()
	var first, last time.Time
	for res := range a.Attack(tr, pacer, du, name) {
		r.sent++
		if res.Code == 200 && res.Error == "" {
			r.ok++
			_ = h.RecordValue(res.Latency.Microseconds())
		} else {
			e := res.Error
			if e == "" {
				e = strconv.Itoa(int(res.Code))
			}
			r.errs[e]++
		}
		if first.IsZero() || res.Timestamp.Before(first) {
			first = res.Timestamp
		}
		if end := res.End(); end.After(last) {
			last = end
		}
	}
	r.wall = time.Since(start).Seconds()
	for i, pid := range who {
		r.cpu[i] = cpuSeconds(pid) - cpu0[i]
	}
	el := last.Sub(first)
	if el <= 0 {
		el = time.Since(start)
	}
	r.throughput = float64(r.ok) / el.Seconds()
	us := func(q float64) time.Duration { return time.Duration(h.ValueAtQuantile(q)) * time.Microsecond }
	r.lat = latency{p50: us(50), p99: us(99), p999: us(99.9), max: time.Duration(h.Max()) * time.Microsecond}
	r.hist = h
	return r
}

// merge adds run b (same target, another round) into a.
func merge(a, b run1) run1 {
	if a.hist == nil {
		return b
	}
	a.hist.Merge(b.hist)
	for i := range a.cpu {
		a.cpu[i] += b.cpu[i]
	}
	a.wall += b.wall
	a.sent += b.sent
	a.ok += b.ok
	for k, v := range b.errs {
		a.errs[k] += v
	}
	h := a.hist
	us := func(q float64) time.Duration { return time.Duration(h.ValueAtQuantile(q)) * time.Microsecond }
	a.lat = latency{p50: us(50), p99: us(99), p999: us(99.9), max: time.Duration(h.Max()) * time.Microsecond}
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

func run(o options) error {
	disableParking = o.disableParking
	dir, err := os.MkdirTemp("", "gatewayd-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	var ps procs
	defer ps.stopAll()
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

	leaseBatch = o.leaseBatch
	upAddr, _ := freeAddr()
	upCmd, err := ps.start(false, o.upstream, "-listen", upAddr, "-quiet")
	if err != nil {
		return err
	}
	if err := waitHTTP("http://"+upAddr+"/v1/x", nil); err != nil {
		return err
	}
	upPID := upCmd.Process.Pid
	redisAddr, _ := freeAddr()
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
		bareAddr, _ := freeAddr()
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
		nginxAddr, _ := freeAddr()
		conf := filepath.Join(dir, "nginx.conf")
		if err := os.WriteFile(conf, []byte(fmt.Sprintf(nginxConf, dir, upAddr, nginxAddr, nginxWorkers())), 0o600); err != nil {
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
		cfg, err := gatewaydConfig(dir, "http://"+upAddr, store, redisAddr)
		if err != nil {
			return err
		}
		listen, _ := freeAddr()
		admin, _ := freeAddr()
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
				_ = attack("warm-up", tg.url, hdr, rate, time.Second/2, 0, sut{})
			}
			acc := make([]run1, len(targets))
			slice := o.duration / time.Duration(o.rounds)
			for round := 0; round < o.rounds; round++ {
				for i, tg := range targets {
					acc[i] = merge(acc[i], attack(tg.name, tg.url, hdr, rate, slice, 0, tg.who))
				}
			}
			for _, r := range acc {
				fmt.Fprintf(os.Stderr, "  %5d rps %-40s sent %d ok %d p50 %v p99 %v cpu %.1f us/req errors %v\n",
					rate, r.name, r.sent, r.ok, r.lat.p50, r.lat.p99, 1e6*sum(r.cpu)/float64(max(1, r.sent)), r.errs)
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
			_ = attack("warm-up", tg.url, hdr, 0, time.Second, o.satWorkers, sut{})
			r := attack(name, tg.url, hdr, 0, o.satDuration, o.satWorkers, tg.who)
			fmt.Fprintf(os.Stderr, "  %-40s %.0f req/s ok %d p99 %v errors %v\n", r.name, r.throughput, r.ok, r.lat.p99, r.errs)
			sat = append(sat, r)
		}
	}

	// 3. Memory with idle keep-alive connections, on a fresh gatewayd.
	if !strings.Contains(o.parts, "memory") {
		md := report(o, lat, sat, nil)
		fmt.Print(md)
		return nil
	}
	var mems []memRow
	for _, dp := range []bool{false, true} {
		m, err := measureMemory(o, &ps, dir, upAddr, redisAddr, hdr, dp)
		if err != nil {
			return err
		}
		mems = append(mems, m)
	}

	md := report(o, lat, sat, mems)
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
func measureMemory(o options, ps *procs, dir, upAddr, redisAddr string, hdr http.Header, noPark bool) (memRow, error) {
	disableParking = noPark
	defer func() { disableParking = o.disableParking }()
	m := memRow{parking: !noPark}
	cfg, err := gatewaydConfig(dir, "http://"+upAddr, "memory", redisAddr)
	if err != nil {
		return m, err
	}
	listen, _ := freeAddr()
	admin, _ := freeAddr()
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
	if r.sent == 0 || r.wall == 0 {
		return "-"
	}
	per := func(v float64) float64 { return 1e6 * v / float64(r.sent) }
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
func busy(r run1) string {
	if r.wall == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f%%", 100*sum(r.cpu)/r.wall/float64(nSUTOr1()))
}

// nSUTOr1 is how many CPUs the system under test runs on: its half when
// pinned, else all of them.
func nSUTOr1() int {
	if pinMode == "sut" && nSUT > 0 {
		return nSUT
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

func ms(d time.Duration) string { return fmt.Sprintf("%.3f ms", float64(d.Microseconds())/1000) }

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

func errSummary(m map[string]int) string {
	if len(m) == 0 {
		return "0"
	}
	keys := make([]string, 0, len(m))
	n := 0
	for k, v := range m {
		keys = append(keys, k)
		n += v
	}
	sort.Strings(keys)
	return fmt.Sprintf("%d (%s)", n, strings.Join(keys, "; "))
}

func report(o options, lat, sat []run1, mems []memRow) string {
	if len(lat) == 0 {
		lat = []run1{{name: "none"}}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# gatewayd benchmarks\n\n")
	ncpu := runtime.NumCPU()
	if v, err := strconv.Atoi(os.Getenv(pinnedEnv)); err == nil {
		ncpu = v
	}
	fmt.Fprintf(&b, "Measured by `make bench-gatewayd` (gatewayd/cmd/gatewayd-bench) on %s, %d CPUs (%s), %s, %s.\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), ncpu, cpuModel(), runtime.Version(), runtime.GOOS+"/"+runtime.GOARCH)
	fmt.Fprintf(&b, "Everything runs on the same machine over loopback: the load generator (vegeta library, open model,\n"+
		"constant pacer), the demo upstream (no service time), redis-server, gatewayd and nginx.\n")
	switch pinMode {
	case "proxy":
		fmt.Fprintf(&b, "The CPUs are split with taskset (`-pin proxy`): the proxy under test (gatewayd or nginx) alone on CPU %s,\n"+
			"the load generator, the demo upstream and redis-server on CPU %s, as if the gateway had its own host; gatewayd\n"+
			"runs with GOMAXPROCS %d and nginx with %d worker(s).\n", sutCPUs, loadCPUs, nSUT, nginxWorkers())
	case "sut":
		fmt.Fprintf(&b, "The CPUs are split with taskset (`-pin sut`): the load generator on CPU %s, the system under test (demo\n"+
			"upstream, redis-server, gatewayd or nginx) on CPU %s; gatewayd runs with GOMAXPROCS %d and nginx with %d worker(s).\n",
			loadCPUs, sutCPUs, nSUT, nginxWorkers())
	default:
		fmt.Fprintf(&b, "The CPUs are not split (-pin=false or one CPU): the load generator competes with the system under test.\n")
	}
	fmt.Fprintf(&b, "Other work on the machine makes absolute figures noisy; ratios measured in one run are the result.\n"+
		"Every gateway admits every request (limits far above the load): the full path is measured (API-key auth,\n"+
		"pricing, the limiter's store call, proxy, ledger append).\n\n")

	fmt.Fprintf(&b, "## Latency added over a direct call (open model, constant rate, keep-alive)\n\n")
	fmt.Fprintf(&b, "CPU per request is the user + system time of the system under test's processes during the run (from\n"+
		"/proc), split as proxy + upstream + redis-server; busy is their total over the run's wall time, as a share of\n"+
		"the %d CPU(s) they run on. A proxy's own cost per request is what decides the rate its CPU can carry.\n\n", max(1, nSUTOr1()))
	fmt.Fprintf(&b, "Each target gets %v at each rate, in %d interleaved rounds (every target in turn, then again), so\n"+
		"a stall caused by other work on the machine spreads over every target.\n\n", o.duration, o.rounds)
	fmt.Fprintf(&b, "| rate | target | sent | ok | errors | p50 | p99 | p99.9 | added p50 | added p99 | CPU µs/request | busy |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	var base latency
	var verdicts []string
	under := map[string][]string{} // target -> rates with added p99 < 1 ms
	var order []string
	for _, r := range lat {
		if r.name == "none" {
			continue
		}
		added50, added99 := "-", "-"
		if strings.HasPrefix(r.name, "direct") {
			base = r.lat
			if want := float64(r.rate) * o.duration.Seconds(); float64(r.sent) < 0.95*want {
				verdicts = append(verdicts, fmt.Sprintf("At %d rps the load generator could not keep pace even against the bare upstream "+
					"(%d of %.0f requests sent): on this machine that rate measures CPU saturation, not the gateway.", r.rate, r.sent, want))
			}
		} else {
			added50, added99 = ms(r.lat.p50-base.p50), ms(r.lat.p99-base.p99)
		}
		fmt.Fprintf(&b, "| %d | %s | %d | %d | %s | %s | %s | %s | %s | %s | %s | %s |\n", r.rate, r.name, r.sent,
			r.ok, errSummary(r.errs), ms(r.lat.p50), ms(r.lat.p99), ms(r.lat.p999), added50, added99, cpuSplitUS(r), busy(r))
		if strings.HasPrefix(r.name, "direct") {
			continue
		}
		if _, ok := under[r.name]; !ok {
			order = append(order, r.name)
			under[r.name] = nil
		}
		held := r.ok == r.sent && float64(r.sent) >= 0.95*float64(r.rate)*o.duration.Seconds()
		if held && r.lat.p99-base.p99 < time.Millisecond {
			under[r.name] = append(under[r.name], strconv.Itoa(r.rate))
		}
		if strings.Contains(r.name, "redis") && r.rate == 5000 {
			verdict := "met"
			if r.lat.p99-base.p99 >= time.Millisecond || !held {
				verdict = "NOT met"
			}
			verdicts = append(verdicts, fmt.Sprintf("Target p99 added < 1 ms at 5000 rps with the Redis store (%s): **%s** (added p99 %s, %d of %d requests sent and answered 200).",
				r.name, verdict, ms(r.lat.p99-base.p99), r.ok, int(float64(r.rate)*o.duration.Seconds())))
		}
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
		fmt.Fprintf(&b, "| target | ok | errors | req/s | p99 | ratio to nginx | CPU µs/request |\n|---|---|---|---|---|---|---|\n")
		var ngx float64
		for _, r := range sat {
			if r.name == nginxName {
				ngx = r.throughput
			}
		}
		for _, r := range sat {
			ratio := "-"
			if ngx > 0 {
				ratio = fmt.Sprintf("%.2f", r.throughput/ngx)
			}
			fmt.Fprintf(&b, "| %s | %d | %s | %.0f | %s | %s | %s |\n", r.name, r.ok, errSummary(r.errs), r.throughput, ms(r.lat.p99), ratio, cpuSplitUS(r))
		}
		fmt.Fprintf(&b, "\nThe direct row is the ceiling: the bare upstream, driven by the same load generator. nginx: Debian's package,\n"+
			"`worker_processes %d`, `limit_req zone=perkey burst=1000000 nodelay` keyed on `$http_x_api_key`, upstream\n"+
			"keepalive 512, access log off. gatewayd: default settings (GOMAXPROCS from its CPUs), ledger on (batched, fsynced).\n",
			nginxWorkers())
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
	return b.String()
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
var (
	loadCPUs, sutCPUs string
	nSUT              int
	pinMode           string // "proxy", "sut" or "" (not pinned)
)

// cpusFor returns the taskset CPU list for a process: the proxy under test
// on the second half; the upstream and redis-server on the first half
// (-pin proxy) or the second (-pin sut); "" when not pinned.
func cpusFor(proxy bool) string {
	switch {
	case pinMode == "":
		return ""
	case proxy || pinMode == "sut":
		return sutCPUs
	}
	return loadCPUs
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
// (once; the environment marks the pinned run) and records the SUT's CPUs.
func pinSelf() error {
	n := runtime.NumCPU()
	if v := os.Getenv(pinnedEnv); v != "" {
		n, _ = strconv.Atoi(v)
	}
	if n < 2 {
		return fmt.Errorf("%d CPU: nothing to split", n)
	}
	ts, err := exec.LookPath("taskset")
	if err != nil {
		return err
	}
	loadCPUs, sutCPUs, nSUT = cpuSplit(n)
	if os.Getenv(pinnedEnv) != "" {
		return nil
	}
	if sutCPUs == "" { // unreachable; keeps the split well-formed
		return errors.New("no CPUs for the proxy")
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	env := append(os.Environ(), pinnedEnv+"="+strconv.Itoa(n))
	return syscall.Exec(ts, append([]string{"taskset", "-c", loadCPUs, exe}, os.Args[1:]...), env)
}

// nginxWorkers is nginx's worker count: the SUT's CPUs when pinned, else
// one per CPU (as worker_processes auto would choose).
func nginxWorkers() int {
	if nSUT > 0 {
		return nSUT
	}
	return runtime.NumCPU()
}
