package window

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Totals of both windows never report more failures than calls, however
// it races the records (a breaker Snapshot would otherwise show
// TotalFailures > TotalCalls, a failure ratio above 1). Before the fix,
// Count.Record added to totalFailures before pos (the calls) while Totals
// loaded pos first, and Time's totals loaded a bucket's calls before its
// failures. Found by review.
func TestTotalsNeverMoreFailuresThanCalls(t *testing.T) {
	cw, _ := NewCount(100)
	tw, _ := NewTime(time.Second, 10)
	for _, tc := range []struct {
		name   string
		record func()
		totals func() Counts
	}{
		{"count", func() { cw.Record(FailureBit) }, cw.Totals},
		{"time", func() { tw.RecordAt(1, FailureBit) }, func() Counts { return tw.Totals(Counts{}) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stop atomic.Bool
			var wg sync.WaitGroup
			wg.Go(func() {
				for !stop.Load() {
					tc.record()
				}
			})
			deadline := time.Now().Add(300 * time.Millisecond)
			var bad Counts
			for time.Now().Before(deadline) {
				if c := tc.totals(); c.Failures > c.Calls {
					bad = c
					break
				}
			}
			stop.Store(true)
			wg.Wait()
			if bad.Failures > bad.Calls {
				t.Errorf("Totals = %+v: more failures than calls (every call recorded was a failure)", bad)
			}
		})
	}
}
