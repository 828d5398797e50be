package metrics

import (
	"testing"
)

// series returns the values of a gathered metric family by its label
// values (in label-name order) joined with "|" (counters only), or nil if the family is absent.
func series(t *testing.T, m *Metrics, name string) map[string]float64 {
	t.Helper()
	fams, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		out := map[string]float64{}
		for _, mt := range f.GetMetric() {
			k := ""
			for i, l := range mt.GetLabel() {
				if i > 0 {
					k += "|"
				}
				k += l.GetValue()
			}
			out[k] = mt.GetCounter().GetValue()
		}
		return out
	}
	return nil
}

func TestForCachesChildrenAndCreatesSeriesOnUse(t *testing.T) {
	m := New(nil, nil)
	a := m.For("v1", "basic", "allowed")
	if b := m.For("v1", "basic", "allowed"); a != b {
		t.Fatal("For returned different children for the same labels")
	}
	if c := m.For("v1", "basic", "limited"); c == a {
		t.Fatal("For returned the same children for different decisions")
	}
	a.Requests.Inc()
	a.Requests.Inc()
	if got := series(t, m, "gatewayd_requests_total")["allowed|v1|basic"]; got != 2 {
		t.Errorf("requests = %v, want 2", got)
	}
	// The route-and-tier children appear only once touched, as with
	// WithLabelValues.
	if s := series(t, m, "gatewayd_tokens_charged_total"); len(s) != 0 {
		t.Errorf("charged series before use: %v, want none", s)
	}
	a.Charged().Add(1.5)
	m.For("v1", "basic", "limited").Charged().Add(1)
	if got := series(t, m, "gatewayd_tokens_charged_total"); len(got) != 1 || got["v1|basic"] != 2.5 {
		t.Errorf("charged = %v, want one series at 2.5 (both decisions share the route-and-tier child)", got)
	}
	if s := series(t, m, "gatewayd_unmetered_total"); len(s) != 0 {
		t.Errorf("unmetered series never touched: %v, want none", s)
	}
}
