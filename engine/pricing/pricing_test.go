package pricing

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"tollgate/engine"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func mustNew(t *testing.T, cfg Config) *Pricer {
	t.Helper()
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func TestCostMatrixLookup(t *testing.T) {
	p := mustNew(t, Config{DefaultCost: 2, Costs: []RouteCost{
		{Route: "/report", Method: "GET", Cost: 50},
		{Route: "/report", Method: "*", Cost: 80},
		{Route: "/health", Cost: 0.01},
	}})
	cases := []struct {
		route, method string
		want          float64
	}{
		{"/report", "GET", 50},
		{"/report", "get", 50},
		{"/report", "POST", 80},
		{"/health", "GET", 0.01},
		{"/other", "GET", 2},
		{"", "", 2},
	}
	for _, tc := range cases {
		if got := p.Price(tc.route, tc.method); got != tc.want {
			t.Errorf("Price(%q, %q) = %v, want %v", tc.route, tc.method, got, tc.want)
		}
	}
	d := mustNew(t, Config{})
	if d.Price("/x", "GET") != DefaultCost {
		t.Errorf("default cost %v", d.Price("/x", "GET"))
	}
}

func TestValidate(t *testing.T) {
	_, err := New(Config{Alpha: 2, SurgeThreshold: -1, MaxStep: 1, MinMultiplier: 2, Interval: engine.Duration(-time.Second),
		Costs: []RouteCost{{Route: "", Cost: -1}, {Route: "/a", Method: "get", Cost: math.NaN()}, {Route: "/a", Method: "GET", Reference: -time.Second}}})
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("want ErrInvalid, got %v", err)
	}
	for _, want := range []string{
		"pricing.alpha: must be in (0, 1], got 2",
		"pricing.surge_threshold: must be in (0, 1], got -1",
		"pricing.max_step: must be in (0, 1), got 1",
		"pricing.min_multiplier: must be <= 1 (the neutral multiplier), got 2",
		"pricing.interval: must be > 0, got -1s",
		"pricing.costs[0].route: must not be empty",
		"pricing.costs[0].cost: must be >= 0, got -1",
		"pricing.costs[1].cost: must be >= 0, got NaN",
		"pricing.costs[2].reference: must be >= 0, got -1s",
		`pricing.costs[2]: duplicate of costs[1]`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

// TestEMAConvergence: with a constant service time twice the reference, the
// EMA converges to it (error shrinking by 1-alpha per observation) and the
// multiplier climbs to 2 in bounded steps.
func TestEMAConvergence(t *testing.T) {
	p := mustNew(t, Config{Costs: []RouteCost{{Route: "/r", Cost: 10, Reference: 100 * time.Millisecond}}})
	p.Observe("/r", "GET", 100*time.Millisecond) // first observation seeds the EMA
	e := p.lookup("/r", "GET")
	for i := 1; i <= 60; i++ {
		p.Observe("/r", "GET", 200*time.Millisecond)
		wantErr := 0.1 * math.Pow(0.9, float64(i)) // seconds left to converge
		if !near(0.2-e.ema, wantErr, 1e-12) {
			t.Fatalf("after %d observations ema %v, want 0.2 - %v", i, e.ema, wantErr)
		}
	}
	now := t0
	for i := 0; i < 10; i++ {
		p.Tick(now)
		now = now.Add(time.Second)
	}
	want := e.ema / 0.1 // the target, 2 - 0.1*0.9^60/0.1
	if m := p.Multiplier("/r", "GET"); !near(m, want, 1e-12) || !near(m, 2, 2e-3) {
		t.Fatalf("multiplier %v, want %v", m, want)
	}
	if pr := p.Price("/r", "GET"); !near(pr, 10*want, 1e-9) {
		t.Fatalf("price %v, want %v", pr, 10*want)
	}
}

func TestClamp(t *testing.T) {
	p := mustNew(t, Config{Costs: []RouteCost{{Route: "/slow", Cost: 1, Reference: time.Millisecond}, {Route: "/fast", Cost: 1, Reference: time.Second}}})
	p.Observe("/slow", "GET", time.Minute)      // 60000x reference
	p.Observe("/fast", "GET", time.Microsecond) // 1e-6x reference
	p.SetLoad(1)
	now := t0
	for i := 0; i < 50; i++ {
		p.Tick(now)
		now = now.Add(time.Second)
	}
	if m := p.Multiplier("/slow", ""); m != DefaultMaxMultiplier {
		t.Errorf("slow multiplier %v, want clamp at %v", m, DefaultMaxMultiplier)
	}
	// fast: latency factor 1e-6, surge 1.5: still clamped at the minimum.
	if m := p.Multiplier("/fast", ""); m != DefaultMinMultiplier {
		t.Errorf("fast multiplier %v, want clamp at %v", m, DefaultMinMultiplier)
	}
	if m := p.Multiplier("/none", ""); m != DefaultSurgeMultiplier {
		t.Errorf("default entry under surge %v, want %v", m, DefaultSurgeMultiplier)
	}
}

// TestBoundedStep: whatever the telemetry does, each step changes a
// multiplier by at most MaxStep relative, ticks within an interval do nothing,
// and the multiplier never passes its target.
func TestBoundedStep(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 1))
	p := mustNew(t, Config{Costs: []RouteCost{{Route: "/r", Cost: 1, Reference: 10 * time.Millisecond}}})
	now := t0
	prev := p.Multiplier("/r", "")
	lastStep := now.Add(-time.Hour)
	for i := 0; i < 5000; i++ {
		for j := rng.IntN(5); j > 0; j-- {
			p.Observe("/r", "", time.Duration(rng.ExpFloat64()*float64(50*time.Millisecond)))
		}
		p.SetLoad(rng.Float64())
		now = now.Add(time.Duration(rng.IntN(1500)) * time.Millisecond)
		p.Tick(now)
		m := p.Multiplier("/r", "")
		if now.Sub(lastStep) < time.Second && m != prev {
			t.Fatalf("step %d: multiplier moved within one interval", i)
		}
		if m != prev {
			lastStep = now
		}
		if m > prev*(1+DefaultMaxStep)*(1+1e-12) || m < prev*(1-DefaultMaxStep)*(1-1e-12) {
			t.Fatalf("step %d: multiplier %v -> %v beyond max step %v", i, prev, m, DefaultMaxStep)
		}
		if m < DefaultMinMultiplier*(1-1e-12) || m > DefaultMaxMultiplier*(1+1e-12) {
			t.Fatalf("step %d: multiplier %v outside [min, max]", i, m)
		}
		prev = m
	}
}

// TestSquareWaveLoad drives the load as a square wave between 0.95 and 0.2.
// Fast waves (period 2 intervals) average below the threshold: the smoothed
// load never crosses it and the multiplier stays at 1, not flipping each
// interval. Slow waves (period 200 intervals) are followed, but each change
// per interval stays within MaxStep, moves are monotone toward the target (no
// overshoot), and once the load settles the multiplier settles and stays.
func TestSquareWaveLoad(t *testing.T) {
	for _, tc := range []struct {
		name      string
		halfCycle int
		wantFlat  bool
	}{
		{"fast", 1, true},
		{"medium", 5, true},
		{"slow", 100, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := mustNew(t, Config{})
			now := t0
			prev := p.Multiplier("/x", "GET")
			reversals, lastDir := 0, 0
			for i := 0; i < 2000; i++ {
				load := 0.2
				if (i/tc.halfCycle)%2 == 0 {
					load = 0.95
				}
				p.SetLoad(load)
				p.Tick(now)
				now = now.Add(time.Second)
				m := p.Multiplier("/x", "GET")
				if r := m / prev; r > 1+DefaultMaxStep+1e-12 || r < 1-DefaultMaxStep-1e-12 {
					t.Fatalf("interval %d: change %v -> %v exceeds MaxStep", i, prev, m)
				}
				dir := 0
				if m > prev {
					dir = 1
				} else if m < prev {
					dir = -1
				}
				if dir != 0 && lastDir != 0 && dir != lastDir {
					reversals++
				}
				if dir != 0 {
					lastDir = dir
				}
				prev = m
			}
			if tc.wantFlat && reversals != 0 {
				t.Fatalf("multiplier reversed direction %d times under a fast square wave", reversals)
			}
			// One reversal per half cycle at most: it follows the load, it does not ring.
			if maxRev := 2000 / tc.halfCycle; reversals > maxRev {
				t.Fatalf("%d reversals, more than one per half cycle (%d)", reversals, maxRev)
			}
			// Hold the load and check it settles on the target and stays.
			p.SetLoad(0.1)
			var settledAt time.Time
			for i := 0; i < 200; i++ {
				p.Tick(now)
				m := p.Multiplier("/x", "GET")
				if m == 1 && settledAt.IsZero() {
					settledAt = now
				}
				if !settledAt.IsZero() && m != 1 {
					t.Fatalf("multiplier left its settled value: %v at %v", m, now)
				}
				now = now.Add(time.Second)
			}
			if settledAt.IsZero() {
				t.Fatal("multiplier did not settle at 1 within 200 intervals")
			}
		})
	}
}

func TestHysteresis(t *testing.T) {
	p := mustNew(t, Config{Alpha: 1}) // no smoothing: the load is taken as is
	now := t0
	for i, tc := range []struct {
		load float64
		want bool
	}{{0.5, false}, {0.71, true}, {0.68, true}, {0.64, true}, {0.62, false}, {0.69, false}, {0.8, true}} {
		p.SetLoad(tc.load)
		p.Tick(now)
		now = now.Add(time.Second)
		if p.Surging() != tc.want {
			t.Fatalf("step %d load %v: surging %v, want %v", i, tc.load, p.Surging(), tc.want)
		}
	}
}

func TestConcurrentUse(t *testing.T) {
	p := mustNew(t, Config{Costs: []RouteCost{{Route: "/r", Cost: 3, Reference: time.Millisecond}}})
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				switch g {
				case 0:
					p.Tick(t0.Add(time.Duration(i) * time.Second))
				case 1:
					p.SetLoad(float64(i%10) / 10)
				case 2:
					p.Observe("/r", "GET", time.Duration(i%7)*time.Millisecond)
				default:
					if pr := p.Price("/r", "GET"); pr < 3*DefaultMinMultiplier || pr > 3*DefaultMaxMultiplier {
						t.Errorf("price %v out of range", pr)
						return
					}
				}
			}
		}(g)
	}
	wg.Wait()
}

// FuzzConfig: any config either fails validation with ErrInvalid or gives a
// pricer whose prices stay within [min, max] x base cost, finite and >= 0,
// whatever the telemetry.
func FuzzConfig(f *testing.F) {
	f.Add(1.0, 0.1, 0.7, 1.5, 0.5, 4.0, 0.25, int64(time.Second), 2.0, int64(time.Millisecond), int64(5*time.Millisecond), 0.9)
	f.Add(-1.0, 2.0, 0.0, 0.5, 3.0, 1.0, 1.0, int64(-1), math.NaN(), int64(-5), int64(0), -3.0)
	f.Fuzz(func(t *testing.T, def, alpha, thr, surge, mn, mx, step float64, interval int64, cost float64, ref, obs int64, load float64) {
		p, err := New(Config{DefaultCost: def, Alpha: alpha, SurgeThreshold: thr, SurgeMultiplier: surge, MinMultiplier: mn,
			MaxMultiplier: mx, MaxStep: step, Interval: engine.Duration(interval),
			Costs: []RouteCost{{Route: "/r", Method: "GET", Cost: cost, Reference: time.Duration(ref)}}})
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error without ErrInvalid: %v", err)
			}
			return
		}
		c := p.Config()
		now := t0
		for i := 0; i < 50; i++ {
			p.Observe("/r", "get", time.Duration(obs)*time.Duration(i%3))
			p.SetLoad(load * float64(i%2))
			p.Tick(now)
			now = now.Add(c.Interval.D())
			for _, route := range []string{"/r", "/other"} {
				base := p.BaseCost(route, "GET")
				pr := p.Price(route, "GET")
				if math.IsNaN(pr) || pr < 0 || pr < base*c.MinMultiplier*(1-1e-9) || pr > base*c.MaxMultiplier*(1+1e-9) {
					t.Fatalf("price %v of %s outside [%v, %v] x %v", pr, route, c.MinMultiplier, c.MaxMultiplier, base)
				}
			}
		}
	})
}

// A route with its own load signal surges on it alone; the others follow the
// node's load; clearing the signal returns the route to the node's load.
func TestRouteLoad(t *testing.T) {
	p := mustNew(t, Config{Costs: []RouteCost{{Route: "hot", Cost: 1}, {Route: "cold", Cost: 1}}, Alpha: 1, MaxStep: 0.9})
	if !p.SetRouteLoad("hot", 0.95) {
		t.Fatal("SetRouteLoad(hot) = false, want true")
	}
	if p.SetRouteLoad("missing", 0.5) {
		t.Fatal("SetRouteLoad(missing) = true, want false")
	}
	p.SetLoad(0.1)
	p.Tick(t0)
	if got := p.Multiplier("hot", "GET"); got != DefaultSurgeMultiplier {
		t.Fatalf("hot multiplier = %v, want the surge %v", got, DefaultSurgeMultiplier)
	}
	if got := p.Multiplier("cold", "GET"); got != 1 {
		t.Fatalf("cold multiplier = %v, want 1 (node load 0.1)", got)
	}
	if p.Surging() {
		t.Fatal("node surging on a route's own load")
	}
	p.ClearRouteLoad("hot")
	p.Tick(t0.Add(time.Second))
	if got := p.Multiplier("hot", "GET"); got != 1 {
		t.Fatalf("hot multiplier after ClearRouteLoad = %v, want 1 (node load 0.1)", got)
	}
	p.SetRouteLoad("hot", math.NaN()) // ignored
	p.Tick(t0.Add(2 * time.Second))
	if got := p.Multiplier("hot", "GET"); got != 1 {
		t.Fatalf("hot multiplier after a NaN load = %v, want 1", got)
	}
}
