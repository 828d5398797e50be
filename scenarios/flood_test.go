package scenarios

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
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
	// an anchor record at t=0 from another key, so replay time 0 is t0
	fmt.Fprintf(w, `{"id":"a","key_hash":"anchor","tier":"one","route":"/","method":"GET","cost":1,"decision":"allowed","ts":%q,"extra":1}`+"\n", t0.Format(time.RFC3339Nano))
	n := 10 * limit
	for i := 0; i < n; i++ {
		ts := t0.Add(2*time.Second - 10*time.Millisecond + time.Duration(i)*20*time.Millisecond/time.Duration(n))
		fmt.Fprintf(w, `{"id":"r%d","key_hash":"k1","tier":"one","route":"/","method":"GET","cost":1,"decision":"allowed","ts":%q}`+"\n", i, ts.Format(time.RFC3339Nano))
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return p
}
