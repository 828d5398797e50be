package gateway

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"tollgate/engine"
	"tollgate/engine/memstore"
)

// slowStore delays every call, so concurrent calls pile up behind one in
// flight and the batcher must batch them; it counts the calls it gets.
type slowStore struct {
	inner          *memstore.Store
	applies, batch atomic.Int64
	batched        atomic.Int64
}

func (s *slowStore) Apply(ctx context.Context, op engine.Op) (engine.Result, error) {
	s.applies.Add(1)
	time.Sleep(2 * time.Millisecond)
	return s.inner.Apply(ctx, op)
}

func (s *slowStore) ApplyBatch(ctx context.Context, ops []engine.Op) ([]engine.Result, error) {
	s.batch.Add(1)
	s.batched.Add(int64(len(ops)))
	time.Sleep(2 * time.Millisecond)
	return s.inner.ApplyBatch(ctx, ops)
}

func testPlan(t *testing.T, capacity float64) *engine.Plan {
	t.Helper()
	p, err := engine.Compile(engine.Limit{Name: "b", Algorithm: engine.TokenBucket, Capacity: capacity, Rate: 1, Period: 100 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return engine.NewPlan(p)
}

func TestBatcherAdmitsExactlyTheCapacityUnderConcurrency(t *testing.T) {
	const capacity, callers = 50, 400
	st := &slowStore{inner: memstore.New(memstore.Options{})}
	b := newBatcher(st, time.Second)
	plan := testPlan(t, capacity)
	now := engine.Micros(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < callers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := b.Apply(context.Background(), engine.Op{Kind: engine.Acquire, Key: "k", Plan: plan, Cost: engine.Tokens(1), Now: now})
			if err != nil {
				t.Error(err)
				return
			}
			if res.Allowed {
				allowed.Add(1)
			}
		}()
	}
	wg.Wait()
	if allowed.Load() != capacity {
		t.Errorf("allowed %d of %d, want exactly the capacity %d", allowed.Load(), callers, capacity)
	}
	if got := st.applies.Load() + st.batched.Load(); got != callers {
		t.Errorf("store saw %d operations, want %d (each exactly once)", got, callers)
	}
	if st.batch.Load() == 0 {
		t.Error("no batch was sent: concurrent calls were not coalesced")
	}
	// Idle again: the next call goes straight to Apply.
	before := st.applies.Load()
	if _, err := b.Apply(context.Background(), engine.Op{Kind: engine.Acquire, Key: "k2", Plan: plan, Cost: engine.Tokens(1), Now: now}); err != nil {
		t.Fatal(err)
	}
	if st.applies.Load() != before+1 {
		t.Error("an idle batcher did not call Apply directly")
	}
}

func TestBatcherPassesInvalidOpsAndCanceledCallers(t *testing.T) {
	st := &slowStore{inner: memstore.New(memstore.Options{})}
	b := newBatcher(st, time.Second)
	if _, err := b.Apply(context.Background(), engine.Op{Kind: engine.Acquire, Key: "k"}); !errors.Is(err, engine.ErrInvalid) {
		t.Errorf("invalid op: err %v, want engine.ErrInvalid", err)
	}
	// Hold a round trip in flight, then queue a caller whose context is
	// already over: it returns its context's error and is never applied.
	plan := testPlan(t, 10)
	op := engine.Op{Kind: engine.Acquire, Key: "c", Plan: plan, Cost: engine.Tokens(1), Now: 1}
	started := make(chan struct{})
	go func() {
		close(started)
		_, _ = b.Apply(context.Background(), op)
	}()
	<-started
	for {
		b.mu.Lock()
		busy := b.busy
		b.mu.Unlock()
		if busy {
			break
		}
		time.Sleep(100 * time.Microsecond)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := b.Apply(ctx, op); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled caller: err %v, want context.Canceled", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		b.mu.Lock()
		busy := b.busy
		b.mu.Unlock()
		if !busy {
			break
		}
		time.Sleep(time.Millisecond)
	}
	res, err := st.inner.Apply(context.Background(), engine.Op{Kind: engine.Acquire, Key: "c", Plan: plan, Cost: engine.Tokens(1), Now: 1})
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Remaining / engine.MilliPerToken; got != 8 {
		t.Errorf("remaining after the held call and this one = %d, want 8 (the canceled caller was not applied)", got)
	}
}
