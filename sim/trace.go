package sim

import (
	"fmt"
	"strings"
	"time"

	"tollgate/schema"
	"tollgate/sim/kernel"
)

// traceSource streams a gatewayd ledger (a file or a directory of rotated
// files, read through package schema, the ledger's one definition) in
// arrival order: one reorder window of records in memory at a time.
type traceSource struct {
	path  string
	sc    *schema.LedgerScanner
	ord   *schema.LedgerOrder
	first int64 // arrival of the first record, Unix µs
	keys  map[string]int32
	// route lookup by "METHOD name"
	routes map[string]int
	// skipped counts records that are no request of an identified client
	// (401s, aggregates, no tier): nothing for a limiter to decide.
	skipped int64
}

func openTrace(path string, window time.Duration) (*traceSource, error) {
	sc, err := schema.NewLedgerScanner(path)
	if err != nil {
		return nil, fmt.Errorf("traffic.trace: %w", err)
	}
	ts := &traceSource{path: path, sc: sc, keys: map[string]int32{}}
	ts.ord = schema.NewLedgerOrder(sc, window, arrivalUS)
	return ts, nil
}

// arrivalUS is when a recorded request arrived at the gateway.
func arrivalUS(r *schema.LedgerRecord) int64 { return r.Start.UnixMicro() }

// traceNext reads the next record and schedules it; at the end of the
// ledger it closes the trace.
func (m *model) traceNext() error {
	ts := m.trace
	if ts.routes == nil {
		ts.routes = map[string]int{}
		for i, r := range m.routes {
			ts.routes[strings.ToUpper(r.cfg.Method)+" "+r.cfg.Name] = i
			if _, ok := ts.routes[r.cfg.Name]; !ok {
				ts.routes[r.cfg.Name] = i
			}
		}
	}
	for ts.ord.Next() {
		r := ts.ord.Record()
		if r.KeyHash == "" || r.Tier == "" || r.Start.IsZero() || r.Requests() > 1 {
			ts.skipped++
			continue
		}
		file, line := ts.sc.Pos()
		if ts.first == 0 {
			ts.first = arrivalUS(&r)
		}
		at := (arrivalUS(&r) - ts.first) * 1000
		if at < m.k.Now() {
			at = m.k.Now() // read after its window: replayed late, in file order
		}
		if at >= m.end {
			break
		}
		ti := -1
		for i, t := range m.tiers {
			if t.name == r.Tier {
				ti = i
			}
		}
		if ti < 0 {
			return fmt.Errorf("%s:%d: tier: %q is not a tier of the scenario", file, line, r.Tier)
		}
		ri, ok := ts.routes[strings.ToUpper(r.Method)+" "+r.Route]
		if !ok {
			ri, ok = ts.routes[r.Route]
		}
		if !ok {
			ri = 0
		}
		key, ok := ts.keys[r.KeyHash]
		if !ok {
			key = int32(len(m.keyTier))
			ts.keys[r.KeyHash] = key
			m.keyTier = append(m.keyTier, int16(ti))
			m.keyGroup = append(m.keyGroup, -1)
			m.growKeys(len(m.keyTier))
		}
		m.k.Schedule(at, evTrace, key, int64(ri))
		return nil
	}
	if err := ts.sc.Err(); err != nil {
		return fmt.Errorf("traffic.trace: %w", err)
	}
	ts.sc.Close()
	m.trace = nil
	return nil
}

func (m *model) onTrace(ev kernel.Event) {
	// the next record first, so records at the same instant keep file order
	if m.trace != nil {
		if err := m.traceNext(); err != nil {
			m.err = err
			m.k.Stop()
		}
	}
	m.request(ev.At, ev.Obj, int(ev.Arg), 0)
}

// growKeys makes every per-key table hold keys ids below n.
func (m *model) growKeys(n int) {
	if m.store != nil {
		m.store.grow(n)
	}
	if m.mtable != nil {
		m.mtable.grow(n)
	}
	for _, nd := range m.nodes {
		if nd.local != nil {
			nd.local.grow(n)
		}
	}
}
