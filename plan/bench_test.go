package plan

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkShard evaluates the tiny spec's 16 configurations on one worker
// and on two, reporting configurations per minute; the ratio of the two is
// the scaling from one core to two (BENCHMARKS.md, make bench-plan).
func BenchmarkShard(b *testing.B) {
	p, _ := tinyPlanner(&testing.T{}, tinySpec)
	for _, w := range []int{1, 2} {
		b.Run(fmt.Sprintf("workers=%d", w), func(b *testing.B) {
			n := 0
			start := time.Now()
			for b.Loop() {
				part, err := p.Shard(0, 1, RunOptions{Workers: w})
				if err != nil {
					b.Fatal(err)
				}
				n += len(part.Evaluated)
			}
			b.ReportMetric(float64(n)/time.Since(start).Minutes(), "configs/min")
		})
	}
}
