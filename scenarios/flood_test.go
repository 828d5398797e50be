package scenarios

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"tollgate/schema"
)

// writeFlood writes a ledger with 10*limit requests from one key spread
// evenly over the 20 ms around t=2s, and returns its path.
func writeFlood(t *testing.T, limit int) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "flood.jsonl")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	enc := json.NewEncoder(w)
	put := func(id, key string, at time.Time) {
		r := schema.LedgerRecord{ID: id, KeyHash: key, Tier: "one", Route: "/", Method: "GET", Path: "/",
			Status: 200, Decision: "allowed", CostCharged: 1, CostSettled: 1, Start: at, End: at.Add(time.Millisecond),
			DecidedUS: at.UnixMicro()}
		if err := enc.Encode(&r); err != nil {
			t.Fatal(err)
		}
	}
	// an anchor record at t=0 from another key, so replay time 0 is t0
	put("a", "anchor", t0)
	n := 10 * limit
	for i := 0; i < n; i++ {
		put(fmt.Sprintf("r%d", i), "k1", t0.Add(2*time.Second-10*time.Millisecond+time.Duration(i)*20*time.Millisecond/time.Duration(n)))
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return p
}
