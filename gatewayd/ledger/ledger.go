// Package ledger is gatewayd's usage ledger writer: one JSON line per request
// the gateway answered, admitted or refused, for billing and audit. The
// record type and the readers are tollgate/schema's (schema.LedgerRecord,
// schema.ReadLedger).
//
// Records are encoded by the caller into the pending batch and written by
// one goroutine, which writes and fsyncs everything pending in one go (group
// commit): with Durability Sync a caller of Commit waits, up to SyncWait,
// until its record is on disk; with Batch the batch is written when it holds
// BatchSize records or FlushInterval has passed, and a crash loses at most
// that window.
//
// Failures are repaired, never compounded: a failed write or fsync truncates
// the file back to its last durable record, reopens it and retries the whole
// batch, which is kept until it is durable; a failed rotation keeps writing
// the current file. Pending memory is bounded by MaxPendingBytes. When the
// ledger has been failing for longer than FailAfter, or pending bytes reach
// 90% of the bound, it is Tripped; OnFailure then says whether the gateway
// refuses new requests (Accepting false) or admits them and counts what the
// ledger could not keep. Everything recovers by itself when the disk does.
//
// An optional Sink (a Redis Stream) receives every batch after the file has
// it; the files are the source of truth.
//
//	w, err := ledger.Open(ledger.Options{Dir: "ledger", Durability: ledger.Sync}, nil, log)
//	err = w.Commit(&schema.LedgerRecord{ID: id, Decision: "allowed", ...}, "")
//	defer w.Close()
package ledger

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"tollgate/schema"
)

// Durability says when a record counts as written.
type Durability string

// The durabilities.
const (
	// Sync: Commit returns once the record is fsynced (group commit).
	Sync Durability = "sync"
	// Batch: Commit returns at once; the record is fsynced with its batch,
	// within FlushInterval, and a crash loses at most that window.
	Batch Durability = "batch"
)

// OnFailure says what the gateway does while the ledger is tripped.
type OnFailure string

// The failure policies.
const (
	// Refuse: new requests are answered 503 and /readyz turns 503.
	Refuse OnFailure = "refuse"
	// Admit: requests are served; records the bound cannot hold are counted
	// (Dropped) and logged.
	Admit OnFailure = "admit"
)

// Errors returned by Commit and Append.
var (
	// ErrClosed: the writer was closed; the record is counted as dropped.
	ErrClosed = errors.New("ledger: closed")
	// ErrFull: pending bytes are at MaxPendingBytes; the record is dropped
	// and counted.
	ErrFull = errors.New("ledger: pending records at max_pending_bytes")
	// ErrSyncTimeout: the record was not durable within SyncWait; it stays
	// pending and is written when the disk allows.
	ErrSyncTimeout = errors.New("ledger: record not durable within sync_wait")
)

// Sink receives each flushed batch as JSON lines (without newlines).
type Sink interface {
	Send(lines [][]byte) error
	Close() error
}

// Defaults of Options (and of gatewayd's ledger config section).
const (
	DefaultDurability             = Sync
	DefaultOnFailure              = Refuse
	DefaultMaxFileBytes           = 64 << 20
	DefaultBatchSize              = 512
	DefaultFlushInterval          = 200 * time.Millisecond
	DefaultSyncWait               = 5 * time.Second
	DefaultMaxPendingBytes        = 64 << 20
	DefaultFailAfter              = 5 * time.Second
	DefaultCloseTimeout           = 10 * time.Second
	DefaultMaxPathBytes           = 512
	DefaultUnbilledBytesPerSecond = 64 << 10
)

// Options configure a Writer. Zero values take the defaults shown.
type Options struct {
	// Dir holds the files; created if missing.
	Dir string
	// MaxFileBytes rotates the current file once it reaches this size
	// (default 64 MiB).
	MaxFileBytes int64
	// Durability is Sync or Batch (default Sync).
	Durability Durability
	// BatchSize and FlushInterval: with Batch durability, a batch is written
	// at BatchSize records or after FlushInterval (defaults 512, 200ms).
	// With Sync, FlushInterval only paces aggregate flushing.
	BatchSize     int
	FlushInterval time.Duration
	// SyncWait bounds how long Commit waits for durability (default 5s).
	SyncWait time.Duration
	// MaxPendingBytes bounds the memory of records not yet durable
	// (default 64 MiB).
	MaxPendingBytes int64
	// FailAfter trips the ledger once writes have failed for this long
	// (default 5s).
	FailAfter time.Duration
	// OnFailure is what a tripped ledger does (default Refuse).
	OnFailure OnFailure
	// CloseTimeout bounds Close's retries of a failing disk (default 10s).
	CloseTimeout time.Duration
	// MaxPathBytes cuts record paths to this many bytes (default 512).
	MaxPathBytes int
	// UnbilledBytesPerSecond bounds the ledger growth from unidentified
	// traffic (see Aggregator; default 65536).
	UnbilledBytesPerSecond int64
	// Now is the clock (default time.Now).
	Now func() time.Time
}

func (o *Options) defaults() {
	if o.MaxFileBytes <= 0 {
		o.MaxFileBytes = DefaultMaxFileBytes
	}
	if o.Durability == "" {
		o.Durability = DefaultDurability
	}
	if o.BatchSize < 1 {
		o.BatchSize = DefaultBatchSize
	}
	if o.FlushInterval <= 0 {
		o.FlushInterval = DefaultFlushInterval
	}
	if o.SyncWait <= 0 {
		o.SyncWait = DefaultSyncWait
	}
	if o.MaxPendingBytes <= 0 {
		o.MaxPendingBytes = DefaultMaxPendingBytes
	}
	if o.FailAfter <= 0 {
		o.FailAfter = DefaultFailAfter
	}
	if o.OnFailure == "" {
		o.OnFailure = DefaultOnFailure
	}
	if o.CloseTimeout <= 0 {
		o.CloseTimeout = DefaultCloseTimeout
	}
	if o.MaxPathBytes <= 0 {
		o.MaxPathBytes = DefaultMaxPathBytes
	}
	if o.UnbilledBytesPerSecond <= 0 {
		o.UnbilledBytesPerSecond = DefaultUnbilledBytesPerSecond
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// group is one group commit: the records appended while the previous one
// was being written. done is closed once they are durable (err nil) or
// given up at Close (err set).
type group struct {
	buf   []byte
	n     int
	first time.Time
	done  chan struct{}
	err   error
}

// Writer appends records. It is safe for concurrent use.
type Writer struct {
	opts Options
	sink Sink
	log  *slog.Logger
	agg  *Aggregator

	mu      sync.Mutex
	closed  bool
	cur     *group
	last    *group   // the group taken last by the writer
	retry   []*group // groups taken by the writer, not yet durable
	kick    chan struct{}
	stop    chan struct{}
	done    chan struct{}
	spare   []byte
	failing atomic.Int64 // unix nanos of the first failure of the ongoing episode; 0 when healthy

	file    *os.File
	name    string
	size    int64 // bytes in the file
	good    int64 // bytes of complete, fsynced records
	abandon bool  // the file could not be repaired: the next write opens a new one
	seq     int

	pending      atomic.Int64 // bytes not yet durable
	written      atomic.Int64
	dropped      atomic.Int64
	errs         atomic.Int64
	sinkErrs     atomic.Int64
	syncTimeouts atomic.Int64
	oldest       atomic.Int64 // unix nanos of the oldest non-durable record; 0 when none
	dropLog      atomic.Int64

	closeOnce sync.Once
	closeErr  error
}

// Open creates the directory, opens a new file and starts the writer.
func Open(opts Options, sink Sink, log *slog.Logger) (*Writer, error) {
	if opts.Dir == "" {
		return nil, errors.New("ledger: dir: must not be empty")
	}
	switch opts.Durability {
	case "", Sync, Batch:
	default:
		return nil, fmt.Errorf("ledger: durability: must be sync or batch, got %q", opts.Durability)
	}
	switch opts.OnFailure {
	case "", Refuse, Admit:
	default:
		return nil, fmt.Errorf("ledger: on_failure: must be refuse or admit, got %q", opts.OnFailure)
	}
	opts.defaults()
	if err := os.MkdirAll(opts.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("ledger: dir %q: %w", opts.Dir, err)
	}
	w := &Writer{opts: opts, sink: sink, log: log, kick: make(chan struct{}, 1), stop: make(chan struct{}),
		done: make(chan struct{})}
	w.cur = w.newGroup()
	w.agg = newAggregator(w, opts.UnbilledBytesPerSecond)
	if err := w.openNext(); err != nil {
		return nil, err
	}
	go w.run()
	return w, nil
}

func (w *Writer) newGroup() *group {
	g := &group{buf: w.spare[:0], done: make(chan struct{})}
	w.spare = nil
	return g
}

// Durability returns the configured durability.
func (w *Writer) Durability() Durability { return w.opts.Durability }

// Commit records r: its path is cut to MaxPathBytes; a record of an
// unidentified client (empty KeyHash) goes to the aggregator under client
// (the client address key) and Commit returns at once; any other is
// appended and, with Sync durability, waited for until durable or SyncWait.
// A non-nil error says the record is not (yet) durable: ErrSyncTimeout (it
// stays pending), ErrFull or ErrClosed (dropped and counted).
func (w *Writer) Commit(r *schema.LedgerRecord, client string) error {
	w.TruncatePath(r)
	if r.KeyHash == "" && r.Count == 0 {
		return w.agg.add(r, client)
	}
	g, err := w.append(r)
	if err != nil || w.opts.Durability != Sync {
		return err
	}
	t := time.NewTimer(w.opts.SyncWait)
	defer t.Stop()
	select {
	case <-g.done:
		return g.err
	case <-t.C:
		w.syncTimeouts.Add(1)
		if w.allowLog() {
			w.log.Error("ledger: record not durable within sync_wait; released, kept pending", "id", r.ID,
				"sync_wait", w.opts.SyncWait, "pending_bytes", w.pending.Load())
		}
		return ErrSyncTimeout
	}
}

// Flush waits until every record appended before it is durable (or given
// up at Close).
func (w *Writer) Flush() error {
	w.mu.Lock()
	g := w.cur
	if g.n == 0 {
		g = w.last
	}
	w.mu.Unlock()
	if g == nil {
		return nil
	}
	select {
	case w.kick <- struct{}{}:
	default:
	}
	<-g.done
	return g.err
}

// Append queues r as is (no aggregation, no waiting), returning ErrClosed
// or ErrFull when it is dropped.
func (w *Writer) Append(r schema.LedgerRecord) error {
	_, err := w.append(&r)
	return err
}

func (w *Writer) append(r *schema.LedgerRecord) (*group, error) {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		w.drop(r, ErrClosed)
		return nil, ErrClosed
	}
	start := len(w.cur.buf)
	w.cur.buf = appendRecord(w.cur.buf, r)
	w.cur.buf = append(w.cur.buf, '\n')
	n := int64(len(w.cur.buf) - start)
	if w.pending.Load()+n > w.opts.MaxPendingBytes {
		w.cur.buf = w.cur.buf[:start]
		w.mu.Unlock()
		w.drop(r, ErrFull)
		return nil, ErrFull
	}
	w.pending.Add(n)
	g := w.cur
	g.n++
	if g.n == 1 {
		g.first = w.opts.Now()
		w.oldest.CompareAndSwap(0, g.first.UnixNano())
	}
	kick := w.opts.Durability == Sync || g.n >= w.opts.BatchSize
	w.mu.Unlock()
	if kick {
		select {
		case w.kick <- struct{}{}:
		default:
		}
	}
	return g, nil
}

func (w *Writer) drop(r *schema.LedgerRecord, why error) {
	w.dropped.Add(r.Requests())
	if w.allowLog() {
		w.log.Error("ledger: record dropped", "id", r.ID, "decision", r.Decision, "reason", why.Error(),
			"dropped_total", w.dropped.Load())
	}
}

// allowLog lets one error line a second through.
func (w *Writer) allowLog() bool {
	now := time.Now().UnixNano()
	n := w.dropLog.Load()
	return now >= n && w.dropLog.CompareAndSwap(n, now+int64(time.Second))
}

// TruncatePath cuts r.Path to MaxPathBytes (on a UTF-8 boundary) and marks
// it.
func (w *Writer) TruncatePath(r *schema.LedgerRecord) {
	if len(r.Path) <= w.opts.MaxPathBytes {
		return
	}
	n := w.opts.MaxPathBytes
	for n > 0 && r.Path[n]&0xC0 == 0x80 { // not in the middle of a rune
		n--
	}
	r.Path, r.PathTruncated = r.Path[:n], true
}

// Tripped reports whether the ledger has been failing longer than
// FailAfter or holds 90% of MaxPendingBytes.
func (w *Writer) Tripped() bool {
	if f := w.failing.Load(); f != 0 && w.opts.Now().UnixNano()-f >= int64(w.opts.FailAfter) {
		return true
	}
	return w.pending.Load() >= w.opts.MaxPendingBytes/10*9
}

// Accepting reports whether the gateway should take new requests: false
// while Tripped under OnFailure Refuse.
func (w *Writer) Accepting() bool { return w.opts.OnFailure != Refuse || !w.Tripped() }

// OnFailure returns the configured failure policy.
func (w *Writer) OnFailure() OnFailure { return w.opts.OnFailure }

// Written returns how many records are durable in files.
func (w *Writer) Written() int64 { return w.written.Load() }

// Dropped returns how many requests' records were dropped (after Close, or
// at MaxPendingBytes), or given up at Close.
func (w *Writer) Dropped() int64 { return w.dropped.Load() }

// Errors returns how many file writes, fsyncs or rotations failed.
func (w *Writer) Errors() int64 { return w.errs.Load() }

// SinkErrors returns how many batches the sink failed to take.
func (w *Writer) SinkErrors() int64 { return w.sinkErrs.Load() }

// SyncTimeouts returns how many Commits gave up waiting (SyncWait).
func (w *Writer) SyncTimeouts() int64 { return w.syncTimeouts.Load() }

// PendingBytes returns the bytes of records not yet durable.
func (w *Writer) PendingBytes() int64 { return w.pending.Load() }

// Failing reports whether the last write failed.
func (w *Writer) Failing() bool { return w.failing.Load() != 0 }

// Lag returns the age of the oldest record not yet durable (0 when none).
func (w *Writer) Lag() time.Duration {
	o := w.oldest.Load()
	if o == 0 {
		return 0
	}
	return time.Duration(w.opts.Now().UnixNano() - o)
}

// Aggregated returns how many requests the aggregator folded into counts.
func (w *Writer) Aggregated() int64 { return w.agg.folded.Load() }

// Close stops accepting records, writes and fsyncs everything pending
// (retrying a failing disk up to CloseTimeout), closes the file and the
// sink. It returns an error naming how many records were given up.
func (w *Writer) Close() error {
	w.closeOnce.Do(func() {
		w.agg.flushAll()
		w.mu.Lock()
		w.closed = true
		w.mu.Unlock()
		close(w.stop)
		<-w.done
		if w.file != nil {
			if err := w.file.Close(); err != nil && w.closeErr == nil {
				w.closeErr = fmt.Errorf("ledger: close %s: %w", w.name, err)
			}
		}
		if w.sink != nil {
			if err := w.sink.Close(); err != nil {
				w.log.Warn("ledger: sink close", "err", err)
			}
		}
	})
	return w.closeErr
}

func (w *Writer) run() {
	defer close(w.done)
	t := time.NewTicker(w.opts.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-w.kick:
		case <-t.C:
			w.agg.flushBefore(w.opts.Now())
		case <-w.stop:
			w.final()
			return
		}
		w.commit(false)
	}
}

// final writes what is left at Close, retrying until CloseTimeout.
func (w *Writer) final() {
	deadline := time.Now().Add(w.opts.CloseTimeout)
	for !w.commit(true) {
		if time.Now().After(deadline) {
			var lost int64
			for _, g := range w.retry {
				lost += int64(g.n)
				g.err = fmt.Errorf("ledger: %s: disk still failing at close", w.opts.Dir)
				close(g.done)
			}
			w.dropped.Add(lost)
			w.closeErr = fmt.Errorf("ledger: %d records not durable after retrying for %v at close", lost, w.opts.CloseTimeout)
			w.log.Error("ledger: records lost at close", "records", lost, "dir", w.opts.Dir)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// commit takes the current group (and any earlier ones still failing),
// writes and fsyncs them as one, and on failure repairs the file and
// retries with backoff until they are durable or the writer stops. It
// reports whether everything taken is durable.
func (w *Writer) commit(closing bool) bool {
	backoff := 10 * time.Millisecond
	for {
		w.mu.Lock()
		if w.cur.n > 0 {
			w.retry = append(w.retry, w.cur)
			w.last = w.cur
			w.cur = w.newGroup()
		}
		w.mu.Unlock()
		if len(w.retry) == 0 {
			return true
		}
		if err := w.write(); err == nil {
			return true
		}
		if closing {
			return false
		}
		select {
		case <-w.stop:
			return false
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Second)
	}
}

// write writes the retry groups as one batch and fsyncs; on success it
// releases their waiters.
func (w *Writer) write() error {
	var buf []byte
	n := 0
	if len(w.retry) == 1 {
		buf = w.retry[0].buf
	} else {
		for _, g := range w.retry {
			buf = append(buf, g.buf...)
		}
	}
	for _, g := range w.retry {
		n += g.n
	}
	if err := w.writeBytes(buf); err != nil {
		if w.failing.CompareAndSwap(0, w.opts.Now().UnixNano()) || w.allowLog() {
			w.log.Error("ledger: write failed; batch kept for retry, file repaired", "file", w.name, "records", n,
				"pending_bytes", w.pending.Load(), "err", err)
		}
		return err
	}
	if f := w.failing.Swap(0); f != 0 {
		w.log.Info("ledger: writes recovered", "file", w.name, "failed_for", time.Duration(w.opts.Now().UnixNano()-f))
	}
	w.written.Add(int64(n))
	w.pending.Add(-int64(len(buf)))
	if w.sink != nil {
		lines := bytes.Split(bytes.TrimSuffix(buf, []byte{'\n'}), []byte{'\n'})
		if err := w.sink.Send(lines); err != nil {
			w.sinkErrs.Add(1)
			w.log.Warn("ledger: sink failed; the file has the records", "records", len(lines), "err", err)
		}
	}
	for _, g := range w.retry {
		close(g.done)
	}
	if len(w.retry) == 1 {
		w.spare = w.retry[0].buf[:0]
	}
	w.retry = w.retry[:0]
	w.mu.Lock()
	if w.cur.n > 0 {
		w.oldest.Store(w.cur.first.UnixNano())
	} else {
		w.oldest.Store(0)
	}
	w.mu.Unlock()
	return nil
}

// writeBytes appends buf, whole records only, to the current file (rotating
// first when it would pass MaxFileBytes) and fsyncs. On failure the file is
// truncated back to its last durable record and reopened; if that fails, the
// next write goes to a new file, so no record is ever split across files.
func (w *Writer) writeBytes(buf []byte) error {
	if w.abandon || w.file == nil || (w.size > 0 && w.size+int64(len(buf)) > w.opts.MaxFileBytes) {
		if err := w.openNext(); err != nil {
			w.errs.Add(1)
			if w.file == nil || w.abandon {
				return err
			}
			// Out of inodes or the like: keep the current, healthy file.
			if w.allowLog() {
				w.log.Error("ledger: rotation failed; writing on in the current file", "file", w.name, "err", err)
			}
		}
	}
	n, err := w.file.Write(buf)
	w.size += int64(n)
	if err == nil {
		if err = w.file.Sync(); err != nil {
			err = fmt.Errorf("ledger: fsync %s: %w", w.name, err)
		}
	} else {
		err = fmt.Errorf("ledger: write %s: %w", w.name, err)
	}
	if err != nil {
		w.errs.Add(1)
		w.repair()
		return err
	}
	w.good = w.size
	return nil
}

// repair truncates the file back to its last durable record and reopens it,
// or abandons it for a new file when that fails. Bytes written but not
// fsynced are never trusted: the whole batch is written again.
func (w *Writer) repair() {
	if w.file == nil {
		return
	}
	_ = w.file.Close()
	w.file = nil
	if err := os.Truncate(w.name, w.good); err != nil {
		w.log.Error("ledger: cannot truncate the failed write away; continuing in a new file", "file", w.name, "err", err)
		w.abandon = true
		return
	}
	f, err := os.OpenFile(w.name, os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		w.abandon = true
		return
	}
	w.file, w.size = f, w.good
}

// openNext opens a new file and, once it exists, closes the current one.
// On failure the current file stays in use.
func (w *Writer) openNext() error {
	var f *os.File
	var name string
	for {
		w.seq++
		name = filepath.Join(w.opts.Dir, fmt.Sprintf("usage-%s-%d-%04d.jsonl",
			w.opts.Now().UTC().Format("20060102T150405Z"), os.Getpid(), w.seq))
		var err error
		f, err = os.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o640)
		if errors.Is(err, os.ErrExist) {
			continue // another writer of this process, this second
		}
		if err != nil {
			return fmt.Errorf("ledger: open %s: %w", name, err)
		}
		break
	}
	if d, err := os.Open(w.opts.Dir); err == nil {
		_ = d.Sync() // make the new file's directory entry durable
		_ = d.Close()
	}
	if w.file != nil {
		_ = w.file.Close() // its records are fsynced
	}
	w.file, w.name, w.size, w.good, w.abandon = f, name, 0, 0, false
	return nil
}
