package ledger

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"tollgate/schema"
)

// RequireMountEnv turns a refused tmpfs mount from a skip into a failure
// (CI runs as root and sets it).
const RequireMountEnv = "TOLLGATE_REQUIRE_MOUNT"

// tmpfs mounts a small tmpfs on a new temporary directory, unmounted at the
// end of the test.
func tmpfs(t *testing.T, opts string) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, opts); err != nil {
		if os.Getenv(RequireMountEnv) == "1" {
			t.Fatalf("mount tmpfs on %s: %v (%s=1 requires it)", dir, err, RequireMountEnv)
		}
		t.Skipf("mount tmpfs refused (%v): the disk-full tests need root; set %s=1 to fail instead", err, RequireMountEnv)
	}
	t.Cleanup(func() { _ = syscall.Unmount(dir, syscall.MNT_DETACH) })
	return dir
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func record(i int) schema.LedgerRecord {
	at := time.Date(2026, 12, 2, 17, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Millisecond)
	return schema.LedgerRecord{ID: fmt.Sprintf("id-%06d", i), KeyHash: "k", Tier: "pro", Route: "v1", Method: "GET",
		Path: "/v1/some/resource", Status: 200, Decision: "allowed", CostCharged: 1, CostSettled: 1, Start: at, End: at}
}

// fill takes all the space left on the filesystem of dir.
func fill(t *testing.T, dir string) string {
	name := filepath.Join(dir, "filler")
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	for {
		if _, err := f.Write(buf); err != nil {
			break
		}
	}
	f.Close()
	return name
}

func TestDiskFullRefusesBoundsAndRecovers(t *testing.T) {
	mnt := tmpfs(t, "size=512k")
	dir := filepath.Join(mnt, "ledger")
	const bound = 64 << 10
	w, err := Open(Options{Dir: dir, MaxFileBytes: 32 << 10, Durability: Sync, SyncWait: 50 * time.Millisecond,
		MaxPendingBytes: bound, FailAfter: 100 * time.Millisecond, OnFailure: Refuse}, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	accepted := map[string]bool{}
	commit := func(i int) error {
		r := record(i)
		var err error
		if i%20 == 0 {
			err = w.Commit(&r, "") // waits sync_wait while failing
		} else {
			err = w.Append(r)
		}
		if err == nil || errors.Is(err, ErrSyncTimeout) {
			accepted[r.ID] = true
		}
		if p := w.PendingBytes(); p > bound {
			t.Fatalf("pending %d bytes, over the %d bound", p, bound)
		}
		return err
	}
	i := 0
	for ; i < 100; i++ {
		if err := commit(i); err != nil {
			t.Fatalf("healthy disk: %v", err)
		}
	}
	filler := fill(t, mnt)
	// Writes fail: records stay pending (bounded), the ledger trips and refuses.
	sawTimeout, sawFull := false, false
	for ; !sawFull; i++ {
		switch err := commit(i); {
		case errors.Is(err, ErrSyncTimeout):
			sawTimeout = true
		case errors.Is(err, ErrFull):
			sawFull = true
		case err != nil:
			t.Fatal(err)
		}
	}
	if !sawTimeout || !w.Failing() || w.Errors() == 0 {
		t.Fatalf("timeout %v failing %v errors %d", sawTimeout, w.Failing(), w.Errors())
	}
	waitFor(t, "tripped", w.Tripped)
	if w.Accepting() {
		t.Fatal("a tripped ledger with on_failure refuse still accepts")
	}
	if w.Dropped() != 1 {
		t.Errorf("dropped %d, want the 1 record refused at the bound", w.Dropped())
	}
	// Space returns: the pending batch is written, the ledger accepts again.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "recovery", func() bool { return !w.Failing() && w.PendingBytes() == 0 && w.Accepting() })
	for j := 0; j < 50; j++ {
		if err := commit(i + j); err != nil {
			t.Fatalf("after recovery: %v", err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	st, err := schema.ReadLedger(dir, func(r schema.LedgerRecord) error { seen[r.ID]++; return nil })
	if err != nil {
		t.Fatalf("ledger damaged after recovery: %v", err)
	}
	if len(st.Torn) != 0 {
		t.Errorf("torn lines after recovery: %+v", st.Torn)
	}
	for id := range accepted {
		if seen[id] != 1 {
			t.Errorf("%s written %d times", id, seen[id])
		}
	}
	if len(seen) != len(accepted) {
		t.Errorf("ledger holds %d ids, %d accepted", len(seen), len(accepted))
	}
}

func TestRotationOutOfInodesKeepsWriting(t *testing.T) {
	mnt := tmpfs(t, "size=4m,nr_inodes=6")
	dir := filepath.Join(mnt, "ledger")
	w, err := Open(Options{Dir: dir, MaxFileBytes: 4096, Durability: Sync}, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 400; i++ {
		r := record(i)
		if err := w.Commit(&r, ""); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
	if w.Errors() == 0 {
		t.Fatal("rotation never failed: the inode limit did not bite")
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	recs, st, err := schema.ReadLedgerAll(dir)
	if err != nil || len(recs) != 400 || len(st.Torn) != 0 {
		t.Fatalf("%d records, torn %v, err %v; want 400 clean", len(recs), st.Torn, err)
	}
}

func TestAppendRefusedAfterCloseCounted(t *testing.T) {
	w, err := Open(Options{Dir: t.TempDir()}, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r := record(1)
	if err := w.Commit(&r, ""); !errors.Is(err, ErrClosed) || w.Dropped() != 1 {
		t.Fatalf("after close: %v, dropped %d", err, w.Dropped())
	}
}

func TestDiskFullAdmitCountsWhatItDrops(t *testing.T) {
	mnt := tmpfs(t, "size=256k")
	dir := filepath.Join(mnt, "ledger")
	const bound = 64 << 10
	w, err := Open(Options{Dir: dir, Durability: Sync, SyncWait: 20 * time.Millisecond, MaxPendingBytes: bound,
		FailAfter: 50 * time.Millisecond, OnFailure: Admit}, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	filler := fill(t, mnt)
	full := 0
	for i := 0; full < 10; i++ {
		r := record(i)
		if err := w.Append(r); errors.Is(err, ErrFull) {
			full++
		} else if err != nil {
			t.Fatal(err)
		}
		if w.PendingBytes() > bound {
			t.Fatalf("pending %d over the bound %d", w.PendingBytes(), bound)
		}
	}
	waitFor(t, "tripped", w.Tripped)
	if !w.Accepting() {
		t.Error("on_failure admit must keep accepting while tripped")
	}
	if w.Dropped() != 10 {
		t.Errorf("dropped %d, want the 10 refused at the bound", w.Dropped())
	}
	os.Remove(filler)
	waitFor(t, "recovery", func() bool { return w.PendingBytes() == 0 && !w.Tripped() })
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, st, err := schema.ReadLedgerAll(dir); err != nil || len(st.Torn) != 0 || st.Records != w.Written() {
		t.Fatalf("after recovery: %+v %v (written %d)", st, err, w.Written())
	}
}

func TestCloseOnAFailingDiskReportsWhatItGaveUp(t *testing.T) {
	mnt := tmpfs(t, "size=128k")
	dir := filepath.Join(mnt, "ledger")
	w, err := Open(Options{Dir: dir, Durability: Batch, CloseTimeout: 200 * time.Millisecond}, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	fill(t, mnt)
	for i := 0; i < 50; i++ {
		_ = w.Append(record(i))
	}
	err = w.Close()
	if err == nil || !strings.Contains(err.Error(), "50 records not durable") || w.Dropped() != 50 {
		t.Fatalf("close on a full disk: %v, dropped %d; want 50 given up and said so", err, w.Dropped())
	}
}
