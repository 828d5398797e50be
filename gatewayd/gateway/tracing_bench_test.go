package gateway

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"tollgate/engine/route"
	"tollgate/engine/tier"
	"tollgate/gatewayd/auth"
	"tollgate/gatewayd/config"
	"tollgate/gatewayd/ledger"
)

// BenchmarkServeHTTPTracing is BenchmarkServeHTTP's request path with tracing
// off, at 1% and at 100% sampling, in one run. With tracing on, spans go
// through the real OTLP/HTTP exporter (batched) to a loopback receiver that
// reads and discards them.
func BenchmarkServeHTTPTracing(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	defer up.Close()
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer collector.Close()
	for _, c := range []struct {
		name     string
		sampling float64 // < 0: tracing off
	}{{"off", -1}, {"sampled-1pct", 0.01}, {"sampled-100pct", 1}} {
		b.Run(c.name, func(b *testing.B) {
			cfg := &config.Config{
				Auth:   config.Auth{APIKeys: config.APIKeys{Keys: []config.APIKey{{SHA256: auth.HashKey("k"), Tier: "t"}}}},
				Tiers:  []config.Tier{{Tier: tier.Tier{Name: "t", Burst: 1e6, Rate: 1e6}}},
				Routes: []config.Route{{Route: route.Route{Name: "v1", Prefix: "/v1/"}, Upstream: up.URL}},
				Ledger: config.Ledger{Dir: filepath.Join(b.TempDir(), "ledger"), Durability: ledger.Batch}, // as BenchmarkServeHTTP
			}
			if c.sampling >= 0 {
				s := c.sampling
				cfg.Tracing = config.Tracing{Endpoint: collector.URL, Sampling: &s}
			}
			cfg.ApplyDefaults()
			if err := cfg.Validate(); err != nil {
				b.Fatal(err)
			}
			g, err := New(cfg, slog.New(slog.DiscardHandler))
			if err != nil {
				b.Fatal(err)
			}
			defer g.Close()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					r := httptest.NewRequest("GET", "/v1/x", nil)
					r.Header.Set("X-API-Key", "k")
					w := httptest.NewRecorder()
					g.ServeHTTP(w, r)
					if w.Code != 200 {
						b.Fatalf("status %d", w.Code)
					}
				}
			})
		})
	}
}
