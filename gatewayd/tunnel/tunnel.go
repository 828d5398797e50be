// Package tunnel meters gatewayd's upgraded connections (WebSocket): after
// the upstream's 101 the client connection is a raw tunnel, so the gateway
// counts its bytes in each direction and bounds its lifetime. The request
// was charged once when it was admitted; the tunnel's duration and bytes go
// to the ledger record written when it closes, and to the metrics.
//
//	tw := tunnel.Wrap(w)                       // a ResponseWriter whose Hijack counts bytes
//	ctx, cancel := tunnel.Context(parent, routeTimeout, maxLifetime, tw.Hijacked)
//	proxy.ServeHTTP(tw, r.WithContext(ctx))    // httputil.ReverseProxy hijacks on 101
//	cancel()
//	in, out := tw.Bytes()
package tunnel

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// ErrUpgradeTimeout is the cause of a tunnel context cancelled because the
// upstream did not switch protocols within the route's timeout. It wraps
// context.DeadlineExceeded, so it is reported as an upstream timeout.
var ErrUpgradeTimeout = fmt.Errorf("tunnel: the upstream did not switch protocols within the route timeout: %w",
	context.DeadlineExceeded)

// Context returns the context an upgrade request is proxied under: until
// hijacked reports true (the upstream answered 101 and the connection is a
// tunnel) it ends after wait (the route's timeout, cause ErrUpgradeTimeout);
// in any case it ends after lifetime, which closes the tunnel.
func Context(parent context.Context, wait, lifetime time.Duration, hijacked func() bool) (context.Context, context.CancelFunc) {
	cctx, ccancel := context.WithCancelCause(parent)
	ctx, cancel := context.WithTimeout(cctx, lifetime)
	t := time.AfterFunc(wait, func() {
		if !hijacked() {
			ccancel(ErrUpgradeTimeout)
		}
	})
	return ctx, func() {
		t.Stop()
		cancel()
		ccancel(nil)
	}
}

// Writer is a ResponseWriter whose Hijack hands out a byte-counting
// connection. Flush and the rest reach the wrapped writer through Unwrap.
type Writer struct {
	http.ResponseWriter
	hijacked atomic.Bool
	conn     *countingConn
}

// Wrap returns a Writer around w.
func Wrap(w http.ResponseWriter) *Writer { return &Writer{ResponseWriter: w} }

// Unwrap lets http.ResponseController reach the wrapped writer.
func (w *Writer) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Hijack takes over the client connection (httputil.ReverseProxy does after
// a 101) and counts the bytes read from and written to it from then on.
func (w *Writer) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	w.conn = &countingConn{Conn: c}
	w.hijacked.Store(true)
	return w.conn, brw, nil
}

// Hijacked reports whether the connection became a tunnel. Safe for
// concurrent use.
func (w *Writer) Hijacked() bool { return w.hijacked.Load() }

// Bytes returns the tunnel's bytes from (in) and to (out) the client; zero
// before a hijack. Read it after the proxy returned.
func (w *Writer) Bytes() (in, out int64) {
	if w.conn == nil {
		return 0, 0
	}
	return w.conn.in.Load(), w.conn.out.Load()
}

type countingConn struct {
	net.Conn
	in, out atomic.Int64
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.in.Add(int64(n))
	return n, err
}

// CloseWrite half-closes the client connection when the upstream is done
// sending, as the reverse proxy does with an unwrapped TCP connection.
func (c *countingConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errNoHalfClose
}

var errNoHalfClose = errors.New("tunnel: the connection cannot half-close")

func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.out.Add(int64(n))
	return n, err
}
