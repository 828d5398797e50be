package sim

import (
	"fmt"
	"strings"

	"tollgate/schema"
	"tollgate/sim/kernel"
)

// traceSource streams a gatewayd ledger (a file or a directory of rotated
// files, read through package schema, the ledger's one definition) in
// arrival order: one reorder window of compact records in memory at a time.
type traceSource struct {
	path  string
	sc    *schema.LedgerScanner
	ord   *schema.LedgerOrder[traceRec]
	first int64 // arrival of the first record, Unix µs
	keys  map[string]int32
	// route lookup by "METHOD name"
	routes map[string]int
	// skipped counts records that are no request of an identified client
	// (401s, aggregates, no tier): nothing for a limiter to decide.
	skipped int64
	err     error
}

// apiKeyPrefix starts gatewayd's limiter key of a client identified by an
// API key: "k:" and the key's SHA-256, the ledger's key_hash (gatewayd/auth
// Authenticate). The trace places its keys on cluster shards by that name;
// clients of other schemes (anonymous, JWT) use other prefixes the ledger
// does not record, so their shard is approximate.
const apiKeyPrefix = "k:"

// traceRec is what the trace keeps of a record while ordering it.
type traceRec struct {
	key   int32
	route int32
}

func openTrace(path string) (*traceSource, error) {
	sc, err := schema.NewLedgerScanner(path)
	if err != nil {
		return nil, fmt.Errorf("traffic.trace: %w", err)
	}
	return &traceSource{path: path, sc: sc, keys: map[string]int32{}}, nil
}

// keep turns a record into the trace's compact form, interning its key.
func (m *model) keepTrace(r *schema.LedgerRecord) (int64, traceRec, bool) {
	ts := m.trace
	if ts.err != nil || r.KeyHash == "" || r.Tier == "" || r.Start.IsZero() || r.Requests() > 1 {
		ts.skipped++
		return 0, traceRec{}, false
	}
	ti := -1
	for i, t := range m.tiers {
		if t.name == r.Tier {
			ti = i
		}
	}
	if ti < 0 {
		file, line := ts.sc.Pos()
		ts.err = fmt.Errorf("%s line %d: tier: %q is not a tier of the scenario", file, line, r.Tier)
		return 0, traceRec{}, false
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
		if m.keyShard != nil {
			// gatewayd keys an API-key client's state by "k:" and its key
			// hash (gatewayd/auth), the name its cluster store hashes
			m.keyShard[key] = uint8(m.shardOfName(apiKeyPrefix+r.KeyHash)) + 1
		}
	}
	return r.Start.UnixMicro(), traceRec{key: key, route: int32(ri)}, true
}

// traceNext schedules the next record in arrival order; at the end of the
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
		ts.ord = schema.NewLedgerOrder(ts.sc, m.cfg.Traffic.TraceWindow.D(), m.keepTrace)
	}
	next := ts.ord.Next()
	if ts.err != nil {
		return fmt.Errorf("traffic.trace: %w", ts.err)
	}
	if next {
		tr, arrival := ts.ord.Value()
		if ts.first == 0 {
			ts.first = arrival
		}
		at := (arrival - ts.first) * 1000
		if at < m.k.Now() {
			at = m.k.Now() // read after its window: replayed late, in file order
		}
		if at < m.end {
			m.k.Schedule(at, evTrace, tr.key, int64(tr.route))
			return nil
		}
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
	for m.keyShard != nil && len(m.keyShard) < n {
		m.keyShard = append(m.keyShard, 0)
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
