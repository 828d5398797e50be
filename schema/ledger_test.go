package schema

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func line(t testing.TB, r LedgerRecord) string {
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b) + "\n"
}

func rec(id string, sec int) LedgerRecord {
	at := time.Date(2026, 12, 1, 10, 0, sec, 0, time.UTC)
	return LedgerRecord{ID: id, Method: "GET", Path: "/v1/x", Status: 200, Decision: "allowed",
		CostCharged: 1, CostSettled: 1, Start: at, End: at.Add(time.Millisecond), DecidedUS: at.UnixMicro()}
}

func write(t testing.TB, name, s string) {
	if err := os.WriteFile(name, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestReadLedgerDirInOrderSkipsTornLastLine(t *testing.T) {
	dir := t.TempDir()
	agg := rec("c", 3)
	agg.Count, agg.Client, agg.Decision, agg.Status = 7, "ab", "unauthenticated", 401
	write(t, filepath.Join(dir, "usage-20261201T100000Z-1-0002.jsonl"), line(t, agg)+`{"id":"d","meth`)
	write(t, filepath.Join(dir, "usage-20261201T100000Z-1-0001.jsonl"), line(t, rec("a", 1))+"\n"+line(t, rec("b", 2)))
	write(t, filepath.Join(dir, "other.txt"), "not a ledger file")

	recs, st, err := ReadLedgerAll(dir)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range recs {
		ids = append(ids, r.ID)
	}
	if got := strings.Join(ids, ","); got != "a,b,c" {
		t.Errorf("ids %s, want a,b,c", got)
	}
	if !reflect.DeepEqual(recs[2], agg) {
		t.Errorf("aggregate read back as %+v, want %+v", recs[2], agg)
	}
	if st.Files != 2 || st.Records != 3 || st.Requests != 9 {
		t.Errorf("stats %+v, want 2 files, 3 records, 9 requests", st)
	}
	if len(st.Torn) != 1 || st.Torn[0].Line != 2 || st.Torn[0].Bytes != len(`{"id":"d","meth`) ||
		!strings.HasSuffix(st.Torn[0].File, "0002.jsonl") {
		t.Errorf("torn %+v, want line 2 of the second file", st.Torn)
	}
	if !st.First.Equal(rec("a", 1).Start) || !st.Last.Equal(agg.End) {
		t.Errorf("range %v..%v", st.First, st.Last)
	}
}

func TestReadLedgerDamageNamesFileAndLine(t *testing.T) {
	for name, body := range map[string]string{
		"garbage":    line(t, rec("a", 1)) + "{not json}\n" + line(t, rec("b", 2)),
		"split":      line(t, rec("a", 1)) + `{"id":"x","meth` + "\n" + line(t, rec("b", 2)),
		"no id":      line(t, rec("a", 1)) + `{"method":"GET"}` + "\n",
		"wrong type": line(t, rec("a", 1)) + `{"id":"x","status":"ok"}` + "\n",
	} {
		t.Run(name, func(t *testing.T) {
			f := filepath.Join(t.TempDir(), "usage-1.jsonl")
			write(t, f, body)
			n := 0
			_, err := ReadLedger(f, func(LedgerRecord) error { n++; return nil })
			if !errors.Is(err, ErrLedgerDamaged) || !strings.Contains(err.Error(), f+" line 2") {
				t.Fatalf("err %v, want damage at %s line 2", err, f)
			}
			if n != 1 {
				t.Errorf("%d records before the damage, want 1", n)
			}
		})
	}
}

func TestReadLedgerFileResumesAtOffset(t *testing.T) {
	f := filepath.Join(t.TempDir(), "usage-1.jsonl")
	write(t, f, line(t, rec("a", 1))+line(t, rec("b", 2))+`{"id":"c"`)
	var offs []int64
	end, torn, err := ReadLedgerFile(f, 0, func(r LedgerRecord, next int64) error {
		offs = append(offs, next)
		return nil
	})
	if err != nil || torn == nil || len(offs) != 2 || end != offs[1] {
		t.Fatalf("end %d torn %v offs %v err %v", end, torn, offs, err)
	}
	var ids []string
	end2, _, err := ReadLedgerFile(f, offs[0], func(r LedgerRecord, next int64) error {
		ids = append(ids, r.ID)
		return nil
	})
	if err != nil || end2 != end || fmt.Sprint(ids) != "[b]" {
		t.Fatalf("from %d: ids %v end %d err %v", offs[0], ids, end2, err)
	}
	// The writer completes the torn line: the reader picks it up from end.
	fh, err := os.OpenFile(f, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fh.WriteString(`,"method":"GET","path":"/","status":200,"decision":"allowed","cost_charged":0,"cost_settled":0,"start":"2026-12-01T10:00:00Z","end":"2026-12-01T10:00:00Z"}` + "\n")
	fh.Close()
	ids = nil
	if _, torn, err := ReadLedgerFile(f, end, func(r LedgerRecord, _ int64) error { ids = append(ids, r.ID); return nil }); err != nil || torn != nil || fmt.Sprint(ids) != "[c]" {
		t.Fatalf("after completion: ids %v torn %v err %v", ids, torn, err)
	}
}

func TestReadLedgerCallbackErrorStops(t *testing.T) {
	f := filepath.Join(t.TempDir(), "usage-1.jsonl")
	write(t, f, line(t, rec("a", 1))+line(t, rec("b", 2)))
	stop := errors.New("stop")
	if _, err := ReadLedger(f, func(LedgerRecord) error { return stop }); err != stop {
		t.Fatalf("err %v, want the callback's", err)
	}
	if _, err := ReadLedger(filepath.Join(t.TempDir(), "missing"), func(LedgerRecord) error { return nil }); err == nil {
		t.Fatal("a missing ledger path read without error")
	}
}

func FuzzReadLedgerFile(f *testing.F) {
	f.Add([]byte(line(f, rec("a", 1)) + `{"id":"b"`))
	f.Add([]byte("\n\n{}\n"))
	f.Add([]byte(`{"id":"x","count":3,"start":"bad"}` + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		name := filepath.Join(t.TempDir(), "usage-1.jsonl")
		write(t, name, string(data))
		var last int64
		end, torn, err := ReadLedgerFile(name, 0, func(r LedgerRecord, next int64) error {
			if r.ID == "" || next <= last || next > int64(len(data)) || data[next-1] != '\n' {
				t.Fatalf("record %+v ends at %d (previous %d) in %d bytes", r, next, last, len(data))
			}
			last = next
			return nil
		})
		if err == nil && torn == nil && end != int64(len(data)) {
			t.Fatalf("clean read ended at %d of %d", end, len(data))
		}
		if torn != nil && end+int64(torn.Bytes) != int64(len(data)) {
			t.Fatalf("torn %+v after %d of %d", torn, end, len(data))
		}
	})
}
