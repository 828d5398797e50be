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
// Memory holds the records of one Window.
type LedgerOrder struct {
	sc     *LedgerScanner
	at     func(*LedgerRecord) int64
	window int64
	held   recHeap
	maxEnd int64
	last   int64
	seq    int64
	done   bool
	cur    LedgerRecord

	// Late counts records yielded after a record with a later instant.
	Late int64
}

// NewLedgerOrder orders sc's records by at (microseconds) with the given
// window.
func NewLedgerOrder(sc *LedgerScanner, window time.Duration, at func(*LedgerRecord) int64) *LedgerOrder {
	return &LedgerOrder{sc: sc, at: at, window: window.Microseconds(), last: -1 << 62}
}

type heldRec struct {
	at, seq int64
	r       LedgerRecord
}

type recHeap []heldRec

func (h recHeap) Len() int { return len(h) }
func (h recHeap) Less(i, j int) bool {
	if h[i].at != h[j].at {
		return h[i].at < h[j].at
	}
	return h[i].seq < h[j].seq
}
func (h recHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *recHeap) Push(x any)   { *h = append(*h, x.(heldRec)) }
func (h *recHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// Next advances to the next record in order; false at the end or on a
// scanner error (the scanner's Err).
func (o *LedgerOrder) Next() bool {
	for {
		if len(o.held) > 0 && (o.done || o.held[0].at <= o.maxEnd-o.window) {
			h := heap.Pop(&o.held).(heldRec)
			o.cur, o.last = h.r, h.at
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
		at := o.at(&r)
		if e := r.End.UnixMicro(); !r.End.IsZero() && e > o.maxEnd {
			o.maxEnd = e
		}
		if at < o.last {
			o.Late++
			o.cur = r
			return true
		}
		o.seq++
		heap.Push(&o.held, heldRec{at: at, seq: o.seq, r: r})
	}
}

// Record returns the record Next yielded.
func (o *LedgerOrder) Record() LedgerRecord { return o.cur }
