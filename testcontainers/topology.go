package testcontainers

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	mobynet "github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	tc "github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/network"
	"github.com/testcontainers/testcontainers-go/wait"

	"tollgate/schema"
)

// Node is one gatewayd container and its zone.
type Node struct {
	Zone string
	Name string
	C    *tc.DockerContainer
	Net  *tc.DockerNetwork
	// LedgerDir is the host directory mounted at /ledger in the container.
	LedgerDir string
	// IP is the node's address on its zone network.
	IP netip.Addr
}

// ZoneSubnet is zone i's network: 10.213.(i+1).0/24 with gateway .1, outside
// Docker's default address pools. Leftovers from a killed run would collide,
// which is why the preflight sweeps the suite's networks first.
func ZoneSubnet(i int) (netip.Prefix, netip.Addr) {
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 213, byte(i + 1), 0}), 24),
		netip.AddrFrom4([4]byte{10, 213, byte(i + 1), 1})
}

// Topology is a running topology. Its methods are safe for use by one test
// goroutine plus the load generator (which only reads URL).
type Topology struct {
	Spec     Spec
	Networks []*tc.DockerNetwork
	Redis    *tc.DockerContainer
	Upstream *tc.DockerContainer
	HAProxy  *tc.DockerContainer
	Nodes    []*Node
	// URL is the load balancer's published port on 127.0.0.1, http://127.0.0.1:PORT.
	URL string
	// StatsURL is HAProxy's stats page as CSV.
	StatsURL string

	cli *tc.DockerClient
}

// labels mark everything the suite creates, beside testcontainers' own
// org.testcontainers=true, so a sweep can find it.
var labels = map[string]string{"org.tollgate.suite": "containers"}

// StartTopology starts the spec's topology: a network per zone, Redis and
// the upstream on every zone network, one gatewayd per zone on its zone's
// network only, HAProxy on all of them. Every container and network is
// removed when t ends (explicit cleanup: Ryuk is off). ledgerRoot is a host
// directory; node X writes its ledger to ledgerRoot/gw-X.
func StartTopology(ctx context.Context, t testing.TB, spec Spec, ledgerRoot string) (*Topology, error) {
	t.Helper()
	gwCfg, err := GatewaydConfig(spec)
	if err != nil {
		return nil, err
	}
	hapCfg, err := HAProxyConfig(spec)
	if err != nil {
		return nil, err
	}
	cli, err := tc.NewDockerClientWithOpts(ctx)
	if err != nil {
		return nil, fmt.Errorf("docker client: %w", err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	tp := &Topology{Spec: spec, cli: cli}
	stop := tc.StopTimeout(time.Second)

	// Networks first, so their cleanup runs last (t.Cleanup is LIFO).
	for i, z := range spec.Zones {
		// A configured subnet lets a node come back with its own address
		// after a partition (HAProxy resolved the names once, at start).
		sub, gw := ZoneSubnet(i)
		nw, err := network.New(ctx,
			network.WithLabels(map[string]string{"org.tollgate.suite": "containers", "org.tollgate.zone": z}),
			network.WithIPAM(&mobynet.IPAM{Driver: "default", Config: []mobynet.IPAMConfig{{Subnet: sub, Gateway: gw}}}))
		tc.CleanupNetwork(t, nw)
		if err != nil {
			return tp, fmt.Errorf("network for zone %s: %w", z, err)
		}
		tp.Networks = append(tp.Networks, nw)
	}
	// Containers are terminated together, in one cleanup that runs before
	// the networks' (t.Cleanup is LIFO).
	var all []*tc.DockerContainer
	t.Cleanup(func() {
		var wg sync.WaitGroup
		for _, c := range all {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := tc.TerminateContainer(c, stop); err != nil {
					t.Logf("terminate %s: %v", c.GetContainerID()[:12], err)
				}
			}()
		}
		wg.Wait()
	})
	onAll := func(alias string) []tc.ContainerCustomizer {
		var o []tc.ContainerCustomizer
		for _, nw := range tp.Networks {
			o = append(o, network.WithNetwork([]string{alias}, nw))
		}
		return o
	}

	// Redis, the upstream and the nodes start concurrently (a node's /readyz
	// waits for nothing but its own listeners); HAProxy last, once every
	// node name resolves.
	type started struct {
		c   *tc.DockerContainer
		err error
	}
	runAll := func(reqs []func() (*tc.DockerContainer, error)) []started {
		out := make([]started, len(reqs))
		var wg sync.WaitGroup
		for i, f := range reqs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := f()
				out[i] = started{c, err}
			}()
		}
		wg.Wait()
		for _, s := range out {
			if s.c != nil {
				all = append(all, s.c)
			}
		}
		return out
	}
	dirs := make([]string, len(spec.Zones))
	for i, z := range spec.Zones {
		dirs[i] = filepath.Join(ledgerRoot, NodeName(z))
		if err := os.MkdirAll(dirs[i], 0o777); err != nil {
			return tp, fmt.Errorf("ledger dir: %w", err)
		}
	}
	reqs := []func() (*tc.DockerContainer, error){
		func() (*tc.DockerContainer, error) {
			return tc.Run(ctx, ImageRedis, append(onAll("redis"),
				tc.WithCmd("--protected-mode", "no", "--save", "", "--appendonly", "no"),
				publishLoopback([]string{PortRedis}, nil),
				tc.WithLabels(labels),
				tc.WithWaitStrategy(wait.ForLog("Ready to accept connections").WithStartupTimeout(60*time.Second)),
			)...)
		},
		func() (*tc.DockerContainer, error) {
			return tc.Run(ctx, ImageUpstream, append(onAll("upstream"),
				tc.WithCmd(UpstreamArgs(spec)...),
				// Published on loopback only (the image's EXPOSE would publish on all interfaces).
				publishLoopback([]string{PortUpstream}, nil),
				tc.WithLabels(labels),
				tc.WithWaitStrategy(wait.ForLog("demo-upstream listening").WithStartupTimeout(60*time.Second)),
			)...)
		},
	}
	for i, z := range spec.Zones {
		name, dir, nw := NodeName(z), dirs[i], tp.Networks[i]
		reqs = append(reqs, func() (*tc.DockerContainer, error) {
			return tc.Run(ctx, ImageGatewayd,
				network.WithNetwork([]string{name}, nw),
				tc.WithCmd("-config", "/etc/gatewayd.yaml"),
				tc.WithFiles(tc.ContainerFile{Reader: bytes.NewReader(gwCfg), ContainerFilePath: "/etc/gatewayd.yaml", FileMode: 0o644}),
				publishLoopback([]string{PortProxy, PortAdmin}, func(hc *container.HostConfig) {
					hc.Binds = append(hc.Binds, dir+":"+LedgerDir)
				}),
				tc.WithLabels(labels),
				tc.WithConfigModifier(func(c *container.Config) { c.StopSignal = "SIGTERM" }),
				tc.WithWaitStrategy(wait.ForHTTP("/readyz").WithPort(PortAdmin).WithStartupTimeout(60*time.Second)),
			)
		})
	}
	res := runAll(reqs)
	tp.Redis, tp.Upstream = res[0].c, res[1].c
	for i, z := range spec.Zones {
		n := &Node{Zone: z, Name: NodeName(z), C: res[2+i].c, Net: tp.Networks[i], LedgerDir: dirs[i]}
		if n.C != nil {
			tp.Nodes = append(tp.Nodes, n)
		}
	}
	names := append([]string{"redis", "upstream"}, func() []string {
		var o []string
		for _, z := range spec.Zones {
			o = append(o, "gatewayd "+NodeName(z))
		}
		return o
	}()...)
	var errs []error
	for i, r := range res {
		if r.err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", names[i], r.err))
		}
	}
	if len(errs) > 0 {
		return tp, errors.Join(errs...)
	}
	for _, n := range tp.Nodes {
		ipStr, err := n.C.ContainerIP(ctx)
		if err != nil {
			return tp, fmt.Errorf("gatewayd %s: address: %w", n.Name, err)
		}
		if n.IP, err = netip.ParseAddr(ipStr); err != nil {
			return tp, fmt.Errorf("gatewayd %s: address %q: %w", n.Name, ipStr, err)
		}
	}

	want := len(spec.Zones)
	tp.HAProxy, err = tc.Run(ctx, ImageHAProxy, append(onAll("lb"),
		tc.WithFiles(tc.ContainerFile{Reader: bytes.NewReader(hapCfg), ContainerFilePath: "/etc/haproxy/haproxy.cfg", FileMode: 0o644}),
		publishLoopback([]string{PortProxy, PortStats}, nil),
		tc.WithLabels(labels),
		tc.WithWaitStrategy(wait.ForHTTP("/stats;csv").WithPort(PortStats).WithStartupTimeout(30*time.Second).
			WithResponseMatcher(func(body io.Reader) bool {
				st, err := parseStats(body)
				return err == nil && st.up() == want
			})),
	)...)
	if tp.HAProxy != nil {
		all = append(all, tp.HAProxy)
	}
	if err != nil {
		return tp, fmt.Errorf("haproxy: %w", err)
	}
	if tp.URL, err = tp.HAProxy.PortEndpoint(ctx, PortProxy, "http"); err != nil {
		return tp, err
	}
	stats, err := tp.HAProxy.PortEndpoint(ctx, PortStats, "http")
	if err != nil {
		return tp, err
	}
	tp.StatsURL = stats + "/stats;csv"
	return tp, nil
}

// publishLoopback exposes ports on ephemeral host ports bound to 127.0.0.1
// only (testcontainers binds every interface by default), then applies more
// to the host config (one modifier: a second WithHostConfigModifier would
// replace the first).
func publishLoopback(ports []string, more func(*container.HostConfig)) tc.CustomizeRequestOption {
	return func(req *tc.GenericContainerRequest) error {
		if err := tc.WithExposedPorts(ports...)(req); err != nil {
			return err
		}
		bindings := mobynet.PortMap{}
		for _, p := range ports {
			port, err := mobynet.ParsePort(p)
			if err != nil {
				return fmt.Errorf("port %q: %w", p, err)
			}
			bindings[port] = []mobynet.PortBinding{{HostIP: netip.AddrFrom4([4]byte{127, 0, 0, 1})}}
		}
		return tc.WithHostConfigModifier(func(hc *container.HostConfig) {
			hc.PortBindings = bindings
			if more != nil {
				more(hc)
			}
		})(req)
	}
}

// backendStats is HAProxy's view of each node: server name -> status
// ("UP", "DOWN", "UP 1/2", "MAINT"...).
type backendStats map[string]string

func (b backendStats) up() int {
	n := 0
	for _, s := range b {
		if s == "UP" {
			n++
		}
	}
	return n
}

// parseStats reads HAProxy's stats CSV and returns the gatewayd backend's servers.
func parseStats(r io.Reader) (backendStats, error) {
	br := bufio.NewReader(r)
	head, err := br.ReadString('\n')
	if err != nil {
		return nil, fmt.Errorf("stats: header: %w", err)
	}
	cols := strings.Split(strings.TrimPrefix(strings.TrimSpace(head), "# "), ",")
	idx := map[string]int{}
	for i, c := range cols {
		idx[c] = i
	}
	for _, c := range []string{"pxname", "svname", "status"} {
		if _, ok := idx[c]; !ok {
			return nil, fmt.Errorf("stats: no %s column in %q", c, head)
		}
	}
	px, sv, st := idx["pxname"], idx["svname"], idx["status"]
	need := max(px, sv, st)
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1
	out := backendStats{}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("stats: %w", err)
		}
		if len(rec) <= need || rec[px] != "gatewayd" || rec[sv] == "BACKEND" || rec[sv] == "FRONTEND" {
			continue
		}
		out[rec[sv]] = rec[st]
	}
}

// Backends returns HAProxy's current view of the nodes.
func (tp *Topology) Backends(ctx context.Context) (map[string]string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, tp.StatsURL, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return parseStats(resp.Body)
}

// WatchBackends polls HAProxy's view of the nodes every interval until ctx
// ends and marks an event "NAME STATUS" on run at every change, so a run
// records when the balancer took a node out and put it back.
func (tp *Topology) WatchBackends(ctx context.Context, run *Run, interval time.Duration) {
	last := map[string]string{}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		if st, err := tp.Backends(ctx); err == nil {
			for name, s := range st {
				if prev, ok := last[name]; ok && prev != s {
					run.Mark(name + " " + s)
				}
				last[name] = s
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// Node returns the node of zone.
func (tp *Topology) Node(zone string) *Node {
	for _, n := range tp.Nodes {
		if n.Zone == zone {
			return n
		}
	}
	return nil
}

// SpotStop stops a node as a spot interruption does: SIGTERM, then SIGKILL
// if it has not exited after grace (whole seconds: Docker truncates). It
// returns when the container has stopped, with its exit code.
func (tp *Topology) SpotStop(ctx context.Context, n *Node, grace time.Duration) (int, error) {
	if err := n.C.Stop(ctx, &grace); err != nil {
		return -1, fmt.Errorf("stop %s: %w", n.Name, err)
	}
	st, err := n.C.State(ctx)
	if err != nil {
		return -1, fmt.Errorf("state %s: %w", n.Name, err)
	}
	return st.ExitCode, nil
}

// Disconnect cuts a node off its zone network (a zone outage for that node:
// packets are dropped, nothing answers).
func (tp *Topology) Disconnect(ctx context.Context, n *Node) error {
	_, err := tp.cli.NetworkDisconnect(ctx, n.Net.ID, client.NetworkDisconnectOptions{Container: n.C.GetContainerID(), Force: true})
	if err != nil {
		return fmt.Errorf("disconnect %s from %s: %w", n.Name, n.Net.Name, err)
	}
	return nil
}

// Reconnect puts a node back on its zone network under its alias and its
// address from before the partition.
func (tp *Topology) Reconnect(ctx context.Context, n *Node) error {
	_, err := tp.cli.NetworkConnect(ctx, n.Net.ID, client.NetworkConnectOptions{Container: n.C.GetContainerID(),
		EndpointConfig: &mobynet.EndpointSettings{Aliases: []string{n.Name},
			IPAMConfig: &mobynet.EndpointIPAMConfig{IPv4Address: n.IP}}})
	if err != nil {
		return fmt.Errorf("reconnect %s to %s: %w", n.Name, n.Net.Name, err)
	}
	return nil
}

// StopRedis sends Redis SIGTERM and returns once its process has exited
// (Redis exits at once: it runs without persistence, as a cache-mode Redis
// would, so its data is lost). It does not wait for Docker's own stop
// bookkeeping, which takes seconds on a loaded machine.
func (tp *Topology) StopRedis(ctx context.Context) error {
	id := tp.Redis.GetContainerID()
	if _, err := tp.cli.ContainerKill(ctx, id, client.ContainerKillOptions{Signal: "SIGTERM"}); err != nil {
		return fmt.Errorf("stop redis: %w", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		st, err := tp.Redis.State(ctx)
		if err != nil {
			return fmt.Errorf("stop redis: state: %w", err)
		}
		if !st.Running {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("stop redis: still running 30s after SIGTERM")
}

// StartRedis starts Redis again and waits for its second "Ready" log line
// (the first is from the previous start and is still in the log).
func (tp *Topology) StartRedis(ctx context.Context, starts int) error {
	if err := tp.Redis.Start(ctx); err != nil {
		return fmt.Errorf("start redis: %w", err)
	}
	w := wait.ForLog("Ready to accept connections").WithOccurrence(starts).WithStartupTimeout(30 * time.Second)
	if err := w.WaitUntilReady(ctx, tp.Redis); err != nil {
		return fmt.Errorf("redis ready: %w", err)
	}
	return nil
}

// Metrics fetches a node's /metrics from its published admin port.
func (tp *Topology) Metrics(ctx context.Context, n *Node) (string, error) {
	ep, err := n.C.PortEndpoint(ctx, PortAdmin, "http")
	if err != nil {
		return "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ep+"/metrics", nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// Logs returns a container's log (stdout and stderr), at most the last max bytes.
func Logs(ctx context.Context, c *tc.DockerContainer, max int) string {
	if c == nil {
		return ""
	}
	rc, err := c.Logs(ctx)
	if err != nil {
		return fmt.Sprintf("(logs: %v)", err)
	}
	defer rc.Close()
	b, _ := io.ReadAll(rc)
	if len(b) > max {
		b = b[len(b)-max:]
	}
	return string(b)
}

// DumpLogs writes every container's log tail to t's log; call it when a test failed.
func (tp *Topology) DumpLogs(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var mu sync.Mutex
	logf := func(name string, c *tc.DockerContainer) {
		mu.Lock()
		defer mu.Unlock()
		t.Logf("---- %s log ----\n%s", name, Logs(ctx, c, 4000))
	}
	logf("haproxy", tp.HAProxy)
	logf("redis", tp.Redis)
	logf("upstream", tp.Upstream)
	for _, n := range tp.Nodes {
		logf(n.Name, n.C)
	}
}

// StopNodes stops every node still running with SIGTERM and the given
// grace, so each flushes its ledger and exits; it returns the exit codes by
// node name (nodes already stopped are reported too).
func (tp *Topology) StopNodes(ctx context.Context, grace time.Duration) (map[string]int, error) {
	codes := make([]int, len(tp.Nodes))
	errs := make([]error, len(tp.Nodes))
	var wg sync.WaitGroup
	for i, n := range tp.Nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := n.C.State(ctx)
			if err != nil {
				errs[i] = fmt.Errorf("state %s: %w", n.Name, err)
				return
			}
			if !st.Running {
				codes[i] = st.ExitCode
				return
			}
			codes[i], errs[i] = tp.SpotStop(ctx, n, grace)
		}()
	}
	wg.Wait()
	out := map[string]int{}
	for i, n := range tp.Nodes {
		if errs[i] == nil {
			out[n.Name] = codes[i]
		}
	}
	return out, errors.Join(errs...)
}

// Ledger reads every node's ledger files from the host directories.
func (tp *Topology) Ledger() ([]schema.LedgerRecord, error) {
	var all []schema.LedgerRecord
	for _, n := range tp.Nodes {
		recs, _, err := schema.ReadLedgerAll(n.LedgerDir)
		if err != nil {
			return nil, fmt.Errorf("ledger of %s: %w", n.Name, err)
		}
		all = append(all, recs...)
	}
	return all, nil
}

// Sweep removes containers and networks left by an earlier run of the suite
// that was killed before its cleanup (they carry org.tollgate.suite=containers).
// It touches nothing else.
func Sweep(ctx context.Context, cli *tc.DockerClient) error {
	f := make(client.Filters).Add("label", "org.tollgate.suite=containers")
	cs, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return fmt.Errorf("sweep: list containers: %w", err)
	}
	var errs []error
	for _, c := range cs.Items {
		if _, err := cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil {
			errs = append(errs, fmt.Errorf("sweep: remove container %s: %w", c.ID[:12], err))
		}
	}
	ns, err := cli.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	if err != nil {
		return fmt.Errorf("sweep: list networks: %w", err)
	}
	for _, n := range ns.Items {
		if _, err := cli.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{}); err != nil {
			errs = append(errs, fmt.Errorf("sweep: remove network %s: %w", n.Name, err))
		}
	}
	return errors.Join(errs...)
}

// Kill sends a node SIGKILL (a crash: no drain, no ledger flush) and
// returns once Docker has delivered it.
func (tp *Topology) Kill(ctx context.Context, n *Node) error {
	if _, err := tp.cli.ContainerKill(ctx, n.C.GetContainerID(), client.ContainerKillOptions{Signal: "SIGKILL"}); err != nil {
		return fmt.Errorf("kill %s: %w", n.Name, err)
	}
	return nil
}
