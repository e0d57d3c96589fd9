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
		got := w.Totals(prev)
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

// TestTimeTotalsDuringARetirement forces the worst interleaving: a
// bucket's retirement stopped between taking the bucket's counts and adding
// them to the retired totals, the moment a reading misses them. Totals must
// not return that short reading below its floor (the reading before was
// exact, so a short one would be a dip): it retries, and, the retirement
// still stopped, returns the floor. Once the retirement finishes, the next
// reading is exact.
func TestTimeTotalsDuringARetirement(t *testing.T) {
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
	shown := w.Totals(Counts{})
	if shown != want {
		t.Fatalf("before: Totals = %+v, want %+v", shown, want)
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
		w.RecordAt(2*width, Success) // epoch 2 reuses epoch 0's bucket: retires its 5 calls
	}()
	testwait.Recv(t, paused, "the retirement to reach its hook")

	if got := w.totals(); got.Calls != 1 {
		t.Fatalf("a raw reading mid-retirement = %+v, want the 1 call of the other bucket (the case to guard)", got)
	}
	if got := w.Totals(shown); got != shown {
		t.Fatalf("Totals mid-retirement = %+v, want the floor %+v (a lower reading is a dip)", got, shown)
	}
	if got := w.Totals(Counts{}); got.Calls > 6 {
		t.Fatalf("Totals mid-retirement with no floor = %+v: more calls than were recorded", got)
	}
	close(resume)
	testwait.Recv(t, recorded, "the record that retired the bucket")
	want = Counts{Calls: 7, Failures: 1}
	if got := w.Totals(shown); got != want {
		t.Fatalf("after: Totals = %+v, want %+v", got, want)
	}
}
