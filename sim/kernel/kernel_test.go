package kernel

import (
	"math/rand/v2"
	"sort"
	"testing"
)

func TestOrderTimeThenSequence(t *testing.T) {
	var k Kernel
	r := rand.New(rand.NewPCG(1, 2))
	type item struct {
		at  Time
		seq int
	}
	var want []item
	for i := 0; i < 5000; i++ {
		at := Time(r.IntN(50))
		k.Schedule(at, 1, int32(i), 0)
		want = append(want, item{at, i})
	}
	sort.SliceStable(want, func(i, j int) bool { return want[i].at < want[j].at })
	i := 0
	k.Run(1<<62, func(ev Event) {
		if ev.At != want[i].at || int(ev.Obj) != want[i].seq {
			t.Fatalf("event %d: got (%d, %d), want (%d, %d)", i, ev.At, ev.Obj, want[i].at, want[i].seq)
		}
		if k.Now() != ev.At {
			t.Fatalf("clock %d, event at %d", k.Now(), ev.At)
		}
		i++
	})
	if i != len(want) {
		t.Fatalf("fired %d events, want %d", i, len(want))
	}
}

func TestScheduleFromCallbackAndUntil(t *testing.T) {
	var k Kernel
	k.Schedule(0, 1, 0, 0)
	n := 0
	k.Run(10*Second, func(ev Event) {
		n++
		k.After(Second, 1, 0, 0)
	})
	if n != 11 {
		t.Fatalf("fired %d, want 11 (t=0..10s)", n)
	}
	if k.Now() != 10*Second || k.Len() != 1 {
		t.Fatalf("now %d len %d", k.Now(), k.Len())
	}
	// A past time fires now, after what is queued for now.
	k.Schedule(5, 2, 0, 0)
	ev, _ := k.Pop()
	if ev.Kind != 2 || ev.At != 10*Second {
		t.Fatalf("past event: %+v", ev)
	}
}

func TestStreamsIndependent(t *testing.T) {
	a1 := Stream(7, "source/a").Uint64()
	_ = Stream(7, "source/new")
	a2 := Stream(7, "source/a").Uint64()
	if a1 != a2 {
		t.Fatal("stream depends on other components")
	}
	if Stream(7, "source/b").Uint64() == a1 || Stream(8, "source/a").Uint64() == a1 {
		t.Fatal("streams of different ids or seeds coincide")
	}
}

func BenchmarkScheduleRun(b *testing.B) {
	var k Kernel
	r := rand.New(rand.NewPCG(1, 1))
	for i := 0; i < 1000; i++ {
		k.Schedule(Time(r.IntN(1000)), 1, 0, 0)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ev, _ := k.Pop()
		k.Schedule(ev.At+Time(r.IntN(1000)), 1, 0, 0)
	}
}
