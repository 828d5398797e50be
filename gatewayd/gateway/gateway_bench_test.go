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

// BenchmarkServeHTTP measures the gateway's own path (auth, price, limit on
// the memory store, proxy to a loopback upstream, ledger) per request.
func BenchmarkServeHTTP(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	defer up.Close()
	cfg := &config.Config{
		Auth:   config.Auth{APIKeys: config.APIKeys{Keys: []config.APIKey{{SHA256: auth.HashKey("k"), Tier: "t"}}}},
		Tiers:  []config.Tier{{Tier: tier.Tier{Name: "t", Burst: 1e6, Rate: 1e6}}},
		Routes: []config.Route{{Route: route.Route{Name: "v1", Prefix: "/v1/"}, Upstream: up.URL}},
		Ledger: config.Ledger{Dir: filepath.Join(b.TempDir(), "ledger"), Durability: ledger.Batch}, // the request path's CPU, not the disk
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
			_, _ = io.Copy(io.Discard, w.Body)
		}
	})
}
