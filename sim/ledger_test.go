package sim

import (
	"strings"
	"testing"
)

func TestParseLedgerLine(t *testing.T) {
	r, err := ParseLedgerLine([]byte(`{"id":"1","key_hash":"ab","tier":"pro","route":"/x","method":"GET","cost":2.5,"decision":"allowed","ts":"2026-03-01T10:00:00.123456789Z","node":"gw-1","latency_ms":3}`))
	if err != nil {
		t.Fatal(err)
	}
	if r.KeyHash != "ab" || r.Cost != 2.5 || r.TS.Nanosecond() != 123456789 {
		t.Errorf("record %+v", r)
	}
	_, err = ParseLedgerLine([]byte(`{"tier":"","cost":-1}`))
	for _, want := range []string{"key_hash", "tier", "ts", "cost"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
}

func FuzzLedger(f *testing.F) {
	f.Add([]byte(`{"id":"1","key_hash":"ab","tier":"pro","route":"/x","method":"GET","cost":1,"decision":"allowed","ts":"2026-03-01T10:00:00Z"}`))
	f.Add([]byte(`{"cost":1e309}`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, line []byte) {
		r, err := ParseLedgerLine(line)
		if err != nil {
			return
		}
		if r.KeyHash == "" || r.Tier == "" || r.TS.IsZero() || r.Cost < 0 {
			t.Fatalf("accepted an invalid record %+v", r)
		}
	})
}
