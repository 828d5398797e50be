// Package body is gatewayd's one rule for request bodies, applied after
// authentication and before admission, so a refused body is never charged
// and nothing of it reaches the upstream:
//
//   - a declared Content-Length over the route's limit: 413, at once;
//   - a body of unknown length (chunked): read up to the limit before the
//     upstream call. One byte past the limit: 413. A malformed body (a bad
//     chunk, a connection cut mid-body, the server's read timeout): 400. A
//     body within the limit is sent upstream with its Content-Length.
//   - a body of declared length within the limit is streamed (its length is
//     known to fit), behind http.MaxBytesReader; if the client's bytes stop
//     short of it, the failure is the client's (a *ReadError: 400, and the
//     gateway refunds the charge), never the upstream's 502. The bytes read
//     before the failure have reached the upstream: that is what streaming
//     costs.
//
// Buffering bounds the memory a chunked upload holds to the route's
// max_body_bytes; with many concurrent chunked uploads the node holds up to
// max_in_flight of them.
//
//	if e := body.Prepare(w, r, limit); e != nil { respond.Write(w, *e); return }
package body

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"sync/atomic"

	"tollgate/gatewayd/respond"
)

// Prepare applies the rule to r (replacing r.Body when it buffers) and
// returns the refusal to send, or nil to proceed. limit is in bytes.
func Prepare(w http.ResponseWriter, r *http.Request, limit int64) *respond.Error {
	if r.Body == nil || r.Body == http.NoBody {
		return nil
	}
	if r.ContentLength > limit {
		return TooLarge(limit)
	}
	if r.ContentLength >= 0 {
		r.Body = &tracked{ReadCloser: http.MaxBytesReader(w, r.Body, limit)}
		return nil
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	switch {
	case int64(len(b)) > limit:
		return TooLarge(limit)
	case err != nil:
		return Malformed(err)
	}
	_ = r.Body.Close()
	r.Body = io.NopCloser(bytes.NewReader(b))
	r.ContentLength = int64(len(b))
	r.TransferEncoding = nil
	if len(b) == 0 {
		r.Body = http.NoBody
	}
	return nil
}

// TooLarge is the 413 for a body over limit bytes.
func TooLarge(limit int64) *respond.Error {
	return &respond.Error{Status: http.StatusRequestEntityTooLarge, Code: "body_too_large",
		Message: "request body exceeds the limit", Extra: map[string]any{"limit_bytes": limit}}
}

// Malformed is the 400 for a body that could not be read to its end.
func Malformed(err error) *respond.Error {
	msg := "the request body is malformed or was cut short"
	var ne interface{ Timeout() bool }
	if errors.As(err, &ne) && ne.Timeout() {
		msg = "the request body did not arrive within the server's read timeout"
	}
	return &respond.Error{Status: http.StatusBadRequest, Code: "malformed_body", Message: msg}
}

// ReadError is a failure reading the client's body while streaming it
// upstream: the client's fault, not the upstream's.
type ReadError struct{ Err error }

func (e *ReadError) Error() string {
	return "body: reading the client's request body: " + e.Err.Error()
}

// Unwrap returns the read failure.
func (e *ReadError) Unwrap() error { return e.Err }

// tracked marks read failures (other than EOF and the size limit, which
// has its own answer) as the client's, and remembers them: the transport may
// report the request's cancellation instead when the client went away.
type tracked struct {
	io.ReadCloser
	failed, eof atomic.Bool
}

func (t *tracked) Read(p []byte) (int, error) {
	n, err := t.ReadCloser.Read(p)
	if err == io.EOF {
		t.eof.Store(true)
	}
	var mbe *http.MaxBytesError
	if err != nil && err != io.EOF && !errors.As(err, &mbe) {
		t.failed.Store(true)
		err = &ReadError{Err: err}
	}
	return n, err
}

// Failed reports whether rc is a body Prepare streams whose client side
// failed mid-read. Safe for concurrent use.
func Failed(rc io.ReadCloser) bool {
	t, ok := rc.(*tracked)
	return ok && t.failed.Load()
}

type bodyKey struct{}

// WithBody returns ctx carrying the request's (prepared) body, so the
// proxy's error handler, which sees the outbound request with the body
// wrapped, can ask Failed and Incomplete of it.
func WithBody(ctx context.Context, rc io.ReadCloser) context.Context {
	if _, ok := rc.(*tracked); !ok {
		return ctx
	}
	return context.WithValue(ctx, bodyKey{}, rc)
}

// FromContext returns the body WithBody stored, or nil.
func FromContext(ctx context.Context) io.ReadCloser {
	rc, _ := ctx.Value(bodyKey{}).(io.ReadCloser)
	return rc
}

// Incomplete reports whether rc is a body Prepare streams that has not been
// read to its end: when the client's connection fails, net/http cancels the
// request before the body read reports the failure, so a client gone with
// its body incomplete is a body failure too. Safe for concurrent use.
func Incomplete(rc io.ReadCloser) bool {
	t, ok := rc.(*tracked)
	return ok && !t.eof.Load()
}
