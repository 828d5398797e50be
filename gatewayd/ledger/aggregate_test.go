package ledger

import (
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"tollgate/schema"
)

// TestAggregatorBoundsBytesPerSecondAndCountsEveryRequest: 3,000 requests
// of unidentified clients from 1,000 addresses within two seconds add at
// most the byte budget per second (plus one overflow record per decision,
// status and route), and the counts add up to every request.
func TestAggregatorBoundsBytesPerSecondAndCountsEveryRequest(t *testing.T) {
	dir := t.TempDir()
	const budget = 4096
	w, err := Open(Options{Dir: dir, Durability: Batch, UnbilledBytesPerSecond: budget, MaxPathBytes: 64},
		nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	// Far ahead of the wall clock, so the writer's ticker never flushes a
	// second early: the test's seconds end when its records say so.
	base := time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
	const n = 3000
	for i := 0; i < n; i++ {
		at := base.Add(time.Duration(i) * (2 * time.Second / n))
		r := schema.LedgerRecord{ID: fmt.Sprintf("u-%d", i), Method: "GET", Path: "/v1/" + string(make([]byte, 1000)),
			Status: 401, Decision: "unauthenticated", Route: "v1", Start: at, End: at}
		if i%2 == 0 {
			r.Status, r.Decision, r.Route = 404, "no_route", ""
		}
		if err := w.Commit(&r, fmt.Sprintf("10.0.%d.%d", i%1000/250, i%250)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	recs, _, err := schema.ReadLedgerAll(dir)
	if err != nil {
		t.Fatal(err)
	}
	var counted int64
	overflow := 0
	for _, r := range recs {
		counted += r.Requests()
		if r.Client == "" {
			overflow++
		}
		if len(r.Path) > 64 || !r.PathTruncated {
			t.Fatalf("path not cut: %d bytes", len(r.Path))
		}
	}
	if counted != n {
		t.Errorf("aggregates count %d requests, want %d", counted, n)
	}
	if overflow == 0 || overflow > 2*2 { // two seconds, two (decision, status, route) kinds
		t.Errorf("%d overflow records, want 1 to 4", overflow)
	}
	files, _ := schema.LedgerFiles(dir)
	var size int64
	for _, f := range files {
		fi, _ := os.Stat(f)
		size += fi.Size()
	}
	// Per second: the budget, plus overflow records, plus the record that
	// crossed the budget's estimate.
	if max := int64(2 * (budget + 3*600)); size > max {
		t.Errorf("ledger grew by %d bytes for 2 s of unidentified traffic, budget %d/s (bound %d)", size, budget, max)
	}
	if w.Aggregated() != n-int64(len(recs)) {
		t.Errorf("aggregated %d, want %d", w.Aggregated(), n-int64(len(recs)))
	}
}
