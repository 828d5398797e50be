package ledger

import (
	"net/http/httptest"
	"testing"
)

func TestHoldWriterKeepsLastByteOfSizedResponse(t *testing.T) {
	rec := httptest.NewRecorder()
	h := &HoldWriter{ResponseWriter: rec}
	h.Header().Set("Content-Length", "11")
	h.Write([]byte("hello "))
	h.Write([]byte("world"))
	if got := rec.Body.String(); got != "hello worl" {
		t.Fatalf("before release the client has %q, want all but the last byte", got)
	}
	h.Release()
	h.Release()
	if got := rec.Body.String(); got != "hello world" {
		t.Fatalf("after release %q", got)
	}

	rec = httptest.NewRecorder()
	h = &HoldWriter{ResponseWriter: rec} // no Content-Length: chunked, complete only at handler return
	h.Write([]byte("data: 1\n\n"))
	if got := rec.Body.String(); got != "data: 1\n\n" {
		t.Fatalf("streamed response held: %q", got)
	}
}
