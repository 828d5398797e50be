// Package respond writes gatewayd's JSON error responses. Every refusal the
// gateway makes (401, 404, 405, 413, 429, 502, 503, 504) has a JSON body with
// a stable machine-readable "error" code and a human "message".
package respond

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// Error is the body of a gateway error. Extra fields are merged in.
type Error struct {
	Status  int
	Code    string
	Message string
	// Extra fields, e.g. the 429's policy and wait.
	Extra map[string]any
}

// Write sends the error as JSON with no-store caching.
func Write(w http.ResponseWriter, e Error) {
	b := Body(e)
	h := w.Header()
	ct := "application/json"
	if e.Status == http.StatusTooManyRequests {
		ct = "application/problem+json"
	}
	h.Set("Content-Type", ct)
	h.Set("Content-Length", strconv.Itoa(len(b)))
	h.Set("Cache-Control", "no-store")
	h.Del("Content-Encoding")
	w.WriteHeader(e.Status)
	_, _ = w.Write(b)
}

// Body returns the error's JSON body, newline-terminated.
func Body(e Error) []byte {
	body := make(map[string]any, 3+len(e.Extra))
	for k, v := range e.Extra {
		body[k] = v
	}
	body["error"] = e.Code
	body["message"] = e.Message
	body["status"] = e.Status
	b, err := json.Marshal(body)
	if err != nil {
		b = []byte(`{"error":"internal","message":"could not encode the error"}`)
	}
	return append(b, '\n')
}
