package penalty

import (
	"testing"
	"time"
)

func TestBox(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b := New(3, time.Minute, 30*time.Second)
	for i := 0; i < 3; i++ {
		if b.Limited("k", t0.Add(time.Duration(i)*time.Second)) {
			t.Fatalf("boxed after %d 429s", i+1)
		}
	}
	if !b.Limited("k", t0.Add(3*time.Second)) {
		t.Fatal("4th 429 within the minute did not box the key")
	}
	if left, ok := b.Boxed("k", t0.Add(13*time.Second)); !ok || left != 20*time.Second {
		t.Errorf("Boxed = %v %v, want 20s true", left, ok)
	}
	if _, ok := b.Boxed("other", t0); ok {
		t.Error("other key boxed")
	}
	if _, ok := b.Boxed("k", t0.Add(33*time.Second)); ok {
		t.Error("still boxed after the cool-down")
	}
	// 429s spread over more than a window never box.
	c := New(2, time.Minute, time.Minute)
	for i := 0; i < 10; i++ {
		if c.Limited("k", t0.Add(time.Duration(i)*31*time.Second)) {
			t.Fatalf("boxed at %d with 429s 31 s apart", i)
		}
	}
	if New(0, time.Minute, time.Minute).Limited("k", t0) {
		t.Error("disabled box boxed")
	}
}

// TestPut boxes a key on another node's word, keeps the longer of two boxes,
// and works when this node's own threshold is 0.
func TestPut(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	b := New(0, time.Minute, time.Minute)
	if _, boxed := b.Boxed("k", now); boxed {
		t.Fatal("boxed before any Put")
	}
	b.Put("k", now, 30*time.Second)
	if left, boxed := b.Boxed("k", now.Add(10*time.Second)); !boxed || left != 20*time.Second {
		t.Fatalf("after Put: %v %v", left, boxed)
	}
	b.Put("k", now.Add(10*time.Second), 5*time.Second) // shorter: the longer box stays
	if left, _ := b.Boxed("k", now.Add(10*time.Second)); left != 20*time.Second {
		t.Fatalf("a shorter Put shortened the box to %v", left)
	}
	if _, boxed := b.Boxed("k", now.Add(31*time.Second)); boxed {
		t.Fatal("still boxed after the cool-down")
	}
	b.Put("other", now, 0) // nothing
	if _, boxed := b.Boxed("other", now); boxed {
		t.Fatal("a zero Put boxed")
	}
}
