package plan

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tollgate/engine"
	"tollgate/engine/route"
	"tollgate/engine/tier"
	"tollgate/reports"
	"tollgate/scenarios"
	"tollgate/schema"
)

// ledgerRec is one request of the small test ledgers.
type ledgerRec struct {
	tier, route, method string
	key                 int
}

// writeLedger writes a ledger of n Poisson arrivals at rate per second from
// 2026-05-04T10:00Z: tier pro with probability proShare (keys 0..19),
// else free (keys 0..99), routes by pick.
func writeLedger(t *testing.T, path string, n int, rate, proShare float64, seed uint64, pick func(r *rand.Rand) ledgerRec) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 9))
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	enc := json.NewEncoder(f)
	at := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	for i := range n {
		at = at.Add(time.Duration(rng.ExpFloat64() / rate * 1e9))
		r := pick(rng)
		if r.tier == "" {
			r.tier, r.key = "free", rng.IntN(100)
			if rng.Float64() < proShare {
				r.tier, r.key = "pro", rng.IntN(20)
			}
		}
		rec := schema.LedgerRecord{ID: fmt.Sprintf("q%d", i), KeyHash: fmt.Sprintf("%s%d", r.tier, r.key), Tier: r.tier, Route: r.route,
			Method: r.method, Path: r.route, Status: 200, Decision: "allowed", Start: at, End: at.Add(2 * time.Millisecond)}
		if err := enc.Encode(&rec); err != nil {
			t.Fatal(err)
		}
	}
}

func scenarioRoutes(r *rand.Rand) ledgerRec {
	if r.Float64() < 0.7 {
		return ledgerRec{route: "/items", method: "GET"}
	}
	return ledgerRec{route: "/healthz", method: "GET"}
}

func ledgerSpec(path string) string {
	return strings.Replace(tinySpec, "scenario: month-1b}", fmt.Sprintf("scenario: month-1b, ledger: %q}", path), 1)
}

// TestLedgerTraffic: traffic.ledger replaces month-1b's groups with one per
// recorded tier scaled to the monthly volume (keys scaled by the same
// factor), sets the route weights to the recorded mix, keeps the scenario's
// diurnal shape for a ledger shorter than a day (and says so), puts the fit
// in the header, and its hash follows the ledger's content, not its path.
func TestLedgerTraffic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "usage.jsonl")
	const n, rate = 3000, 5.0
	writeLedger(t, path, n, rate, 0.25, 1, scenarioRoutes)
	p, sh := tinyPlanner(t, ledgerSpec(path))
	fit := p.Header().TrafficFit
	if fit == nil || fit.Ledger != path || fit.Requests != n || len(fit.Tiers) != 2 {
		t.Fatalf("header traffic_fit: %+v", fit)
	}
	perSecond := 1e7 / (sh.HoursPerMonth * 3600)
	if k := perSecond / fit.RecordedPerSecond; math.Abs(fit.ScaleFactor-k) > 1e-12 {
		t.Errorf("scale factor %v, want %v", fit.ScaleFactor, k)
	}
	// the recorded rate is n over the span of n exponential gaps: within
	// 4 standard errors (1/sqrt(n)) of the generator's rate
	if math.Abs(fit.RecordedPerSecond/rate-1) > 4/math.Sqrt(n) {
		t.Errorf("recorded rate %v, want %v", fit.RecordedPerSecond, rate)
	}
	g := p.base.Traffic.Groups
	if len(g) != 2 || g[0].Name != "ledger-free" || g[1].Name != "ledger-pro" {
		t.Fatalf("groups %+v", g)
	}
	var sum float64
	for i, tf := range fit.Tiers {
		sum += g[i].Rate
		if g[i].Keys != tf.ScaledKeys || tf.ScaledKeys != int(math.Round(float64(tf.Keys)*fit.ScaleFactor)) {
			t.Errorf("%s: keys %d, scaled %d, recorded %d x %v", tf.Tier, g[i].Keys, tf.ScaledKeys, tf.Keys, fit.ScaleFactor)
		}
		if g[i].Tier != tf.Tier || g[i].Zipf != tf.Zipf || g[i].Arrival != tf.Arrival || g[i].Retry != "honour" {
			t.Errorf("group %+v does not carry tier fit %+v", g[i], tf)
		}
	}
	if math.Abs(sum-perSecond) > 1e-9 {
		t.Errorf("group rates sum to %v, want %v", sum, perSecond)
	}
	for _, r := range p.base.Routes {
		var want float64
		for _, rf := range fit.Routes {
			if rf.Route == r.Name && rf.Method == r.Method {
				want = rf.Weight
			}
		}
		if r.Weight != want || want == 0 {
			t.Errorf("route %s %s weight %v, want the recorded %v", r.Name, r.Method, r.Weight, want)
		}
	}
	if p.base.Traffic.Diurnal.Amplitude != 0.5 || fit.Diurnal.Fitted || len(fit.Notes) == 0 || !strings.Contains(fit.Notes[0], "diurnal shape is kept") {
		t.Errorf("diurnal %+v, fit %+v, notes %q", p.base.Traffic.Diurnal, fit.Diurnal, fit.Notes)
	}
	// the same bytes elsewhere: the same question
	moved := filepath.Join(dir, "moved.jsonl")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(moved, b, 0o644); err != nil {
		t.Fatal(err)
	}
	p2, _ := tinyPlanner(t, ledgerSpec(moved))
	if p2.Header().SpecSHA256 != p.Header().SpecSHA256 {
		t.Error("the same ledger at another path changed the spec hash")
	}
	// another ledger: another question
	other := filepath.Join(dir, "other.jsonl")
	writeLedger(t, other, n, rate, 0.25, 2, scenarioRoutes)
	p3, _ := tinyPlanner(t, ledgerSpec(other))
	if p3.Header().SpecSHA256 == p.Header().SpecSHA256 {
		t.Error("a different ledger kept the spec hash")
	}
	// the fitted traffic runs: one configuration's evaluation
	ev, err := p.Evaluate(0, p.Candidates()[0])
	if err != nil || ev.Simulations == 0 {
		t.Fatalf("evaluate: %+v, %v", ev, err)
	}
}

func TestLedgerErrors(t *testing.T) {
	dir := t.TempDir()
	sh, err := reports.DefaultPrices()
	if err != nil {
		t.Fatal(err)
	}
	run := func(path string) error {
		spec, err := Parse("t.yaml", []byte(ledgerSpec(path)))
		if err != nil {
			t.Fatal(err)
		}
		sc, err := scenarios.Load("month-1b")
		if err != nil {
			t.Fatal(err)
		}
		_, err = New(spec, sh, &sc.Config)
		return err
	}
	gold := filepath.Join(dir, "gold.jsonl")
	writeLedger(t, gold, 50, 1, 0, 1, func(r *rand.Rand) ledgerRec {
		return ledgerRec{tier: "gold", route: "/items", method: "GET"}
	})
	empty := filepath.Join(dir, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	admin := filepath.Join(dir, "admin.jsonl")
	writeLedger(t, admin, 50, 1, 0, 1, func(r *rand.Rand) ledgerRec { return ledgerRec{route: "/admin", method: "GET"} })
	for _, c := range []struct {
		path string
		want []string
	}{
		{gold, []string{"traffic.ledger", gold + " line 1", `tier "gold" is not a tier of scenario month-1b`}},
		{admin, []string{"traffic.ledger", admin + " line 1", `route "/admin" is not a route of scenario month-1b`}},
		{empty, []string{"traffic.ledger", empty, "empty ledger"}},
	} {
		err := run(c.path)
		if !errors.Is(err, ErrSpec) {
			t.Errorf("%s: want ErrSpec, got %v", c.path, err)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q lacks %q", err, w)
			}
		}
	}
}

// TestLedgerGateway: with traffic.gateway the recorded routes are the
// config's: a route the scenario's entries do not map to gets an entry at
// its prefix, and a route the config lacks is an error naming the config.
func TestLedgerGateway(t *testing.T) {
	dir := t.TempDir()
	sh, err := reports.DefaultPrices()
	if err != nil {
		t.Fatal(err)
	}
	gw := scenarios.Gateway{File: "gw.yaml", Store: "redis", Clock: "server",
		Tiers: []tier.Tier{{Name: "free", Algorithm: engine.GCRA, Burst: 20, Rate: 5}, {Name: "pro", Algorithm: engine.GCRA, Burst: 200, Rate: 50}},
		Routes: []route.Route{
			{Name: "items", Prefix: "/items", Methods: []string{"GET"}, Cost: 1, Reference: engine.Duration(time.Millisecond)},
			{Name: "health", Prefix: "/healthz", Methods: []string{"GET"}, Cost: 1, Reference: engine.Duration(time.Millisecond), Operational: true},
			{Name: "orders", Prefix: "/orders", Methods: []string{"GET", "POST"}, Cost: 5, Reference: engine.Duration(time.Millisecond)},
		}}
	plan := func(path string) (*Planner, error) {
		spec, err := Parse("t.yaml", []byte(strings.Replace(ledgerSpec(path), "scenario: month-1b,", "scenario: month-1b, gateway: gw.yaml,", 1)))
		if err != nil {
			t.Fatal(err)
		}
		sc, err := scenarios.Load("month-1b")
		if err != nil {
			t.Fatal(err)
		}
		if err := sc.UseGateway(gw, nil, nil); err != nil {
			t.Fatal(err)
		}
		return New(spec, sh, &sc.Config, WithGateway(gw.File, gw.Routes))
	}
	good := filepath.Join(dir, "good.jsonl")
	writeLedger(t, good, 600, 2, 0.3, 1, func(r *rand.Rand) ledgerRec {
		if r.Float64() < 0.2 {
			return ledgerRec{route: "orders", method: "POST"}
		}
		return ledgerRec{route: "items", method: "GET"}
	})
	p, err := plan(good)
	if err != nil {
		t.Fatal(err)
	}
	var orders, items, health float64
	for _, r := range p.base.Routes {
		switch r.Name {
		case "orders":
			if r.Path != "/orders" || r.Method != "POST" || r.Cost != 5 {
				t.Errorf("orders entry %+v", r)
			}
			orders += r.Weight
		case "items":
			items += r.Weight
		case "health":
			health += r.Weight
		}
	}
	fit := p.Header().TrafficFit
	if orders == 0 || items == 0 || health != 0 || math.Abs(orders+items-1) > 1e-12 || math.Abs(orders-fit.Routes[1].Weight) > 1e-12 {
		t.Errorf("weights orders %v items %v health %v, fit %+v", orders, items, health, fit.Routes)
	}
	bad := filepath.Join(dir, "bad.jsonl")
	writeLedger(t, bad, 50, 1, 0, 1, func(r *rand.Rand) ledgerRec { return ledgerRec{route: "/items", method: "GET"} })
	_, err = plan(bad)
	if err == nil || !strings.Contains(err.Error(), `route "/items" is not a route of gateway config gw.yaml`) || !strings.Contains(err.Error(), bad+" line 1") {
		t.Fatalf("want an error naming the route, the file and line and gw.yaml, got %v", err)
	}
}
