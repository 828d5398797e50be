package tracing

import (
	"bytes"
	"context"
	"encoding/hex"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"

	"tollgate/engine"
	"tollgate/engine/limiter"
)

func newMem(t *testing.T, ratio float64, trusted ...string) (*Tracer, *tracetest.InMemoryExporter) {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tr, err := New(Options{Sampling: ratio, TrustedPeers: trusted, Exporter: exp})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tr.Shutdown(context.Background()) })
	return tr, exp
}

func spansByName(exp *tracetest.InMemoryExporter) map[string]tracetest.SpanStub {
	m := map[string]tracetest.SpanStub{}
	for _, s := range exp.GetSpans() {
		m[s.Name] = s
	}
	return m
}

// One request through every hook: the span tree and its attributes.
func TestSpanTree(t *testing.T) {
	tr, exp := newMem(t, 1)
	r := httptest.NewRequest("POST", "/v1/reports/secret-path", nil)
	q, r := tr.Begin(r)
	if q.TraceID() == "" || !q.Sampled() {
		t.Fatalf("trace id %q sampled %v", q.TraceID(), q.Sampled())
	}
	a := q.Start(SpanAuth)
	a.End()
	p := q.Start(SpanPricing)
	q.EndPricing(p, "reports", 2.5)
	ctx := q.Limiter(r.Context())
	st := StoreSpan(ctx, "acquire", 1)
	st.End()
	br := limiter.NewBreaker(limiter.BreakerConfig{Failures: 3, Cooldown: engine.Duration(time.Second)})
	q.EndLimiter(limiter.Outcome{Result: engine.Result{Decision: engine.Decision{Allowed: true, Policy: "burst", Remaining: 4000}}}, br, true)
	h := http.Header{}
	_, up := q.Upstream(r.Context(), h)
	q.EndUpstream(up, 200, 3*time.Millisecond, false)
	l := q.Start(SpanLedger)
	l.End()
	q.Finish(Outcome{RequestID: "id-1", Route: "reports", Tier: "gold", Decision: "allowed", Status: 200, CostCharged: 2.5, CostSettled: 2})

	m := spansByName(exp)
	srv, ok := m[SpanRequest]
	if !ok {
		t.Fatalf("no server span: %v", m)
	}
	for _, name := range []string{SpanAuth, SpanPricing, SpanLimiter, SpanUpstream, SpanLedger} {
		s, ok := m[name]
		if !ok {
			t.Fatalf("no %s span", name)
		}
		if s.Parent.SpanID() != srv.SpanContext.SpanID() {
			t.Errorf("%s parent %s, want the server span %s", name, s.Parent.SpanID(), srv.SpanContext.SpanID())
		}
	}
	if m[SpanStore].Parent.SpanID() != m[SpanLimiter].SpanContext.SpanID() {
		t.Error("store span is not the limiter span's child")
	}
	got := map[string]string{}
	for _, kv := range m[SpanLimiter].Attributes {
		got[string(kv.Key)] = kv.Value.Emit()
	}
	want := map[string]string{"tollgate.decision": "allowed", "tollgate.policy": "burst", "tollgate.breaker.state": "closed",
		"tollgate.store.calls": "1", "tollgate.lease.hit": "false", "tollgate.remaining": "4"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("limiter %s = %q, want %q", k, got[k], v)
		}
	}
	srvAttrs := map[string]string{}
	for _, kv := range srv.Attributes {
		srvAttrs[string(kv.Key)] = kv.Value.Emit()
	}
	for k, v := range map[string]string{"tollgate.route": "reports", "tollgate.tier": "gold", "tollgate.decision": "allowed",
		"http.request.method": "POST", "http.response.status_code": "200", "tollgate.cost": "2.5", "tollgate.request_id": "id-1"} {
		if srvAttrs[k] != v {
			t.Errorf("server %s = %q, want %q", k, srvAttrs[k], v)
		}
	}
	for _, s := range exp.GetSpans() {
		for _, kv := range s.Attributes {
			if strings.Contains(kv.Value.Emit(), "secret-path") {
				t.Errorf("span %s attribute %s holds the path", s.Name, kv.Key)
			}
		}
	}
	if tp := h.Get("Traceparent"); tp != "00-"+q.TraceID()+"-"+m[SpanUpstream].SpanContext.SpanID().String()+"-01" {
		t.Errorf("upstream traceparent %q", tp)
	}
}

// A lease hit: the limiter decided without a store call.
func TestLeaseHit(t *testing.T) {
	tr, exp := newMem(t, 1)
	q, r := tr.Begin(httptest.NewRequest("GET", "/", nil))
	_ = q.Limiter(r.Context())
	q.EndLimiter(limiter.Outcome{Result: engine.Result{Decision: engine.Decision{Allowed: true}}}, nil, true)
	q.Finish(Outcome{})
	for _, kv := range spansByName(exp)[SpanLimiter].Attributes {
		if kv.Key == AttrLeaseHit && !kv.Value.AsBool() {
			t.Fatal("lease.hit = false without a store call")
		}
	}
}

// The traceparent rule: continued from trusted peers only, and then the
// parent's sampled flag decides (parent-based sampling).
func TestTraceparentTrust(t *testing.T) {
	const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	cases := []struct {
		name        string
		peer        string
		traceparent string
		wantTrace   string // "" = a new trace
		wantSampled bool
	}{
		{"trusted sampled parent, ratio 0", "10.0.0.5:1", parent, "4bf92f3577b34da6a3ce929d0e0e4736", true},
		{"trusted unsampled parent", "10.0.0.5:1", strings.TrimSuffix(parent, "01") + "00", "4bf92f3577b34da6a3ce929d0e0e4736", false},
		{"untrusted peer", "192.0.2.9:1", parent, "", false},
		{"trusted, no traceparent", "10.0.0.5:1", "", "", false},
		{"trusted, malformed traceparent", "10.0.0.5:1", "00-zz-01", "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr, _ := newMem(t, 0, "10.0.0.0/24")
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = c.peer
			if c.traceparent != "" {
				r.Header.Set("Traceparent", c.traceparent)
				r.Header.Set("Tracestate", "k=v")
			}
			q, r2 := tr.Begin(r)
			defer q.Finish(Outcome{})
			if c.wantTrace != "" && q.TraceID() != c.wantTrace {
				t.Errorf("trace %s, want the caller's %s", q.TraceID(), c.wantTrace)
			}
			if c.wantTrace == "" && q.TraceID() == "4bf92f3577b34da6a3ce929d0e0e4736" {
				t.Error("continued an untrusted traceparent")
			}
			if q.Sampled() != c.wantSampled {
				t.Errorf("sampled %v, want %v", q.Sampled(), c.wantSampled)
			}
			if strings.HasPrefix(c.peer, "192.") && (r2.Header.Get("Traceparent") != "" || r2.Header.Get("Tracestate") != "") {
				t.Error("an untrusted peer's traceparent/tracestate was kept")
			}
			h := r2.Header
			_, s := q.Upstream(r2.Context(), h)
			s.End()
			flag := "-00"
			if c.wantSampled {
				flag = "-01"
			}
			if tp := h.Get("Traceparent"); !strings.HasPrefix(tp, "00-"+q.TraceID()+"-") || !strings.HasSuffix(tp, flag) {
				t.Errorf("upstream traceparent %q, want trace %s and flag %s", tp, q.TraceID(), flag)
			}
			if strings.HasPrefix(c.peer, "192.") && h.Get("Tracestate") != "" {
				t.Errorf("upstream tracestate %q from an untrusted client", h.Get("Tracestate"))
			}
		})
	}
}

// Tracing off is a nil *Tracer: every hook is a no-op and allocates nothing.
func TestOffIsFree(t *testing.T) {
	var tr *Tracer
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	h := http.Header{}
	allocs := testing.AllocsPerRun(100, func() { offPath(tr, r, h) })
	if allocs != 0 {
		t.Fatalf("tracing off allocates %v per request", allocs)
	}
	if h.Get("Traceparent") != "" || r.Header.Get("Traceparent") == "" {
		t.Fatal("tracing off touched the headers")
	}
}

// offPath is the handler's hook sequence.
func offPath(tr *Tracer, r *http.Request, h http.Header) {
	q, r := tr.Begin(r)
	_ = q.TraceID()
	a := q.Start(SpanAuth)
	a.End()
	p := q.Start(SpanPricing)
	q.EndPricing(p, "r", 1)
	ctx := q.Limiter(r.Context())
	s := StoreSpan(ctx, "acquire", 1)
	s.End()
	q.EndLimiter(limiter.Outcome{}, nil, false)
	ctx, u := q.Upstream(ctx, h)
	q.EndUpstream(u, 200, 0, false)
	_ = ctx
	l := q.Start(SpanLedger)
	l.End()
	q.Finish(Outcome{})
}

// BenchmarkHooksOff is the hooks' whole cost per request with tracing off.
func BenchmarkHooksOff(b *testing.B) {
	var tr *Tracer
	r := httptest.NewRequest("GET", "/", nil)
	h := http.Header{}
	b.ReportAllocs()
	for b.Loop() {
		offPath(tr, r, h)
	}
}

func TestLogHandler(t *testing.T) {
	tr, _ := newMem(t, 1)
	var buf bytes.Buffer
	log := slog.New(LogHandler(slog.NewTextHandler(&buf, nil))).With("k", "v")
	q, r := tr.Begin(httptest.NewRequest("GET", "/", nil))
	log.InfoContext(r.Context(), "traced")
	log.Info("untraced")
	q.Finish(Outcome{})
	out := buf.String()
	if !strings.Contains(out, "msg=traced k=v trace_id="+q.TraceID()) {
		t.Errorf("traced line lacks trace_id:\n%s", out)
	}
	if strings.Count(out, "trace_id=") != 1 {
		t.Errorf("trace_id on an untraced line:\n%s", out)
	}
}

func TestNewRejects(t *testing.T) {
	for _, o := range []Options{
		{Sampling: 1.5, Endpoint: "http://127.0.0.1:4318"},
		{Sampling: 0.1, Endpoint: "ftp://x"},
		{Sampling: 0.1, Endpoint: "http://127.0.0.1:4318", Protocol: "thrift"},
		{Sampling: 0.1, Endpoint: "http://127.0.0.1:4318", TrustedPeers: []string{"not-an-ip"}},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v) = nil error", o)
		}
	}
}

// grpcReceiver is a loopback OTLP/gRPC trace service.
type grpcReceiver struct {
	coltracepb.UnimplementedTraceServiceServer
	mu    sync.Mutex
	names []string
	trace string
}

func (g *grpcReceiver) Export(_ context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				g.names = append(g.names, s.Name)
				g.trace = hex.EncodeToString(s.TraceId)
			}
		}
	}
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

// The gRPC protocol exports to a real gRPC server on loopback.
func TestExportGRPC(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	recv := &grpcReceiver{}
	coltracepb.RegisterTraceServiceServer(srv, recv)
	go func() { _ = srv.Serve(ln) }()
	defer srv.Stop()

	tr, err := New(Options{Endpoint: "http://" + ln.Addr().String(), Protocol: ProtocolGRPC, Sampling: 1, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	q, _ := tr.Begin(httptest.NewRequest("GET", "/", nil))
	a := q.Start(SpanAuth)
	a.End()
	q.Finish(Outcome{Route: "r"})
	if err := tr.Shutdown(context.Background()); err != nil { // flushes the batch
		t.Fatal(err)
	}
	recv.mu.Lock()
	defer recv.mu.Unlock()
	if strings.Join(recv.names, ",") != SpanAuth+","+SpanRequest || recv.trace != q.TraceID() {
		t.Fatalf("received %v in trace %s, want auth and request spans in %s", recv.names, recv.trace, q.TraceID())
	}
}

var _ sdktrace.SpanExporter = (*tracetest.InMemoryExporter)(nil)
