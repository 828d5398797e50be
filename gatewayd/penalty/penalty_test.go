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
