package gateway

import (
	"context"
	"errors"
	"math"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"tollgate/engine"
	"tollgate/engine/limiter"
	"tollgate/engine/route"
	"tollgate/engine/tier"
	"tollgate/gatewayd/auth"
	"tollgate/gatewayd/body"
	"tollgate/gatewayd/clientip"
	"tollgate/gatewayd/cors"
	"tollgate/gatewayd/headerpolicy"
	"tollgate/gatewayd/headers"
	"tollgate/gatewayd/ledger"
	"tollgate/gatewayd/protoerr"
	"tollgate/gatewayd/proxy"
	"tollgate/gatewayd/respond"
	"tollgate/gatewayd/tracing"
	"tollgate/gatewayd/tunnel"
	"tollgate/schema"
)

// Decisions, the values of the ledger's decision field and the metrics'
// decision label: a fixed set.
const (
	DecisionAllowed          = "allowed"
	DecisionLimited          = "limited"
	DecisionPenalty          = "penalty"
	DecisionUnauthenticated  = "unauthenticated"
	DecisionShed             = "shed"
	DecisionUnavailable      = "unavailable"
	DecisionPreflight        = "preflight"
	DecisionNoRoute          = "no_route"
	DecisionMethodNotAllowed = "method_not_allowed"
	DecisionTooLarge         = "too_large"
	// DecisionBadRequest: refused by the header, upgrade or body policy
	// before admission (400), never charged.
	DecisionBadRequest = "bad_request"
	// DecisionProtocolError: refused by the HTTP server itself before the
	// gateway saw the request (malformed, 431, 501, 505); see ProtocolError.
	DecisionProtocolError = "protocol_error"
)

// ProtocolError records a request the HTTP server refused by itself
// (package protoerr): counted in gatewayd_protocol_errors_total and
// gatewayd_requests_total, and ledgered as an unidentified client's record,
// which the ledger folds into its bounded per-client aggregates.
func (g *Gateway) ProtocolError(status int, remoteAddr string) {
	now := time.Now().UTC()
	g.m.ProtocolErrors.WithLabelValues(strconv.Itoa(status)).Inc()
	g.m.For("none", "none", DecisionProtocolError).Requests.Inc()
	rec := schema.LedgerRecord{ID: g.nextID(), Status: status, Decision: DecisionProtocolError, Start: now, End: now}
	client := ""
	if a, ok := g.rt.Load().clients.Client(remoteAddr, nil); ok {
		client = clientip.Key(a)
	}
	_ = g.ledger.Commit(&rec, client) // failures are counted and logged by the writer
}

// statusWriter records the status sent.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	// 1xx informational responses (100 Continue) precede the final status;
	// 101 Switching Protocols is final.
	if s.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (flushes).
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// settleTimeout bounds the settle and release calls after the response.
const settleTimeout = time.Second

// ServeHTTP is the request path. Every request answered produces exactly one
// ledger record (or, for an unidentified client, a count in an aggregate
// record), committed before ServeHTTP returns to the server: with sync
// durability it is on disk before the response's end is released.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	protoerr.Handled(r.Context()) // what this connection writes now is ours
	start := time.Now()
	rt := g.rt.Load()
	sw := &statusWriter{ResponseWriter: w}
	tq, r := g.tr.Begin(r) // tracing: nil (and r unchanged) while off
	if g.ledger.Durability() == ledger.Sync {
		sw.ResponseWriter = &ledger.HoldWriter{ResponseWriter: w} // released once the record is durable
	}
	rec := schema.LedgerRecord{ID: g.nextID(), Method: r.Method, Path: r.URL.Path, Start: start.UTC(), TraceID: tq.TraceID()}
	n := g.inFlight.Add(1)
	g.m.InFlight.Inc()
	defer func() {
		g.inFlight.Add(-1)
		g.m.InFlight.Dec()
		g.finish(&rec, sw, start, r, tq)
	}()
	setHeader(w.Header(), hRequestID, rec.ID)

	if n > int64(rt.cfg.Server.MaxInFlight) {
		rec.Decision = DecisionShed
		w.Header().Set("Retry-After", "1")
		respond.Write(sw, respond.Error{Status: http.StatusServiceUnavailable, Code: "overloaded",
			Message: "the gateway is at its in-flight limit; retry shortly"})
		return
	}

	if !g.ledger.Accepting() {
		rec.Decision = DecisionLedgerUnavailable
		w.Header().Set("Retry-After", "5")
		respond.Write(sw, respond.Error{Status: http.StatusServiceUnavailable, Code: "ledger_unavailable",
			Message: "the usage ledger cannot record requests right now; retry shortly"})
		return
	}

	p := route.Clean(r.URL.Path)
	if p != r.URL.Path {
		r.URL.Path, r.URL.RawPath = p, ""
		rec.Path = p
	}
	rr, ok := rt.routes.Match(p)
	if !ok {
		rec.Decision = DecisionNoRoute
		respond.Write(sw, respond.Error{Status: http.StatusNotFound, Code: "no_route", Message: "no route matches this path"})
		return
	}
	rec.Route = rr.cfg.Name
	origin := r.Header.Get("Origin")
	if rr.cors != nil && cors.IsPreflight(r) {
		rec.Decision = DecisionPreflight
		if rr.cors.Preflight(w.Header(), r) {
			sw.WriteHeader(http.StatusNoContent)
			return
		}
		respond.Write(sw, respond.Error{Status: http.StatusForbidden, Code: "cors_refused",
			Message: "origin, method or headers not allowed by this route's CORS policy"})
		return
	}
	if rr.cors != nil && origin != "" {
		rr.cors.Decorate(w.Header(), origin)
	}
	if !rr.methods[r.Method] {
		rec.Decision = DecisionMethodNotAllowed
		w.Header().Set("Allow", rr.allow)
		respond.Write(sw, respond.Error{Status: http.StatusMethodNotAllowed, Code: "method_not_allowed",
			Message: r.Method + " is not allowed on this route"})
		return
	}

	if err := headerpolicy.Check(r.Header); err != nil {
		rec.Decision = DecisionBadRequest
		respond.Write(sw, respond.Error{Status: http.StatusBadRequest, Code: "duplicate_authorization",
			Message: "more than one Authorization header; send exactly one"})
		return
	}

	upgrade := headerpolicy.Upgrade(r.Header)
	if upgrade != "" && !headerpolicy.UpgradeAllowed(rr.cfg.Upgrade, upgrade) {
		rec.Decision = DecisionBadRequest
		respond.Write(sw, respond.Error{Status: http.StatusBadRequest, Code: "upgrade_refused",
			Message: "this route does not accept an upgrade to " + strconv.Quote(truncate(upgrade, 32))})
		return
	}

	var id auth.Identity
	var aerr *auth.Error
	asp := tq.Start(tracing.SpanAuth)
	if anon := rr.cfg.AnonymousTier; anon != "" && !rt.auth.HasCredentials(r) {
		// A public route: no credentials, limited per client address.
		if a, ok := rt.clients.Client(r.RemoteAddr, r.Header.Values("X-Forwarded-For")); ok {
			id = auth.Anonymous(clientip.Key(a), anon)
		} else {
			aerr = &auth.Error{Code: "unknown_client", Message: "the client's address could not be read"}
		}
	} else {
		id, aerr = rt.auth.Authenticate(r, start)
	}
	if aerr != nil {
		asp.Fail(aerr.Code)
	}
	asp.End()
	if aerr != nil {
		rec.Decision = DecisionUnauthenticated
		if rt.cfg.Auth.JWT != nil {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		}
		respond.Write(sw, respond.Error{Status: aerr.Status(), Code: aerr.Code, Message: aerr.Message})
		return
	}
	rec.KeyHash, rec.Tier = id.KeyHash, id.Tier
	trt := rt.tiers[id.Tier]
	if trt == nil { // unreachable: auth only yields configured tiers
		rec.Decision = DecisionUnauthenticated
		respond.Write(sw, respond.Error{Status: http.StatusUnauthorized, Code: "unknown_tier", Message: "tier not offered here"})
		return
	}

	// One rule for bodies, before admission: a refused body is not charged
	// and nothing of it reaches the upstream (package body).
	if e := body.Prepare(w, r, rr.cfg.MaxBodyBytes); e != nil {
		rec.Decision = DecisionTooLarge
		if e.Status == http.StatusBadRequest {
			rec.Decision = DecisionBadRequest
		}
		respond.Write(sw, *e)
		return
	}

	plan := trt.c.Plan(r.Method)
	if rr.cfg.Operational {
		plan = trt.c.OperationalPlan()
	}
	setHeader(w.Header(), hPolicy, rt.policyHeader(plan))

	if left, boxed := rt.box.Boxed(id.Key, start); boxed {
		rec.Decision = DecisionPenalty
		secs := int64(math.Ceil(left.Seconds()))
		w.Header().Set(headers.RetryAfter, strconv.FormatInt(secs, 10))
		respond.Write(sw, respond.Error{Status: http.StatusTooManyRequests, Code: "penalty_box",
			Message: "too many requests refused in the last minute; this key is refused until the cool-down ends",
			Extra: map[string]any{"type": "https://iana.org/assignments/http-problem-types#abnormal-usage-detected",
				"title": "Too Many Requests", "retry_after_seconds": secs}})
		return
	}

	psp := tq.Start(tracing.SpanPricing)
	price := rr.cfg.Cost
	if rt.cfg.Pricing.Dynamic {
		price = rt.pricer.Price(rr.cfg.Name, r.Method)
	}
	tq.EndPricing(psp, rr.cfg.Name, price)
	cost := engine.Tokens(price)
	if cost < 1 {
		cost = 1
	}
	req := limiter.Request{Key: id.Key, Plan: plan, Cost: cost, FailOpen: trt.c.Tier().FailOpen}
	lim := rt.backend.lim

	// The shadow candidate decides alongside, never refusing.
	var shadowDone chan shadowResult
	if cand := rr.shadowFor(trt, id.Tier); cand != nil && !rr.cfg.Operational {
		shadowDone = make(chan shadowResult, 1)
		sreq := limiter.Request{Key: "s|" + rr.cfg.Name + "|" + id.Key, Plan: cand.Plan(r.Method), Cost: cost, FailOpen: true}
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), settleTimeout)
			defer cancel()
			out := lim.Acquire(ctx, sreq)
			shadowDone <- shadowResult{req: sreq, out: out}
		}()
	}

	out := lim.Acquire(tq.Limiter(r.Context()), req)
	tq.EndLimiter(out, lim.Breaker(), rt.backend.leaser != nil)
	rec.DecidedUS = out.NowUS // the instant the limiter decided at, for replay
	rec.Cost = engine.MilliToTokens(cost)
	if out.Err == nil {
		g.observeBudget(rr.cfg.Name, id.Tier, out.Decision)
	}
	if out.Err == nil || !out.Unmetered {
		setHeader(w.Header(), hLimit, headers.LimitValue(plan, out.Result))
	}
	switch {
	case !out.Allowed && out.Err != nil && !errors.Is(out.Err, engine.ErrStoreUnavailable):
		// Not a store failure: a request the engine refuses as invalid, or the
		// client gone. Never reported as the store being down.
		rec.Decision = DecisionUnavailable
		w.Header().Del(headers.Limit)
		g.log.ErrorContext(r.Context(), "rate-limit decision failed", "tier", id.Tier, "route", rr.cfg.Name, "err", out.Err)
		respond.Write(sw, respond.Error{Status: http.StatusInternalServerError, Code: "limiter_error",
			Message: "the rate limiter could not decide this request"})
		g.shadowFinish(&rec, shadowDone, false, 0)
		return
	case !out.Allowed && out.Err != nil:
		rec.Decision = DecisionUnavailable
		secs := headers.RetryAfterSeconds(out.Decision)
		w.Header().Del(headers.Limit)
		w.Header().Set(headers.RetryAfter, strconv.FormatInt(secs, 10))
		if g.storeLog.allow(start) {
			g.log.WarnContext(r.Context(), "rate-limit store unavailable; refusing (fail-closed tier)", "tier", id.Tier, "err", out.Err)
		}
		respond.Write(sw, respond.Error{Status: http.StatusServiceUnavailable, Code: "limiter_unavailable",
			Message: "the rate-limit store is unavailable and this tier fails closed",
			Extra:   map[string]any{"type": "https://iana.org/assignments/http-problem-types#temporary-reduced-capacity"}})
		g.shadowFinish(&rec, shadowDone, false, 0)
		return
	case !out.Allowed:
		rec.Decision = DecisionLimited
		extra := map[string]any{"type": "https://iana.org/assignments/http-problem-types#quota-exceeded",
			"title": "Too Many Requests", "violated-policies": violated(out.Result), "policy": out.Policy}
		msg := "rate limit exceeded"
		if out.Permanent {
			msg = "the request costs more than the policy can ever admit"
			extra["cost"] = engine.MilliToTokens(cost)
		} else {
			secs := headers.RetryAfterSeconds(out.Decision)
			w.Header().Set(headers.RetryAfter, strconv.FormatInt(secs, 10))
			extra["retry_after_seconds"] = secs
			extra["retry_after_ms"] = (out.RetryAfterUS + 999) / 1000
		}
		respond.Write(sw, respond.Error{Status: http.StatusTooManyRequests, Code: "rate_limited", Message: msg, Extra: extra})
		if rt.box.Limited(id.Key, start) {
			g.log.InfoContext(r.Context(), "key put in the penalty box", "key_hash", id.KeyHash, "tier", id.Tier, "cooldown", rt.cfg.Penalty.Cooldown.D())
			g.publishPenalty(rt, id.Key, rt.cfg.Penalty.Cooldown.D())
		}
		g.shadowFinish(&rec, shadowDone, false, 0)
		return
	}

	rec.Decision = DecisionAllowed
	rec.Unmetered = out.Unmetered
	rec.CostCharged = engine.MilliToTokens(cost)
	if out.Unmetered && g.storeLog.allow(start) {
		g.log.WarnContext(r.Context(), "rate-limit store unavailable; admitting unmetered (fail-open tier)", "tier", id.Tier, "err", out.Err)
	}

	// Proxy.
	// The identity headers are set by the route's header policy, last, in
	// the proxy's rewrite (headerpolicy).
	vouch := headerpolicy.Vouch{RequestID: rec.ID, Tier: id.Tier, KeyHash: id.KeyHash}
	if id.Scheme == auth.SchemeJWT {
		vouch.Verified = r.Header.Get("Authorization")
	}
	var tm proxy.Timing
	uctx, usp := tq.Upstream(proxy.WithTiming(r.Context(), &tm), r.Header) // writes the upstream's traceparent
	pctx := body.WithBody(headerpolicy.WithVouch(uctx, vouch), r.Body)
	if upgrade != "" {
		// An opted-in upgrade: after the 101 the connection is a tunnel,
		// metered by bytes and duration, closed after its maximum lifetime.
		tw := tunnel.Wrap(sw)
		ctx, cancel := tunnel.Context(pctx, rr.cfg.Timeout.D(), rr.cfg.MaxTunnelLifetime.D(), tw.Hijacked)
		rr.proxy.ServeHTTP(tw, r.WithContext(ctx))
		cancel()
		if tw.Hijacked() {
			sw.status = http.StatusSwitchingProtocols
			rec.BytesIn, rec.BytesOut = tw.Bytes()
			g.m.TunnelBytes.WithLabelValues(rr.cfg.Name, "in").Add(float64(rec.BytesIn))
			g.m.TunnelBytes.WithLabelValues(rr.cfg.Name, "out").Add(float64(rec.BytesOut))
			g.m.TunnelSeconds.WithLabelValues(rr.cfg.Name).Add(time.Since(start).Seconds())
		}
	} else {
		ctx, cancel := context.WithTimeout(pctx, rr.cfg.Timeout.D())
		rr.proxy.ServeHTTP(sw, r.WithContext(ctx))
		cancel()
	}
	tq.EndUpstream(usp, tm.Status, tm.Header, tm.Err != nil)
	if tm.Status != 0 && sw.status == 0 {
		sw.status = tm.Status // the client went away; nothing was written
	}
	rec.UpstreamMS = float64(tm.Header.Microseconds()) / 1000
	if tm.Header > 0 {
		g.m.For(rr.cfg.Name, id.Tier, DecisionAllowed).Upstream().Observe(tm.Header.Seconds())
		rt.pricer.Observe(rr.cfg.Name, r.Method, tm.Header)
	}

	// Settle: the request's own cost from its observed service time.
	delta := int64(0)
	if rt.cfg.Pricing.Dynamic {
		var final int64
		switch {
		case tm.Err != nil:
			final = 0 // the gateway or the upstream failed: not billed
		default:
			f := tm.Header.Seconds() / rr.cfg.Reference.D().Seconds()
			f = math.Max(rt.cfg.Pricing.MinMultiplier, math.Min(rt.cfg.Pricing.MaxMultiplier, f))
			final = engine.Tokens(rr.cfg.Cost * f)
		}
		delta = final - cost
	}
	if tm.Status == http.StatusBadRequest {
		// The client's streamed body stopped short: its fault (400), and
		// the same rule as any refused body: not charged.
		rec.Decision = DecisionBadRequest
		delta = -cost
	}
	rec.CostSettled = engine.MilliToTokens(cost + delta)
	// Settle and Release are no-ops for a zero delta and a plan without a
	// concurrency policy; skip their timeout context then.
	if !out.Unmetered && (delta != 0 || hasConcurrency(plan)) {
		sctx, scancel := context.WithTimeout(context.Background(), settleTimeout)
		if err := lim.Settle(sctx, req, delta); err != nil && g.storeLog.allow(start) {
			g.log.WarnContext(r.Context(), "settle failed", "tier", id.Tier, "route", rr.cfg.Name, "err", err)
		}
		if err := lim.Release(sctx, req); err != nil && g.storeLog.allow(start) {
			g.log.WarnContext(r.Context(), "release failed", "tier", id.Tier, "route", rr.cfg.Name, "err", err)
		}
		scancel()
	}
	g.shadowFinish(&rec, shadowDone, true, delta)
}

type shadowResult struct {
	req limiter.Request
	out limiter.Outcome
}

// shadowFor returns the candidate tier for this route and tier: the route's
// shadow wins over the tier's.
func (rr *routeRT) shadowFor(trt *tierRT, tierName string) *tier.Compiled {
	if rr.shadow != nil {
		return rr.shadow[tierName]
	}
	return trt.shadow
}

// shadowFinish collects the candidate's decision, settles it like the
// enforced one and records any disagreement.
func (g *Gateway) shadowFinish(rec *schema.LedgerRecord, ch chan shadowResult, enforcedAllowed bool, delta int64) {
	if ch == nil {
		return
	}
	res := <-ch
	d := DecisionLimited
	if res.out.Allowed {
		d = DecisionAllowed
		if res.out.Err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), settleTimeout)
			_ = g.rt.Load().backend.lim.Settle(ctx, res.req, delta)
			_ = g.rt.Load().backend.lim.Release(ctx, res.req)
			cancel()
		}
	}
	if res.out.Err != nil {
		d = DecisionUnavailable
	}
	rec.Shadow = d
	rec.ShadowDisagrees = res.out.Err == nil && res.out.Allowed != enforcedAllowed
}

// violated lists the denying policies.
func violated(res engine.Result) []string {
	var out []string
	for _, d := range res.Policies {
		if !d.Allowed {
			out = append(out, d.Policy)
		}
	}
	if len(out) == 0 && res.Policy != "" {
		out = append(out, res.Policy)
	}
	return out
}

// finish writes the ledger record and the metrics, and ends the trace.
func (g *Gateway) finish(rec *schema.LedgerRecord, sw *statusWriter, start time.Time, r *http.Request, tq *tracing.Request) {
	end := time.Now()
	rec.End = end.UTC()
	rec.Status = sw.status
	if rec.Status == 0 {
		rec.Status = http.StatusOK
	}
	routeL, tierL := rec.Route, rec.Tier
	if routeL == "" {
		routeL = "none"
	}
	if tierL == "" {
		tierL = "none"
	}
	mc := g.m.For(routeL, tierL, rec.Decision)
	mc.Requests.Inc()
	mc.Duration.Observe(end.Sub(start).Seconds())
	if rec.CostCharged > 0 {
		mc.Charged().Add(rec.CostCharged)
		mc.Settled().Add(rec.CostSettled)
	}
	if rec.Unmetered {
		mc.Unmetered().Inc()
	}
	if rec.Shadow != "" {
		g.m.Shadow.WithLabelValues(routeL, tierL, rec.Shadow).Inc()
		if rec.ShadowDisagrees {
			g.m.ShadowDisagree.WithLabelValues(routeL, tierL, rec.Shadow).Inc()
		}
	}
	lsp := tq.Start(tracing.SpanLedger)
	g.record(rec, r, sw)
	lsp.End()
	if tq != nil {
		tq.Finish(tracing.Outcome{RequestID: rec.ID, Route: rec.Route, Tier: rec.Tier, Decision: rec.Decision,
			Status: rec.Status, CostCharged: rec.CostCharged, CostSettled: rec.CostSettled, Unmetered: rec.Unmetered})
	}
}

// logLimiter lets one log line through per second, so a dead store does not
// flood the log with one line per request (the metrics count every one).
type logLimiter struct{ next atomic.Int64 }

func (l *logLimiter) allow(now time.Time) bool {
	n := l.next.Load()
	if now.UnixNano() < n {
		return false
	}
	return l.next.CompareAndSwap(n, now.Add(time.Second).UnixNano())
}

// Canonical header keys for the request path's own headers, set straight
// into the map: Header.Set canonicalizes its key on every call, which showed
// in the CPU profile.
var (
	hRequestID = http.CanonicalHeaderKey(headerpolicy.RequestID)
	hPolicy    = http.CanonicalHeaderKey(headers.Policy)
	hLimit     = http.CanonicalHeaderKey(headers.Limit)
)

// truncate bounds client text echoed in an error body.
func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// setHeader is Header.Set for a key already in canonical form.
func setHeader(h http.Header, canonicalKey, v string) { h[canonicalKey] = []string{v} }

// hasConcurrency reports whether the plan holds a concurrency policy (one
// that Release must return), as the limiter decides it.
func hasConcurrency(pl *engine.Plan) bool {
	if pl == nil {
		return false
	}
	for _, p := range pl.Policies {
		if p != nil && p.Algorithm == engine.Concurrency {
			return true
		}
	}
	return false
}
