// Package gateway is gatewayd's request path: route match, CORS preflight,
// auth, penalty box, price, limit (with an optional shadow candidate), proxy,
// observe, settle, meter, answer. It also serves the admin endpoints and
// swaps its configuration atomically on reload.
//
//	g, err := gateway.New(cfg, log)
//	http.ListenAndServe(cfg.Listen, g)              // the proxy listener
//	http.ListenAndServe(cfg.AdminListen, g.Admin()) // /healthz /readyz /metrics
//	err = g.Reload(newCfg)                          // refused: the old config stays
//	g.SetReady(false); ...drain...; g.Close()       // flushes the ledger
package gateway

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"tollgate/gatewayd/config"
	"tollgate/gatewayd/ledger"
	"tollgate/gatewayd/ledger/pgship"
	"tollgate/gatewayd/metrics"
	"tollgate/gatewayd/proxy"
	"tollgate/gatewayd/tracing"
)

// Gateway serves the proxy listener. It is safe for concurrent use.
type Gateway struct {
	log       *slog.Logger
	transport *http.Transport
	rt        atomic.Pointer[runtime]
	ledger    *ledger.Writer
	m         *metrics.Metrics
	hooks     *hooks
	// tr is the tracer; nil while tracing is off (see gatewayd/tracing).
	tr *tracing.Tracer

	pgPool      *pgxpool.Pool
	shipper     *pgship.Shipper
	stopShipper func()

	storeLog logLimiter

	ready    atomic.Bool
	inFlight atomic.Int64
	// penaltyReceived counts shared penalty-box messages applied.
	penaltyReceived atomic.Int64
	idPrefix        string
	idSeq           atomic.Uint64

	reloadMu sync.Mutex
	stop     chan struct{}
	done     chan struct{}
	closed   sync.Once
}

// New builds a gateway from a validated config: the store, the ledger (its
// directory is created), the metrics, and a background ticker for the
// pricer. It is ready at once.
func New(cfg *config.Config, log *slog.Logger) (*Gateway, error) {
	log = slog.New(tracing.LogHandler(log.Handler())) // lines logged with a traced request's context carry trace_id
	g := &Gateway{log: log, transport: proxy.NewTransport(), stop: make(chan struct{}), done: make(chan struct{}), hooks: &hooks{}}
	rt, err := build(cfg, nil, g.transport, log, g.hooks)
	if err != nil {
		return nil, err
	}
	g.rt.Store(rt)
	g.watchPenalty(rt)
	var sink ledger.Sink
	if rs := cfg.Ledger.RedisStream; rs != nil {
		pw, err := redisPassword(cfg.Store.Redis)
		if err != nil {
			rt.backend.close()
			rt.auth.Close()
			return nil, err
		}
		sink = ledger.NewStreamSink(rs.Addr, pw, rs.Key, rs.MaxLen, cfg.Store.Redis.Timeout.D())
	}
	lw, err := ledger.Open(LedgerOptions(cfg.Ledger), sink, log)
	if err != nil {
		rt.backend.close()
		rt.auth.Close()
		return nil, err
	}
	if g.tr, err = newTracer(cfg); err != nil {
		_ = lw.Close()
		rt.backend.close()
		rt.auth.Close()
		return nil, err
	}
	g.ledger = lw
	if g.pgPool, g.shipper, err = ShipperFor(cfg.Ledger, log); err != nil {
		_ = lw.Close()
		rt.backend.close()
		rt.auth.Close()
		return nil, err
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	g.idPrefix = hex.EncodeToString(b[:]) + "-"
	gauges := map[string]func() float64{
		"gatewayd_ready":        func() float64 { return boolF(g.ready.Load() && g.ledger.Accepting()) },
		"gatewayd_store_errors": func() float64 { return float64(g.rt.Load().backend.lim.StoreErrors()) },
		"gatewayd_store_breaker_open": func() float64 {
			return boolF(g.rt.Load().backend.lim.Breaker().State() != "closed")
		},
		"gatewayd_penalty_shared_received": func() float64 { return float64(g.penaltyReceived.Load()) },
		"gatewayd_lease_local_admissions": func() float64 {
			if l := g.rt.Load().backend.leaser; l != nil {
				return float64(l.LocalHits())
			}
			return 0
		},
		"gatewayd_lease_store_calls": func() float64 {
			if l := g.rt.Load().backend.leaser; l != nil {
				return float64(l.StoreCalls())
			}
			return 0
		},
	}
	help := map[string]string{
		"gatewayd_penalty_shared_received": "Shared penalty-box messages applied (keys boxed by any node, this one included).",
		"gatewayd_lease_local_admissions":  "Requests admitted from a local lease without a store call (cumulative, current store; 0 with leases off).",
		"gatewayd_lease_store_calls":       "Store calls made by the lease layer (cumulative, current store; 0 with leases off).",
		"gatewayd_ready":                   "1 while /readyz answers 200.",
		"gatewayd_store_errors":            "Rate-limit store calls that failed (cumulative, current store).",
		"gatewayd_store_breaker_open":      "1 while the store circuit breaker is open or half-open.",
	}
	g.ledgerGauges(gauges, help)
	g.m = metrics.New(gauges, help)
	registerLedgerMetrics(g.m.Registry, lw)
	g.hooks.bind(g.m)
	g.exportPrices(rt)
	g.ready.Store(true)
	g.startShipper()
	go g.tick()
	return g, nil
}

func boolF(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// tick moves the pricer: load is in-flight over the node limit.
func (g *Gateway) tick() {
	defer close(g.done)
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-g.stop:
			return
		case now := <-t.C:
			rt := g.rt.Load()
			g.pricingSignal(rt, now)
			rt.pricer.Tick(now)
			g.exportPrices(rt)
		}
	}
}

// Config returns the config in force.
func (g *Gateway) Config() *config.Config { return g.rt.Load().cfg }

// SetReady sets what /readyz answers.
func (g *Gateway) SetReady(ok bool) { g.ready.Store(ok) }

// InFlight returns the number of requests being served.
func (g *Gateway) InFlight() int64 { return g.inFlight.Load() }

// Reload swaps in a new validated config atomically. On any error the old
// config stays in force. Listener addresses and the ledger need a restart;
// changes to them are reported in the returned notes and not applied.
func (g *Gateway) Reload(cfg *config.Config) (notes []string, err error) {
	g.reloadMu.Lock()
	defer g.reloadMu.Unlock()
	old := g.rt.Load()
	rt, err := build(cfg, old, g.transport, g.log, g.hooks)
	if err != nil {
		g.m.Reloads.WithLabelValues("refused").Inc()
		return nil, err
	}
	if cfg.Listen != old.cfg.Listen || cfg.AdminListen != old.cfg.AdminListen {
		notes = append(notes, "listen addresses changed; they take effect on restart")
	}
	if !reflect.DeepEqual(cfg.Ledger, old.cfg.Ledger) {
		notes = append(notes, "ledger settings changed; they take effect on restart")
	}
	if cfg.Server.ReadHeaderTimeout != old.cfg.Server.ReadHeaderTimeout || cfg.Server.ReadTimeout != old.cfg.Server.ReadTimeout ||
		cfg.Server.IdleTimeout != old.cfg.Server.IdleTimeout || cfg.Server.MaxHeaderBytes != old.cfg.Server.MaxHeaderBytes {
		notes = append(notes, "server read/idle timeouts and header size take effect on restart")
	}
	if cfg.Server.ProxyProtocol != old.cfg.Server.ProxyProtocol ||
		(cfg.Server.ProxyProtocol && !reflect.DeepEqual(cfg.Server.TrustedProxies, old.cfg.Server.TrustedProxies)) {
		notes = append(notes, "server.proxy_protocol and the proxies allowed to send it take effect on restart")
	}
	if !reflect.DeepEqual(cfg.Tracing, old.cfg.Tracing) {
		notes = append(notes, "tracing settings take effect on restart")
	}
	if err := g.tr.SetTrusted(tracePeers(cfg)); err != nil {
		notes = append(notes, "tracing: trusted peers not changed: "+err.Error())
	}
	g.rt.Store(rt)
	g.watchPenalty(rt)
	g.m.PricingMultiplier.Reset() // routes may have gone
	g.m.PricingLoad.Reset()
	old.auth.Close()
	if old.backend != rt.backend {
		// Requests in flight may still settle against the old store.
		ob := old.backend
		time.AfterFunc(time.Minute, ob.close)
	}
	g.m.Reloads.WithLabelValues("applied").Inc()
	return notes, nil
}

// ReloadRefused counts a reload refused before it reached Reload (the file
// did not load or validate).
func (g *Gateway) ReloadRefused() { g.m.Reloads.WithLabelValues("refused").Inc() }

// Close stops the ticker, flushes and closes the ledger and the store
// client. Call it after the listeners have drained.
func (g *Gateway) Close() error {
	var err error
	g.closed.Do(func() {
		close(g.stop)
		<-g.done
		err = g.ledger.Close()
		if g.stopShipper != nil {
			g.stopShipper()
		}
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if terr := g.tr.Shutdown(sctx); terr != nil {
			g.log.Warn("tracing: flushing spans at shutdown failed", "err", terr)
		}
		cancel()
		rt := g.rt.Load()
		rt.auth.Close()
		rt.backend.close()
		g.transport.CloseIdleConnections()
	})
	return err
}

// Admin returns the admin handler: /healthz (200 while the process runs),
// /readyz (200 while ready, 503 while draining or while the ledger refuses),
// /metrics.
func (g *Gateway) Admin() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if !g.ready.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("draining\n"))
			return
		}
		if !g.ledger.Accepting() {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("ledger unavailable\n"))
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	mux.Handle("GET /metrics", g.m.Handler())
	return mux
}

// nextID returns a request id unique to this process run.
func (g *Gateway) nextID() string {
	return g.idPrefix + strconv.FormatUint(g.idSeq.Add(1), 36)
}

// LedgerWritten returns how many ledger records are durable.
func (g *Gateway) LedgerWritten() int64 { return g.ledger.Written() }
