package ledgerfit

import (
	"fmt"
	"math"
	"time"

	"tollgate/engine/route"
	"tollgate/schema"
	"tollgate/sim"
)

// maxGroupKeys is the simulator's bound on one group's keys (sim.Config
// Validate).
const maxGroupKeys = 10_000_000

// ApplyOptions are what Apply needs beyond the fit.
type ApplyOptions struct {
	// Routes are route definitions (a gateway config's) for recorded routes
	// that no route entry of the config carries; such a route gets an entry
	// at its prefix with the simulator's default backend.
	Routes []route.Route
	// KeepDiurnal keeps the config's diurnal shape even when one was fitted
	// (the spec set traffic.diurnal).
	KeepDiurnal bool
}

// Apply replaces cfg's traffic with the fit scaled to perSecond requests a
// second: one group per tier (named ledger-<tier>) with the tier's share of
// the rate, its Zipf exponent and arrival process, and its recorded keys
// times the scale factor (more traffic is more clients behaving as the
// recorded ones do: the mean rate per key is kept); the route entries'
// weights become the recorded mix (entries not recorded are dropped); the fitted diurnal shape, if any,
// replaces cfg's. Retry behaviour, which a ledger does not show, is taken
// from cfg's first group of the same tier (else its first group). It sets
// fit's ScaleFactor and each tier's Rate and ScaledKeys.
func Apply(cfg *sim.Config, fit *schema.TrafficFit, perSecond float64, opts ApplyOptions) error {
	if !(fit.RecordedPerSecond > 0) || !(perSecond > 0) {
		return fmt.Errorf("%w: %s: cannot scale a recorded rate of %v to %v a second", ErrLedger, fit.Ledger, fit.RecordedPerSecond, perSecond)
	}
	k := perSecond / fit.RecordedPerSecond
	fit.ScaleFactor = k
	var groups []sim.Group
	for i := range fit.Tiers {
		t := &fit.Tiers[i]
		keys := math.Round(float64(t.Keys) * k)
		if keys > maxGroupKeys {
			return fmt.Errorf("%w: %s: tier %s: %d recorded keys x scale factor %.4g = %.0f keys, more than the simulator's %d a group; record a longer or busier ledger, or plan for fewer requests",
				ErrLedger, fit.Ledger, t.Tier, t.Keys, k, keys, maxGroupKeys)
		}
		t.ScaledKeys = int(max(keys, 1))
		t.Rate = t.Share * perSecond
		g := retryOf(cfg, t.Tier)
		g.Name, g.Tier, g.Keys, g.Zipf, g.Rate, g.Routes = "ledger-"+t.Tier, t.Tier, t.ScaledKeys, t.Zipf, t.Rate, nil
		g.Arrival = t.Arrival
		if t.Arrival == sim.ArrivalMMPP {
			g.BurstFactor = t.BurstFactor
			g.HighTime = sim.Duration(seconds(t.HighTimeS))
			g.LowTime = sim.Duration(seconds(t.LowTimeS))
		}
		groups = append(groups, g)
	}
	if err := applyRoutes(cfg, fit, opts.Routes); err != nil {
		return err
	}
	cfg.Traffic.Groups = groups
	cfg.Traffic.Source, cfg.Traffic.Trace = "synthetic", ""
	if d := fit.Diurnal; d.Fitted && !opts.KeepDiurnal {
		// the fit's phase is against the UTC time of day; the simulator's
		// against virtual time, which starts at cfg.Start
		phase := d.PhaseS
		if st, err := time.Parse(time.RFC3339, cfg.Start); err == nil {
			phase = math.Mod(phase+float64(st.Unix()%86400+86400), d.PeriodS)
		}
		cfg.Traffic.Diurnal = sim.Diurnal{Amplitude: d.Amplitude, Period: sim.Duration(seconds(d.PeriodS)), Phase: sim.Duration(seconds(phase))}
	}
	cfg.Defaults()
	return nil
}

// retryOf returns a group carrying the retry behaviour of cfg's first group
// of tier (else its first group, else the simulator's defaults).
func retryOf(cfg *sim.Config, tier string) sim.Group {
	var src *sim.Group
	for i := range cfg.Traffic.Groups {
		if g := &cfg.Traffic.Groups[i]; g.Tier == tier {
			src = g
			break
		}
	}
	if src == nil && len(cfg.Traffic.Groups) > 0 {
		src = &cfg.Traffic.Groups[0]
	}
	if src == nil {
		return sim.Group{}
	}
	return sim.Group{Retry: src.Retry, Jitter: src.Jitter, RetryDelay: src.RetryDelay, MaxRetries: src.MaxRetries,
		RetryAfterSeconds: src.RetryAfterSeconds}
}

// applyRoutes sets the route entries' weights to the recorded mix: a
// recorded route and method's weight is split over the entries of that name
// and method by their weights; a recorded method without an entry gets a
// copy of an entry of the route with that method; a route without entries
// gets one from defs. Entries not recorded are dropped (a weight of 0 would
// read as unset, which the simulator defaults to 1).
func applyRoutes(cfg *sim.Config, fit *schema.TrafficFit, defs []route.Route) error {
	old := make([]float64, len(cfg.Routes))
	for i := range cfg.Routes {
		old[i] = cfg.Routes[i].Weight
		cfg.Routes[i].Weight = 0
	}
	for _, rf := range fit.Routes {
		var same, named []int
		for i, e := range cfg.Routes {
			if i >= len(old) {
				break // entries added below carry their own weight
			}
			if e.Route.Name == rf.Route {
				named = append(named, i)
				if e.Method == rf.Method {
					same = append(same, i)
				}
			}
		}
		switch {
		case len(same) > 0:
			var sum float64
			for _, i := range same {
				sum += old[i]
			}
			for _, i := range same {
				share := 1 / float64(len(same))
				if sum > 0 {
					share = old[i] / sum
				}
				cfg.Routes[i].Weight = rf.Weight * share
			}
		case len(named) > 0:
			e := cfg.Routes[named[0]]
			e.Route.Methods = append([]string(nil), e.Route.Methods...)
			e.Method, e.Weight = rf.Method, rf.Weight
			cfg.Routes = append(cfg.Routes, e)
		default:
			var def *route.Route
			for i := range defs {
				if defs[i].Name == rf.Route {
					def = &defs[i]
				}
			}
			if def == nil {
				return fmt.Errorf("%w: %s: route %q has no route entry or definition to simulate it with", ErrLedger, fit.Ledger, rf.Route)
			}
			r := *def
			r.Methods = append([]string(nil), def.Methods...)
			cfg.Routes = append(cfg.Routes, sim.Route{Route: r, Path: r.Prefix, Method: rf.Method, Weight: rf.Weight})
		}
	}
	kept := cfg.Routes[:0]
	for _, e := range cfg.Routes {
		if e.Weight > 0 {
			kept = append(kept, e)
		}
	}
	cfg.Routes = kept
	return nil
}

func seconds(s float64) time.Duration { return time.Duration(math.Round(s * 1e9)) }
