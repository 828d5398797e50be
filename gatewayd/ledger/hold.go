package ledger

import "net/http"

// HoldWriter keeps back the last byte of a response with a Content-Length
// until Release, so a client cannot hold a complete response before its
// ledger record is durable (sync durability): net/http sends a small
// response only when the handler returns, but a large one streams through,
// and without its last byte it is not complete. A response without a
// Content-Length (chunked, HTTP/2) is complete only when the handler returns
// and is passed through untouched, flushes included.
type HoldWriter struct {
	http.ResponseWriter
	decided bool
	hold    bool
	has     bool
	last    [1]byte
}

// Write passes b on but for its last byte when holding.
func (h *HoldWriter) Write(b []byte) (int, error) {
	if !h.decided {
		h.decided = true
		h.hold = h.Header().Get("Content-Length") != ""
	}
	if !h.hold || len(b) == 0 {
		return h.ResponseWriter.Write(b)
	}
	if h.has {
		if _, err := h.ResponseWriter.Write(h.last[:]); err != nil {
			return 0, err
		}
		h.has = false
	}
	n, err := h.ResponseWriter.Write(b[:len(b)-1])
	if err != nil {
		return n, err
	}
	h.last[0], h.has = b[len(b)-1], true
	return len(b), nil
}

// Release writes the byte held back, if any.
func (h *HoldWriter) Release() {
	if h.has {
		h.has = false
		_, _ = h.ResponseWriter.Write(h.last[:])
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (h *HoldWriter) Unwrap() http.ResponseWriter { return h.ResponseWriter }
