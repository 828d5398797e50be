package pgship

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"tollgate/schema"
)

// maxBackoff caps the wait between failed passes, so the table catches up
// within seconds of PostgreSQL's return.
const maxBackoff = 5 * time.Second

// Defaults of Options (and of gatewayd's ledger.postgres section).
const (
	DefaultBatchSize   = 5000
	DefaultInterval    = time.Second
	DefaultMonthsAhead = 1
)

// Options configure a Shipper.
type Options struct {
	// Dir is the local ledger directory.
	Dir string
	// Source names this ledger in tollgate_ship_position and the rows'
	// source column; one per gatewayd node.
	Source string
	// BatchSize is the records per transaction (default 5000).
	BatchSize int
	// Interval is the pause between passes in Run (default 1s).
	Interval time.Duration
	// MonthsAhead is how many monthly partitions are kept beyond the
	// current one (default 1).
	MonthsAhead int
	// RetentionMonths detaches partitions that ended more than this many
	// months before the current one; 0 keeps all.
	RetentionMonths int
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Shipper copies ledger files into PostgreSQL. Its methods are not safe for
// concurrent use (one Run per Shipper); its counters are.
type Shipper struct {
	pool *pgxpool.Pool
	opts Options
	log  *slog.Logger

	mu         sync.Mutex
	partitions map[string]bool
	maintained time.Time

	shipped atomic.Int64
	errs    atomic.Int64
	behind  atomic.Int64
	ok      atomic.Bool
}

// New returns a shipper. It does not contact the server.
func New(pool *pgxpool.Pool, opts Options, log *slog.Logger) *Shipper {
	if opts.BatchSize <= 0 {
		opts.BatchSize = DefaultBatchSize
	}
	if opts.Interval <= 0 {
		opts.Interval = DefaultInterval
	}
	if opts.MonthsAhead <= 0 {
		opts.MonthsAhead = DefaultMonthsAhead
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Shipper{pool: pool, opts: opts, log: log, partitions: map[string]bool{}}
}

// Shipped returns how many records this shipper inserted or found already
// there (re-shipped), cumulative.
func (s *Shipper) Shipped() int64 { return s.shipped.Load() }

// Errors returns how many passes failed.
func (s *Shipper) Errors() int64 { return s.errs.Load() }

// Behind returns the bytes of local ledger not yet shipped, as of the last
// pass.
func (s *Shipper) Behind() int64 { return s.behind.Load() }

// Healthy reports whether the last pass succeeded.
func (s *Shipper) Healthy() bool { return s.ok.Load() }

// Run migrates, then ships every Interval until ctx ends, retrying (with
// the failure logged and counted) while PostgreSQL is unreachable. A final
// pass runs when ctx ends only if it had been succeeding.
func (s *Shipper) Run(ctx context.Context) error {
	backoff := s.opts.Interval
	migrated := false
	for {
		var err error
		if !migrated {
			if _, err = Migrate(ctx, s.pool); err == nil {
				migrated = true
			}
		}
		if migrated {
			_, err = s.ShipOnce(ctx)
		}
		wait := s.opts.Interval
		if err != nil && ctx.Err() == nil {
			s.log.Warn("ledger shipper: pass failed; retrying", "err", err, "retry_in", backoff)
			wait = backoff
			backoff = min(2*backoff, maxBackoff)
		} else {
			backoff = s.opts.Interval
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// ShipOnce ships every complete record not yet shipped, oldest file first,
// in transactions of at most BatchSize records, each committing its rows
// and the file's new position together. It returns the records shipped.
func (s *Shipper) ShipOnce(ctx context.Context) (int64, error) {
	n, err := s.shipOnce(ctx)
	if err != nil {
		s.errs.Add(1)
		s.ok.Store(false)
		return n, err
	}
	s.ok.Store(true)
	return n, nil
}

func (s *Shipper) shipOnce(ctx context.Context) (int64, error) {
	if err := s.maintain(ctx); err != nil {
		return 0, err
	}
	files, err := schema.LedgerFiles(s.opts.Dir)
	if err != nil {
		return 0, err
	}
	pos, err := s.positions(ctx)
	if err != nil {
		return 0, err
	}
	var total, behind int64
	for _, name := range files {
		fi, err := os.Stat(name)
		if err != nil {
			return total, fmt.Errorf("pgship: %w", err)
		}
		base := filepath.Base(name)
		from := pos[base]
		if fi.Size() <= from {
			continue
		}
		b := batch{file: base, from: from}
		_, _, err = schema.ReadLedgerFile(name, from, func(r schema.LedgerRecord, next int64) error {
			b.add(&r, next)
			if len(b.ids) >= s.opts.BatchSize {
				if err := s.flush(ctx, &b); err != nil {
					return err
				}
				total += int64(b.shipped)
				b.reset()
			}
			return nil
		})
		if err == nil && len(b.ids) > 0 {
			if err = s.flush(ctx, &b); err == nil {
				total += int64(b.shipped)
				b.reset()
			}
		}
		if err != nil {
			return total, err
		}
		behind += fi.Size() - b.from
	}
	s.behind.Store(behind)
	return total, nil
}

// positions loads this source's shipping positions.
func (s *Shipper) positions(ctx context.Context) (map[string]int64, error) {
	rows, err := s.pool.Query(ctx, `SELECT file, "offset" FROM tollgate_ship_position WHERE source = $1`, s.opts.Source)
	if err != nil {
		return nil, fmt.Errorf("pgship: positions: %w", err)
	}
	out := map[string]int64{}
	var f string
	var o int64
	_, err = pgx.ForEachRow(rows, []any{&f, &o}, func() error {
		out[f] = o
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pgship: positions: %w", err)
	}
	return out, nil
}

// batch is the columns of the records of one transaction.
type batch struct {
	file      string
	from, to  int64
	shipped   int
	months    map[time.Time]bool
	ids       []string
	start     []time.Time
	end       []time.Time
	keyHash   []string
	tier      []string
	route     []string
	method    []string
	path      []string
	truncated []bool
	status    []int32
	decision  []string
	unmetered []bool
	cost      []float64
	bytesIn   []int64
	bytesOut  []int64
	charged   []float64
	settled   []float64
	shadow    []string
	disagrees []bool
	upstream  []float64
	decided   []int64
	count     []int64
	client    []string
	traceID   []string
}

func (b *batch) add(r *schema.LedgerRecord, next int64) {
	if b.months == nil {
		b.months = map[time.Time]bool{}
	}
	b.months[monthOf(r.Start)] = true
	b.ids = append(b.ids, r.ID)
	b.start = append(b.start, r.Start)
	b.end = append(b.end, r.End)
	b.keyHash = append(b.keyHash, r.KeyHash)
	b.tier = append(b.tier, r.Tier)
	b.route = append(b.route, r.Route)
	b.method = append(b.method, r.Method)
	b.path = append(b.path, r.Path)
	b.truncated = append(b.truncated, r.PathTruncated)
	b.status = append(b.status, int32(r.Status))
	b.decision = append(b.decision, r.Decision)
	b.unmetered = append(b.unmetered, r.Unmetered)
	b.cost = append(b.cost, r.Cost)
	b.bytesIn = append(b.bytesIn, r.BytesIn)
	b.bytesOut = append(b.bytesOut, r.BytesOut)
	b.charged = append(b.charged, r.CostCharged)
	b.settled = append(b.settled, r.CostSettled)
	b.shadow = append(b.shadow, r.Shadow)
	b.disagrees = append(b.disagrees, r.ShadowDisagrees)
	b.upstream = append(b.upstream, r.UpstreamMS)
	b.decided = append(b.decided, r.DecidedUS)
	b.count = append(b.count, r.Requests())
	b.client = append(b.client, r.Client)
	b.traceID = append(b.traceID, r.TraceID)
	b.to = next
}

func (b *batch) reset() {
	*b = batch{file: b.file, from: b.to}
}

const insertSQL = `INSERT INTO tollgate_usage (id, start_at, end_at, key_hash, tier, route, method, path,
	path_truncated, status, decision, unmetered, cost_charged, cost_settled, shadow, shadow_disagrees,
	upstream_ms, decided_us, count, client, cost, bytes_in, bytes_out, trace_id, source)
SELECT u.*, $25 FROM unnest($1::text[], $2::timestamptz[], $3::timestamptz[], $4::text[], $5::text[],
	$6::text[], $7::text[], $8::text[], $9::bool[], $10::int4[], $11::text[], $12::bool[], $13::float8[],
	$14::float8[], $15::text[], $16::bool[], $17::float8[], $18::int8[], $19::int8[], $20::text[], $21::float8[],
	$22::int8[], $23::int8[], $24::text[]) AS u
ON CONFLICT DO NOTHING`

// errMoved: another shipper moved this file's position meanwhile.
var errMoved = errors.New("pgship: position moved by another shipper")

// flush commits the batch's rows and the file's new position in one
// transaction.
func (s *Shipper) flush(ctx context.Context, b *batch) error {
	for m := range b.months {
		if err := s.ensurePartition(ctx, m); err != nil {
			return err
		}
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var cur int64
		err := tx.QueryRow(ctx, `SELECT "offset" FROM tollgate_ship_position WHERE source = $1 AND file = $2 FOR UPDATE`,
			s.opts.Source, b.file).Scan(&cur)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if cur != b.from {
			return fmt.Errorf("%w: %s at %d, expected %d", errMoved, b.file, cur, b.from)
		}
		if _, err := tx.Exec(ctx, insertSQL, b.ids, b.start, b.end, b.keyHash, b.tier, b.route, b.method, b.path,
			b.truncated, b.status, b.decision, b.unmetered, b.charged, b.settled, b.shadow, b.disagrees, b.upstream,
			b.decided, b.count, b.client, b.cost, b.bytesIn, b.bytesOut, b.traceID, s.opts.Source); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO tollgate_ship_position (source, file, "offset", records) VALUES ($1, $2, $3, $4)
			ON CONFLICT (source, file) DO UPDATE SET "offset" = EXCLUDED."offset",
				records = tollgate_ship_position.records + EXCLUDED.records, updated_at = now()`,
			s.opts.Source, b.file, b.to, len(b.ids))
		return err
	})
	if err != nil {
		return fmt.Errorf("pgship: ship %s from %d: %w", b.file, b.from, err)
	}
	b.shipped = len(b.ids)
	s.shipped.Add(int64(len(b.ids)))
	return nil
}

func monthOf(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// PartitionName is the table holding month m's rows.
func PartitionName(m time.Time) string {
	return fmt.Sprintf("tollgate_usage_y%04dm%02d", m.Year(), int(m.Month()))
}

var partitionRe = regexp.MustCompile(`^tollgate_usage_y(\d{4})m(\d{2})$`)

// ensurePartition creates month m's partition if missing.
func (s *Shipper) ensurePartition(ctx context.Context, m time.Time) error {
	name := PartitionName(m)
	s.mu.Lock()
	done := s.partitions[name]
	s.mu.Unlock()
	if done {
		return nil
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrateLock); err != nil {
			return err
		}
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, name).Scan(&exists); err != nil {
			return err
		}
		if exists {
			return nil
		}
		next := m.AddDate(0, 1, 0)
		_, err := tx.Exec(ctx, fmt.Sprintf(`CREATE TABLE %s PARTITION OF tollgate_usage FOR VALUES FROM ('%s') TO ('%s')`,
			pgx.Identifier{name}.Sanitize(), m.Format(time.RFC3339), next.Format(time.RFC3339)))
		return err
	})
	if err != nil {
		return fmt.Errorf("pgship: partition %s: %w", name, err)
	}
	s.mu.Lock()
	s.partitions[name] = true
	s.mu.Unlock()
	return nil
}

// maintain keeps partitions for this month and MonthsAhead more, and
// detaches those past retention; at most once a minute.
func (s *Shipper) maintain(ctx context.Context) error {
	now := s.opts.Now()
	if now.Sub(s.maintained) < time.Minute {
		return nil
	}
	m := monthOf(now)
	for i := 0; i <= s.opts.MonthsAhead; i++ {
		if err := s.ensurePartition(ctx, m.AddDate(0, i, 0)); err != nil {
			return err
		}
	}
	if s.opts.RetentionMonths > 0 {
		if _, err := s.Detach(ctx, m.AddDate(0, -s.opts.RetentionMonths, 0)); err != nil {
			return err
		}
	}
	s.maintained = now
	return nil
}

// Partitions lists the attached monthly partitions, oldest first.
func (s *Shipper) Partitions(ctx context.Context) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'tollgate_usage'::regclass ORDER BY c.relname`)
	if err != nil {
		return nil, fmt.Errorf("pgship: partitions: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("pgship: partitions: %w", err)
	}
	return names, nil
}

// Detach detaches the partitions of months before cutoff (the tables stay,
// for archiving or dropping by hand) and returns their names.
func (s *Shipper) Detach(ctx context.Context, cutoff time.Time) ([]string, error) {
	names, err := s.Partitions(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, n := range names {
		sm := partitionRe.FindStringSubmatch(n)
		if sm == nil {
			continue
		}
		var y, mo int
		fmt.Sscanf(sm[1]+" "+sm[2], "%d %d", &y, &mo)
		if !time.Date(y, time.Month(mo), 1, 0, 0, 0, 0, time.UTC).Before(monthOf(cutoff)) {
			continue
		}
		if _, err := s.pool.Exec(ctx, `ALTER TABLE tollgate_usage DETACH PARTITION `+pgx.Identifier{n}.Sanitize()); err != nil {
			return out, fmt.Errorf("pgship: detach %s: %w", n, err)
		}
		s.mu.Lock()
		delete(s.partitions, n)
		s.mu.Unlock()
		s.log.Info("ledger shipper: partition detached (retention)", "partition", n)
		out = append(out, n)
	}
	return out, nil
}
