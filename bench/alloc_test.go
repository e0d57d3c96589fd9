package bench

import (
	"fmt"
	"runtime/debug"
	"testing"
)

// allocated is the size and shape of a small per-request object (80 bytes,
// with pointers, like the RoundTripper's read-ahead body).
type allocated struct {
	p    [4]*int
	data []byte
	n    [3]int
}

var allocSink *allocated

// newAllocated allocates one, filled in as a real object would be.
func newAllocated(i int) *allocated {
	a := &allocated{data: okBody}
	a.p[0], a.n[0] = &a.n[1], i
	return a
}

// BenchmarkAllocation is what one small heap allocation costs, with the
// collector at its default pace (GOGC=100) and at ten times that pace
// (GOGC=10, set with debug.SetGCPercent for the sub-benchmark only), as a
// measure of how expensive allocation is on a host: GOGC=10 is the
// "expensive allocator" host of docs/BENCHMARKS.md, simulated. The live
// heap is the benchmark process's own, small, so the collector runs about
// every 4 MB allocated at GOGC=100 and every 0.4 MB at GOGC=10.
func BenchmarkAllocation(b *testing.B) {
	for _, pct := range []int{100, 10} {
		b.Run(fmt.Sprintf("GOGC=%d", pct), func(b *testing.B) {
			defer debug.SetGCPercent(debug.SetGCPercent(pct))
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				allocSink = newAllocated(i)
			}
		})
	}
}
