// Package headerpolicy is gatewayd's written header policy: what the upstream
// receives is only what the gateway vouches for. It is enforced in one place,
// the reverse proxy's rewrite, after hop-by-hop processing (so a Connection
// header cannot remove what the gateway sets), and it decides three things:
//
//   - Identity headers. X-Tollgate-Tier, X-Tollgate-Key-Hash, X-Request-Id and
//     every other name under X-Tollgate-, in any case and in any spelling that
//     folds to one of them (underscores for hyphens: X_Tollgate_Tier, which
//     CGI, WSGI, PHP and nginx with underscores_in_headers read as
//     X-Tollgate-Tier), are removed from the request and then set by the
//     gateway last, so nothing a client sends can remove or forge them.
//   - Credentials. The API key header never leaves the gateway. Authorization
//     and Proxy-Authorization reach the upstream only if the gateway verified
//     them (a bearer JWT that authenticated the request), unless the route
//     sets forward_credentials: true, which passes them through unverified
//     (an upstream with its own authentication). A request with more than one
//     Authorization header is refused before authentication (Check).
//   - Spellings of the gateway's own headers. A header that folds to one the
//     gateway sets or reads (X-Forwarded-For, -Host, -Proto, Forwarded,
//     X-Real-IP, Authorization, the API key header) but is not spelled with
//     hyphens is removed: only the gateway's spelling reaches the upstream.
//
// Everything else passes through untouched; the gateway does not interpret
// cookies, and an upstream that trusts them does so on its own.
//
//	if err := headerpolicy.Check(r.Header); err != nil { ... 400 ... }
//	ctx := headerpolicy.WithVouch(ctx, headerpolicy.Vouch{RequestID: id, Tier: "gold", KeyHash: h})
//	// in the proxy's Rewrite, after hop-by-hop removal and X-Forwarded-*:
//	policy.Apply(pr.Out.Header, headerpolicy.VouchFrom(pr.In.Context()))
package headerpolicy

import (
	"context"
	"errors"
	"net/http"
	"strings"
)

// The identity headers the gateway sets on every proxied request.
const (
	RequestID = "X-Request-Id"
	Tier      = "X-Tollgate-Tier"
	KeyHash   = "X-Tollgate-Key-Hash"
	// IdentityPrefix is reserved: every header under it is the gateway's.
	IdentityPrefix = "X-Tollgate-"
)

// Canonical keys, set straight into the header map.
var (
	hRequestID = http.CanonicalHeaderKey(RequestID)
	hTier      = http.CanonicalHeaderKey(Tier)
	hKeyHash   = http.CanonicalHeaderKey(KeyHash)
	hAuthz     = http.CanonicalHeaderKey("Authorization")
)

// Fold returns a header name as a lenient upstream reads it: ASCII lower
// case, with underscores as hyphens (header names are ASCII tokens).
func Fold(name string) string {
	b := make([]byte, len(name))
	for i := 0; i < len(name); i++ {
		b[i] = foldByte(name[i])
	}
	return string(b)
}

// foldByte folds one byte as Fold does.
func foldByte(c byte) byte {
	switch {
	case c >= 'A' && c <= 'Z':
		return c + 'a' - 'A'
	case c == '_':
		return '-'
	}
	return c
}

// foldHasPrefix reports whether Fold(name) starts with folded, without
// allocating; folded is already folded.
func foldHasPrefix(name, folded string) bool {
	if len(name) < len(folded) {
		return false
	}
	for i := 0; i < len(folded); i++ {
		if foldByte(name[i]) != folded[i] {
			return false
		}
	}
	return true
}

// foldEqual reports whether Fold(name) == folded, without allocating.
func foldEqual(name, folded string) bool {
	return len(name) == len(folded) && foldHasPrefix(name, folded)
}

// IsIdentity reports whether a header name folds to one of the gateway's
// identity headers (anything under X-Tollgate-, or X-Request-Id).
func IsIdentity(name string) bool {
	return foldHasPrefix(name, "x-tollgate-") || foldEqual(name, "x-request-id")
}

// gatewaySpelled are headers the gateway sets or reads; only their hyphen
// spelling may reach the upstream. Folded.
var gatewaySpelled = map[string]bool{"x-forwarded-for": true, "x-forwarded-host": true,
	"x-forwarded-proto": true, "forwarded": true, "x-real-ip": true, "authorization": true,
	"proxy-authorization": true}

// ErrDuplicateAuthorization is Check's refusal of a request carrying more
// than one Authorization header: which one would the upstream believe?
var ErrDuplicateAuthorization = errors.New("headerpolicy: more than one Authorization header")

// Check refuses an inbound header set the policy cannot make safe: more than
// one Authorization header (also when spelled in different cases, which
// HTTP/1 servers merge). The caller answers 400.
func Check(h http.Header) error {
	n := 0
	for k, v := range h {
		if strings.EqualFold(k, "Authorization") {
			n += len(v)
		}
	}
	if n > 1 {
		return ErrDuplicateAuthorization
	}
	return nil
}

// Vouch is what the gateway vouches for on one request.
type Vouch struct {
	// RequestID, Tier and KeyHash become the identity headers.
	RequestID string
	Tier      string
	KeyHash   string
	// Verified is the Authorization value the gateway verified (the bearer
	// JWT that authenticated the request), forwarded as is; "" if none.
	Verified string
}

type vouchKey struct{}

// WithVouch returns ctx carrying v for the proxy's rewrite.
func WithVouch(ctx context.Context, v Vouch) context.Context {
	return context.WithValue(ctx, vouchKey{}, v)
}

// VouchFrom returns the Vouch in ctx (the zero Vouch if none: every identity
// header is then removed and set empty).
func VouchFrom(ctx context.Context) Vouch {
	v, _ := ctx.Value(vouchKey{}).(Vouch)
	return v
}

// Policy is one route's header policy. The zero value forwards no
// credential and knows no API key header. Safe for concurrent use.
type Policy struct {
	apiKey  string // folded
	forward bool
}

// New returns a route's policy: apiKeyHeader is the header API keys arrive
// in (never forwarded); forwardCredentials passes Authorization and
// Proxy-Authorization through unverified (route forward_credentials).
func New(apiKeyHeader string, forwardCredentials bool) Policy {
	return Policy{apiKey: Fold(apiKeyHeader), forward: forwardCredentials}
}

// ForwardsCredentials reports whether unverified credentials pass.
func (p Policy) ForwardsCredentials() bool { return p.forward }

// Apply rewrites the outbound header set h. Call it after hop-by-hop
// processing and after the X-Forwarded-* headers are set: it removes
// identity headers in every spelling, the API key header in every spelling,
// unverified credentials (unless the route forwards them) and non-hyphen
// spellings of the gateway's headers, then sets the verified credential and
// the identity headers last.
func (p Policy) Apply(h http.Header, v Vouch) {
	for k := range h {
		switch {
		case IsIdentity(k):
			delete(h, k)
		case p.apiKey != "" && foldEqual(k, p.apiKey):
			delete(h, k)
		case strings.IndexByte(k, '_') >= 0 && gatewaySpelled[Fold(k)]:
			delete(h, k)
		case !p.forward && (foldEqual(k, "authorization") || foldEqual(k, "proxy-authorization")):
			delete(h, k)
		}
	}
	if v.Verified != "" && !p.forward {
		h[hAuthz] = []string{v.Verified}
	}
	h[hRequestID] = []string{v.RequestID}
	h[hTier] = []string{v.Tier}
	h[hKeyHash] = []string{v.KeyHash}
}

// Upgrade returns the protocol a request asks to upgrade to (RFC 9110
// 7.8): the Upgrade header's value when the Connection header lists
// "upgrade", else "". Without that Connection token the reverse proxy drops
// Upgrade as hop-by-hop and the request is an ordinary one.
func Upgrade(h http.Header) string {
	up := strings.TrimSpace(h.Get("Upgrade"))
	if up == "" {
		return ""
	}
	for _, v := range h["Connection"] {
		for _, tok := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(tok), "upgrade") {
				return up
			}
		}
	}
	return ""
}

// UpgradeAllowed reports whether a route that opted in to protocol (its
// upgrade setting, "" for none) lets a request upgrade to proto: the first
// protocol the client offers must be the route's, any version.
func UpgradeAllowed(routeProtocol, proto string) bool {
	if routeProtocol == "" {
		return false
	}
	first, _, _ := strings.Cut(proto, ",")
	name, _, _ := strings.Cut(strings.TrimSpace(first), "/")
	return strings.EqualFold(name, routeProtocol) && !strings.Contains(proto, ",")
}
