// Package protoerr catches the errors Go's HTTP/1 server answers by itself,
// before any handler runs: 400 for a malformed request, 431 for headers over
// max_header_bytes, 501 for an unsupported transfer encoding, 505 for an
// unsupported HTTP version, 417 for an unknown expectation. net/http writes
// those straight to the connection as text/plain and calls no handler, so
// neither metrics nor the ledger would see them.
//
// Wrap the listener: each connection notes, through the server's ConnState
// and ConnContext hooks and a call from the handler (Handled), whether a
// handler has run for the request being read. A response the connection
// writes while no handler has run is the server's own; it is reported to
// the callback (metrics, ledger) and rewritten as the gateway's JSON error,
// with the same status.
//
//	ln = protoerr.Wrap(ln, func(status int, remote string) { ... })
//	srv := &http.Server{Handler: h, ConnState: protoerr.ConnState(park.ConnState),
//		ConnContext: protoerr.ConnContext}
//	// in the handler, first thing:
//	protoerr.Handled(r.Context())
//
// Under TLS the server writes through the TLS connection above this wrapper,
// so TLS listeners are not wrapped and their protocol errors are not seen.
package protoerr

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"

	"tollgate/gatewayd/respond"
)

// OnError is told of each protocol error: its status and the peer address.
type OnError func(status int, remoteAddr string)

type listener struct {
	net.Listener
	onError OnError
}

// Wrap returns ln whose connections catch the server's own error responses.
func Wrap(ln net.Listener, onError OnError) net.Listener {
	return &listener{Listener: ln, onError: onError}
}

func (l *listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &Conn{Conn: c, onError: l.onError}, nil
}

// Conn is a wrapped connection.
type Conn struct {
	net.Conn
	onError OnError
	// handled is set when a handler runs for the current request and
	// cleared when the connection goes idle, before the next is read.
	handled atomic.Bool
}

// Unwrap returns the wrapped connection.
func (c *Conn) Unwrap() net.Conn { return c.Conn }

// Write passes a handler's bytes through; a response written while no
// handler ran is the server's own error: reported and rewritten as JSON.
func (c *Conn) Write(p []byte) (int, error) {
	if c.handled.Load() || !bytes.HasPrefix(p, []byte("HTTP/1.")) || len(p) < 12 {
		return c.Conn.Write(p)
	}
	status, err := strconv.Atoi(string(p[9:12]))
	if err != nil || status < 400 {
		return c.Conn.Write(p)
	}
	if c.onError != nil {
		c.onError(status, c.Conn.RemoteAddr().String())
	}
	detail := ""
	if i := bytes.Index(p, []byte("\r\n\r\n")); i >= 0 {
		detail = string(p[i+4:])
	}
	if _, err := c.Conn.Write(Response(status, detail)); err != nil {
		return 0, err
	}
	return len(p), nil
}

// codes are the JSON error codes of the server's statuses.
var codes = map[int]string{
	http.StatusBadRequest:                  "bad_request",
	http.StatusRequestHeaderFieldsTooLarge: "headers_too_large",
	http.StatusNotImplemented:              "not_implemented",
	http.StatusHTTPVersionNotSupported:     "http_version_not_supported",
	http.StatusExpectationFailed:           "expectation_failed",
}

// Response is the gateway's JSON answer for a protocol error; detail is the
// server's text (a fixed phrase of net/http's), cut to 200 bytes.
func Response(status int, detail string) []byte {
	code, ok := codes[status]
	if !ok {
		code = "protocol_error"
	}
	if len(detail) > 200 {
		detail = detail[:200]
	}
	if detail == "" {
		detail = strconv.Itoa(status) + " " + http.StatusText(status)
	}
	b := respond.Body(respond.Error{Status: status, Code: code, Message: detail})
	var out bytes.Buffer
	out.WriteString("HTTP/1.1 " + strconv.Itoa(status) + " " + http.StatusText(status) + "\r\n")
	out.WriteString("Content-Type: application/json\r\nCache-Control: no-store\r\nConnection: close\r\n")
	out.WriteString("Content-Length: " + strconv.Itoa(len(b)) + "\r\n\r\n")
	out.Write(b)
	return out.Bytes()
}

// ConnState returns the server's ConnState hook: it clears a connection's
// mark when it goes idle and then calls next (nil for none) with the
// unwrapped connection.
func ConnState(next func(net.Conn, http.ConnState)) func(net.Conn, http.ConnState) {
	return func(c net.Conn, s http.ConnState) {
		if pc, ok := c.(*Conn); ok {
			if s == http.StateIdle {
				pc.handled.Store(false)
			}
			c = pc.Conn
		}
		if next != nil {
			next(c, s)
		}
	}
}

type connKey struct{}

// ConnContext is the server's ConnContext hook: it puts the connection in
// every request's context.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	if pc, ok := c.(*Conn); ok {
		return context.WithValue(ctx, connKey{}, pc)
	}
	return ctx
}

// Handled marks the request's connection as answered by the handler, so its
// response passes untouched. Call it first in the handler.
func Handled(ctx context.Context) {
	if pc, ok := ctx.Value(connKey{}).(*Conn); ok {
		pc.handled.Store(true)
	}
}
