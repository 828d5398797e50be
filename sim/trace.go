package sim

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"tollgate/engine"
	"tollgate/sim/kernel"
)

// LedgerRecord is one line of a gatewayd usage ledger (JSONL) as the trace
// source reads it. Unknown fields are ignored, so newer ledgers still replay.
type LedgerRecord struct {
	ID       string  `json:"id"`
	KeyHash  string  `json:"key_hash"`
	Tier     string  `json:"tier"`
	Route    string  `json:"route"`
	Method   string  `json:"method"`
	Cost     float64 `json:"cost"`
	Decision string  `json:"decision"`
	// TS is the request time, RFC 3339 with nanoseconds.
	TS time.Time `json:"ts"`
}

// ParseLedgerLine decodes and checks one ledger line.
func ParseLedgerLine(line []byte) (LedgerRecord, error) {
	var r LedgerRecord
	if err := json.Unmarshal(line, &r); err != nil {
		return r, fmt.Errorf("decode: %w", err)
	}
	var errs []error
	if r.KeyHash == "" {
		errs = append(errs, errors.New("key_hash: must not be empty"))
	}
	if r.Tier == "" {
		errs = append(errs, errors.New("tier: must not be empty"))
	}
	if r.TS.IsZero() {
		errs = append(errs, errors.New("ts: must be set (RFC 3339)"))
	}
	if _, err := engine.ParseCost(r.Cost); err != nil {
		errs = append(errs, fmt.Errorf("cost: %w", err))
	}
	return r, errors.Join(errs...)
}

// traceSource streams a ledger: one record in memory at a time.
type traceSource struct {
	path  string
	f     io.Closer
	sc    *bufio.Scanner
	line  int
	first time.Time
	keys  map[string]int32
	// route lookup by "METHOD name"
	routes map[string]int
}

func openTrace(path string) (*traceSource, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("traffic.trace: %w", err)
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	return &traceSource{path: path, f: f, sc: sc, keys: map[string]int32{}}, nil
}

// traceNext reads the next record and schedules it; at the end of the file
// it closes the trace.
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
	for ts.sc.Scan() {
		ts.line++
		b := ts.sc.Bytes()
		if len(strings.TrimSpace(string(b))) == 0 {
			continue
		}
		r, err := ParseLedgerLine(b)
		if err != nil {
			return fmt.Errorf("%s:%d: %w", ts.path, ts.line, err)
		}
		if ts.first.IsZero() {
			ts.first = r.TS
		}
		at := int64(r.TS.Sub(ts.first))
		if at < 0 {
			return fmt.Errorf("%s:%d: ts: records must be in time order, got %s before %s", ts.path, ts.line, r.TS.Format(time.RFC3339Nano), ts.first.Format(time.RFC3339Nano))
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
			return fmt.Errorf("%s:%d: tier: %q is not a tier of the scenario", ts.path, ts.line, r.Tier)
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
		return fmt.Errorf("%s:%d: %w", ts.path, ts.line, err)
	}
	ts.f.Close()
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
