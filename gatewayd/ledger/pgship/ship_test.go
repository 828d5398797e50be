package pgship

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"tollgate/gatewayd/ledger"
	"tollgate/internal/pgtest"
	"tollgate/schema"
)

func pool(t *testing.T, pg *pgtest.Server) *pgxpool.Pool {
	t.Helper()
	p, err := pgxpool.New(context.Background(), pg.DSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

func writeLedger(t *testing.T, dir string, from, n int, at time.Time) {
	t.Helper()
	w, err := ledger.Open(ledger.Options{Dir: dir, MaxFileBytes: 16 << 10, Durability: ledger.Batch}, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	for i := from; i < from+n; i++ {
		s := at.Add(time.Duration(i) * time.Millisecond)
		r := schema.LedgerRecord{ID: fmt.Sprintf("r-%d", i), KeyHash: fmt.Sprintf("k%d", i%3), Tier: "pro", Route: "v1",
			Method: "GET", Path: "/v1/x", Status: 200, Decision: "allowed", Cost: 2, CostCharged: 2, CostSettled: 1.5,
			Start: s, End: s.Add(time.Millisecond), DecidedUS: s.UnixMicro()}
		if i%10 == 9 {
			r.Decision, r.Status = "limited", 429
		}
		if err := w.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestMigrateShipIdempotentResumesAndBills(t *testing.T) {
	pg := pgtest.Start(t)
	p := pool(t, pg)
	ctx := context.Background()
	all, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	applied, err := Migrate(ctx, p)
	if err != nil || len(applied) != len(all) {
		t.Fatalf("migrate: %v %v", applied, err)
	}
	if again, err := Migrate(ctx, p); err != nil || len(again) != 0 {
		t.Fatalf("second migrate applied %v, %v", again, err)
	}
	dir := t.TempDir()
	now := time.Now().UTC()
	writeLedger(t, dir, 0, 700, now)
	// A torn tail (a crash mid-write) in the newest file is not shipped.
	files, _ := schema.LedgerFiles(dir)
	f, _ := os.OpenFile(files[len(files)-1], os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"id":"torn","met`)
	f.Close()

	s := New(p, Options{Dir: dir, Source: "node-a", BatchSize: 64, Now: func() time.Time { return now }}, slog.New(slog.DiscardHandler))
	n, err := s.ShipOnce(ctx)
	if err != nil || n != 700 {
		t.Fatalf("shipped %d, %v; want 700", n, err)
	}
	if n, err := s.ShipOnce(ctx); err != nil || n != 0 {
		t.Fatalf("second pass shipped %d, %v; want 0", n, err)
	}
	writeLedger(t, dir, 700, 300, now)
	// A fresh shipper (a restart) resumes from the positions in PostgreSQL.
	s2 := New(p, Options{Dir: dir, Source: "node-a", BatchSize: 1000, Now: func() time.Time { return now }}, slog.New(slog.DiscardHandler))
	if n, err := s2.ShipOnce(ctx); err != nil || n != 300 {
		t.Fatalf("after restart shipped %d, %v; want 300", n, err)
	}
	var rows, distinct int64
	if err := p.QueryRow(ctx, `SELECT count(*), count(DISTINCT id) FROM tollgate_usage`).Scan(&rows, &distinct); err != nil {
		t.Fatal(err)
	}
	if rows != 1000 || distinct != 1000 {
		t.Fatalf("table holds %d rows, %d distinct ids; want 1000", rows, distinct)
	}
	parts, err := s.Partitions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m := monthOf(now)
	for _, want := range []string{PartitionName(m), PartitionName(m.AddDate(0, 1, 0))} {
		if !strings.Contains(strings.Join(parts, ","), want) {
			t.Errorf("partitions %v lack %s", parts, want)
		}
	}
	var cost float64
	if err := p.QueryRow(ctx, `SELECT sum(cost) FROM tollgate_usage`).Scan(&cost); err != nil || cost != 2000 {
		t.Errorf("sum(cost) %v, %v; want 2000", cost, err)
	}
	var requests, admitted int64
	var settled float64
	if err := p.QueryRow(ctx, `SELECT sum(requests), sum(admitted), sum(tokens_settled) FROM tollgate_usage_monthly`).Scan(&requests, &admitted, &settled); err != nil {
		t.Fatal(err)
	}
	if requests != 1000 || admitted != 900 || settled != 900*1.5 {
		t.Errorf("monthly view: %d requests, %d admitted, %v tokens; want 1000, 900, 1350", requests, admitted, settled)
	}
	// Re-shipping from scratch (positions lost) duplicates nothing.
	if _, err := p.Exec(ctx, `DELETE FROM tollgate_ship_position`); err != nil {
		t.Fatal(err)
	}
	if _, err := s2.ShipOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.QueryRow(ctx, `SELECT count(*) FROM tollgate_usage`).Scan(&rows); err != nil || rows != 1000 {
		t.Fatalf("after re-shipping everything: %d rows, %v; want 1000", rows, err)
	}
}

func TestRetentionDetachesOldPartitions(t *testing.T) {
	pg := pgtest.Start(t)
	p := pool(t, pg)
	ctx := context.Background()
	if _, err := Migrate(ctx, p); err != nil {
		t.Fatal(err)
	}
	old := time.Date(2026, 3, 15, 0, 0, 0, 0, time.UTC)
	dir := t.TempDir()
	writeLedger(t, dir, 0, 10, old)
	now := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	s := New(p, Options{Dir: dir, Source: "n", RetentionMonths: 6, Now: func() time.Time { return now }}, slog.New(slog.DiscardHandler))
	if _, err := s.ShipOnce(ctx); err != nil {
		t.Fatal(err)
	}
	det, err := s.Detach(ctx, now.AddDate(0, -6, 0))
	if err != nil || len(det) != 1 || det[0] != "tollgate_usage_y2026m03" {
		t.Fatalf("detached %v, %v; want the March partition", det, err)
	}
	parts, _ := s.Partitions(ctx)
	if strings.Contains(strings.Join(parts, ","), "m03") {
		t.Errorf("March still attached: %v", parts)
	}
	var kept int64
	if err := p.QueryRow(ctx, `SELECT count(*) FROM tollgate_usage_y2026m03`).Scan(&kept); err != nil || kept != 10 {
		t.Errorf("detached table holds %d rows (%v); want 10 (detached, not dropped)", kept, err)
	}
	// A late record of the detached month still ships (default partition).
	writeLedger(t, dir, 10, 1, old)
	if n, err := s.ShipOnce(ctx); err != nil || n != 1 {
		t.Fatalf("late record: shipped %d, %v", n, err)
	}
}

func newPool(dsn string) (*pgxpool.Pool, error) { return pgxpool.New(context.Background(), dsn) }

// TestEveryRecordFieldHasAColumn: a field added to schema.LedgerRecord
// without a migration and a column in the shipper fails here.
func TestEveryRecordFieldHasAColumn(t *testing.T) {
	pg := pgtest.Start(t)
	p := pool(t, pg)
	ctx := context.Background()
	if _, err := Migrate(ctx, p); err != nil {
		t.Fatal(err)
	}
	rows, err := p.Query(ctx, `SELECT column_name FROM information_schema.columns WHERE table_name = 'tollgate_usage'`)
	if err != nil {
		t.Fatal(err)
	}
	cols := map[string]bool{}
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			t.Fatal(err)
		}
		cols[c] = true
	}
	rows.Close()
	rename := map[string]string{"start": "start_at", "end": "end_at"}
	rt := reflect.TypeFor[schema.LedgerRecord]()
	for i := range rt.NumField() {
		name := strings.Split(rt.Field(i).Tag.Get("json"), ",")[0]
		if c, ok := rename[name]; ok {
			name = c
		}
		if !cols[name] {
			t.Errorf("ledger field %q has no column in tollgate_usage", name)
		}
		if !strings.Contains(insertSQL, name) {
			t.Errorf("ledger field %q is not shipped (insertSQL)", name)
		}
	}
}
