package sim

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tollgate/schema"
)

// crc16Table is CRC-16/XMODEM (polynomial 0x1021, initial 0), table-driven:
// the test's own reference for Redis Cluster's key hash, sharing no code with
// engine/redisstore's bitwise one.
var crc16Table = func() (t [256]uint16) {
	for i := range t {
		c := uint16(i) << 8
		for b := 0; b < 8; b++ {
			c = c<<1 ^ uint16(-(int(c>>15)))&0x1021
		}
		t[i] = c
	}
	return t
}()

func crc16(s string) uint16 {
	var c uint16
	for i := 0; i < len(s); i++ {
		c = c<<8 ^ crc16Table[byte(c>>8)^s[i]]
	}
	return c
}

// refShard3 is the shard of synthetic key id k on a three-shard cluster, by
// the slot ranges redis-cli --cluster create assigns three masters (0-5460,
// 5461-10922, 10923-16383, as the Redis Cluster tutorial shows). The
// simulator names synthetic keys "k<id>" (the names leases use).
func refShard3(k int) int {
	slot := int(crc16(fmt.Sprintf("k%d", k)) % 16384)
	switch {
	case slot <= 5460:
		return 0
	case slot <= 10922:
		return 1
	}
	return 2
}

func TestCRC16Reference(t *testing.T) {
	// the check value of CRC-16/XMODEM; the Redis Cluster specification's
	// example slot of "123456789" is 12739 (0x31C3 mod 16384)
	if got := crc16("123456789"); got != 0x31C3 {
		t.Fatalf("crc16(123456789) = %#x, want 0x31c3", got)
	}
}

func TestShardOfSlot(t *testing.T) {
	for _, tc := range []struct{ slot, shards, want int }{
		{0, 3, 0}, {5460, 3, 0}, {5461, 3, 1}, {10922, 3, 1}, {10923, 3, 2}, {16383, 3, 2},
		{0, 1, 0}, {16383, 1, 0}, {8191, 2, 0}, {8192, 2, 1},
	} {
		if got := ShardOfSlot(tc.slot, 16384, tc.shards); got != tc.want {
			t.Errorf("ShardOfSlot(%d, 16384, %d) = %d, want %d", tc.slot, tc.shards, got, tc.want)
		}
	}
	// every shard count up to MaxShards: contiguous ranges covering every
	// slot, each within one slot of an even share
	for n := 1; n <= MaxShards; n++ {
		count := make([]int, n)
		prev := 0
		for s := 0; s < 16384; s++ {
			i := ShardOfSlot(s, 16384, n)
			if i < prev || i > prev+1 {
				t.Fatalf("%d shards: slot %d on shard %d after shard %d", n, s, i, prev)
			}
			prev = i
			count[i]++
		}
		for i, c := range count {
			if d := float64(c) - 16384/float64(n); d < -1 || d > 1 {
				t.Fatalf("%d shards: shard %d has %d slots, want %.1f +- 1", n, i, c, 16384/float64(n))
			}
		}
	}
}

func TestClusterValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(c *Config)
		want string
	}{
		{"shards 0", func(c *Config) { c.Redis.Shards = 0 }, "redis.shards: must be in [1, 64], got 0"},
		{"shards 65", func(c *Config) { c.Redis.Shards = 65 }, "redis.shards: must be in [1, 64], got 65"},
		{"shards in mode redis", func(c *Config) { c.Redis.Mode = RedisSingle }, `redis.shards: applies to redis.mode cluster only, got 3 with mode "redis"`},
		{"target past the shards", func(c *Config) {
			c.Faults = []Fault{{Kind: FaultRedisFailover, Target: "shard-3"}}
		}, `faults[0].target: must be empty (shard-0) or name a shard shard-0 to shard-2, got "shard-3"`},
		{"target not a shard", func(c *Config) {
			c.Faults = []Fault{{Kind: FaultRedisOutage, Duration: Duration(time.Second), Target: "shard-01"}}
		}, `faults[0].target: must be empty (shard-0) or name a shard shard-0 to shard-2, got "shard-01"`},
		{"target in mode redis", func(c *Config) {
			c.Redis.Mode, c.Redis.Shards = RedisSingle, 0
			c.Faults = []Fault{{Kind: FaultRedisFailover, Target: "shard-0"}}
		}, `faults[0].target: must be empty: only redis.mode cluster has shards to target, got "shard-0"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := clusterConfig(3, 3)
			tc.set(c)
			err := c.Validate()
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
	c := clusterConfig(3, 3)
	c.Faults = []Fault{{Kind: FaultRedisFailover, Target: "shard-2"}, {Kind: FaultRedisFailover}}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

// clusterConfig is a cluster of shards shards over zones zones (one node
// each), fail-closed, 300 keys at a constant 4 requests a second each, no
// retries, and a breaker that never opens: every request whose shard is
// down errs, and no other.
func clusterConfig(shards, zones int) *Config {
	c := small(ArrivalConstant, 1200, 300)
	c.Topology.Zones = []string{"a", "b", "c"}[:zones]
	c.Redis = Redis{Mode: RedisCluster, Shards: shards}
	c.Engine.Breaker.Failures = 1 << 30
	c.Defaults()
	return c
}

// TestClusterShardOutageErrsItsKeys: an outage of shard 1 over the whole run
// errs exactly the requests of the keys whose slot shard 1 owns, fail-closed;
// fail-open admits exactly those unmetered instead.
func TestClusterShardOutageErrsItsKeys(t *testing.T) {
	onShard := 0
	for k := 0; k < 300; k++ {
		if refShard3(k) == 1 {
			onShard++
		}
	}
	if onShard < 50 || onShard > 150 {
		t.Fatalf("%d of 300 keys on shard 1: the reference split is off", onShard)
	}
	for _, open := range []bool{false, true} {
		c := clusterConfig(3, 3)
		c.Tiers[0].FailOpen = open
		c.Faults = []Fault{{Kind: FaultRedisOutage, Target: "shard-1", Duration: Duration(time.Hour)}}
		s, err := Run(c, Options{})
		if err != nil {
			t.Fatal(err)
		}
		// each key sends exactly 4/s x 10 s
		want := int64(onShard * 40)
		if s.Requests.Total != 12000 {
			t.Fatalf("fail-open %v: %d requests, want 12000", open, s.Requests.Total)
		}
		got := s.Requests.Errors
		if open {
			if got != 0 {
				t.Fatalf("fail-open: %d errors, want 0", got)
			}
			got = s.Unmetered
		}
		t.Logf("fail-open %v: %d of %d requests on shard 1's %d keys failed over to the policy", open, got, s.Requests.Total, onShard)
		if got != want {
			t.Errorf("fail-open %v: %d requests failed over to the policy, want %d (%d keys on shard 1 x 40; share %.4f)",
				open, got, want, onShard, float64(onShard)/300)
		}
	}
}

// TestClusterShardFailover: a failover of shard 1 errs only its keys' requests,
// for the failover time.
func TestClusterShardFailover(t *testing.T) {
	onShard := 0
	for k := 0; k < 300; k++ {
		if refShard3(k) == 1 {
			onShard++
		}
	}
	c := clusterConfig(3, 3)
	c.Redis.FailoverTime = Duration(5 * time.Second)
	c.Faults = []Fault{{Kind: FaultRedisFailover, Target: "shard-1", At: Duration(2 * time.Second)}}
	s, err := Run(c, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// each key on shard 1 sends 4/s x 5 s = 20 requests reaching Redis in
	// the failover window, give or take the one at its edge
	want := int64(onShard * 20)
	t.Logf("%d errors of %d requests; %d keys on shard 1", s.Requests.Errors, s.Requests.Total, onShard)
	if d := s.Requests.Errors - want; d < -int64(onShard) || d > int64(onShard) {
		t.Errorf("%d errors, want %d +- %d (%d keys on shard 1 x 20)", s.Requests.Errors, want, onShard, onShard)
	}
}

// TestClusterZoneOutage: three shards over three zones; an outage of zone b
// takes down shard 1 only (its primary is there; shard 0's replica is there
// too, unused), which fails over to its replica in zone c after the failover
// time. With zone c down as well, shard 1 has no replica to promote and stays
// down for zone b's outage, while shard 2 fails over to zone a. With one zone every shard is down for the outage.
func TestClusterZoneOutage(t *testing.T) {
	const ft = 5 * time.Second
	at, dur := 2*time.Second, 4*time.Second
	setup := func(zones int, faults ...Fault) *model {
		c := clusterConfig(3, zones)
		c.Redis.FailoverTime = Duration(ft)
		c.Faults = faults
		if err := c.Validate(); err != nil {
			t.Fatal(err)
		}
		m, err := newModel(c)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	az := func(zone string) Fault {
		return Fault{Kind: FaultAZ, Target: zone, At: Duration(at), Duration: Duration(dur)}
	}
	check := func(name string, m *model, want [3][]span) {
		t.Helper()
		for i, sh := range m.shards {
			if fmt.Sprint(sh.down.s) != fmt.Sprint(want[i]) {
				t.Errorf("%s: shard %d down %v, want %v", name, i, sh.down.s, want[i])
			}
		}
	}
	a, f, d := int64(at), int64(ft), int64(dur)
	m := setup(3, az("b"))
	check("zone b", m, [3][]span{nil, {{a, a + f}}, nil})
	if z := m.shards[1].zone(a + f); z != 2 {
		t.Errorf("zone b: shard 1 served from zone %d after the failover, want 2 (c)", z)
	}
	if z := m.shards[0].zone(a + f); z != 0 {
		t.Errorf("zone b: shard 0 served from zone %d, want 0 (a)", z)
	}
	// shard 2 (primary c, replica a) fails over to a
	check("zones b and c", setup(3, az("b"), az("c")), [3][]span{nil, {{a, a + d}}, {{a, a + f}}})
	check("one zone", setup(1, az("a")), [3][]span{{{a, a + d}}, {{a, a + d}}, {{a, a + d}}})
}

// TestClusterOneShardIsPrimaryReplica: a one-shard cluster over three zones
// places its primary in zone a and its replica in zone b, as mode redis does
// by default, and draws from the same stream: the same seed gives the same
// summary through a failover (the fault's label aside).
func TestClusterOneShardIsPrimaryReplica(t *testing.T) {
	run := func(mode string, shards int) []byte {
		c := small(ArrivalPoisson, 2000, 50)
		c.Topology.Zones = []string{"a", "b", "c"}
		c.Redis = Redis{Mode: mode, Shards: shards}
		c.Faults = []Fault{{Kind: FaultRedisFailover, At: Duration(3 * time.Second)}}
		c.Defaults()
		s, err := Run(c, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if s.Requests.Errors == 0 {
			t.Fatalf("%s: no errors through the failover", mode)
		}
		for i := range s.Faults {
			s.Faults[i].Target = ""
		}
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if r, cl := run(RedisSingle, 0), run(RedisCluster, 1); string(r) != string(cl) {
		t.Errorf("mode redis and a one-shard cluster differ:\nredis:   %s\ncluster: %s", r, cl)
	}
}

// FuzzParseShard: a target ParseShard accepts is exactly ShardName of its
// index, and ShardName's output parses back.
func FuzzParseShard(f *testing.F) {
	for _, s := range []string{"shard-0", "shard-63", "shard-01", "shard-", "shard--1", "shard-+1", "redis", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		i, ok := ParseShard(s)
		if ok && ShardName(i) != s {
			t.Fatalf("ParseShard(%q) = %d, but ShardName(%d) = %q", s, i, i, ShardName(i))
		}
		n := len(s) % MaxShards
		if j, ok := ParseShard(ShardName(n)); !ok || j != n {
			t.Fatalf("ParseShard(ShardName(%d)) = %d, %v", n, j, ok)
		}
	})
}

// TestClusterCrossZoneShare: with the nodes spread evenly over three zones
// and zone-local balancing, a store call crosses a zone unless the key's
// shard has its primary in the caller's zone: 2/3 of calls whatever the
// placement, the share the cost model assumes (plan.Usage). The balancer
// picks zones at random, so the share is binomial over 12000 calls (sd
// 0.0043); 0.02 is 4.6 sd.
func TestClusterCrossZoneShare(t *testing.T) {
	c := clusterConfig(3, 3)
	m, _ := mustRun(t, c)
	if m.m.ops == 0 {
		t.Fatal("no store calls")
	}
	share := float64(m.m.cross) / float64(2*redisOpBytes*m.m.ops)
	t.Logf("%.4f of %d store calls cross a zone", share, m.m.ops)
	if share < 2.0/3-0.02 || share > 2.0/3+0.02 {
		t.Errorf("cross-zone share of store calls %.4f, want 2/3 +- 0.02", share)
	}
}

// TestClusterTraceKeys: a replayed ledger places each client on the shard of
// gatewayd's key for it, "k:" and its key hash: an outage of one shard errs
// exactly the recorded requests of the clients whose slot (the test's own
// CRC16 and redis-cli's ranges) that shard owns.
func TestClusterTraceKeys(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var b strings.Builder
	perShard := [3]int64{}
	enc := json.NewEncoder(&b)
	for k := 0; k < 40; k++ {
		hash := fmt.Sprintf("%064x", k*7919+1)
		slot := int(crc16("k:"+hash) % 16384)
		shard := 2
		if slot <= 5460 {
			shard = 0
		} else if slot <= 10922 {
			shard = 1
		}
		for i := 0; i <= k%5; i++ {
			at := start.Add(time.Duration(k*5+i) * 37 * time.Millisecond)
			rec := schema.LedgerRecord{ID: fmt.Sprintf("r%d-%d", k, i), KeyHash: hash, Tier: "t", Route: "/", Method: "GET",
				Path: "/", Status: 200, Decision: "allowed", Start: at, End: at.Add(time.Millisecond)}
			if err := enc.Encode(rec); err != nil {
				t.Fatal(err)
			}
			perShard[shard]++
		}
	}
	if perShard[0] == 0 || perShard[1] == 0 || perShard[2] == 0 {
		t.Fatalf("records per shard %v: the test's keys miss a shard", perShard)
	}
	path := filepath.Join(t.TempDir(), "ledger.jsonl")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	for shard := 0; shard < 3; shard++ {
		c := clusterConfig(3, 3)
		c.Traffic = Traffic{Source: "trace", Trace: path}
		c.Faults = []Fault{{Kind: FaultRedisOutage, Target: ShardName(shard), Duration: Duration(time.Hour)}}
		c.Defaults()
		s, err := Run(c, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if s.Requests.Errors != perShard[shard] {
			t.Errorf("outage of shard %d: %d errors of %d replayed requests, want the %d recorded on its keys (per shard %v)",
				shard, s.Requests.Errors, s.Requests.Total, perShard[shard], perShard)
		}
	}
}
