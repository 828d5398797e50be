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
//     known to fit), behind http.MaxBytesReader.
//
// Buffering bounds the memory a chunked upload holds to the route's
// max_body_bytes; with many concurrent chunked uploads the node holds up to
// max_in_flight of them.
//
//	if e := body.Prepare(w, r, limit); e != nil { respond.Write(w, *e); return }
package body

import (
	"bytes"
	"errors"
	"io"
	"net/http"

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
		r.Body = http.MaxBytesReader(w, r.Body, limit)
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
