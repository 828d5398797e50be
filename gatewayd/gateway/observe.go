package gateway

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"tollgate/engine"
	"tollgate/gatewayd/config"
	"tollgate/gatewayd/ledger"
	"tollgate/gatewayd/metrics"
	"tollgate/gatewayd/tracing"
)

// hooks connect what build makes (the store, the Prometheus pricing source)
// to the metrics, which exist only once the gateway has its ledger: they are
// bound once, and anything observed before that is not recorded.
type hooks struct {
	store storeObs
	m     atomic.Pointer[metrics.Metrics]
}

func (h *hooks) bind(m *metrics.Metrics) {
	h.store.bind(m.StoreDuration)
	h.m.Store(m)
}

// Query records a Prometheus pricing query's duration (promload.Observer).
func (h *hooks) Query(route string, d time.Duration) {
	if m := h.m.Load(); m != nil {
		m.PricingSourceDuration.WithLabelValues(route).Observe(d.Seconds())
	}
}

// Failure counts a failed Prometheus pricing query (promload.Observer).
func (h *hooks) Failure(route string) {
	if m := h.m.Load(); m != nil {
		m.PricingSourceFailures.WithLabelValues(route).Inc()
	}
}

// pricingSignal feeds the pricer its load: the node's in-flight share, and
// for routes with a Prometheus query, that query's cached answer while it has
// one (else the node's, the local estimate). It also exports the signal in
// force and every route's multiplier.
func (g *Gateway) pricingSignal(rt *runtime, now time.Time) {
	local := float64(g.inFlight.Load()) / float64(rt.cfg.Server.MaxInFlight)
	rt.pricer.SetLoad(local)
	for _, r := range rt.cfg.Routes {
		src := config.PricingSourceLocal
		load := local
		if rt.src != nil {
			if v, ok := rt.src.Load(r.Name, now); ok {
				rt.pricer.SetRouteLoad(r.Name, v)
				src, load = config.PricingSourcePrometheus, min(1, max(0, v))
			} else {
				rt.pricer.ClearRouteLoad(r.Name)
			}
		}
		other := config.PricingSourcePrometheus
		if src == other {
			other = config.PricingSourceLocal
		}
		g.m.PricingLoad.DeleteLabelValues(r.Name, other)
		g.m.PricingLoad.WithLabelValues(r.Name, src).Set(load)
	}
}

// exportPrices sets the multiplier gauges after a pricer step.
func (g *Gateway) exportPrices(rt *runtime) {
	for _, r := range rt.cfg.Routes {
		g.m.PricingMultiplier.WithLabelValues(r.Name).Set(rt.pricer.Multiplier(r.Name, "*"))
	}
	c := rt.pricer.Config()
	g.m.PricingMultiplierLimit.WithLabelValues("min").Set(c.MinMultiplier)
	g.m.PricingMultiplierLimit.WithLabelValues("max").Set(c.MaxMultiplier)
}

// storeObs times store round trips into gatewayd_store_duration_seconds. It
// is made before the metrics exist (the backend is built first) and bound to
// them once; round trips before that are not timed. Safe for concurrent use.
type storeObs struct {
	// obs holds the histogram children by op (acquire, settle, release,
	// batch) and result (ok, error), resolved once at bind.
	obs atomic.Pointer[[4][2]prometheus.Observer]
}

var storeOps = [4]string{"batch", "acquire", "settle", "release"} // indexed by engine.OpKind; 0 = batch

func (s *storeObs) bind(h *prometheus.HistogramVec) {
	var o [4][2]prometheus.Observer
	for i, op := range storeOps {
		o[i][0] = h.WithLabelValues(op, "ok")
		o[i][1] = h.WithLabelValues(op, "error")
	}
	s.obs.Store(&o)
}

func (s *storeObs) observe(kind int, start time.Time, err error) {
	o := s.obs.Load()
	if o == nil || kind < 0 || kind >= len(o) {
		return
	}
	r := 0
	if err != nil {
		r = 1
	}
	o[kind][r].Observe(time.Since(start).Seconds())
}

// observedStore is an engine.Store that times each round trip (storeObs) and
// opens a store span under a traced request's limiter span.
type observedStore struct {
	inner engine.Store
	obs   *storeObs
}

var _ engine.Store = observedStore{}

func (o observedStore) Apply(ctx context.Context, op engine.Op) (engine.Result, error) {
	sp := tracing.StoreSpan(ctx, op.Kind.String(), 1)
	start := time.Now()
	res, err := o.inner.Apply(ctx, op)
	o.obs.observe(int(op.Kind), start, err)
	if err != nil {
		sp.Fail("store call failed")
	}
	sp.End()
	return res, err
}

func (o observedStore) ApplyBatch(ctx context.Context, ops []engine.Op) ([]engine.Result, error) {
	sp := tracing.StoreSpan(ctx, "batch", len(ops))
	start := time.Now()
	res, err := o.inner.ApplyBatch(ctx, ops)
	o.obs.observe(0, start, err)
	if err != nil {
		sp.Fail("store call failed")
	}
	sp.End()
	return res, err
}

// newTracer starts tracing per cfg.Tracing; nil (off) without an endpoint.
func newTracer(cfg *config.Config) (*tracing.Tracer, error) {
	t := cfg.Tracing
	if !t.Enabled() {
		return nil, nil
	}
	tr, err := tracing.New(tracing.Options{Endpoint: t.Endpoint, Protocol: t.Protocol, Sampling: t.Ratio(),
		ServiceName: t.ServiceName, Timeout: t.Timeout.D(), TrustedPeers: tracePeers(cfg)})
	if err != nil {
		return nil, fmt.Errorf("tracing: %w", err)
	}
	return tr, nil
}

// tracePeers are the peers whose traceparent is continued: the trusted
// proxies and tracing.trusted_clients.
func tracePeers(cfg *config.Config) []string {
	return append(append([]string(nil), cfg.Server.TrustedProxies...), cfg.Tracing.TrustedClients...)
}

// observeBudget records the deciding policy's utilisation, 1 - remaining/limit.
func (g *Gateway) observeBudget(route, tier string, d engine.Decision) {
	if d.Limit <= 0 {
		return
	}
	u := 1 - float64(d.Remaining)/float64(d.Limit)
	g.m.For(route, tier, DecisionAllowed).Budget().Observe(min(1, max(0, u)))
}

// registerLedgerMetrics exports the ledger's failures as one counter for
// the alert TollgateLedgerFailing (deploy/prometheus); its pending bytes and
// lag are among the ledger gauges (ledger.go).
func registerLedgerMetrics(reg prometheus.Registerer, lw *ledger.Writer) {
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "gatewayd_ledger_failures_total",
		Help: "Ledger file writes, fsyncs, rotations and sink batches that failed (records are kept and retried)."},
		func() float64 { return float64(lw.Errors() + lw.SinkErrors()) }))
}
