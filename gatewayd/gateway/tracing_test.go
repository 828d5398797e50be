package gateway

import (
	"bytes"
	"compress/gzip"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"tollgate/engine/route"
	"tollgate/engine/tier"
	"tollgate/gatewayd/auth"
	"tollgate/gatewayd/config"
	"tollgate/gatewayd/tracing"
	"tollgate/schema"
)

// otlpReceiver is a loopback OTLP/HTTP trace receiver: it decodes each
// export request's protobuf body and keeps its spans.
type otlpReceiver struct {
	mu       sync.Mutex
	spans    []*tracepb.Span
	resource []*commonpb.KeyValue
	bodies   [][]byte
	errs     []string
}

func (o *otlpReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var rd io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		rd = zr
	}
	body, err := io.ReadAll(rd)
	o.mu.Lock()
	defer o.mu.Unlock()
	if r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" {
		o.errs = append(o.errs, "unexpected "+r.Method+" "+r.URL.Path+" "+r.Header.Get("Content-Type"))
		http.Error(w, "not an OTLP/HTTP protobuf export", http.StatusNotFound)
		return
	}
	var req coltracepb.ExportTraceServiceRequest
	if err == nil {
		err = proto.Unmarshal(body, &req)
	}
	if err != nil {
		o.errs = append(o.errs, err.Error())
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	o.bodies = append(o.bodies, body)
	for _, rs := range req.ResourceSpans {
		o.resource = append(o.resource, rs.GetResource().GetAttributes()...)
		for _, ss := range rs.ScopeSpans {
			o.spans = append(o.spans, ss.Spans...)
		}
	}
	resp, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(resp)
}

func attr(s *tracepb.Span, key string) (*commonpb.AnyValue, bool) {
	for _, kv := range s.Attributes {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return nil, false
}

func attrString(s *tracepb.Span, key string) string {
	v, _ := attr(s, key)
	return v.GetStringValue()
}

// TestTracingOTLPHTTP runs real requests through a gateway whose tracing
// exports over OTLP/HTTP to a loopback receiver, and checks the decoded
// spans: names, parent links, attributes, the trusted-peer rule for
// traceparent, the upstream's traceparent, the trace id in the ledger and the
// log line, and that neither the key nor its hash appears anywhere.
func TestTracingOTLPHTTP(t *testing.T) {
	const rawKey = "sk-live-tracing-secret-0123456789"
	keyHash := auth.HashKey(rawKey)
	recv := &otlpReceiver{}
	collector := httptest.NewServer(recv)
	defer collector.Close()
	var upMu sync.Mutex
	var upTraceparents []string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		upMu.Lock()
		upTraceparents = append(upTraceparents, r.Header.Get("Traceparent"))
		upMu.Unlock()
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	defer up.Close()

	one := 1.0
	dir := filepath.Join(t.TempDir(), "ledger")
	cfg := &config.Config{
		Auth:    config.Auth{APIKeys: config.APIKeys{Keys: []config.APIKey{{SHA256: keyHash, Tier: "gold"}}}},
		Tiers:   []config.Tier{{Tier: tier.Tier{Name: "gold", Burst: 3, Rate: 0.001}}},
		Routes:  []config.Route{{Route: route.Route{Name: "v1", Prefix: "/v1/", Cost: 1}, Upstream: up.URL}},
		Ledger:  config.Ledger{Dir: dir, FlushInterval: config.Duration(1e6)},
		Penalty: config.Penalty{Threshold: 1},
		Tracing: config.Tracing{Endpoint: collector.URL, Sampling: &one, TrustedClients: []string{"10.1.2.3"}},
	}
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	var logMu sync.Mutex
	logW := writerFunc(func(p []byte) (int, error) { logMu.Lock(); defer logMu.Unlock(); return logs.Write(p) })
	g, err := New(cfg, slog.New(slog.NewJSONHandler(logW, nil)))
	if err != nil {
		t.Fatal(err)
	}

	const parentTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	const parentSpan = "00f067aa0ba902b7"
	send := func(peer string, traceparent string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", "/v1/x?api_key="+rawKey, nil)
		r.RemoteAddr = peer + ":40000"
		r.Header.Set("X-API-Key", rawKey)
		r.Header.Set("Authorization", "Bearer "+rawKey)
		if traceparent != "" {
			r.Header.Set("Traceparent", traceparent)
			r.Header.Set("Tracestate", "vendor=chosen-by-client")
		}
		w := httptest.NewRecorder()
		g.ServeHTTP(w, r)
		return w
	}
	tp := "00-" + parentTrace + "-" + parentSpan + "-01"
	if w := send("10.1.2.3", tp); w.Code != 200 { // trusted: continues the caller's trace
		t.Fatalf("trusted request: status %d", w.Code)
	}
	if w := send("198.51.100.7", tp); w.Code != 200 { // untrusted: a new trace
		t.Fatalf("untrusted request: status %d", w.Code)
	}
	send("198.51.100.7", "") // the third token
	if w := send("198.51.100.7", ""); w.Code != http.StatusTooManyRequests {
		t.Fatalf("fourth request: status %d, want 429", w.Code)
	}
	if w := send("198.51.100.7", ""); w.Code != http.StatusTooManyRequests { // the second 429 boxes the key
		t.Fatalf("fifth request: status %d, want 429", w.Code)
	}
	if err := g.Close(); err != nil { // flushes the ledger and the spans
		t.Fatal(err)
	}

	recv.mu.Lock()
	defer recv.mu.Unlock()
	if len(recv.errs) > 0 {
		t.Fatalf("receiver: %v", recv.errs)
	}
	// Nothing exported may hold the key, its hash, or the bearer token.
	for _, b := range recv.bodies {
		for _, secret := range []string{rawKey, keyHash} {
			if bytes.Contains(b, []byte(secret)) {
				t.Fatalf("an OTLP export contains the secret %q", secret)
			}
		}
	}
	byID := map[string]*tracepb.Span{}
	var servers []*tracepb.Span
	for _, s := range recv.spans {
		byID[hex.EncodeToString(s.SpanId)] = s
		if s.Name == tracing.SpanRequest {
			servers = append(servers, s)
		}
	}
	if len(servers) != 5 {
		t.Fatalf("%d server spans, want 5 (spans: %d)", len(servers), len(recv.spans))
	}
	var svc bool
	for _, kv := range recv.resource {
		svc = svc || (kv.Key == "service.name" && kv.Value.GetStringValue() == "gatewayd")
	}
	if !svc {
		t.Errorf("resource lacks service.name=gatewayd: %v", recv.resource)
	}

	// Match server spans to requests by their request id order in the ledger.
	recs, _, err := schema.ReadLedgerAll(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 5 {
		t.Fatalf("%d ledger records, want 5", len(recs))
	}
	server := map[string]*tracepb.Span{}
	for _, s := range servers {
		server[attrString(s, string(tracing.AttrRequestID))] = s
	}
	for i, rec := range recs {
		s := server[rec.ID]
		if s == nil {
			t.Fatalf("record %d (%s): no server span with its request id", i, rec.ID)
		}
		if got := hex.EncodeToString(s.TraceId); rec.TraceID != got {
			t.Errorf("record %d: trace_id %q, server span's trace %q", i, rec.TraceID, got)
		}
		if s.Kind != tracepb.Span_SPAN_KIND_SERVER {
			t.Errorf("record %d: server span kind %v", i, s.Kind)
		}
		if attrString(s, "tollgate.route") != "v1" || attrString(s, "tollgate.tier") != "gold" ||
			attrString(s, "tollgate.decision") != rec.Decision || attrString(s, "http.request.method") != "GET" {
			t.Errorf("record %d: server span attributes %v", i, s.Attributes)
		}
		if v, _ := attr(s, "http.response.status_code"); v.GetIntValue() != int64(rec.Status) {
			t.Errorf("record %d: status attribute %v, want %d", i, v, rec.Status)
		}
	}
	first, second, limited := server[recs[0].ID], server[recs[1].ID], server[recs[3].ID]
	if hex.EncodeToString(first.TraceId) != parentTrace || hex.EncodeToString(first.ParentSpanId) != parentSpan {
		t.Errorf("trusted peer: trace %x parent %x, want the caller's %s/%s", first.TraceId, first.ParentSpanId, parentTrace, parentSpan)
	}
	if hex.EncodeToString(second.TraceId) == parentTrace || len(second.ParentSpanId) != 0 {
		t.Errorf("untrusted peer: trace %x parent %x continued the client's traceparent", second.TraceId, second.ParentSpanId)
	}
	if v, _ := attr(first, "tollgate.cost"); v.GetDoubleValue() != 1 {
		t.Errorf("cost attribute %v, want 1", v)
	}
	if recs[3].Decision != "limited" {
		t.Fatalf("fourth record decision %q, want limited", recs[3].Decision)
	}

	// Children of each admitted request: auth, pricing, limiter (with a store
	// span under it), upstream, ledger append.
	children := map[string]map[string]*tracepb.Span{}
	for _, s := range recv.spans {
		p := hex.EncodeToString(s.ParentSpanId)
		if children[p] == nil {
			children[p] = map[string]*tracepb.Span{}
		}
		children[p][s.Name] = s
	}
	for _, srv := range []*tracepb.Span{first, second} {
		kids := children[hex.EncodeToString(srv.SpanId)]
		for _, name := range []string{tracing.SpanAuth, tracing.SpanPricing, tracing.SpanLimiter, tracing.SpanUpstream, tracing.SpanLedger} {
			c := kids[name]
			if c == nil {
				t.Fatalf("server span %x has no %s child (children %v)", srv.SpanId, name, kids)
			}
			if !bytes.Equal(c.TraceId, srv.TraceId) {
				t.Errorf("%s: trace %x, server %x", name, c.TraceId, srv.TraceId)
			}
		}
		lim := kids[tracing.SpanLimiter]
		if attrString(lim, "tollgate.decision") != "allowed" || attrString(lim, "tollgate.breaker.state") != "closed" ||
			attrString(lim, "tollgate.policy") == "" {
			t.Errorf("limiter attributes %v", lim.Attributes)
		}
		st := children[hex.EncodeToString(lim.SpanId)][tracing.SpanStore]
		if st == nil || attrString(st, "tollgate.store.op") != "acquire" {
			t.Errorf("limiter span has no acquire store child: %v", children[hex.EncodeToString(lim.SpanId)])
		}
		if v, _ := attr(kids[tracing.SpanPricing], "tollgate.cost"); v.GetDoubleValue() != 1 {
			t.Errorf("pricing cost %v, want 1", v)
		}
	}
	limKids := children[hex.EncodeToString(limited.SpanId)]
	if limKids[tracing.SpanUpstream] != nil {
		t.Error("a refused request has an upstream span")
	}
	if l := limKids[tracing.SpanLimiter]; l == nil || attrString(l, "tollgate.decision") != "refused" {
		t.Errorf("refused request's limiter span: %v", l)
	}

	// The upstream got the gateway's traceparent (its upstream span), never
	// the untrusted client's.
	upMu.Lock()
	defer upMu.Unlock()
	if len(upTraceparents) != 3 {
		t.Fatalf("upstream saw %d requests, want 3", len(upTraceparents))
	}
	for i, srv := range []*tracepb.Span{first, second} {
		us := children[hex.EncodeToString(srv.SpanId)][tracing.SpanUpstream]
		want := "00-" + hex.EncodeToString(srv.TraceId) + "-" + hex.EncodeToString(us.SpanId) + "-01"
		if upTraceparents[i] != want {
			t.Errorf("upstream request %d traceparent %q, want %q", i, upTraceparents[i], want)
		}
	}

	// The penalty-box line for the refused key carries the refusal's trace id.
	logMu.Lock()
	defer logMu.Unlock()
	var found bool
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) != nil {
			continue
		}
		if m["msg"] == "key put in the penalty box" {
			found = true
			if m["trace_id"] != recs[4].TraceID {
				t.Errorf("penalty-box log line trace_id %v, want %s", m["trace_id"], recs[4].TraceID)
			}
		}
		if strings.Contains(line, rawKey) {
			t.Errorf("a log line holds the raw key: %s", line)
		}
	}
	if !found {
		t.Errorf("no penalty-box log line; log:\n%s", logs.String())
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
