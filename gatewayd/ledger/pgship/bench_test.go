package pgship

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"tollgate/gatewayd/ledger"
	"tollgate/internal/pgtest"
	"tollgate/schema"
)

// BenchmarkShip ships a 50,000-record ledger into a fresh source per
// iteration (a real PostgreSQL from pgtest, fsync off as in every pgtest
// server) and reports records per second. The local read alone is reported
// as read-records/s, the ceiling the database is held against.
func BenchmarkShip(b *testing.B) {
	const n = 50_000
	pg := pgtest.Start(b)
	ctx := context.Background()
	p, err := newPool(pg.DSN())
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	if _, err := Migrate(ctx, p); err != nil {
		b.Fatal(err)
	}
	var shipped int64
	var elapsed, readElapsed time.Duration
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		dir := b.TempDir()
		w, err := ledger.Open(ledger.Options{Dir: dir, Durability: ledger.Batch}, nil, slog.New(slog.DiscardHandler))
		if err != nil {
			b.Fatal(err)
		}
		at := time.Now().UTC()
		for j := 0; j < n; j++ {
			s := at.Add(time.Duration(j) * time.Microsecond)
			_ = w.Append(schema.LedgerRecord{ID: fmt.Sprintf("b%d-%d", i, j), KeyHash: "9f86d081884c7d659a2feaa0c55ad015", Tier: "pro",
				Route: "v1", Method: "GET", Path: "/v1/items/12345", Status: 200, Decision: "allowed", CostCharged: 1,
				CostSettled: 1, Start: s, End: s.Add(800 * time.Microsecond), UpstreamMS: 0.61, DecidedUS: s.UnixMicro()})
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
		rs := time.Now()
		if _, err := schema.ReadLedger(dir, func(schema.LedgerRecord) error { return nil }); err != nil {
			b.Fatal(err)
		}
		readElapsed += time.Since(rs)
		s := New(p, Options{Dir: dir, Source: fmt.Sprintf("bench-%d", i)}, slog.New(slog.DiscardHandler))
		b.StartTimer()
		st := time.Now()
		k, err := s.ShipOnce(ctx)
		elapsed += time.Since(st)
		if err != nil || k != n {
			b.Fatalf("shipped %d, %v", k, err)
		}
		shipped += k
	}
	b.ReportMetric(float64(shipped)/elapsed.Seconds(), "records/s")
	b.ReportMetric(float64(shipped)/readElapsed.Seconds(), "read-records/s")
}
