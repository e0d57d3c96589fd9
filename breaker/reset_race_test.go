package breaker

import (
	"testing"
	"time"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/clock"
)

// Reset of a closed breaker publishes the new generation (b.word.Store)
// before it empties the window and clears armed. A failure of the new
// generation that lands in the emptied window in that gap must still leave
// the breaker armed once Reset is done, so that the success that brings the
// window up to MinimumCalls is judged: the failure rate is then 1/2 >= 0.5
// with MinimumCalls 2, and the breaker must open. (Before the fix, the
// failure saw the previous generation's flag set and did not set it again,
// and Reset then cleared it: the trip waited for the next failure.) Found by
// review; the interleaving is reached by racing, so the test repeats it.
func TestResetRacingAFailureKeepsItArmed(t *testing.T) {
	const rounds = 3000
	hits, scenario := 0, 0
	for round := 0; round < rounds && hits == 0; round++ {
		fc := clock.NewFake(time.Time{})
		b, err := New(Config{Clock: fc, WindowDuration: 1000 * time.Second, WindowBuckets: 1000, MinimumCalls: 2, FailureRate: 0.5})
		if err != nil {
			t.Fatal(err)
		}
		// Generation 1: one failure, below MinimumCalls: arms.
		p, _ := b.Allow()
		p.Done(fusebox.Failure)
		if !b.armed.Load() {
			t.Fatal("a failure below MinimumCalls did not arm")
		}
		// A new epoch whose bucket is index 0, the first one Reset's
		// loop marks: a record rotating into it after that survives.
		fc.Advance(1000 * time.Second)
		w0 := b.word.Load()
		done := make(chan struct{})
		go func() {
			defer close(done)
			for b.word.Load() == w0 {
			}
			p, err := b.Allow()
			if err != nil {
				return
			}
			p.Done(fusebox.Failure)
		}()
		b.Reset()
		<-done
		s := b.Snapshot()
		if s.State != Closed || s.Calls != 1 || s.Failures != 1 {
			continue // the failure landed before the window was emptied
		}
		scenario++
		p, _ = b.Allow()
		p.Done(fusebox.Success)
		if s := b.Snapshot(); s.State == Closed && s.Calls >= 2 && s.FailureRate >= 0.5 {
			hits++
			t.Errorf("round %d: window %d calls, %d failures (rate %.2f >= 0.5, MinimumCalls 2) after a success, but state %v: the success was not judged (armed=%v)",
				round, s.Calls, s.Failures, s.FailureRate, s.State, b.armed.Load())
		}
	}
	t.Logf("%d rounds reached the scenario (new-generation failure kept in the window), %d lost the trip", scenario, hits)
}
