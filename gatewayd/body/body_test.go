package body

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/iotest"
)

func TestPrepare(t *testing.T) {
	chunked := func(r io.Reader) *http.Request {
		req := httptest.NewRequest("POST", "/", r)
		req.ContentLength = -1
		req.TransferEncoding = []string{"chunked"}
		return req
	}
	w := httptest.NewRecorder()
	if e := Prepare(w, chunked(strings.NewReader(strings.Repeat("a", 11))), 10); e == nil || e.Status != 413 {
		t.Errorf("11 bytes over 10: %+v", e)
	}
	if e := Prepare(w, chunked(iotest.ErrReader(io.ErrUnexpectedEOF)), 10); e == nil || e.Status != 400 || e.Code != "malformed_body" {
		t.Errorf("broken body: %+v", e)
	}
	r := chunked(strings.NewReader("0123456789"))
	if e := Prepare(w, r, 10); e != nil {
		t.Fatalf("10 bytes within 10: %+v", e)
	}
	if b, _ := io.ReadAll(r.Body); string(b) != "0123456789" || r.ContentLength != 10 || r.TransferEncoding != nil {
		t.Errorf("buffered body %q, length %d, TE %v", b, r.ContentLength, r.TransferEncoding)
	}
	r = chunked(strings.NewReader(""))
	if e := Prepare(w, r, 10); e != nil || r.Body != http.NoBody || r.ContentLength != 0 {
		t.Errorf("empty chunked body: %+v %v %d", e, r.Body, r.ContentLength)
	}
	declared := httptest.NewRequest("POST", "/", strings.NewReader(strings.Repeat("a", 20)))
	if e := Prepare(w, declared, 10); e == nil || e.Status != 413 {
		t.Errorf("declared 20 over 10: %+v", e)
	}
	if e := Prepare(w, httptest.NewRequest("GET", "/", nil), 10); e != nil {
		t.Errorf("no body: %+v", e)
	}
}
