package schema

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestLedgerOrderYieldsDecisionOrder: records written in answer order come
// out in decision order when the window covers every request's duration, and
// a record that took longer than the window is yielded late and counted.
func TestLedgerOrderYieldsDecisionOrder(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	// (decided, took): written sorted by decided+took, as gatewayd answers.
	reqs := []struct {
		id        string
		dec, took time.Duration
	}{
		{"a", 0, 50 * time.Millisecond},
		{"b", 10 * time.Millisecond, 5 * time.Millisecond},
		{"c", 20 * time.Millisecond, 100 * time.Millisecond},
		{"d", 30 * time.Millisecond, 1 * time.Millisecond},
		{"e", 200 * time.Millisecond, 1 * time.Millisecond},
		{"g", 2500 * time.Millisecond, 1 * time.Millisecond},
		{"f", 1 * time.Millisecond, 3 * time.Second}, // slower than the window
	}
	var recs []LedgerRecord
	for _, q := range reqs {
		d := t0.Add(q.dec)
		recs = append(recs, LedgerRecord{ID: q.id, Method: "GET", Path: "/", Status: 200, Decision: "allowed",
			Start: d, End: d.Add(q.took), DecidedUS: d.UnixMicro()})
	}
	// answer order
	for i := range recs {
		for j := i + 1; j < len(recs); j++ {
			if recs[j].End.Before(recs[i].End) {
				recs[i], recs[j] = recs[j], recs[i]
			}
		}
	}
	p := filepath.Join(t.TempDir(), "usage-1.jsonl")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	enc := json.NewEncoder(f)
	for i := range recs {
		if err := enc.Encode(&recs[i]); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()
	sc, err := NewLedgerScanner(p)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	o := NewLedgerOrder(sc, time.Second, func(r *LedgerRecord) (int64, string, bool) { return r.DecidedUS, r.ID, true })
	var got string
	for o.Next() {
		id, _ := o.Value()
		got += id
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	// g's answer releases a-e; f, decided at 1 ms but answered after 3 s,
	// comes after them, late; g last.
	if got != "abcdefg" || o.Late != 1 {
		t.Fatalf("order %q late %d, want abcdefg with f late (1)", got, o.Late)
	}
	if st := sc.Stats(); st.Records != 7 || st.Files != 1 {
		t.Fatalf("stats %+v", st)
	}
}
