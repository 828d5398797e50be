package ledger

import (
	"encoding/json"
	"math"
	"strconv"
	"time"

	"tollgate/schema"
)

// appendRecord appends r as one JSON object, byte for byte what
// json.Marshal(r) produces (TestAppendRecordMatchesMarshal checks it), without
// reflection or allocation: the ledger goroutine encodes every request the
// gateway answers, so encoding/json's reflection showed in CPU profiles.
func appendRecord(b []byte, r *schema.LedgerRecord) []byte {
	b = append(b, `{"id":`...)
	b = appendString(b, r.ID)
	if r.KeyHash != "" {
		b = append(b, `,"key_hash":`...)
		b = appendString(b, r.KeyHash)
	}
	if r.Tier != "" {
		b = append(b, `,"tier":`...)
		b = appendString(b, r.Tier)
	}
	if r.Route != "" {
		b = append(b, `,"route":`...)
		b = appendString(b, r.Route)
	}
	b = append(b, `,"method":`...)
	b = appendString(b, r.Method)
	b = append(b, `,"path":`...)
	b = appendString(b, r.Path)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(r.Status), 10)
	b = append(b, `,"decision":`...)
	b = appendString(b, r.Decision)
	if r.Unmetered {
		b = append(b, `,"unmetered":true`...)
	}
	if r.Cost != 0 {
		b = append(b, `,"cost":`...)
		b = appendFloat(b, r.Cost)
	}
	b = append(b, `,"cost_charged":`...)
	b = appendFloat(b, r.CostCharged)
	b = append(b, `,"cost_settled":`...)
	b = appendFloat(b, r.CostSettled)
	if r.Shadow != "" {
		b = append(b, `,"shadow":`...)
		b = appendString(b, r.Shadow)
	}
	if r.ShadowDisagrees {
		b = append(b, `,"shadow_disagrees":true`...)
	}
	b = append(b, `,"start":`...)
	b = appendTime(b, r.Start)
	b = append(b, `,"end":`...)
	b = appendTime(b, r.End)
	if r.UpstreamMS != 0 {
		b = append(b, `,"upstream_ms":`...)
		b = appendFloat(b, r.UpstreamMS)
	}
	if r.DecidedUS != 0 {
		b = append(b, `,"decided_us":`...)
		b = strconv.AppendInt(b, r.DecidedUS, 10)
	}
	if r.Count != 0 {
		b = append(b, `,"count":`...)
		b = strconv.AppendInt(b, r.Count, 10)
	}
	if r.Client != "" {
		b = append(b, `,"client":`...)
		b = appendString(b, r.Client)
	}
	if r.PathTruncated {
		b = append(b, `,"path_truncated":true`...)
	}
	if r.BytesIn != 0 {
		b = append(b, `,"bytes_in":`...)
		b = strconv.AppendInt(b, r.BytesIn, 10)
	}
	if r.BytesOut != 0 {
		b = append(b, `,"bytes_out":`...)
		b = strconv.AppendInt(b, r.BytesOut, 10)
	}
	if r.TraceID != "" {
		b = append(b, `,"trace_id":`...)
		b = appendString(b, r.TraceID)
	}
	return append(b, '}')
}

// appendString appends s as a JSON string. Plain printable ASCII (the ids,
// hashes, names and almost every path) is copied as is; anything else goes
// through encoding/json so escaping (HTML-safe, invalid UTF-8 replaced) stays
// exactly encoding/json's.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, err := json.Marshal(s)
			if err != nil { // cannot happen for a string
				return append(b, `""`...)
			}
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendFloat formats f as encoding/json does for a float64.
func appendFloat(b []byte, f float64) []byte {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		// encoding/json refuses these; a record never holds one (costs and
		// times are finite), so write 0 rather than an invalid line.
		return append(b, '0')
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// appendTime formats t as time.Time's MarshalJSON does (RFC 3339 with
// nanoseconds, trailing zeros trimmed).
func appendTime(b []byte, t time.Time) []byte {
	if y := t.Year(); y < 0 || y >= 10000 {
		q, err := t.MarshalJSON()
		if err != nil {
			return append(b, `null`...)
		}
		return append(b, q...)
	}
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}
