package schema

import (
	"container/heap"
	"time"
)

// LedgerOrder yields a ledger's records in the order of an instant of each
// (when the request arrived, when the limiter decided), from a scanner that
// reads them in the order gatewayd wrote them: when each request was
// answered. A record is held until the latest end seen is Window past its
// instant, so every record that could still come earlier has been read;
// Window must bound how long a request takes from that instant to its
// answer (the longest route timeout plus the time to write the response).
// A record read after one with a later instant was already yielded is
// yielded at once and counted in Late: a replay still sees it, out of order.
//
// The caller keeps what it needs of each record as a T (a few integers where
// a LedgerRecord holds a dozen strings), so memory holds one Window of Ts.
type LedgerOrder[T any] struct {
	sc     *LedgerScanner
	keep   func(*LedgerRecord) (at int64, v T, ok bool)
	window int64
	held   heldHeap[T]
	maxEnd int64
	last   int64
	seq    int64
	done   bool
	cur    T
	curAt  int64

	// Late counts records yielded after a record with a later instant.
	Late int64
}

// NewLedgerOrder orders sc's records with the given window. keep turns each
// record into the T to hold and its instant in microseconds, or drops it
// (ok false: nothing to order, its end still counts).
func NewLedgerOrder[T any](sc *LedgerScanner, window time.Duration, keep func(*LedgerRecord) (at int64, v T, ok bool)) *LedgerOrder[T] {
	return &LedgerOrder[T]{sc: sc, keep: keep, window: window.Microseconds(), last: -1 << 62}
}

type held[T any] struct {
	at, seq int64
	v       T
}

type heldHeap[T any] []held[T]

func (h heldHeap[T]) Len() int { return len(h) }
func (h heldHeap[T]) Less(i, j int) bool {
	if h[i].at != h[j].at {
		return h[i].at < h[j].at
	}
	return h[i].seq < h[j].seq
}
func (h heldHeap[T]) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *heldHeap[T]) Push(x any)   { *h = append(*h, x.(held[T])) }
func (h *heldHeap[T]) Pop() any {
	old := *h
	x := old[len(old)-1]
	var zero held[T]
	old[len(old)-1] = zero
	*h = old[:len(old)-1]
	return x
}

// Next advances to the next record in order; false at the end or on a
// scanner error (the scanner's Err).
func (o *LedgerOrder[T]) Next() bool {
	for {
		if len(o.held) > 0 && (o.done || o.held[0].at <= o.maxEnd-o.window) {
			h := heap.Pop(&o.held).(held[T])
			o.cur, o.curAt, o.last = h.v, h.at, h.at
			return true
		}
		if o.done {
			return false
		}
		if !o.sc.Scan() {
			o.done = true
			continue
		}
		r := o.sc.Record()
		if e := r.End.UnixMicro(); !r.End.IsZero() && e > o.maxEnd {
			o.maxEnd = e
		}
		at, v, ok := o.keep(&r)
		if !ok {
			continue
		}
		if at < o.last {
			o.Late++
			o.cur, o.curAt = v, at
			return true
		}
		o.seq++
		heap.Push(&o.held, held[T]{at: at, seq: o.seq, v: v})
	}
}

// Value returns what keep made of the record Next yielded, and its instant.
func (o *LedgerOrder[T]) Value() (T, int64) { return o.cur, o.curAt }

// Held is how many records are held for ordering now.
func (o *LedgerOrder[T]) Held() int { return len(o.held) }
