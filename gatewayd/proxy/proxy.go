// Package proxy builds gatewayd's reverse proxies (net/http/httputil
// ReverseProxy): one per route, sharing one transport, with upstream timing
// for the pricer and JSON errors: 504 when the route's timeout expires, 413
// when the body passes the limit mid-stream, 502 for other upstream failures.
package proxy

import (
	"context"
	"errors"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"

	"tollgate/gatewayd/body"
	"tollgate/gatewayd/headerpolicy"
	"tollgate/gatewayd/respond"
)

// Timing records one request's upstream timing. The proxy fills it in; the
// caller reads it after ServeHTTP returns.
type Timing struct {
	// Start is when the request was handed to the transport.
	Start time.Time
	// Header is the time from Start to the upstream's response headers; 0 if
	// the upstream never answered.
	Header time.Duration
	// Err is the upstream failure, if any, and Status the status the proxy
	// sent for it.
	Err    error
	Status int
}

type timingKey struct{}

// WithTiming returns a context carrying t for the proxy to fill in.
func WithTiming(ctx context.Context, t *Timing) context.Context {
	return context.WithValue(ctx, timingKey{}, t)
}

func timing(ctx context.Context) *Timing {
	t, _ := ctx.Value(timingKey{}).(*Timing)
	return t
}

// NewTransport returns the shared upstream transport: keep-alive pools sized
// for a busy gateway, bounded dial and TLS handshakes. The route timeout
// (request context) bounds the rest.
func NewTransport() *http.Transport {
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          2048,
		MaxIdleConnsPerHost:   512,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ExpectContinueTimeout: time.Second,
		ForceAttemptHTTP2:     true,
	}
}

// bufferPool lends 32 KiB copy buffers, so idle and small requests do not
// each allocate one.
type bufferPool struct{ p sync.Pool }

func (b *bufferPool) Get() []byte  { return *(b.p.Get().(*[]byte)) }
func (b *bufferPool) Put(v []byte) { b.p.Put(&v) }

var buffers = &bufferPool{p: sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}}

// Options configure one route's proxy.
type Options struct {
	// Upstream is the base URL; its path is prepended to the request path.
	Upstream *url.URL
	// StripPrefix is removed from the request path first ("" keeps it).
	StripPrefix string
	// Transport carries the requests.
	Transport http.RoundTripper
	// Headers is the route's header policy, applied last in the rewrite,
	// after hop-by-hop processing: identity headers, credentials and
	// spellings of the gateway's headers (package headerpolicy). The
	// request context carries the Vouch (headerpolicy.WithVouch).
	Headers headerpolicy.Policy
	// Log receives upstream failures.
	Log *slog.Logger
	// TrustedPeer reports whether a request's peer (RemoteAddr) is a trusted
	// proxy: its X-Forwarded-For chain is kept (the peer appended) and its
	// X-Forwarded-Proto and -Host pass through. From any other peer those
	// headers are replaced, so a client cannot forge them upstream. nil
	// trusts no peer.
	TrustedPeer func(remoteAddr string) bool
}

// New returns the route's reverse proxy.
func New(o Options) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			if o.StripPrefix != "" {
				p := strings.TrimPrefix(pr.In.URL.Path, strings.TrimSuffix(o.StripPrefix, "/"))
				if p == "" || p[0] != '/' {
					p = "/" + p
				}
				pr.Out.URL.Path, pr.Out.URL.RawPath = p, ""
			}
			pr.SetURL(o.Upstream)
			trusted := o.TrustedPeer != nil && o.TrustedPeer(pr.In.RemoteAddr)
			if trusted {
				if v := pr.In.Header.Values("X-Forwarded-For"); len(v) > 0 {
					pr.Out.Header["X-Forwarded-For"] = append([]string(nil), v...)
				}
			}
			pr.SetXForwarded()
			if trusted {
				for _, h := range []string{"X-Forwarded-Proto", "X-Forwarded-Host"} {
					if v := pr.In.Header.Get(h); v != "" {
						pr.Out.Header.Set(h, v)
					}
				}
			}
			if !trusted {
				// Forwarding claims only a trusted proxy may make.
				pr.Out.Header.Del("Forwarded")
				pr.Out.Header.Del("X-Real-Ip")
			}
			o.Headers.Apply(pr.Out.Header, headerpolicy.VouchFrom(pr.In.Context()))
			if t := timing(pr.In.Context()); t != nil {
				t.Start = time.Now()
			}
		},
		Transport:  o.Transport,
		BufferPool: buffers,
		ErrorLog:   log.New(discard{}, "", 0),
		ModifyResponse: func(resp *http.Response) error {
			if t := timing(resp.Request.Context()); t != nil && !t.Start.IsZero() {
				t.Header = time.Since(t.Start)
			}
			// The gateway's rate-limit headers are the only ones the client sees.
			resp.Header.Del("RateLimit")
			resp.Header.Del("RateLimit-Policy")
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			e := classify(r.Context(), err)
			if in := body.FromContext(r.Context()); body.Failed(in) || (e.Status == StatusClientClosed && body.Incomplete(in)) {
				// The client's body stopped short (net/http may cancel the
				// request before the body read fails): its fault, said to it
				// if it still listens, and not the upstream's.
				e = *body.Malformed(&body.ReadError{Err: err})
			}
			if t := timing(r.Context()); t != nil {
				t.Err, t.Status = err, e.Status
			}
			if e.Status >= 500 && e.Status != http.StatusGatewayTimeout && o.Log != nil {
				o.Log.Warn("upstream failed", "upstream", o.Upstream.Host, "err", err)
			}
			if e.Status == StatusClientClosed {
				return // nobody to answer
			}
			respond.Write(w, e)
		},
	}
}

// StatusClientClosed is recorded (never sent) when the client went away
// before the upstream answered; nginx's 499.
const StatusClientClosed = 499

// classify maps an upstream failure to the answer.
func classify(ctx context.Context, err error) respond.Error {
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return respond.Error{Status: http.StatusRequestEntityTooLarge, Code: "body_too_large",
			Message: "request body exceeds the limit", Extra: map[string]any{"limit_bytes": mbe.Limit}}
	case errors.As(err, new(*body.ReadError)):
		return *body.Malformed(err)
	case errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(context.Cause(ctx), context.DeadlineExceeded):
		return respond.Error{Status: http.StatusGatewayTimeout, Code: "upstream_timeout",
			Message: "the upstream did not answer within the route's timeout"}
	case errors.Is(ctx.Err(), context.Canceled):
		return respond.Error{Status: StatusClientClosed, Code: "client_closed", Message: "client went away"}
	}
	return respond.Error{Status: http.StatusBadGateway, Code: "upstream_unavailable",
		Message: "the upstream could not be reached"}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
