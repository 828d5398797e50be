package scenarios

import (
	"errors"
	"strings"
	"testing"

	"tollgate/engine"
	"tollgate/engine/route"
	"tollgate/engine/tier"
)

func testGateway() Gateway {
	return Gateway{File: "gw.yaml", Store: "redis", Clock: "server",
		Tiers: []tier.Tier{{Name: "gold", Algorithm: engine.GCRA, Burst: 50, Rate: 25, Quotas: tier.Quotas{Day: 1e6}}},
		Routes: []route.Route{
			{Name: "items", Prefix: "/items", Methods: []string{"GET"}, Cost: 2, Reference: engine.Duration(1e6)},
			{Name: "health", Prefix: "/healthz", Methods: []string{"GET"}, Cost: 1, Reference: engine.Duration(1e6), Operational: true},
		}}
}

// TestUseGatewayMapsEverything: groups take the mapped tier, route entries
// the config's route by longest prefix (name, cost, operational), and the
// scenario keeps its traffic; the config's algorithm replaces the
// scenario's override.
func TestUseGatewayMapsEverything(t *testing.T) {
	sc, err := Load("baseline")
	if err != nil {
		t.Fatal(err)
	}
	if err := sc.Set("engine.algorithm", "fixed-window"); err != nil {
		t.Fatal(err)
	}
	gw := testGateway()
	gw.Routes[0].Methods = []string{"GET", "POST"}
	if err := sc.UseGateway(gw, map[string]string{"*": "gold"}, nil); err != nil {
		t.Fatal(err)
	}
	c := sc.Config
	if len(c.Tiers) != 1 || c.Tiers[0].Name != "gold" || c.Tiers[0].Quotas.Day != 1e6 || c.Engine.Algorithm != "" {
		t.Fatalf("tiers %+v algorithm %q", c.Tiers, c.Engine.Algorithm)
	}
	for _, g := range c.Traffic.Groups {
		if g.Tier != "gold" {
			t.Errorf("group %s tier %q", g.Name, g.Tier)
		}
	}
	seen := map[string]bool{}
	for _, r := range c.Routes {
		seen[r.Name] = true
		if r.Name == "health" && (!r.Operational || r.Path != "/healthz") {
			t.Errorf("health route %+v", r)
		}
		if r.Name == "items" && r.Cost != 2 {
			t.Errorf("items cost %v, want the config's 2", r.Cost)
		}
	}
	if !seen["items"] || !seen["health"] {
		t.Fatalf("routes %v", seen)
	}
}

// TestUseGatewayReportsEveryMismatch: an unmapped tier, a path no route
// matches, a method the route refuses and a map onto a missing tier are all
// reported at once, naming both files.
func TestUseGatewayReportsEveryMismatch(t *testing.T) {
	sc, err := Load("baseline") // tiers free, pro, enterprise; POST /items
	if err != nil {
		t.Fatal(err)
	}
	gw := testGateway()
	gw.Routes = gw.Routes[:1]
	err = sc.UseGateway(gw, map[string]string{"free": "gold", "pro": "platinum"}, nil)
	if !errors.Is(err, ErrGateway) {
		t.Fatalf("err %v", err)
	}
	for _, want := range []string{
		`-tier-map pro=platinum: "platinum" is not a tier of gw.yaml (its tiers: gold)`,
		`traffic.groups[2].tier: "enterprise" (scenario scenarios/baseline.yaml) is not a tier of gateway config gw.yaml`,
		`method POST of path "/items"`,
		`path "/healthz" (scenario scenarios/baseline.yaml) matches no route of gateway config gw.yaml (its routes: items (/items))`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	// a route map fixes the path; the method still has to be allowed
	sc, _ = Load("baseline")
	err = sc.UseGateway(gw, map[string]string{"*": "gold"}, map[string]string{"/healthz": "items"})
	if err == nil || strings.Contains(err.Error(), `"/healthz"`) || !strings.Contains(err.Error(), "method POST") {
		t.Fatalf("with -route-map: %v", err)
	}
}

func TestParseMap(t *testing.T) {
	m, err := ParseMap("-tier-map", " free=gold , *=basic")
	if err != nil || m["free"] != "gold" || m["*"] != "basic" || len(m) != 2 {
		t.Fatalf("%v %v", m, err)
	}
	for _, bad := range []string{"free", "=x", "a=", "a=b,a=c"} {
		if _, err := ParseMap("-tier-map", bad); err == nil || !strings.Contains(err.Error(), "-tier-map") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// FuzzParseMap: any -tier-map value is parsed or refused with an error naming
// the flag, never a panic; what is accepted maps non-empty names to
// non-empty names, each FROM once.
func FuzzParseMap(f *testing.F) {
	for _, s := range []string{"", "*=basic", "free=gold,pro=gold", "a=b,a=c", "=x", "a==b", " a = b ,", "\x00=\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		m, err := ParseMap("-tier-map", v)
		if err != nil {
			if !strings.Contains(err.Error(), "-tier-map") {
				t.Fatalf("error %q does not name the flag", err)
			}
			return
		}
		if strings.TrimSpace(v) != "" && len(m) != strings.Count(v, ",")+1 {
			t.Fatalf("%q: %d pairs from %d fields", v, len(m), strings.Count(v, ",")+1)
		}
		for from, to := range m {
			if from == "" || to == "" || strings.TrimSpace(from) != from || strings.TrimSpace(to) != to {
				t.Fatalf("%q: accepted %q=%q", v, from, to)
			}
		}
	})
}

// TestUseGatewayKeepsACluster: a scenario's Redis Cluster stays one under a
// config with a Redis store (its cluster_addrs do not say how many shards),
// a memory store makes it embedded, and a scenario with one Redis keeps it.
func TestUseGatewayKeepsACluster(t *testing.T) {
	for _, tc := range []struct {
		mode, store, want string
		shards            int
	}{{"cluster", "redis", "cluster", 5}, {"cluster", "memory", "embedded", 0}, {"redis", "redis", "redis", 0}, {"embedded", "redis", "redis", 0}} {
		sc, err := Load("baseline")
		if err != nil {
			t.Fatal(err)
		}
		if err := sc.Set("redis.mode", tc.mode); err != nil {
			t.Fatal(err)
		}
		if tc.mode == "cluster" {
			if err := sc.Set("redis.shards", "5"); err != nil {
				t.Fatal(err)
			}
		}
		gw := testGateway()
		gw.Store = tc.store
		gw.Routes[0].Methods = []string{"GET", "POST"}
		if err := sc.UseGateway(gw, map[string]string{"*": "gold"}, nil); err != nil {
			t.Fatalf("%s with a %s store: %v", tc.mode, tc.store, err)
		}
		if r := sc.Config.Redis; r.Mode != tc.want || r.Shards != tc.shards {
			t.Errorf("%s with a %s store: mode %q shards %d, want %q %d", tc.mode, tc.store, r.Mode, r.Shards, tc.want, tc.shards)
		}
	}
}
