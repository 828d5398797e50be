package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"tollgate/gatewayd/clientip"
	"tollgate/gatewayd/config"
	"tollgate/gatewayd/ledger"
	"tollgate/gatewayd/ledger/pgship"
	"tollgate/schema"
)

// DecisionLedgerUnavailable: refused because the ledger cannot record
// (ledger.on_failure refuse).
const DecisionLedgerUnavailable = "ledger_unavailable"

// LedgerOptions are the writer options of a validated ledger config.
func LedgerOptions(l config.Ledger) ledger.Options {
	return ledger.Options{Dir: l.Dir, MaxFileBytes: l.MaxFileBytes, Durability: l.Durability, BatchSize: l.BatchSize,
		FlushInterval: l.FlushInterval.D(), SyncWait: l.SyncWait.D(), MaxPendingBytes: l.MaxPendingBytes,
		FailAfter: l.FailAfter.D(), OnFailure: l.OnFailure, MaxPathBytes: l.MaxPathBytes,
		UnbilledBytesPerSecond: l.UnbilledBytesPerSecond}
}

// ShipperFor returns the PostgreSQL pool and shipper of a validated ledger
// config (nil, nil when ledger.postgres is not set). The pool connects
// lazily.
func ShipperFor(l config.Ledger, log *slog.Logger) (*pgxpool.Pool, *pgship.Shipper, error) {
	pg := l.Postgres
	if pg == nil {
		return nil, nil, nil
	}
	dsn := pg.DSN
	if pg.DSNEnv != "" {
		if dsn = os.Getenv(pg.DSNEnv); dsn == "" {
			return nil, nil, fmt.Errorf("ledger.postgres.dsn_env: environment variable %s is empty", pg.DSNEnv)
		}
	}
	pc, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's parse errors can quote the string; never log the DSN.
		return nil, nil, fmt.Errorf("ledger.postgres.dsn: not a valid PostgreSQL connection string")
	}
	pc.MaxConns = 4
	pool, err := pgxpool.NewWithConfig(context.Background(), pc)
	if err != nil {
		return nil, nil, fmt.Errorf("ledger.postgres: %w", err)
	}
	s := pgship.New(pool, pgship.Options{Dir: l.Dir, Source: pg.Source, BatchSize: pg.BatchSize, Interval: pg.Interval.D(),
		MonthsAhead: pg.MonthsAhead, RetentionMonths: pg.RetentionMonths},
		log.With("postgres", pc.ConnConfig.Host, "database", pc.ConnConfig.Database))
	return pool, s, nil
}

// record hands the finished request's record to the ledger: an
// unidentified client's under its address, for aggregation. With sync
// durability it returns once the record is on disk (or sync_wait passed),
// and only then releases the response's last byte.
func (g *Gateway) record(rec *schema.LedgerRecord, r *http.Request, sw *statusWriter) {
	client := ""
	if rec.KeyHash == "" {
		if a, ok := g.rt.Load().clients.Client(r.RemoteAddr, r.Header.Values("X-Forwarded-For")); ok {
			client = clientip.Key(a)
		}
	}
	_ = g.ledger.Commit(rec, client) // failures are counted and logged by the writer
	if hw, ok := sw.ResponseWriter.(*ledger.HoldWriter); ok {
		hw.Release()
	}
}

// ledgerGauges are the ledger's and the shipper's read-on-scrape metrics.
func (g *Gateway) ledgerGauges(gauges map[string]func() float64, help map[string]string) {
	lw := g.ledger
	add := func(name, h string, f func() float64) { gauges[name], help[name] = f, h }
	add("gatewayd_ledger_records_written", "Ledger records durable in files (fsynced).", func() float64 { return float64(lw.Written()) })
	add("gatewayd_ledger_records_dropped", "Requests whose ledger record was dropped: at ledger.max_pending_bytes (on_failure admit), after close, or given up at shutdown. Should stay 0.",
		func() float64 { return float64(lw.Dropped()) })
	add("gatewayd_ledger_write_errors", "Ledger write, fsync or rotation failures (the batch is kept and retried).", func() float64 { return float64(lw.Errors()) })
	add("gatewayd_ledger_sink_errors", "Ledger batches the Redis Stream sink failed to take.", func() float64 { return float64(lw.SinkErrors()) })
	add("gatewayd_ledger_pending_bytes", "Bytes of ledger records not yet durable (bounded by ledger.max_pending_bytes).", func() float64 { return float64(lw.PendingBytes()) })
	add("gatewayd_ledger_lag_seconds", "Age of the oldest ledger record not yet durable (0 when none).", func() float64 { return lw.Lag().Seconds() })
	add("gatewayd_ledger_failing", "1 while ledger writes are failing.", func() float64 { return boolF(lw.Failing()) })
	add("gatewayd_ledger_tripped", "1 while ledger.on_failure applies (failing longer than fail_after, or pending bytes near the bound).",
		func() float64 { return boolF(lw.Tripped()) })
	add("gatewayd_ledger_sync_timeouts", "Responses released before their record was durable (sync_wait passed).", func() float64 { return float64(lw.SyncTimeouts()) })
	add("gatewayd_ledger_aggregated_requests", "Unidentified clients' requests folded into aggregate ledger records (count > 1).",
		func() float64 { return float64(lw.Aggregated()) })
	if s := g.shipper; s != nil {
		add("gatewayd_ledger_shipped_records", "Ledger records shipped to PostgreSQL.", func() float64 { return float64(s.Shipped()) })
		add("gatewayd_ledger_ship_errors", "Failed shipping passes to PostgreSQL (retried).", func() float64 { return float64(s.Errors()) })
		add("gatewayd_ledger_ship_behind_bytes", "Bytes of local ledger not yet in PostgreSQL, as of the last pass.", func() float64 { return float64(s.Behind()) })
	}
}

// startShipper runs the shipper until Close.
func (g *Gateway) startShipper() {
	if g.shipper == nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	g.stopShipper = func() {
		cancel()
		<-done
		if g.shipper.Healthy() { // a last pass for the records written since
			fctx, fcancel := context.WithTimeout(context.Background(), 10*time.Second)
			if _, err := g.shipper.ShipOnce(fctx); err != nil {
				g.log.Warn("ledger shipper: final pass failed; the next start ships the rest", "err", err)
			}
			fcancel()
		}
		g.pgPool.Close()
	}
	go func() {
		defer close(done)
		_ = g.shipper.Run(ctx)
	}()
}
