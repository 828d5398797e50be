// Package ledger is gatewayd's usage ledger: one JSON line per request the
// gateway answered, admitted or refused, for billing and audit.
//
// Records are queued by Append and written by one goroutine in batches; each
// batch is written and fsynced before the next is taken, files rotate at a
// size limit, and an optional Sink (a Redis Stream) receives every batch after
// the file has it. The files are the source of truth: a sink failure is
// logged and counted, never lost from the file. Close drains the queue,
// flushes and fsyncs; a record appended after Close is counted as dropped.
//
//	w, err := ledger.Open(ledger.Options{Dir: "ledger", BatchSize: 512, FlushInterval: 200 * time.Millisecond}, nil, log)
//	w.Append(schema.LedgerRecord{ID: id, Decision: "allowed", ...})
//	defer w.Close()
package ledger

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"tollgate/schema"
)

// Sink receives each flushed batch as JSON lines (without newlines).
type Sink interface {
	Send(lines [][]byte) error
	Close() error
}

// Options configure a Writer.
type Options struct {
	// Dir holds the files; created if missing.
	Dir string
	// MaxFileBytes rotates the current file once it reaches this size.
	MaxFileBytes int64
	// BatchSize flushes after this many records.
	BatchSize int
	// FlushInterval flushes at least this often.
	FlushInterval time.Duration
	// QueueSize is the Append queue's capacity; Append blocks when it is full
	// (backpressure rather than loss). Default 16384.
	QueueSize int
}

// Writer appends records. It is safe for concurrent use.
type Writer struct {
	opts Options
	sink Sink
	log  *slog.Logger

	mu     sync.RWMutex // guards closed against Append
	closed bool
	queue  chan schema.LedgerRecord
	done   chan struct{}

	file    *os.File
	size    int64
	seq     int
	pending []byte // encoded, not yet durable
	lines   [][]byte
	count   int // records in pending

	written atomic.Int64
	// pendingBytes and oldest describe the records encoded but not yet
	// durable: their bytes, and the answer time (unix ns) of the oldest, 0
	// when none.
	pendingBytes atomic.Int64
	oldest       atomic.Int64
	dropped      atomic.Int64
	errs         atomic.Int64
	sinkErrs     atomic.Int64
	closeOnce    sync.Once
	closeErr     error
}

// Open creates the directory, opens a new file and starts the writer.
func Open(opts Options, sink Sink, log *slog.Logger) (*Writer, error) {
	if opts.Dir == "" {
		return nil, errors.New("ledger: dir: must not be empty")
	}
	if opts.BatchSize < 1 {
		opts.BatchSize = 1
	}
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = 200 * time.Millisecond
	}
	if opts.MaxFileBytes <= 0 {
		opts.MaxFileBytes = 64 << 20
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = 16384
	}
	if err := os.MkdirAll(opts.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("ledger: dir %q: %w", opts.Dir, err)
	}
	w := &Writer{opts: opts, sink: sink, log: log, queue: make(chan schema.LedgerRecord, opts.QueueSize), done: make(chan struct{})}
	if err := w.rotate(); err != nil {
		return nil, err
	}
	go w.run()
	return w, nil
}

// Append queues a record. It blocks while the queue is full; after Close it
// drops the record and counts it.
func (w *Writer) Append(r schema.LedgerRecord) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.closed {
		w.dropped.Add(1)
		w.log.Error("ledger: record appended after close, dropped", "id", r.ID)
		return
	}
	w.queue <- r
}

// Written returns how many records are durable in files.
func (w *Writer) Written() int64 { return w.written.Load() }

// Dropped returns how many records were appended after Close.
func (w *Writer) Dropped() int64 { return w.dropped.Load() }

// Errors returns how many file writes or fsyncs failed (they are retried).
func (w *Writer) Errors() int64 { return w.errs.Load() }

// SinkErrors returns how many batches the sink failed to take.
func (w *Writer) SinkErrors() int64 { return w.sinkErrs.Load() }

// Failures returns how many file writes, fsyncs or sink batches failed.
func (w *Writer) Failures() int64 { return w.errs.Load() + w.sinkErrs.Load() }

// PendingBytes returns the bytes of records encoded but not yet durable.
func (w *Writer) PendingBytes() int64 { return w.pendingBytes.Load() }

// Lag returns how long the oldest record not yet durable has waited since
// its request was answered (0 when every record is durable).
func (w *Writer) Lag(now time.Time) time.Duration {
	o := w.oldest.Load()
	if o == 0 {
		return 0
	}
	return max(0, now.Sub(time.Unix(0, o)))
}

// Close stops accepting records, writes and fsyncs everything queued, closes
// the file and the sink. It returns the last write error, if any.
func (w *Writer) Close() error {
	w.closeOnce.Do(func() {
		w.mu.Lock()
		w.closed = true
		close(w.queue)
		w.mu.Unlock()
		<-w.done
		if err := w.flush(); err != nil {
			w.closeErr = err
		}
		if err := w.file.Close(); err != nil && w.closeErr == nil {
			w.closeErr = fmt.Errorf("ledger: close %s: %w", w.file.Name(), err)
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
		case r, ok := <-w.queue:
			if !ok {
				return
			}
			w.encode(r)
			if w.count >= w.opts.BatchSize {
				_ = w.flush()
			}
		case <-t.C:
			_ = w.flush()
		}
	}
}

func (w *Writer) encode(r schema.LedgerRecord) {
	start := len(w.pending)
	w.pending = appendRecord(w.pending, &r)
	if w.sink != nil {
		w.lines = append(w.lines, slices.Clone(w.pending[start:]))
	}
	w.pending = append(w.pending, '\n')
	w.count++
	w.pendingBytes.Store(int64(len(w.pending)))
	if w.oldest.Load() == 0 {
		t := r.End
		if t.IsZero() {
			t = time.Now()
		}
		w.oldest.Store(t.UnixNano())
	}
}

// flush writes and fsyncs pending records, then hands them to the sink. On
// a write failure the records stay pending and are retried next flush.
func (w *Writer) flush() error {
	if w.count == 0 {
		return nil
	}
	if w.size > 0 && w.size+int64(len(w.pending)) > w.opts.MaxFileBytes {
		if err := w.rotate(); err != nil {
			w.errs.Add(1)
			w.log.Error("ledger: rotate", "err", err)
		}
	}
	n, err := w.file.Write(w.pending)
	w.size += int64(n)
	if err == nil {
		err = w.file.Sync()
	}
	if err != nil {
		w.errs.Add(1)
		w.log.Error("ledger: write; records kept for retry", "file", w.file.Name(), "records", w.count, "err", err)
		w.pending = w.pending[n:]
		w.pendingBytes.Store(int64(len(w.pending)))
		return fmt.Errorf("ledger: write %s: %w", w.file.Name(), err)
	}
	w.written.Add(int64(w.count))
	if w.sink != nil && len(w.lines) > 0 {
		if err := w.sink.Send(w.lines); err != nil {
			w.sinkErrs.Add(1)
			w.log.Warn("ledger: sink failed; the file has the records", "records", len(w.lines), "err", err)
		}
	}
	w.pending = w.pending[:0]
	w.lines = w.lines[:0]
	w.count = 0
	w.pendingBytes.Store(0)
	w.oldest.Store(0)
	return nil
}

// rotate closes the current file (fsynced) and opens the next one.
func (w *Writer) rotate() error {
	if w.file != nil {
		if err := w.file.Sync(); err != nil {
			return fmt.Errorf("ledger: sync %s: %w", w.file.Name(), err)
		}
		if err := w.file.Close(); err != nil {
			return fmt.Errorf("ledger: close %s: %w", w.file.Name(), err)
		}
	}
	w.seq++
	name := filepath.Join(w.opts.Dir, fmt.Sprintf("usage-%s-%d-%04d.jsonl",
		time.Now().UTC().Format("20060102T150405Z"), os.Getpid(), w.seq))
	f, err := os.OpenFile(name, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("ledger: open %s: %w", name, err)
	}
	if d, err := os.Open(w.opts.Dir); err == nil {
		_ = d.Sync() // make the new file's directory entry durable
		_ = d.Close()
	}
	w.file, w.size = f, 0
	return nil
}
