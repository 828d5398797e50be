package schema

import (
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"time"
)

// LedgerRecord is one line of gatewayd's usage ledger: a request the gateway
// answered, admitted or refused, or (Count > 1) an aggregate of unbilled
// refusals from one client address in one second. Costs are in tokens.
//
// The JSON field order is the struct's order; gatewayd/ledger encodes it
// without reflection and its tests hold that encoding to json.Marshal's.
type LedgerRecord struct {
	// ID is the request id, also sent upstream and back as X-Request-Id. An
	// aggregate carries the id of the first request it counts.
	ID string `json:"id"`
	// KeyHash is the SHA-256 hex of the API key, of the JWT issuer and
	// subject, or of the client address on a public route; empty when the
	// client was not identified.
	KeyHash string `json:"key_hash,omitempty"`
	Tier    string `json:"tier,omitempty"`
	Route   string `json:"route,omitempty"`
	Method  string `json:"method"`
	// Path is the request path, cut to the ledger's path bound (see
	// PathTruncated).
	Path string `json:"path"`
	// Status is the final HTTP status the client got (never 1xx but 101).
	Status int `json:"status"`
	// Decision is the admission decision: allowed, limited, penalty,
	// unauthenticated, shed, unavailable, preflight, no_route,
	// method_not_allowed, too_large, bad_request, protocol_error or
	// ledger_unavailable.
	Decision string `json:"decision"`
	// Unmetered marks a fail-open admission the store did not count.
	Unmetered bool `json:"unmetered,omitempty"`
	// Cost is the price the limiter was asked to admit, in tokens, whether
	// it admitted the request or not (a replay asks again for it); 0 when no
	// limiter was asked.
	Cost float64 `json:"cost,omitempty"`
	// CostCharged is what the admission reserved (0 when refused);
	// CostSettled what the request finally cost after settle (equal without
	// dynamic pricing).
	CostCharged float64 `json:"cost_charged"`
	CostSettled float64 `json:"cost_settled"`
	// Shadow is the candidate policy's decision (allowed or limited) when
	// shadow mode is on; ShadowDisagrees marks a difference with Decision.
	Shadow          string `json:"shadow,omitempty"`
	ShadowDisagrees bool   `json:"shadow_disagrees,omitempty"`
	// Start and End are when the request arrived and was answered. For an
	// aggregate, the first request's arrival and the last one's answer.
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// UpstreamMS is the upstream service time (to response headers), in ms.
	UpstreamMS float64 `json:"upstream_ms,omitempty"`
	// DecidedUS is the instant the limiter decided, in Unix microseconds,
	// the same instant the limiter was given, so a replay reproduces the
	// decision exactly; 0 when no limiter was asked.
	DecidedUS int64 `json:"decided_us,omitempty"`
	// Count is how many requests the record stands for: absent (0) or 1 for
	// a single request, more for an aggregate (see Requests).
	Count int64 `json:"count,omitempty"`
	// Client is, on an aggregate of unidentified requests, the SHA-256 hex
	// of the client address they came from (never the address itself).
	Client string `json:"client,omitempty"`
	// PathTruncated marks a Path cut to the ledger's bound.
	PathTruncated bool `json:"path_truncated,omitempty"`
	// BytesIn and BytesOut are the bytes an upgraded tunnel (status 101)
	// carried from and to the client; its duration is End - Start.
	BytesIn  int64 `json:"bytes_in,omitempty"`
	BytesOut int64 `json:"bytes_out,omitempty"`
	// TraceID is the request's W3C trace id (32 hex digits) while gatewayd's
	// tracing is on, sampled or not: the id the upstream received and the
	// request's log lines carry, so a disputed 429 can be found in the traces.
	TraceID string `json:"trace_id,omitempty"`
}

// Requests is the number of requests the record stands for (at least 1).
func (r *LedgerRecord) Requests() int64 {
	if r.Count > 1 {
		return r.Count
	}
	return 1
}

// LedgerFilePattern matches ledger file names inside a ledger directory.
// Names sort in writing order: usage-<UTC time>-<pid>-<seq>.jsonl.
const LedgerFilePattern = "usage-*.jsonl"

// MaxLedgerLine bounds one ledger line; a longer one is damage.
const MaxLedgerLine = 16 << 20

// ErrLedgerDamaged marks a ledger line that is not a record and is not the
// torn last line of its file (a crash mid-write).
var ErrLedgerDamaged = errors.New("schema: ledger damaged")

// TornLine is an unterminated last line of a file, left by a crash or a
// failed write mid-record. Readers skip it; no acknowledged record is in it.
type TornLine struct {
	File  string `json:"file"`
	Line  int    `json:"line"`
	Bytes int    `json:"bytes"`
}

// LedgerStats summarises a read.
type LedgerStats struct {
	// Files is how many files were read.
	Files int `json:"files"`
	// Records is how many lines decoded to records; Requests the sum of
	// their Requests().
	Records  int64 `json:"records"`
	Requests int64 `json:"requests"`
	// Torn lists skipped torn last lines.
	Torn []TornLine `json:"torn,omitempty"`
	// First and Last are the earliest Start and the latest End seen.
	First time.Time `json:"first"`
	Last  time.Time `json:"last"`
}

func (s *LedgerStats) add(r *LedgerRecord) {
	s.Records++
	s.Requests += r.Requests()
	if !r.Start.IsZero() && (s.First.IsZero() || r.Start.Before(s.First)) {
		s.First = r.Start
	}
	if r.End.After(s.Last) {
		s.Last = r.End
	}
}

// LedgerFiles returns the ledger files in dir, oldest first.
func LedgerFiles(dir string) ([]string, error) {
	m, err := filepath.Glob(filepath.Join(dir, LedgerFilePattern))
	if err != nil {
		return nil, fmt.Errorf("schema: ledger dir %q: %w", dir, err)
	}
	sort.Strings(m)
	return m, nil
}

// ReadLedger streams every record of path, a ledger file or a directory of
// rotated files read oldest first, to fn, one at a time (never all in
// memory). A torn last line of a file is skipped and listed in the stats;
// any other line that is not a record stops the read with an error naming
// the file and the line (ErrLedgerDamaged). An error from fn stops the read
// and is returned as is.
func ReadLedger(path string, fn func(LedgerRecord) error) (LedgerStats, error) {
	sc, err := NewLedgerScanner(path)
	if err != nil {
		return LedgerStats{}, err
	}
	defer sc.Close()
	for sc.Scan() {
		if err := fn(sc.Record()); err != nil {
			return sc.Stats(), err
		}
	}
	return sc.Stats(), sc.Err()
}

// ReadLedgerAll reads path (a file or a directory) into memory: for small
// ledgers and tests; use ReadLedger for large ones.
func ReadLedgerAll(path string) ([]LedgerRecord, LedgerStats, error) {
	var out []LedgerRecord
	st, err := ReadLedger(path, func(r LedgerRecord) error {
		out = append(out, r)
		return nil
	})
	return out, st, err
}

// ReadLedgerFile streams the complete records of one file from byte offset
// from (0, or an offset fn was given earlier) to fn, with the offset just
// past each record's line, so a reader such as a shipper can resume there.
// It returns the offset after the last complete line and, when the file
// ends in an unterminated line, that torn line (not passed to fn: a writer
// may still be completing it, or a crash left it).
func ReadLedgerFile(name string, from int64, fn func(r LedgerRecord, next int64) error) (end int64, torn *TornLine, err error) {
	sc, err := OpenLedgerFile(name, from)
	if err != nil {
		return from, nil, err
	}
	defer sc.Close()
	for sc.Scan() {
		if err := fn(sc.Record(), sc.Offset()); err != nil {
			return sc.start, nil, err
		}
	}
	if err := sc.Err(); err != nil {
		return sc.Offset(), nil, err
	}
	st := sc.Stats()
	if len(st.Torn) > 0 {
		torn = &st.Torn[0]
	}
	return sc.Offset(), torn, nil
}
