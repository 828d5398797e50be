package plan

import (
	"strings"
	"testing"

	"tollgate/schema"
	"tollgate/sim"
)

// clusterSpec searches a replica and clusters of 2 and 3 shards.
var clusterSpec = strings.Replace(strings.Replace(tinySpec, "redis: [none, replica]", "redis: [replica, cluster]\n  redis_shards: [2, 3]", 1),
	"zones: [1, 3]", "zones: [3]", 1)

// TestClusterCandidates: a cluster is a candidate once per shard count; Build
// gives the simulator that cluster, Usage prices a primary and a replica per
// shard, and the month has a primary failure rate per shard.
func TestClusterCandidates(t *testing.T) {
	p, sh := tinyPlanner(t, clusterSpec)
	cands := p.Candidates()
	// 2 types x (3 spot, 1od+2spot) x (replica, cluster/2, cluster/3)
	if len(cands) != 2*2*3 {
		t.Fatalf("want 12 candidates, got %d", len(cands))
	}
	shards := map[int]int{}
	for _, c := range cands {
		cfg, err := Build(&p.base, sh, c)
		if err != nil {
			t.Fatal(err)
		}
		u := Usage(sh, &p.base, c, 1e9)
		rates, err := p.perMonth(c, c.Spot)
		if err != nil {
			t.Fatal(err)
		}
		h := sh.HoursPerMonth
		switch c.Redis {
		case RedisCluster:
			shards[c.RedisShards]++
			if cfg.Redis.Mode != sim.RedisCluster || cfg.Redis.Shards != c.RedisShards {
				t.Errorf("%s: simulator redis %+v", Name(c), cfg.Redis)
			}
			if !strings.Contains(Name(c), "redis:cluster/") {
				t.Errorf("name %q does not show the shards", Name(c))
			}
			if want := float64(2*c.RedisShards) * h; u.RedisNodeHours != want {
				t.Errorf("%s: %v Redis node-hours, want %v (2 x %d shards x %v h)", Name(c), u.RedisNodeHours, want, c.RedisShards, h)
			}
			if want := float64(c.RedisShards) * 1; rates[kindRedis] != want {
				t.Errorf("%s: %v Redis failures a month, want %v (1 per primary)", Name(c), rates[kindRedis], want)
			}
		case RedisReplica:
			if c.RedisShards != 0 || cfg.Redis.Mode != sim.RedisSingle || cfg.Redis.Shards != 0 {
				t.Errorf("%s: shards %d, simulator redis %+v", Name(c), c.RedisShards, cfg.Redis)
			}
			if u.RedisNodeHours != 2*h || rates[kindRedis] != 1 {
				t.Errorf("%s: %v node-hours, %v failures a month", Name(c), u.RedisNodeHours, rates[kindRedis])
			}
		}
		if err := cfg.Validate(); err != nil {
			t.Errorf("%s: %v", Name(c), err)
		}
	}
	if shards[2] != 4 || shards[3] != 4 {
		t.Errorf("cluster candidates by shards %v, want 4 each of 2 and 3", shards)
	}
}

// TestClusterFailoverTargets: replication r of a cluster's Redis failure
// fails one shard, the replication's common draw: the same shard on two
// configurations of the same shard count, and over the replications more
// than one shard.
func TestClusterFailoverTargets(t *testing.T) {
	p, sh := tinyPlanner(t, clusterSpec)
	base := schema.PlanConfig{InstanceType: "c7g.medium", Zones: 3, NodesPerZone: 1, Spot: 3, Redis: RedisCluster, RedisShards: 3,
		Algorithm: "gcra", HealthInterval: "10s", Fall: 2, Drain: true}
	other := base
	other.InstanceType, other.Spot, other.OnDemand = "c7i.large", 2, 1
	targets := map[string]bool{}
	for r := 0; r < 4; r++ {
		var got [2]string
		for i, c := range []schema.PlanConfig{base, other} {
			cfg, err := Build(&p.base, sh, c)
			if err != nil {
				t.Fatal(err)
			}
			s, err := p.replicate(&cfg, kindRedis, r, spotNodes(&cfg))
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := sim.ParseShard(s.target); !ok {
				t.Fatalf("replication %d: target %q is no shard", r, s.target)
			}
			got[i] = s.target
		}
		if got[0] != got[1] {
			t.Errorf("replication %d: shard %s on one configuration, %s on the other", r, got[0], got[1])
		}
		targets[got[0]] = true
	}
	if len(targets) < 2 {
		t.Errorf("four replications all failed %v", targets)
	}
	// no zone outage stops a cluster over several zones: the control is the
	// drawn duration, whatever zone it hits
	cfg, err := Build(&p.base, sh, base)
	if err != nil {
		t.Fatal(err)
	}
	if zc := p.zoneControl(&cfg); zc.storeZone != "" || zc.mean != p.zoneMean {
		t.Errorf("cluster zone control %+v, want the duration (mean %v)", zc, p.zoneMean)
	}
}
