// The operations files: the Prometheus rules (deploy/prometheus) and the
// Grafana dashboard (deploy/grafana), held against the metrics gatewayd
// really exports, promtool, the runbooks and the price sheet.

package deploy_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/parser"
	"go.yaml.in/yaml/v3"

	"tollgate/engine/pricing"
	"tollgate/engine/route"
	"tollgate/engine/tier"
	"tollgate/gatewayd/auth"
	"tollgate/gatewayd/config"
	"tollgate/gatewayd/gateway"
	"tollgate/internal/promtest"
	"tollgate/reports/cost"
)

const (
	rulesFile     = "prometheus/rules.yml"
	rulesTestFile = "prometheus/rules_test.yml"
	dashboardFile = "grafana/tollgate.json"
	docsFile      = "../docs/observability.md"
	pricesFile    = "../reports/prices.yaml"
)

// ruleFile is the part of a Prometheus rule file the tests read.
type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Record      string            `yaml:"record"`
			Alert       string            `yaml:"alert"`
			Expr        string            `yaml:"expr"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

func loadRules(t *testing.T) ruleFile {
	t.Helper()
	b, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	var rf ruleFile
	if err := yaml.Unmarshal(b, &rf); err != nil {
		t.Fatalf("%s: %v", rulesFile, err)
	}
	return rf
}

// dashboard is the part of the Grafana dashboard the tests read.
type dashboard struct {
	Panels []struct {
		Title   string `json:"title"`
		Type    string `json:"type"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
	Templating struct {
		List []struct {
			Name       string          `json:"name"`
			Type       string          `json:"type"`
			Query      json.RawMessage `json:"query"`
			Definition string          `json:"definition"`
			AllValue   string          `json:"allValue"`
		} `json:"list"`
	} `json:"templating"`
}

func loadDashboard(t *testing.T) dashboard {
	t.Helper()
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	return d
}

// exported returns the names of every series gatewayd exports, gathered from
// the /metrics of real gateways driven through every decision that creates a
// series: admitted, refused, shadow, unmetered (a dead Redis, fail-open), a
// Prometheus pricing source that fails. Histograms contribute their _bucket,
// _sum and _count series.
func exported(t *testing.T) map[string]dto.MetricType {
	t.Helper()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) }))
	defer up.Close()
	dead := httptest.NewServer(http.NotFoundHandler()) // a "Prometheus" that answers 404 to queries
	defer dead.Close()
	// A port nothing listens on, for the dead Redis.
	l := httptest.NewServer(http.NotFoundHandler())
	deadRedis := l.Listener.Addr().String()
	l.Close()

	names := map[string]dto.MetricType{}
	for _, c := range []struct {
		name  string
		store config.Store
	}{
		{"memory", config.Store{Kind: "memory"}},
		{"dead redis", config.Store{Kind: "redis", Redis: config.Redis{Addr: deadRedis, Timeout: config.Duration(50 * time.Millisecond)}}},
	} {
		cfg := &config.Config{
			Store: c.store,
			Auth:  config.Auth{APIKeys: config.APIKeys{Keys: []config.APIKey{{SHA256: auth.HashKey("k"), Tier: "gold"}}}},
			Tiers: []config.Tier{{Tier: tier.Tier{Name: "gold", Burst: 2, Rate: 0.001, FailOpen: true},
				Shadow: &config.Shadow{Burst: 1}}},
			Routes: []config.Route{{Route: route.Route{Name: "v1", Prefix: "/v1/"}, Upstream: up.URL}},
			Pricing: config.Pricing{Config: pricing.Config{Dynamic: true}, Source: config.PricingSourcePrometheus,
				Prometheus: &config.PricingPrometheus{URL: dead.URL, Queries: map[string]string{"v1": "vector(1)"},
					TTL: config.Duration(50 * time.Millisecond)}},
			Ledger: config.Ledger{Dir: filepath.Join(t.TempDir(), "ledger")},
		}
		cfg.ApplyDefaults()
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
		g, err := gateway.New(cfg, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		for i := 0; i < 4; i++ {
			r := httptest.NewRequest("GET", "/v1/x", nil)
			r.Header.Set("X-API-Key", "k")
			g.ServeHTTP(httptest.NewRecorder(), r)
		}
		admin := g.Admin()
		var fams map[string]*dto.MetricFamily
		promtest.Eventually(t, 20*time.Second, c.name+": the pricing query's failure in /metrics", func() (bool, string) {
			rec := httptest.NewRecorder()
			admin.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
			p := expfmt.NewTextParser(model.UTF8Validation)
			var err error
			fams, err = p.TextToMetricFamilies(rec.Body)
			if err != nil {
				return false, err.Error()
			}
			_, ok := fams["gatewayd_pricing_source_failures_total"]
			return ok, fmt.Sprintf("%d families", len(fams))
		})
		_ = g.Close()
		for n, f := range fams {
			switch f.GetType() {
			case dto.MetricType_HISTOGRAM:
				for _, s := range []string{"_bucket", "_sum", "_count"} {
					names[n+s] = f.GetType()
				}
			case dto.MetricType_SUMMARY:
				names[n+"_sum"], names[n+"_count"] = f.GetType(), f.GetType()
				names[n] = f.GetType()
			default:
				names[n] = f.GetType()
			}
		}
	}
	return names
}

// grafanaVar matches $name, ${name} and ${name:format}.
var grafanaVar = regexp.MustCompile(`\$\{([A-Za-z0-9_]+)(?::[a-z]+)?\}|\$([A-Za-z0-9_]+)`)

// expressions returns every PromQL expression shipped, by where it is, with
// the dashboard's variables substituted as Grafana would.
func expressions(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, g := range loadRules(t).Groups {
		for _, r := range g.Rules {
			out[fmt.Sprintf("%s: %s%s", rulesFile, r.Record, r.Alert)] = r.Expr
		}
	}
	d := loadDashboard(t)
	vars := map[string]string{"__rate_interval": "5m", "__interval": "1m", "__range": "1h"}
	for _, v := range d.Templating.List {
		switch v.Type {
		case "constant", "textbox", "custom":
			var q string
			if err := json.Unmarshal(v.Query, &q); err != nil {
				t.Fatalf("%s: variable %s: query %s: %v", dashboardFile, v.Name, v.Query, err)
			}
			vars[v.Name] = q
		case "query":
			vars[v.Name] = v.AllValue
			// label_values(METRIC, LABEL): its metric must exist too.
			m := regexp.MustCompile(`^label_values\(([a-zA-Z_:][a-zA-Z0-9_:]*)\s*,\s*[a-zA-Z_][a-zA-Z0-9_]*\)$`).FindStringSubmatch(v.Definition)
			if m == nil {
				t.Fatalf("%s: variable %s: definition %q is not label_values(metric, label)", dashboardFile, v.Name, v.Definition)
			}
			out[fmt.Sprintf("%s: variable %s", dashboardFile, v.Name)] = m[1]
		}
	}
	for _, p := range d.Panels {
		for i, tg := range p.Targets {
			e := grafanaVar.ReplaceAllStringFunc(tg.Expr, func(s string) string {
				m := grafanaVar.FindStringSubmatch(s)
				name := m[1] + m[2]
				v, ok := vars[name]
				if !ok {
					t.Errorf("%s: panel %q: unknown variable %s", dashboardFile, p.Title, s)
				}
				return v
			})
			out[fmt.Sprintf("%s: panel %q target %d", dashboardFile, p.Title, i)] = e
		}
	}
	return out
}

// TestMetricNames parses every PromQL expression in the rules and the
// dashboard with the Prometheus parser and requires each metric it selects to
// be one gatewayd exports or one the rules record: renaming a metric in
// gatewayd/metrics breaks this test.
func TestMetricNames(t *testing.T) {
	have := exported(t)
	recorded := map[string]bool{}
	for _, g := range loadRules(t).Groups {
		for _, r := range g.Rules {
			if r.Record != "" {
				recorded[r.Record] = true
			}
		}
	}
	exprs := expressions(t)
	where := make([]string, 0, len(exprs))
	for w := range exprs {
		where = append(where, w)
	}
	sort.Strings(where)
	used := map[string]bool{}
	p := parser.NewParser(parser.Options{})
	for _, w := range where {
		expr, err := p.ParseExpr(exprs[w])
		if err != nil {
			t.Errorf("%s: %v\n%s", w, err, exprs[w])
			continue
		}
		n := 0
		parser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {
			vs, ok := node.(*parser.VectorSelector)
			if !ok {
				return nil
			}
			n++
			name := vs.Name
			if name == "" {
				t.Errorf("%s: a selector without a metric name: %s", w, vs)
				return nil
			}
			used[name] = true
			if _, ok := have[name]; !ok && !recorded[name] {
				t.Errorf("%s: metric %q is neither exported by gatewayd nor recorded by %s", w, name, rulesFile)
			}
			return nil
		})
		if n == 0 && !strings.HasPrefix(exprs[w], "vector(") {
			t.Errorf("%s: selects no metric: %s", w, exprs[w])
		}
	}
	// Every recording rule is used by an alert or the dashboard.
	for r := range recorded {
		if !used[r] {
			t.Errorf("%s: recording rule %s is used nowhere", rulesFile, r)
		}
	}
	t.Logf("%d expressions, %d metric names used, %d exported", len(exprs), len(used), len(have))
}

// TestAlertsHaveTestsAndRunbooks: every alert has a severity, a summary, a
// runbook in docs/observability.md, and a promtool test that expects it to
// fire.
func TestAlertsHaveTestsAndRunbooks(t *testing.T) {
	b, err := os.ReadFile(rulesTestFile)
	if err != nil {
		t.Fatal(err)
	}
	var rt struct {
		Tests []struct {
			AlertRuleTest []struct {
				Alertname string `yaml:"alertname"`
				ExpAlerts []any  `yaml:"exp_alerts"`
			} `yaml:"alert_rule_test"`
		} `yaml:"tests"`
	}
	if err := yaml.Unmarshal(b, &rt); err != nil {
		t.Fatalf("%s: %v", rulesTestFile, err)
	}
	fires := map[string]bool{}
	quiet := map[string]bool{}
	for _, tc := range rt.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				fires[a.Alertname] = true
			} else {
				quiet[a.Alertname] = true
			}
		}
	}
	docs, err := os.ReadFile(docsFile)
	if err != nil {
		t.Fatal(err)
	}
	anchors := map[string]bool{}
	for _, line := range strings.Split(string(docs), "\n") {
		if strings.HasPrefix(line, "#") {
			h := strings.ToLower(strings.TrimSpace(strings.TrimLeft(line, "#")))
			anchors[strings.ReplaceAll(h, " ", "-")] = true
		}
	}
	n := 0
	for _, g := range loadRules(t).Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			n++
			if !fires[r.Alert] || !quiet[r.Alert] {
				t.Errorf("%s: alert %s needs a test where it fires and one where it stays quiet in %s (fires %v, quiet %v)",
					rulesFile, r.Alert, rulesTestFile, fires[r.Alert], quiet[r.Alert])
			}
			if r.Labels["severity"] == "" || r.Annotations["summary"] == "" {
				t.Errorf("%s: alert %s lacks a severity label or a summary", rulesFile, r.Alert)
			}
			rb := r.Annotations["runbook_url"]
			file, anchor, _ := strings.Cut(rb, "#")
			if file != "docs/observability.md" || !anchors[anchor] {
				t.Errorf("%s: alert %s: runbook_url %q is not a heading of %s", rulesFile, r.Alert, rb, docsFile)
			}
		}
	}
	if n == 0 {
		t.Fatal("no alerts")
	}
}

// TestDashboardPrices: the dashboard's price variables default to the price
// sheet's figures, so the cost panel and reports/ agree.
func TestDashboardPrices(t *testing.T) {
	sh, err := cost.LoadFile(pricesFile)
	if err != nil {
		t.Fatal(err)
	}
	inst, ok := sh.Instance("c7g.medium")
	if !ok {
		t.Fatal("price sheet: no c7g.medium")
	}
	want := map[string]float64{"node_hourly_usd": inst.Spot.USD, "apigw_rest_per_million": sh.APIGateway.REST.Tiers[0].USD}
	for _, v := range loadDashboard(t).Templating.List {
		w, ok := want[v.Name]
		if !ok {
			continue
		}
		delete(want, v.Name)
		var q string
		_ = json.Unmarshal(v.Query, &q)
		got, err := strconv.ParseFloat(q, 64)
		if err != nil || math.Abs(got-w) > 1e-12 {
			t.Errorf("variable %s = %q, price sheet says %v", v.Name, q, w)
		}
	}
	for name := range want {
		t.Errorf("dashboard lacks variable %s", name)
	}
}

// TestPromtool runs promtool check rules and test rules on the shipped files
// (skipped without Debian's prometheus package; required in CI).
func TestPromtool(t *testing.T) {
	bin := promtest.Binary(t, "promtool")
	for _, args := range [][]string{{"check", "rules", rulesFile}, {"test", "rules", rulesTestFile}} {
		out, err := exec.Command(bin, args...).CombinedOutput()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}
