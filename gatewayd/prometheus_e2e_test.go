package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"tollgate/internal/promtest"
)

// startDemoUpstream builds and starts the demo upstream (cmd/demo-upstream)
// on a free loopback port, answering after delay, and returns its base URL.
func startDemoUpstream(t *testing.T, delay time.Duration) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "demo-upstream")
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd/demo-upstream").CombinedOutput(); err != nil {
		t.Fatalf("build demo-upstream: %v\n%s", err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(bin, "-listen", addr, "-quiet", "-delay", delay.String())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	url := "http://" + addr
	promtest.Eventually(t, 20*time.Second, "the demo upstream answering", func() (bool, string) {
		resp, err := http.Get(url + "/")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return true, ""
	})
	return url
}

// TestPrometheusAlertsAndPricing starts a real Prometheus (Debian's package)
// that scrapes a real gatewayd with the shipped rules (deploy/prometheus),
// drives refusals through gatewayd to the demo upstream, and sees the
// rejection-rate alert become pending or firing through Prometheus's HTTP
// API. The same Prometheus then serves gatewayd's pricing queries
// (pricing.source: prometheus): route v1's load comes from a PromQL query
// and surges its price; route v2's query yields nothing, so v2 falls back to
// the local estimate and the failure is counted.
func TestPrometheusAlertsAndPricing(t *testing.T) {
	if _, err := exec.LookPath("prometheus"); err != nil && !promtest.Required() {
		t.Skipf("prometheus not found on PATH (install Debian's prometheus package); skipping (set %s=1 to fail instead)", promtest.RequireEnv)
	}
	// The upstream answers after 20ms, the routes' reference: the latency
	// factor is at least 1, so the surge shows in the multiplier.
	upstream := startDemoUpstream(t, 20*time.Millisecond)
	listen, admin := freeAddrs(t)
	prom := promtest.Start(t, promtest.Options{Targets: []string{admin},
		RuleFiles: []string{"../deploy/prometheus/rules.yml"}, Interval: time.Second})
	const v1Query = `clamp_max(sum(rate(gatewayd_requests_total{route="v1", decision="limited"}[30s])), 1)`
	cfg := fmt.Sprintf(`
auth:
  api_keys:
    keys:
      - {sha256: %s, tier: free}
tiers:
  - {name: free, burst: 5, rate: 1}
routes:
  - {name: v1, prefix: /v1/, upstream: %q, reference: 20ms}
  - {name: v2, prefix: /v2/, upstream: %q, reference: 20ms}
pricing:
  dynamic: true
  alpha: 0.5
  interval: 250ms
  source: prometheus
  prometheus:
    url: %q
    ttl: 500ms
    queries:
      v1: '%s'
      v2: 'gatewayd_no_such_series'
ledger: {dir: LEDGER}
`, demoKeyHash, upstream, upstream, prom.URL, v1Query)
	g := startGWAt(t, cfg, listen, admin)

	c, err := api.NewClient(api.Config{Address: prom.URL})
	if err != nil {
		t.Fatal(err)
	}
	papi := v1.NewAPI(c)
	ctx := context.Background()
	drive := func() {
		for i := 0; i < 20; i++ {
			do(t, "GET", g.url+"/v1/hello", nil, map[string]string{"X-API-Key": "demo-key"})
		}
		do(t, "GET", g.url+"/v2/hello", nil, map[string]string{"X-API-Key": "demo-key"})
	}

	t.Run("rejection alert", func(t *testing.T) {
		promtest.Eventually(t, 2*time.Minute, "TollgateRejectionRateHigh pending or firing for tier free", func() (bool, string) {
			drive()
			res, err := papi.Alerts(ctx)
			if err != nil {
				return false, err.Error()
			}
			var seen []string
			for _, a := range res.Alerts {
				seen = append(seen, fmt.Sprintf("%s%v=%s", a.Labels["alertname"], a.Labels, a.State))
				if a.Labels["alertname"] == "TollgateRejectionRateHigh" && a.Labels["tier"] == "free" &&
					(a.State == v1.AlertStatePending || a.State == v1.AlertStateFiring) {
					if !strings.HasPrefix(string(a.Annotations["runbook_url"]), "docs/observability.md#") {
						t.Errorf("alert without its runbook: %v", a.Annotations)
					}
					return true, ""
				}
			}
			return false, fmt.Sprintf("alerts: %v", seen)
		})
		// The recording rule behind it agrees: most of tier free's requests are 429s.
		val, _, _, err := papi.Query(ctx, `gatewayd:rejection_ratio:rate5m{tier="free"}`, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if vec, ok := val.(model.Vector); !ok || len(vec) != 1 || vec[0].Value <= 0.05 {
			t.Fatalf("gatewayd:rejection_ratio:rate5m{tier=\"free\"} = %v, want one sample above 0.05", val)
		}
	})

	t.Run("pricing source", func(t *testing.T) {
		promtest.Eventually(t, 2*time.Minute, "route v1 priced on its Prometheus load with the surge", func() (bool, string) {
			drive()
			load := g.metric("gatewayd_pricing_load", "route", "v1", "source", "prometheus")
			mult := g.metric("gatewayd_pricing_multiplier", "route", "v1")
			return load == 1 && mult >= 1.5, fmt.Sprintf("v1 load %v (prometheus), multiplier %v", load, mult)
		})
		// gatewayd's signal is what Prometheus answers for the same query.
		val, _, _, err := papi.Query(ctx, v1Query, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if vec, ok := val.(model.Vector); !ok || len(vec) != 1 || vec[0].Value != 1 {
			t.Fatalf("Prometheus answers %v for v1's query, want 1", val)
		}
		// v2's query yields no sample: the local estimate, and counted failures.
		if f := g.metric("gatewayd_pricing_source_failures_total", "route", "v2"); f < 1 {
			t.Errorf("gatewayd_pricing_source_failures_total{route=\"v2\"} = %v, want >= 1", f)
		}
		if g.metric("gatewayd_pricing_load", "route", "v2", "source", "prometheus") != 0 {
			t.Error("route v2 reports a Prometheus load although its query yields nothing")
		}
		if l := g.metric("gatewayd_pricing_load", "route", "v2", "source", "local"); l >= 0.7 {
			t.Errorf("route v2's local load %v, want the node's low in-flight share", l)
		}
		if !strings.Contains(g.log.String(), "Prometheus load query failed") {
			t.Errorf("no log line for v2's failing query:\n%s", g.log.String())
		}
	})
	g.stop()
}
