package engine

import "testing"

// BenchmarkStep measures one pure transition per algorithm: an Acquire on an
// existing state, time advancing 1 ms per call.
func BenchmarkStep(b *testing.B) {
	for _, l := range []Limit{
		{Name: "b", Algorithm: TokenBucket, Capacity: 100, Rate: 1000},
		{Name: "b", Algorithm: GCRA, Capacity: 100, Rate: 1000},
		{Name: "b", Algorithm: PTBCWD, Capacity: 100, Rate: 1000},
		{Name: "b", Algorithm: FixedWindow, Capacity: 100, Period: 1e9},
		{Name: "b", Algorithm: FixedWindow, Capacity: 100, Calendar: CalendarMonth},
		{Name: "b", Algorithm: SlidingWindow, Capacity: 100, Period: 1e9},
		{Name: "b", Algorithm: Concurrency, Capacity: 100},
	} {
		p := MustCompile(l)
		name := string(l.Algorithm)
		if l.Calendar != CalendarNone {
			name += "-" + string(l.Calendar)
		}
		b.Run("alg="+name, func(b *testing.B) {
			var s State
			exists := false
			var d Decision
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				ns, w, _ := StepInto(p, s, exists, T0+int64(i)*1000, Acquire, 1000, &d)
				if w {
					s, exists = ns, true
				}
			}
		})
	}
}
