package ledger

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"tollgate/schema"
)

func marshalBoth(t testing.TB, r schema.LedgerRecord) (got, want string) {
	w, err := json.Marshal(r)
	if err != nil {
		t.Skip("encoding/json refuses this record:", err)
	}
	return string(appendRecord(nil, &r)), string(w)
}

func TestAppendRecordMatchesMarshal(t *testing.T) {
	start := time.Date(2026, 11, 23, 7, 41, 44, 123456789, time.UTC)
	recs := []schema.LedgerRecord{
		{},
		{ID: "ab12-1", Method: "GET", Path: "/v1/x", Status: 200, Decision: "allowed", CostCharged: 1, CostSettled: 1,
			Start: start, End: start.Add(1500 * time.Microsecond), UpstreamMS: 0.731},
		{ID: "x", KeyHash: "b0962662e937d44c", Tier: "basic", Route: "v1", Method: "POST", Path: `/v1/<a&b>"\q`,
			Status: 429, Decision: "limited", Unmetered: true, Cost: 3.25, CostCharged: 2.5, CostSettled: 1e-7,
			Shadow: "allowed", ShadowDisagrees: true, Start: start.Add(-time.Hour), End: start, UpstreamMS: 1e22,
			TraceID: "4bf92f3577b34da6a3ce929d0e0e4736"},
		{ID: "é\u2028\x01\xff", Path: "/v1/\t", CostCharged: -0.001, CostSettled: 123456789.125, UpstreamMS: -3e-9,
			Start: time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600))},
		{ID: "t", Method: "GET", Path: "/ws", Status: 101, Decision: "allowed", CostCharged: 1, CostSettled: 1,
			Start: start, End: start.Add(time.Minute), BytesIn: 1234, BytesOut: -5},
		{ID: "agg", Method: "GET", Path: "/x", Status: 401, Decision: "unauthenticated", Start: start, End: start,
			DecidedUS: start.UnixMicro(), Count: 42, Client: "c\"1", PathTruncated: true},
	}
	for i, r := range recs {
		if got, want := marshalBoth(t, r); got != want {
			t.Errorf("record %d:\n got %s\nwant %s", i, got, want)
		}
	}
}

func FuzzAppendRecord(f *testing.F) {
	f.Add("id", "/v1/x", "allowed", 1.0, 0.5, int64(1700000000123456789))
	f.Add("\x00<>", "/\xff\u2028", "", -1e-7, 1e21, int64(0))
	f.Fuzz(func(t *testing.T, id, path, decision string, c1, c2 float64, ns int64) {
		if math.IsNaN(c1) || math.IsInf(c1, 0) || math.IsNaN(c2) || math.IsInf(c2, 0) {
			return
		}
		ts := time.Unix(0, ns).UTC()
		r := schema.LedgerRecord{ID: id, Path: path, Method: "GET", Decision: decision, Route: decision, CostCharged: c1,
			CostSettled: c2, UpstreamMS: c1, Start: ts, End: ts, DecidedUS: ns / 1000, Count: ns % 7, Client: path,
			PathTruncated: ns%2 == 0}
		if got, want := marshalBoth(t, r); got != want {
			t.Errorf("\n got %s\nwant %s", got, want)
		}
	})
}
