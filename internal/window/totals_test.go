package window

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fusebox-go/fusebox/internal/testwait"
)

// Totals is the lifetime count a breaker's Snapshot exports as Prometheus
// counters (fusebox_breaker_calls_total), so it must never go down: a
// counter that dips reads as a reset, and rate() then counts the whole
// total again. Concurrent: it checks the property under real interleavings
// while buckets retire all the time, within a bounded time.
func TestTimeTotalsNeverDecrease(t *testing.T) {
	const width = packedMinWidth
	w, err := NewTime(time.Duration(10*width), 10)
	if err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	for g := range 2 {
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				// Epochs advance every few records: buckets retire.
				w.RecordAt(int64((i/4)*width+g), Kind(i%3))
			}
		})
	}
	var dip string
	deadline := time.Now().Add(300 * time.Millisecond)
	var prev Counts
	for n := 0; time.Now().Before(deadline); n++ {
		got := w.Totals()
		if got.Calls < prev.Calls || got.Failures < prev.Failures || got.Slow < prev.Slow || got.Ignored < prev.Ignored {
			dip = fmt.Sprintf("read %d: Totals() went down from %+v to %+v", n, prev, got)
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

// TestTimeTotalsWaitsOutARetirement forces the worst interleaving: a
// bucket's retirement stopped between taking the bucket's counts and adding
// them to the retired totals, the moment a reading would miss them. Totals
// must not return that short reading (the reading before it was exact, so
// the short one would be a dip): it waits for the retirement to finish and
// returns the exact count.
func TestTimeTotalsWaitsOutARetirement(t *testing.T) {
	const width = int64(time.Millisecond)
	w, err := NewTime(time.Duration(2*width), 2)
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		w.RecordAt(0, Success)
	}
	w.RecordAt(width, FailureBit) // the other bucket
	want := Counts{Calls: 6, Failures: 1}
	if got := w.Totals(); got != want {
		t.Fatalf("before: Totals() = %+v, want %+v", got, want)
	}

	paused, resume := make(chan struct{}), make(chan struct{})
	retireHook = func() {
		close(paused)
		<-resume
	}
	defer func() { retireHook = nil }()
	recorded := make(chan struct{})
	go func() {
		defer close(recorded)
		w.RecordAt(2*width, Success) // epoch 2 reuses epoch 0's bucket: retires 5 calls
	}()
	testwait.Recv(t, paused, "the retirement to reach its hook")

	read := make(chan Counts, 1)
	go func() { read <- w.Totals() }()
	select {
	case got := <-read:
		t.Fatalf("Totals() returned %+v during a retirement; it must wait for it", got)
	case <-time.After(20 * time.Millisecond):
		// Still waiting, as it must (a wrong early return fails above
		// on a machine of any speed; a slow one only delays it).
	}
	close(resume)
	testwait.Recv(t, recorded, "the record that retired the bucket")
	want = Counts{Calls: 7, Failures: 1}
	got := testwait.Recv(t, read, "Totals after the retirement")
	if got.Calls < 6 || got.Calls > 7 || got.Failures != 1 {
		t.Fatalf("Totals() after the retirement = %+v, want 6 or 7 calls (the record that retired may not have landed yet), 1 failure", got)
	}
	if got := w.Totals(); got != want {
		t.Fatalf("quiescent: Totals() = %+v, want %+v", got, want)
	}
}
