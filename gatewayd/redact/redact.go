// Package redact keeps secrets out of gatewayd's logs and errors: key
// material, URL userinfo and token text. It is the one place that knows what
// a secret looks like; config errors, the JWKS client and the log handler
// all go through it.
//
//	log := slog.New(redact.NewHandler(slog.NewTextHandler(os.Stderr, nil)))
//	log.Error("fetch failed", "url", "https://user:pw@idp/jwks") // url=https://REDACTED@idp/jwks
//	fmt.Errorf("got %s", redact.Value(raw))                     // got a 8-character value (not shown)
//
// What String removes: the userinfo of any scheme://user:pass@host, the
// credentials of "Bearer ..." and "Basic ..." values (8 characters or more), anything shaped like a
// JWT (three base64url parts, the first starting "eyJ"), the values of query
// parameters and key=value settings named like credentials (token,
// access_token, api_key, key, password, secret, ...: a libpq DSN's
// password=...), and any literal secret registered with a Handler
// (a Redis password, an HMAC secret). It cannot recognise a raw API key on
// its own: fields that may hold one (an api_keys sha256 that is not a hash)
// are never echoed; they go through Value.
package redact

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
)

// Mark replaces redacted text.
const Mark = "REDACTED"

var (
	userinfo = regexp.MustCompile(`(?i)((?:\b[a-z][a-z0-9+.-]*:)?//)[^/\s@"'<>]*@`)
	bearer   = regexp.MustCompile(`(?i)\b(bearer)(\s+)[A-Za-z0-9._~+/=-]{8,}`)
	basic    = regexp.MustCompile(`\b(Basic|BASIC|basic)(\s+)[A-Za-z0-9+/]{8,}={0,2}`)
	jwtShape = regexp.MustCompile(`eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*`)
	query    = regexp.MustCompile(`(?i)((?:^|[?&;\s])(?:access_token|id_token|refresh_token|token|api_key|apikey|api-key|key|password|passwd|pass|secret|client_secret|sig|signature)=)[^&\s"'<>]*`)
)

// String returns s with URL userinfo, Authorization credentials, JWT-shaped
// text and credential query parameters replaced by REDACTED.
func String(s string) string {
	s = userinfo.ReplaceAllString(s, "${1}"+Mark+"@")
	s = bearer.ReplaceAllString(s, "${1}${2}"+Mark)
	s = basic.ReplaceAllString(s, "${1}${2}"+Mark)
	s = jwtShape.ReplaceAllString(s, Mark)
	s = query.ReplaceAllString(s, "${1}"+Mark)
	return s
}

// URL returns a URL fit for a log line or an error: userinfo and credential
// query parameters redacted. A string that does not parse as a URL is
// redacted as text.
func URL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return String(raw)
	}
	if u.User != nil {
		u.User = url.User(Mark)
	}
	return String(u.String())
}

// Value describes a value that may be a secret without showing it: its
// length only.
func Value(s string) string {
	return fmt.Sprintf("a %d-character value (not shown: it may be a secret)", len(s))
}

// Handler is a slog.Handler that redacts every message and attribute
// (strings, errors, anything formatted with %v) before the wrapped handler
// sees it, and also removes registered literal secrets. Safe for concurrent
// use.
type Handler struct {
	next    slog.Handler
	secrets *atomic.Pointer[[]string]
}

// NewHandler wraps next.
func NewHandler(next slog.Handler) *Handler {
	return &Handler{next: next, secrets: new(atomic.Pointer[[]string])}
}

// SetSecrets replaces the literal secrets removed from every line (empty
// strings and strings shorter than 4 bytes are ignored: they would mangle
// ordinary text). Handlers derived with WithAttrs or WithGroup share the set.
func (h *Handler) SetSecrets(secrets ...string) {
	var keep []string
	for _, s := range secrets {
		if len(s) >= 4 {
			keep = append(keep, s)
		}
	}
	h.secrets.Store(&keep)
}

func (h *Handler) clean(s string) string {
	s = String(s)
	if p := h.secrets.Load(); p != nil {
		for _, sec := range *p {
			s = strings.ReplaceAll(s, sec, Mark)
		}
	}
	return s
}

func (h *Handler) attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, h.clean(v.String()))
	case slog.KindGroup:
		as := v.Group()
		out := make([]any, len(as))
		for i, g := range as {
			out[i] = h.attr(g)
		}
		return slog.Group(a.Key, out...)
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			return slog.String(a.Key, h.clean(x.Error()))
		case fmt.Stringer:
			return slog.String(a.Key, h.clean(x.String()))
		case []string:
			c := make([]string, len(x))
			for i := range x {
				c[i] = h.clean(x[i])
			}
			return slog.Any(a.Key, c)
		default:
			return slog.String(a.Key, h.clean(fmt.Sprint(x)))
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}

// Enabled reports whether the wrapped handler is enabled.
func (h *Handler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

// Handle redacts the record and passes it on.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, h.clean(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.attr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

// WithAttrs redacts the attributes once and returns a handler sharing the
// secret set.
func (h *Handler) WithAttrs(as []slog.Attr) slog.Handler {
	c := make([]slog.Attr, len(as))
	for i, a := range as {
		c[i] = h.attr(a)
	}
	return &Handler{next: h.next.WithAttrs(c), secrets: h.secrets}
}

// WithGroup returns a handler sharing the secret set.
func (h *Handler) WithGroup(name string) slog.Handler {
	return &Handler{next: h.next.WithGroup(name), secrets: h.secrets}
}
