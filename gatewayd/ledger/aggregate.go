package ledger

import (
	"crypto/sha256"
	"encoding/hex"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"tollgate/schema"
)

// Aggregator folds the records of traffic nobody is billed for (requests
// whose client was not identified: 401s, 404s, CORS preflights, 405s, sheds)
// into one record per client address, decision, status and route per
// second, with Count the number of requests. A second's new groups may add
// at most bytesPerSecond to the ledger; past that budget, further groups of
// the second fold into one overflow record per decision, status and route
// with no client. So an unidentified client, or many, cannot grow the
// ledger faster than the budget, and every request is still counted.
type Aggregator struct {
	w      *Writer
	budget int64

	mu     sync.Mutex
	sec    int64
	left   int64
	groups map[aggKey]*schema.LedgerRecord
	order  []aggKey
	closed bool
	folded atomic.Int64
}

type aggKey struct {
	client, decision, route string
	status                  int
	overflow                bool
}

func newAggregator(w *Writer, bytesPerSecond int64) *Aggregator {
	return &Aggregator{w: w, budget: bytesPerSecond, groups: map[aggKey]*schema.LedgerRecord{}}
}

// add folds r (an unidentified client's record) into its group.
func (a *Aggregator) add(r *schema.LedgerRecord, client string) error {
	sec := r.End.Unix()
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		a.w.drop(r, ErrClosed)
		return ErrClosed
	}
	var out []*schema.LedgerRecord
	if sec > a.sec {
		out = a.takeLocked()
		a.sec, a.left = sec, a.budget
	}
	k := aggKey{client: client, decision: r.Decision, route: r.Route, status: r.Status}
	g := a.groups[k]
	if g == nil {
		size := int64(len(appendRecord(nil, r))) + 96 // + count and client hash
		if size > a.left {
			k = aggKey{decision: r.Decision, route: r.Route, status: r.Status, overflow: true}
			g = a.groups[k]
		} else {
			a.left -= size
		}
	}
	if g == nil {
		c := *r
		c.Count = 1
		if !k.overflow && client != "" {
			h := sha256.Sum256([]byte("ip:" + client))
			c.Client = hex.EncodeToString(h[:])
		}
		a.groups[k] = &c
		a.order = append(a.order, k)
	} else {
		g.Count++
		a.folded.Add(1)
		if r.Start.Before(g.Start) {
			g.Start = r.Start
		}
		if r.End.After(g.End) {
			g.End = r.End
		}
	}
	a.mu.Unlock()
	return a.emit(out)
}

func (a *Aggregator) takeLocked() []*schema.LedgerRecord {
	if len(a.order) == 0 {
		return nil
	}
	out := make([]*schema.LedgerRecord, 0, len(a.order))
	for _, k := range a.order {
		out = append(out, a.groups[k])
	}
	clear(a.groups)
	a.order = a.order[:0]
	sort.SliceStable(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	return out
}

func (a *Aggregator) emit(out []*schema.LedgerRecord) error {
	var first error
	for _, r := range out {
		if _, err := a.w.append(r); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// flushBefore emits the groups of seconds that have ended by now.
func (a *Aggregator) flushBefore(now time.Time) {
	a.mu.Lock()
	var out []*schema.LedgerRecord
	if now.Unix() > a.sec {
		out = a.takeLocked()
	}
	a.mu.Unlock()
	_ = a.emit(out)
}

// flushAll emits every group and takes no more (at Close).
func (a *Aggregator) flushAll() {
	a.mu.Lock()
	a.closed = true
	out := a.takeLocked()
	a.mu.Unlock()
	_ = a.emit(out)
}
