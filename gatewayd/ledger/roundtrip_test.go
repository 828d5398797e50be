package ledger

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"tollgate/schema"
)

// TestWriterToSchemaReaderRoundTrip: what the Writer's reflection-free
// encoder puts on disk, schema's reader gives back field for field.
func TestWriterToSchemaReaderRoundTrip(t *testing.T) {
	dir := t.TempDir()
	w, err := Open(Options{Dir: dir, MaxFileBytes: 8192, Durability: Sync, FlushInterval: time.Hour}, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(11, 1))
	pick := func(s ...string) string { return s[rng.IntN(len(s))] }
	base := time.Date(2026, 12, 2, 16, 0, 0, 0, time.UTC)
	var want []schema.LedgerRecord
	for i := range 300 {
		start := base.Add(time.Duration(rng.Int64N(int64(time.Hour))))
		r := schema.LedgerRecord{
			ID: fmt.Sprintf("rt-%d", i), KeyHash: pick("", "9f86d081884c7d65"), Tier: pick("", "free", "pro"),
			Route: pick("", "v1"), Method: pick("GET", "POST", "DELETE"), Path: pick("/v1/x", `/v1/"q"<&>`, "/v1/\u00e9\u2028"),
			Status: rng.IntN(500) + 100, Decision: pick("allowed", "limited", "unauthenticated"), Unmetered: rng.IntN(2) == 0,
			Cost: float64(rng.IntN(5000)) / 1000, CostCharged: float64(rng.IntN(5000)) / 1000, CostSettled: rng.Float64() * 10, Shadow: pick("", "allowed", "limited"),
			ShadowDisagrees: rng.IntN(2) == 0, Start: start, End: start.Add(time.Duration(rng.Int64N(1e9))),
			UpstreamMS: float64(rng.IntN(100000)) / 1000, DecidedUS: start.UnixMicro() + rng.Int64N(1000),
			Count: rng.Int64N(3), Client: pick("", "c1d2"), PathTruncated: rng.IntN(2) == 0,
			BytesIn: rng.Int64N(1 << 40), BytesOut: rng.Int64N(3),
		}
		want = append(want, r)
		// Append writes the record as is; every tenth waits for durability,
		// so the writes are small enough to rotate files.
		if err := w.Append(r); err != nil {
			t.Fatal(err)
		}
		if i%10 == 0 {
			if err := w.Commit(&schema.LedgerRecord{ID: "sync", KeyHash: "k", Start: start, End: start}, ""); err != nil {
				t.Fatal(err)
			}
			want = append(want, schema.LedgerRecord{ID: "sync", KeyHash: "k", Start: start, End: start})
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, st, err := schema.ReadLedgerAll(dir)
	if err != nil {
		t.Fatal(err)
	}
	if st.Files < 2 || len(st.Torn) != 0 {
		t.Errorf("stats %+v: want several files, none torn", st)
	}
	if len(got) != len(want) {
		t.Fatalf("read %d records, wrote %d", len(got), len(want))
	}
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Fatalf("record %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
}
