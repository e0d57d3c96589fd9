package window

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Totals is the lifetime count a breaker's Snapshot exports as Prometheus
// counters (fusebox_breaker_calls_total), so it must never go down: a
// counter that dips reads as a reset, and rate() then counts the whole
// total again. A reading that a fold or a bucket's retirement overlaps
// could count the moved calls twice, and the next one take them back.
// Concurrent: it checks the property under real interleavings, within a
// bounded time (without the fix it failed within milliseconds).
func TestTimeTotalsNeverDecrease(t *testing.T) {
	const width = packedMinWidth
	w, err := NewTime(time.Duration(10*width), 10)
	if err != nil {
		t.Fatal(err)
	}
	w.contended()
	var stop atomic.Bool
	var wg sync.WaitGroup
	for g := range 2 {
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				// Epochs advance every few records: accumulators fold,
				// buckets retire.
				w.RecordAt(int64((i/4)*width+g), Success)
			}
		})
	}
	var dip string
	deadline := time.Now().Add(500 * time.Millisecond)
	var prev uint64
	for n := 0; time.Now().Before(deadline); n++ {
		got := w.Totals().Calls
		if got < prev {
			dip = fmt.Sprintf("read %d: Totals().Calls went down from %d to %d", n, prev, got)
			break
		}
		prev = got
	}
	stop.Store(true)
	wg.Wait()
	if dip != "" {
		t.Fatal(dip)
	}
}
