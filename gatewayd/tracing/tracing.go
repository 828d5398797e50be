// Package tracing is gatewayd's OpenTelemetry tracing: a server span per
// request with child spans for auth, pricing, the limiter decision (and, under
// it, each store round trip), the upstream call and the ledger append,
// exported over OTLP (HTTP/protobuf or gRPC) with a parent-based ratio
// sampler.
//
// A W3C traceparent is continued only from trusted peers (server.trusted_proxies
// and tracing.trusted_clients); from anyone else it and its tracestate are
// dropped and a new trace starts, so outside clients cannot pick trace ids or
// force sampling. The upstream always receives the gateway's own traceparent.
//
// Spans carry the route, tier, method, decision, policy, cost and status,
// never a key, a token, a key hash or a path (paths may hold secrets).
//
// Tracing off is a nil *Tracer: every method of a nil *Tracer and of a nil
// *Request does nothing and allocates nothing, so the request path pays a nil
// check.
//
//	tr, err := tracing.New(tracing.Options{Endpoint: "http://127.0.0.1:4318", Protocol: "http/protobuf", Sampling: 0.01})
//	q, r := tr.Begin(r)          // server span; r carries it
//	sp := q.Start(tracing.SpanAuth)
//	...
//	sp.End()
//	q.Finish(tracing.Outcome{...}) // ends the server span
//	defer tr.Shutdown(ctx)        // flushes
package tracing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"

	"tollgate/engine"
	"tollgate/engine/limiter"
	"tollgate/gatewayd/clientip"
)

// Span names, one per stage of the request path.
const (
	SpanRequest  = "gatewayd.request"
	SpanAuth     = "gatewayd.auth"
	SpanPricing  = "gatewayd.pricing"
	SpanLimiter  = "gatewayd.limiter"
	SpanStore    = "gatewayd.store"
	SpanUpstream = "gatewayd.upstream"
	SpanLedger   = "gatewayd.ledger.append"
)

// Attribute keys set by this package. Semantic-convention keys are used where
// one exists (http.request.method, http.response.status_code).
const (
	AttrRoute       = attribute.Key("tollgate.route")
	AttrTier        = attribute.Key("tollgate.tier")
	AttrDecision    = attribute.Key("tollgate.decision")
	AttrPolicy      = attribute.Key("tollgate.policy")
	AttrCost        = attribute.Key("tollgate.cost")
	AttrCostSettled = attribute.Key("tollgate.cost_settled")
	AttrRequestID   = attribute.Key("tollgate.request_id")
	AttrUnmetered   = attribute.Key("tollgate.unmetered")
	AttrLeaseHit    = attribute.Key("tollgate.lease.hit")
	AttrBreaker     = attribute.Key("tollgate.breaker.state")
	AttrStoreCalls  = attribute.Key("tollgate.store.calls")
	AttrStoreOp     = attribute.Key("tollgate.store.op")
	AttrStoreOps    = attribute.Key("tollgate.store.ops")
	AttrRemaining   = attribute.Key("tollgate.remaining")
	AttrUpstreamMS  = attribute.Key("tollgate.upstream_ms")
)

// Protocols.
const (
	ProtocolHTTP = "http/protobuf"
	ProtocolGRPC = "grpc"
)

// ErrConfig marks a tracing configuration that cannot start.
var ErrConfig = errors.New("tracing: invalid")

// Options configure a Tracer.
type Options struct {
	// Endpoint is the collector URL, http://HOST:PORT or https://HOST:PORT.
	// For http/protobuf a URL without a path posts to /v1/traces.
	Endpoint string
	// Protocol is ProtocolHTTP or ProtocolGRPC.
	Protocol string
	// Sampling is the ratio of new traces recorded, in [0, 1].
	Sampling float64
	// ServiceName is the service.name resource attribute.
	ServiceName string
	// Timeout bounds one export.
	Timeout time.Duration
	// TrustedPeers are addresses or CIDR prefixes whose traceparent is
	// continued (server.trusted_proxies plus tracing.trusted_clients).
	TrustedPeers []string
	// Exporter, if set, replaces the OTLP exporter (tests: tracetest's
	// in-memory exporter); spans are then exported synchronously.
	Exporter sdktrace.SpanExporter
}

// Tracer starts request traces. A nil *Tracer is tracing off. Safe for
// concurrent use.
type Tracer struct {
	tp      *sdktrace.TracerProvider
	tr      trace.Tracer
	prop    propagation.TraceContext
	trusted atomic.Pointer[clientip.Resolver]
}

// New starts the exporter and returns a Tracer. It does not dial: the OTLP
// exporters connect on the first export and retry.
func New(o Options) (*Tracer, error) {
	if !(o.Sampling >= 0 && o.Sampling <= 1) {
		return nil, fmt.Errorf("%w: sampling: must be in [0, 1], got %v", ErrConfig, o.Sampling)
	}
	t := &Tracer{}
	if err := t.SetTrusted(o.TrustedPeers); err != nil {
		return nil, err
	}
	name := o.ServiceName
	if name == "" {
		name = "gatewayd"
	}
	res := resource.NewSchemaless(semconv.ServiceName(name))
	opts := []sdktrace.TracerProviderOption{
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(o.Sampling))),
	}
	if o.Exporter != nil {
		opts = append(opts, sdktrace.WithSyncer(o.Exporter))
	} else {
		exp, err := newExporter(o)
		if err != nil {
			return nil, err
		}
		opts = append(opts, sdktrace.WithBatcher(exp))
	}
	t.tp = sdktrace.NewTracerProvider(opts...)
	t.tr = t.tp.Tracer("tollgate/gatewayd")
	return t, nil
}

// newExporter builds the OTLP exporter for the endpoint and protocol.
func newExporter(o Options) (sdktrace.SpanExporter, error) {
	u, err := url.Parse(o.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: endpoint: must be http://HOST:PORT or https://HOST:PORT, got %q", ErrConfig, o.Endpoint)
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx := context.Background()
	switch o.Protocol {
	case ProtocolHTTP, "":
		path := u.Path
		if path == "" || path == "/" {
			path = "/v1/traces"
		}
		opts := []otlptracehttp.Option{otlptracehttp.WithEndpoint(u.Host), otlptracehttp.WithURLPath(path),
			otlptracehttp.WithTimeout(timeout)}
		if u.Scheme == "http" {
			opts = append(opts, otlptracehttp.WithInsecure())
		}
		return otlptracehttp.New(ctx, opts...)
	case ProtocolGRPC:
		opts := []otlptracegrpc.Option{otlptracegrpc.WithEndpoint(u.Host), otlptracegrpc.WithTimeout(timeout)}
		if u.Scheme == "http" {
			opts = append(opts, otlptracegrpc.WithInsecure())
		}
		return otlptracegrpc.New(ctx, opts...)
	default:
		return nil, fmt.Errorf("%w: protocol: must be %q or %q, got %q", ErrConfig, ProtocolHTTP, ProtocolGRPC, o.Protocol)
	}
}

// SetTrusted replaces the peers whose traceparent is continued (a reload).
func (t *Tracer) SetTrusted(peers []string) error {
	if t == nil {
		return nil
	}
	r, err := clientip.New("tracing trusted peers", peers)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	t.trusted.Store(r)
	return nil
}

// Shutdown flushes the spans still queued and stops the exporter.
func (t *Tracer) Shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	return t.tp.Shutdown(ctx)
}

// ctxKey finds a request's *Request in a context (store round trips).
type ctxKey struct{}

// Request is one request's trace. A nil *Request (tracing off) is valid:
// every method does nothing. Its methods are called from the request's
// goroutine, except the store hooks, which may run on any.
type Request struct {
	t        *Tracer
	ctx      context.Context // carries the server span
	span     trace.Span
	traceID  string
	limiter  trace.Span
	storeOps atomic.Int32
}

// Begin starts the request's server span, continuing the caller's trace if
// the peer is trusted. It returns the request handle and r with the span in
// its context (r itself when tracing is off). From an untrusted peer the
// traceparent and tracestate headers are removed.
func (t *Tracer) Begin(r *http.Request) (*Request, *http.Request) {
	if t == nil {
		return nil, r
	}
	ctx := r.Context()
	if res := t.trusted.Load(); res != nil && res.TrustsPeer(r.RemoteAddr) {
		ctx = t.prop.Extract(ctx, propagation.HeaderCarrier(r.Header))
	} else {
		r.Header.Del("Traceparent")
		r.Header.Del("Tracestate")
	}
	q := &Request{t: t}
	ctx = context.WithValue(ctx, ctxKey{}, q)
	ctx, q.span = t.tr.Start(ctx, SpanRequest, trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(semconv.HTTPRequestMethodKey.String(r.Method)))
	q.ctx = ctx
	if sc := q.span.SpanContext(); sc.HasTraceID() {
		q.traceID = sc.TraceID().String()
	}
	return q, r.WithContext(ctx)
}

// TraceID returns the trace id in hex ("" when tracing is off): it goes into
// the ledger record and the log lines, sampled or not, and is the trace id the
// upstream sees.
func (q *Request) TraceID() string {
	if q == nil {
		return ""
	}
	return q.traceID
}

// Sampled reports whether the request's spans are recorded and exported.
func (q *Request) Sampled() bool { return q != nil && q.span.SpanContext().IsSampled() }

// Span is a child span. The zero Span (tracing off) does nothing.
type Span struct{ s trace.Span }

// End ends the span.
func (s Span) End() {
	if s.s != nil {
		s.s.End()
	}
}

// Fail marks the span as failed with a short reason (never a secret).
func (s Span) Fail(reason string) {
	if s.s != nil {
		s.s.SetStatus(codes.Error, reason)
	}
}

// Start starts a child span of the server span: SpanAuth, SpanPricing or
// SpanLedger.
func (q *Request) Start(name string) Span {
	if q == nil || !q.span.IsRecording() {
		return Span{}
	}
	_, s := q.t.tr.Start(q.ctx, name)
	return Span{s}
}

// EndPricing ends a pricing span with the price charged, in tokens.
func (q *Request) EndPricing(s Span, route string, price float64) {
	if s.s == nil {
		return
	}
	s.s.SetAttributes(AttrRoute.String(route), AttrCost.Float64(price))
	s.s.End()
}

// Limiter starts the limiter span and returns ctx carrying it, so the store
// round trips under it become its children. ctx is returned unchanged when
// tracing is off.
func (q *Request) Limiter(ctx context.Context) context.Context {
	if q == nil || !q.span.IsRecording() {
		return ctx
	}
	ctx, q.limiter = q.t.tr.Start(ctx, SpanLimiter)
	return ctx
}

// EndLimiter ends the limiter span with the decision, the deciding policy,
// the breaker's state after the call and, with leases on (leases), whether a
// local lease admitted it without a store round trip.
func (q *Request) EndLimiter(out limiter.Outcome, b *limiter.Breaker, leases bool) {
	if q == nil || q.limiter == nil {
		return
	}
	s := q.limiter
	calls := q.storeOps.Load()
	d := "allowed"
	if !out.Allowed {
		d = "refused"
	}
	s.SetAttributes(AttrDecision.String(d), AttrPolicy.String(out.Policy), AttrStoreCalls.Int(int(calls)),
		AttrUnmetered.Bool(out.Unmetered), AttrRemaining.Float64(engine.MilliToTokens(out.Remaining)))
	if b != nil {
		s.SetAttributes(AttrBreaker.String(b.State()))
	}
	if leases {
		s.SetAttributes(AttrLeaseHit.Bool(calls == 0 && out.Err == nil))
	}
	if out.Err != nil {
		s.SetStatus(codes.Error, "limiter: store unavailable or request invalid")
	}
	s.End()
}

// StoreSpan starts a span for one store round trip if ctx belongs to a traced
// request (the zero Span otherwise); op names the operation ("acquire",
// "settle", "release", "batch"), n the operations in it.
func StoreSpan(ctx context.Context, op string, n int) Span {
	q, _ := ctx.Value(ctxKey{}).(*Request)
	if q == nil {
		return Span{}
	}
	q.storeOps.Add(1)
	if !trace.SpanFromContext(ctx).IsRecording() {
		return Span{}
	}
	_, s := q.t.tr.Start(ctx, SpanStore, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(AttrStoreOp.String(op), AttrStoreOps.Int(n)))
	return Span{s}
}

// Upstream starts the upstream client span and writes its traceparent into
// h, the headers the upstream will receive. It returns ctx carrying the span
// (ctx unchanged when tracing is off). A request that is not sampled still
// sends a traceparent (with the sampled flag clear), so the upstream's logs
// carry the same trace id as the ledger.
func (q *Request) Upstream(ctx context.Context, h http.Header) (context.Context, Span) {
	if q == nil {
		return ctx, Span{}
	}
	ctx, s := q.t.tr.Start(ctx, SpanUpstream, trace.WithSpanKind(trace.SpanKindClient))
	h.Del("Tracestate")
	q.t.prop.Inject(ctx, propagation.HeaderCarrier(h))
	return ctx, Span{s}
}

// EndUpstream ends the upstream span with the status the upstream answered
// (0: no answer) and its time to headers.
func (q *Request) EndUpstream(s Span, status int, upstream time.Duration, failed bool) {
	if s.s == nil {
		return
	}
	if status != 0 {
		s.s.SetAttributes(semconv.HTTPResponseStatusCode(status))
	}
	s.s.SetAttributes(AttrUpstreamMS.Float64(float64(upstream.Microseconds()) / 1000))
	if failed || status >= 500 {
		s.s.SetStatus(codes.Error, "upstream failed")
	}
	s.s.End()
}

// Outcome is what the server span records at the end of a request.
type Outcome struct {
	RequestID   string
	Route       string
	Tier        string
	Decision    string
	Status      int
	CostCharged float64
	CostSettled float64
	Unmetered   bool
}

// Finish ends the server span with the request's outcome.
func (q *Request) Finish(o Outcome) {
	if q == nil {
		return
	}
	s := q.span
	if s.IsRecording() {
		s.SetAttributes(AttrRequestID.String(o.RequestID), AttrRoute.String(o.Route), AttrTier.String(o.Tier),
			AttrDecision.String(o.Decision), semconv.HTTPResponseStatusCode(o.Status),
			AttrCost.Float64(o.CostCharged), AttrCostSettled.Float64(o.CostSettled), AttrUnmetered.Bool(o.Unmetered))
		if o.Status >= 500 {
			s.SetStatus(codes.Error, strings.ReplaceAll(o.Decision, "_", " "))
		}
	}
	s.End()
}

// LogHandler wraps h so that a record logged with a traced request's context
// (Logger.InfoContext(r.Context(), ...)) carries the request's trace_id.
func LogHandler(h slog.Handler) slog.Handler { return logHandler{h} }

type logHandler struct{ slog.Handler }

func (l logHandler) Handle(ctx context.Context, r slog.Record) error {
	if q, _ := ctx.Value(ctxKey{}).(*Request); q != nil && q.traceID != "" {
		r = r.Clone()
		r.AddAttrs(slog.String("trace_id", q.traceID))
	}
	return l.Handler.Handle(ctx, r)
}

func (l logHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return logHandler{l.Handler.WithAttrs(as)}
}

func (l logHandler) WithGroup(name string) slog.Handler { return logHandler{l.Handler.WithGroup(name)} }
