package ledger

import (
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"tollgate/schema"
)

func TestWriterBatchesRotatesAndFlushesOnClose(t *testing.T) {
	dir := t.TempDir()
	w, err := Open(Options{Dir: dir, MaxFileBytes: 4096, Durability: Batch, BatchSize: 7, FlushInterval: time.Hour}, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	const n = 500
	var wg sync.WaitGroup
	for g := 0; g < 5; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < n/5; i++ {
				if g == 0 && i%20 == 0 {
					if err := w.Flush(); err != nil { // several writes, so files rotate
						t.Error(err)
					}
				}
				w.Append(schema.LedgerRecord{ID: fmt.Sprintf("%d-%d", g, i), Decision: "allowed", Method: "GET", Path: "/v1/x", Status: 200, CostCharged: 1, CostSettled: 1})
			}
		}(g)
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w.Append(schema.LedgerRecord{ID: "late"})
	if w.Dropped() != 1 {
		t.Errorf("dropped = %d, want 1", w.Dropped())
	}
	recs, _, err := schema.ReadLedgerAll(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != n || w.Written() != n {
		t.Fatalf("read %d records, written %d, want %d", len(recs), w.Written(), n)
	}
	seen := map[string]bool{}
	for _, r := range recs {
		if seen[r.ID] {
			t.Fatalf("duplicate %s", r.ID)
		}
		seen[r.ID] = true
	}
	files, _ := schema.LedgerFiles(dir)
	if len(files) < 2 {
		t.Errorf("want rotation into several files, got %d", len(files))
	}
}
