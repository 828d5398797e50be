// Package kernel is the simulator's discrete-event core: a priority queue of
// events ordered by (virtual time, insertion sequence), so events at the same
// instant fire in the order they were scheduled and every run of the same
// model is identical. There are no goroutines: the model pulls events one at
// a time and dispatches them to its callbacks.
//
// Events are small values (no pointers, no closures), so scheduling allocates
// nothing once the heap has grown to its working size.
//
// Example:
//
//	var k kernel.Kernel
//	k.Schedule(10*kernel.Millisecond, kindArrival, 0, 0)
//	k.Run(kernel.Second, func(ev kernel.Event) { ... k.After(d, ...) ... })
package kernel

import (
	"hash/fnv"
	"math/rand/v2"
)

// Time is virtual time in nanoseconds since the start of a run.
type Time = int64

// Durations in virtual nanoseconds.
const (
	Nanosecond  Time = 1
	Microsecond Time = 1000
	Millisecond Time = 1000 * Microsecond
	Second      Time = 1000 * Millisecond
	Minute      Time = 60 * Second
	Hour        Time = 60 * Minute
)

// Event is one scheduled callback. Kind, Obj and Arg are the model's to
// interpret (which handler, which object, one argument).
type Event struct {
	// At is the virtual time the event fires at, in nanoseconds.
	At Time
	// Seq is the insertion sequence number, the tie-break for equal At.
	Seq uint64
	// Kind selects the handler.
	Kind uint16
	// Obj is the object the event concerns (a source, a node, a fault...).
	Obj int32
	// Arg is a free argument (an epoch, packed request fields...).
	Arg int64
}

func (a *Event) less(b *Event) bool {
	return a.At < b.At || (a.At == b.At && a.Seq < b.Seq)
}

// Kernel is the event queue and the virtual clock. The zero value is an empty
// queue at time 0. It is not safe for concurrent use: a simulation runs on one
// goroutine.
type Kernel struct {
	now  Time
	seq  uint64
	heap []Event
	// fired counts events dispatched by Run.
	fired uint64
	stop  bool
}

// Now returns the current virtual time in nanoseconds.
func (k *Kernel) Now() Time { return k.now }

// Len returns the number of pending events.
func (k *Kernel) Len() int { return len(k.heap) }

// Fired returns how many events Run has dispatched.
func (k *Kernel) Fired() uint64 { return k.fired }

// Schedule queues an event at virtual time at (nanoseconds). An event in the
// past fires at the current time, after the events already queued for it.
func (k *Kernel) Schedule(at Time, kind uint16, obj int32, arg int64) {
	if at < k.now {
		at = k.now
	}
	k.seq++
	k.heap = append(k.heap, Event{At: at, Seq: k.seq, Kind: kind, Obj: obj, Arg: arg})
	k.up(len(k.heap) - 1)
}

// After queues an event d nanoseconds from now.
func (k *Kernel) After(d Time, kind uint16, obj int32, arg int64) {
	k.Schedule(k.now+d, kind, obj, arg)
}

// Pop removes the earliest event, advances the clock to it and returns it;
// ok is false when the queue is empty.
func (k *Kernel) Pop() (ev Event, ok bool) {
	n := len(k.heap)
	if n == 0 {
		return Event{}, false
	}
	ev = k.heap[0]
	k.heap[0] = k.heap[n-1]
	k.heap = k.heap[:n-1]
	if n > 1 {
		k.down(0)
	}
	k.now = ev.At
	return ev, true
}

// Peek returns the earliest event's time; ok is false when the queue is empty.
func (k *Kernel) Peek() (at Time, ok bool) {
	if len(k.heap) == 0 {
		return 0, false
	}
	return k.heap[0].At, true
}

// Stop makes Run return after the current callback.
func (k *Kernel) Stop() { k.stop = true }

// Run dispatches events in order to handle until the queue is empty, the
// next event is after until, or Stop is called. The clock ends at until if
// the queue ran past it, else at the last event's time.
func (k *Kernel) Run(until Time, handle func(Event)) {
	k.stop = false
	for !k.stop {
		if len(k.heap) == 0 || k.heap[0].At > until {
			if until > k.now {
				k.now = until
			}
			return
		}
		ev, _ := k.Pop()
		k.fired++
		handle(ev)
	}
}

// The heap is 4-ary: shallower than a binary heap, and its children share a
// cache line, which matters when every request is an event. Ordering is the
// same total order, so the choice of arity does not change any result.
const arity = 4

func (k *Kernel) up(i int) {
	h := k.heap
	ev := h[i]
	for i > 0 {
		p := (i - 1) / arity
		if !ev.less(&h[p]) {
			break
		}
		h[i] = h[p]
		i = p
	}
	h[i] = ev
}

func (k *Kernel) down(i int) {
	h := k.heap
	n := len(h)
	ev := h[i]
	for {
		c := arity*i + 1
		if c >= n {
			break
		}
		best := c
		end := min(c+arity, n)
		for j := c + 1; j < end; j++ {
			if h[j].less(&h[best]) {
				best = j
			}
		}
		if !h[best].less(&ev) {
			break
		}
		h[i] = h[best]
		i = best
	}
	h[i] = ev
}

// Stream returns the random stream of one component: a PCG generator seeded
// with the scenario seed and a hash of the component's stable id, so adding
// or removing a component never shifts the draws of the others.
func Stream(seed uint64, component string) *rand.Rand {
	return rand.New(NewSource(seed, component))
}

// NewSource returns the PCG source behind Stream.
func NewSource(seed uint64, component string) *rand.PCG {
	h := fnv.New64a()
	h.Write([]byte(component))
	return rand.NewPCG(seed, h.Sum64())
}
