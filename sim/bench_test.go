package sim_test

import (
	"testing"

	"tollgate/scenarios"
	"tollgate/sim"
)

// benchScenario runs a built-in scenario shortened to 20 virtual seconds and
// reports simulated requests per second of benchmark time (one core: a run
// is single-threaded).
func benchScenario(b *testing.B, name string) {
	sc, err := scenarios.Load(name)
	if err != nil {
		b.Fatal(err)
	}
	for _, kv := range [][2]string{{"duration", "20s"}, {"warmup", "0s"}} {
		if err := sc.Set(kv[0], kv[1]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	var reqs int64
	for b.Loop() {
		cfg := sc.Config
		_, st, err := sim.RunStats(&cfg, sim.Options{})
		if err != nil {
			b.Fatal(err)
		}
		reqs += st.Simulated
	}
	b.ReportMetric(float64(reqs)/b.Elapsed().Seconds(), "req/s")
}

func BenchmarkBaseline(b *testing.B) { benchScenario(b, "baseline") }
func BenchmarkSpotLoss(b *testing.B) { benchScenario(b, "spot-loss") }
