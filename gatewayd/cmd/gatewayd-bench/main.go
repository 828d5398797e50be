// Command gatewayd-bench measures gatewayd on loopback and writes the table
// to docs/benchmarks/gatewayd.md (`make bench-gatewayd`):
//
//  1. latency added over a direct call to the upstream, p50 and p99, at a
//     constant open-model rate (vegeta's ConstantPacer; default 5,000 rps),
//     with the Redis store (and the memory store);
//  2. saturation throughput of gatewayd against nginx proxy_pass with
//     limit_req (Debian's nginx) in front of the same upstream, as a ratio;
//  3. resident memory of gatewayd holding 10,000 idle keep-alive connections.
//
// It starts everything itself on free loopback ports: redis-server, the demo
// upstream, gatewayd and nginx, and stops them at the end. Every gateway
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
	"os"
	"os/exec"
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
}

func main() {
	var o options
	flag.StringVar(&o.gatewayd, "gatewayd", "bin/gatewayd", "gatewayd binary")
	flag.StringVar(&o.upstream, "upstream", "bin/demo-upstream", "demo-upstream binary")
	flag.StringVar(&o.out, "out", "docs/benchmarks/gatewayd.md", "markdown file to write ('' prints only)")
	flag.StringVar(&o.rates, "rates", "1000,5000", "constant request rates for the latency runs, per second, comma-separated")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "length of each latency run")
	flag.DurationVar(&o.satDuration, "sat-duration", 5*time.Second, "length of each saturation run")
	flag.IntVar(&o.satWorkers, "sat-workers", 64, "concurrent connections in the saturation runs")
	flag.IntVar(&o.idleConns, "idle-conns", 10000, "idle keep-alive connections for the memory measurement")
	flag.StringVar(&o.parts, "parts", "latency,saturation,memory", "which measurements to run, comma-separated")
	flag.DurationVar(&o.settle, "settle", 5*time.Second, "idle time before reading RSS with the connections open")
	flag.IntVar(&o.rounds, "rounds", 5, "latency runs are split into this many interleaved rounds per target")
	flag.BoolVar(&o.disableParking, "disable-parking", false, "run gatewayd with server.disable_parking (for comparison)")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "gatewayd-bench:", err)
		os.Exit(1)
	}
}

// procs tracks the processes started, stopped in reverse order.
type procs struct{ list []*exec.Cmd }

func (p *procs) start(name string, args ...string) (*exec.Cmd, error) {
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p.list = append(p.list, cmd)
	return cmd, nil
}

func (p *procs) stopAll() {
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

func gatewaydConfig(dir, upstream, store, redisAddr string) (string, error) {
	st := "store: {kind: memory}\n"
	if store == "redis" {
		st = fmt.Sprintf("store:\n  kind: redis\n  redis: {addr: %s, timeout: 200ms, pool_size: 128}\n", redisAddr)
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
}

// attack runs vegeta against url. rate 0 means as fast as workers allow.
func attack(name, url string, hdr http.Header, rate int, du time.Duration, workers int) run1 {
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

const nginxConf = `worker_processes auto;
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
	hdr := http.Header{"X-Api-Key": []string{"bench-key"}}

	upAddr, _ := freeAddr()
	if _, err := ps.start(o.upstream, "-listen", upAddr, "-quiet"); err != nil {
		return err
	}
	if err := waitHTTP("http://"+upAddr+"/v1/x", nil); err != nil {
		return err
	}
	redisAddr, _ := freeAddr()
	_, rport, _ := net.SplitHostPort(redisAddr)
	haveRedis := true
	if _, err := exec.LookPath("redis-server"); err != nil {
		haveRedis = false
		fmt.Fprintln(os.Stderr, "redis-server not found: the Redis rows are skipped")
	} else if _, err := ps.start("redis-server", "--port", rport, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir); err != nil {
		return err
	}
	gws := map[string]string{}
	gwPID := map[string]int{}
	for _, store := range []string{"memory", "redis"} {
		if store == "redis" && !haveRedis {
			continue
		}
		cfg, err := gatewaydConfig(dir, "http://"+upAddr, store, redisAddr)
		if err != nil {
			return err
		}
		listen, _ := freeAddr()
		admin, _ := freeAddr()
		cmd, err := ps.start(o.gatewayd, "-config", cfg, "-listen", listen, "-admin-listen", admin, "-log-level", "error")
		if err != nil {
			return err
		}
		if err := waitHTTP("http://"+listen+"/v1/x", hdr); err != nil {
			return fmt.Errorf("gatewayd (%s): %w", store, err)
		}
		gws[store], gwPID[store] = listen, cmd.Process.Pid
	}
	nginxAddr := ""
	if _, err := exec.LookPath("nginx"); err == nil {
		nginxAddr, _ = freeAddr()
		conf := filepath.Join(dir, "nginx.conf")
		if err := os.WriteFile(conf, []byte(fmt.Sprintf(nginxConf, dir, upAddr, nginxAddr)), 0o600); err != nil {
			return err
		}
		if _, err := ps.start("nginx", "-p", dir, "-c", conf); err != nil {
			return err
		}
		if err := waitHTTP("http://"+nginxAddr+"/v1/x", hdr); err != nil {
			return fmt.Errorf("nginx: %w", err)
		}
	} else {
		fmt.Fprintln(os.Stderr, "nginx not found: the saturation ratio is skipped")
	}

	// 1. Added latency at a constant rate.
	fmt.Fprintf(os.Stderr, "latency runs: %s rps for %v each\n", o.rates, o.duration)
	targets := []struct{ name, url string }{{"direct upstream", "http://" + upAddr + "/v1/x"}}
	for _, s := range []string{"memory", "redis"} {
		if a, ok := gws[s]; ok {
			targets = append(targets, struct{ name, url string }{"gatewayd, " + s + " store", "http://" + a + "/v1/x"})
		}
	}
	var lat []run1
	if !strings.Contains(o.parts, "latency") {
		targets = nil
	}
	for _, rs := range strings.Split(o.rates, ",") {
		rate, err := strconv.Atoi(strings.TrimSpace(rs))
		if err != nil || rate <= 0 {
			return fmt.Errorf("-rates: bad rate %q", rs)
		}
		// Interleaved rounds, so a stall caused by other work on the machine
		// spreads over every target instead of spoiling one.
		for _, tg := range targets {
			_ = attack("warm-up", tg.url, hdr, rate, time.Second/2, 0)
		}
		acc := make([]run1, len(targets))
		slice := o.duration / time.Duration(o.rounds)
		for round := 0; round < o.rounds; round++ {
			for i, tg := range targets {
				acc[i] = merge(acc[i], attack(tg.name, tg.url, hdr, rate, slice, 0))
			}
		}
		for _, r := range acc {
			fmt.Fprintf(os.Stderr, "  %5d rps %-26s sent %d ok %d p50 %v p99 %v errors %v\n", rate, r.name, r.sent, r.ok, r.lat.p50, r.lat.p99, r.errs)
			lat = append(lat, r)
		}
	}

	// 2. Saturation throughput.
	fmt.Fprintf(os.Stderr, "saturation runs: %d connections for %v each\n", o.satWorkers, o.satDuration)
	var sat []run1
	satTargets := []struct{ name, url string }{}
	if nginxAddr != "" {
		satTargets = append(satTargets, struct{ name, url string }{"nginx proxy_pass + limit_req", "http://" + nginxAddr + "/v1/x"})
	}
	for _, s := range []string{"memory", "redis"} {
		if a, ok := gws[s]; ok {
			satTargets = append(satTargets, struct{ name, url string }{"gatewayd, " + s + " store", "http://" + a + "/v1/x"})
		}
	}
	if !strings.Contains(o.parts, "saturation") {
		satTargets = nil
	}
	for _, tg := range satTargets {
		_ = attack("warm-up", tg.url, hdr, 0, time.Second, o.satWorkers)
		r := attack(tg.name, tg.url, hdr, 0, o.satDuration, o.satWorkers)
		fmt.Fprintf(os.Stderr, "  %-30s %.0f req/s ok %d p99 %v errors %v\n", r.name, r.throughput, r.ok, r.lat.p99, r.errs)
		sat = append(sat, r)
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
	cmd, err := ps.start(o.gatewayd, "-config", cfg, "-listen", listen, "-admin-listen", admin, "-log-level", "error")
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
	fmt.Fprintf(&b, "Measured by `make bench-gatewayd` (gatewayd/cmd/gatewayd-bench) on %s, %d CPUs (%s), %s, %s.\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), runtime.NumCPU(), cpuModel(), runtime.Version(), runtime.GOOS+"/"+runtime.GOARCH)
	fmt.Fprintf(&b, "Everything runs on the same machine over loopback: the load generator (vegeta library, open model,\n"+
		"constant pacer), the demo upstream (no service time), redis-server, gatewayd and nginx. The machine was shared\n"+
		"with other work while this ran, so absolute figures are noisy; ratios measured in one run are the result.\n"+
		"Every gateway admits every request (limits far above the load): the full path is measured (API-key auth,\n"+
		"pricing, the limiter's store call, proxy, ledger append).\n\n")

	fmt.Fprintf(&b, "## Latency added over a direct call (open model, constant rate, keep-alive)\n\n")
	fmt.Fprintf(&b, "Each target gets %v at each rate, in %d interleaved rounds (direct, memory, redis, direct, ...), so\n"+
		"a stall caused by other work on the machine spreads over every target.\n\n", o.duration, o.rounds)
	fmt.Fprintf(&b, "| rate | target | sent | achieved rps | ok | errors | p50 | p99 | p99.9 | added p50 | added p99 |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
	var base latency
	var verdicts []string
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
		fmt.Fprintf(&b, "| %d | %s | %d | %.0f | %d | %s | %s | %s | %s | %s | %s |\n", r.rate, r.name, r.sent,
			float64(r.sent)/o.duration.Seconds(), r.ok, errSummary(r.errs), ms(r.lat.p50), ms(r.lat.p99), ms(r.lat.p999), added50, added99)
		if strings.Contains(r.name, "redis") && r.rate == 5000 {
			verdict := "met"
			if r.lat.p99-base.p99 >= time.Millisecond || r.ok < r.sent || float64(r.sent) < 0.95*float64(r.rate)*o.duration.Seconds() {
				verdict = "NOT met"
			}
			verdicts = append(verdicts, fmt.Sprintf("Target p99 added < 1 ms at 5000 rps with the Redis store: **%s** (added p99 %s, %d of %d requests sent and answered 200).",
				verdict, ms(r.lat.p99-base.p99), r.ok, int(float64(r.rate)*o.duration.Seconds())))
		}
	}
	if len(verdicts) > 0 {
		fmt.Fprintf(&b, "\n%s\n", strings.Join(verdicts, "\n"))
	}

	if len(sat) > 0 {
		fmt.Fprintf(&b, "\n## Saturation throughput (%d keep-alive connections, as fast as they go, %v)\n\n", o.satWorkers, o.satDuration)
		fmt.Fprintf(&b, "| target | ok | errors | req/s | p99 | ratio to nginx |\n|---|---|---|---|---|---|\n")
		var ngx float64
		for _, r := range sat {
			if strings.HasPrefix(r.name, "nginx") {
				ngx = r.throughput
			}
		}
		for _, r := range sat {
			ratio := "-"
			if ngx > 0 {
				ratio = fmt.Sprintf("%.2f", r.throughput/ngx)
			}
			fmt.Fprintf(&b, "| %s | %d | %s | %.0f | %s | %s |\n", r.name, r.ok, errSummary(r.errs), r.throughput, ms(r.lat.p99), ratio)
		}
		fmt.Fprintf(&b, "\nnginx: Debian's package, `worker_processes auto`, `limit_req zone=perkey burst=1000000 nodelay` keyed on\n"+
			"`$http_x_api_key`, upstream keepalive 512, access log off. gatewayd: default settings, GOMAXPROCS = CPUs,\n"+
			"ledger on (batched, fsynced).\n")
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

- The machine has 2 cores shared with several other jobs; the load generator, the upstream, redis-server and the
  gateway all compete for them. Where the direct row could not hold the rate, that rate measured the machine.
  Run ` + "`make bench-gatewayd`" + ` on a quiet host (ideally the load generator on another one) for absolute figures.
- With the Redis store every request makes one Redis round trip (the engine's Lua script) before it is proxied.
  When the CPU is starved, round trips exceed the store timeout, the circuit breaker opens, and the bench tier,
  which fails closed, answers 503: that is the failure policy working, and the reason for the 503 counts above.
- Parking (gatewayd/park) is what keeps idle keep-alive connections cheap: without it net/http holds a goroutine
  and about 8 KiB of buffers per connection. The second memory row shows the same gateway with it turned off.
`
