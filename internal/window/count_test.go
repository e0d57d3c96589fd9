package window

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/fusebox-go/fusebox/internal/testwait"
)

func TestNewCount(t *testing.T) {
	for _, size := range []int{0, -1, math.MinInt, MaxCountSize + 1, math.MaxInt} {
		w, err := NewCount(size)
		if err == nil {
			t.Errorf("NewCount(%d) = %v, nil; want an error", size, w)
			continue
		}
		for _, sub := range []string{"window:", "size", strconv.Itoa(size), "1 to 1048576"} {
			if !strings.Contains(err.Error(), sub) {
				t.Errorf("NewCount(%d) error %q does not contain %q", size, err, sub)
			}
		}
	}
	for _, size := range []int{1, 2, 100, MaxCountSize} {
		w, err := NewCount(size)
		if err != nil {
			t.Fatalf("NewCount(%d): %v", size, err)
		}
		if w.Size() != size {
			t.Errorf("NewCount(%d).Size() = %d", size, w.Size())
		}
		if c := w.Counts(); c != (Counts{}) {
			t.Errorf("new window Counts() = %+v, want zero", c)
		}
	}
}

const (
	S  = Success
	F  = FailureBit
	SL = SlowBit
	FS = FailureBit | SlowBit
	I  = Ignored
)

func TestCountKeepsLastN(t *testing.T) {
	tests := []struct {
		name   string
		size   int
		kinds  []Kind
		want   Counts
		totals Counts
	}{
		{"empty", 3, nil, Counts{}, Counts{}},
		{"partly filled", 3, []Kind{F, S}, Counts{2, 1, 0, 0}, Counts{2, 1, 0, 0}},
		{"exactly full", 3, []Kind{F, SL, FS}, Counts{3, 2, 2, 0}, Counts{3, 2, 2, 0}},
		{"failure evicted", 3, []Kind{F, S, S, S}, Counts{3, 0, 0, 0}, Counts{4, 1, 0, 0}},
		{"wraps twice", 2, []Kind{F, F, SL, S, FS, S}, Counts{2, 1, 1, 0}, Counts{6, 3, 2, 0}},
		{"size one", 1, []Kind{F, SL, FS}, Counts{1, 1, 1, 0}, Counts{3, 2, 2, 0}},
		{"same kind replaces same", 2, []Kind{F, F, F, F, F}, Counts{2, 2, 0, 0}, Counts{5, 5, 0, 0}},
		{"ignored takes no slot", 2, []Kind{F, I, I, S, I}, Counts{2, 1, 0, 3}, Counts{2, 1, 0, 3}},
		{"ignored with other bits", 2, []Kind{I | F, I | SL, I | FS}, Counts{0, 0, 0, 3}, Counts{0, 0, 0, 3}},
		{"unknown bits are a success", 2, []Kind{8, 16 | F, 128 | S}, Counts{2, 1, 0, 0}, Counts{3, 1, 0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := NewCount(tt.size)
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range tt.kinds {
				w.Record(k)
			}
			if got := w.Counts(); got != tt.want {
				t.Errorf("Counts() = %+v, want %+v", got, tt.want)
			}
			if got := w.Totals(); got != tt.totals {
				t.Errorf("Totals() = %+v, want %+v", got, tt.totals)
			}
		})
	}
}

// refCount is the naive reference: a slice of every non-ignored kind, and
// where the window was last reset.
type refCount struct {
	size    int
	kinds   []Kind
	since   int    // index in kinds of the first record after the last Reset
	ignored uint64 // since the last reset
	totalIg uint64
}

func (r *refCount) reset() { r.since = len(r.kinds); r.ignored = 0 }

func (r *refCount) record(k Kind) {
	if k&Ignored != 0 {
		r.ignored++
		r.totalIg++
		return
	}
	r.kinds = append(r.kinds, k)
}

func (r *refCount) counts() Counts {
	last := r.kinds[max(r.since, len(r.kinds)-r.size):]
	c := Counts{Ignored: r.ignored}
	for _, k := range last {
		c = c.plus(countOf(k))
	}
	return c
}

func (r *refCount) totals() Counts {
	c := Counts{Ignored: r.totalIg}
	for _, k := range r.kinds {
		c = c.plus(countOf(k))
	}
	return c
}

func TestCountMatchesReference(t *testing.T) {
	for _, size := range []int{1, 2, 3, 7, 64, 1000} {
		t.Run(strconv.Itoa(size), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(size), 7))
			w, err := NewCount(size)
			if err != nil {
				t.Fatal(err)
			}
			ref := &refCount{size: size}
			for i := range 3000 {
				var k Kind
				switch p := rng.IntN(100); {
				case p < 3:
					k = Kind(rng.UintN(256)) // any byte, unknown bits too
				case i/500%2 == 0:
					k = Kind(rng.UintN(8)) // uniform over the kinds
				default:
					if p < 90 { // a mostly successful phase
						k = Success
					} else {
						k = Kind(rng.UintN(4))
					}
				}
				if rng.IntN(400) == 0 {
					w.Reset()
					ref.reset()
					if got, want := w.Counts(), ref.counts(); got != want {
						t.Fatalf("after a Reset at %d: Counts() = %+v, want %+v", i, got, want)
					}
				}
				w.Record(k)
				ref.record(k)
				if got, want := w.Counts(), ref.counts(); got != want {
					t.Fatalf("after record %d (%d): Counts() = %+v, want %+v", i, k, got, want)
				}
			}
			if got, want := w.Totals(), ref.totals(); got != want {
				t.Fatalf("Totals() = %+v, want %+v", got, want)
			}
		})
	}
}

func TestCountReset(t *testing.T) {
	w, err := NewCount(3)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []Kind{F, FS, I, SL, S} {
		w.Record(k)
	}
	w.Reset()
	if got, want := w.Counts(), (Counts{}); got != want {
		t.Errorf("after Reset: Counts() = %+v, want %+v (Ignored is reset too)", got, want)
	}
	if got, want := w.Totals(), (Counts{4, 2, 2, 1}); got != want {
		t.Errorf("after Reset: Totals() = %+v, want %+v (kept)", got, want)
	}
	w.Reset() // an empty window resets to empty
	w.Record(F)
	w.Record(S)
	if got, want := w.Counts(), (Counts{2, 1, 0, 0}); got != want {
		t.Errorf("2 records after Reset: Counts() = %+v, want %+v", got, want)
	}
	for range 2 {
		w.Record(S)
	}
	if got, want := w.Counts(), (Counts{3, 0, 0, 0}); got != want {
		t.Errorf("full again: Counts() = %+v, want %+v", got, want)
	}
}

// slotSum is what the aggregate must equal once no record is in flight:
// the sum of the ring's slots.
func (w *Count) slotSum() Counts {
	c := Counts{Ignored: w.ignored.Load()}
	for i := range w.slots {
		if v := w.slots[i].Load(); v != 0 {
			c = c.plus(countOf(Kind(v & (1<<kindBits - 1))))
		}
	}
	return c
}

// TestCountConcurrentReset: records racing with Resets leave the aggregate
// exactly the sum of the ring's slots.
func TestCountConcurrentReset(t *testing.T) {
	for _, size := range []int{1, 5, 64} {
		w, err := NewCount(size)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for g := range 6 {
			wg.Go(func() {
				for i := range 3000 {
					w.Record(mix[(i*5+g)%len(mix)])
				}
			})
		}
		for range 2 {
			wg.Go(func() {
				for range 300 {
					w.Reset()
				}
			})
		}
		wg.Wait()
		if got, want := w.Counts(), w.slotSum(); got != want {
			t.Fatalf("size %d: Counts() = %+v, but the slots hold %+v", size, got, want)
		}
		var tot Counts
		for g := range 6 {
			for i := range 3000 {
				tot = tot.plus(countOf(mix[(i*5+g)%len(mix)]))
			}
		}
		if got := w.Totals(); got != tot {
			t.Fatalf("size %d: Totals() = %+v, want %+v", size, got, tot)
		}
	}
}

// TestCountMaxSize fills the largest window with calls that are failures and
// slow: each packed field reaches its maximum without spilling into the next.
func TestCountMaxSize(t *testing.T) {
	if testing.Short() {
		t.Skip("8 MiB window")
	}
	w, err := NewCount(MaxCountSize)
	if err != nil {
		t.Fatal(err)
	}
	for range MaxCountSize + 10 {
		w.Record(FS)
	}
	if got, want := w.Counts(), (Counts{MaxCountSize, MaxCountSize, MaxCountSize, 0}); got != want {
		t.Fatalf("full window Counts() = %+v, want %+v", got, want)
	}
	for range 3 {
		w.Record(S)
	}
	if got, want := w.Counts(), (Counts{MaxCountSize, MaxCountSize - 3, MaxCountSize - 3, 0}); got != want {
		t.Fatalf("after 3 successes Counts() = %+v, want %+v", got, want)
	}
}

// mix is the known outcome mix each concurrent recorder records, per round.
var mix = []Kind{S, S, S, F, SL, FS, I, S, F | I}

func TestCountConcurrent(t *testing.T) {
	const goroutines, rounds = 8, 500
	w, err := NewCount(goroutines * rounds * len(mix)) // nothing is evicted
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for r := range rounds {
				for i := range mix {
					w.Record(mix[(i+g+r)%len(mix)])
				}
			}
		})
	}
	wg.Wait()
	var want Counts
	for _, k := range mix {
		want = want.plus(countOf(k))
	}
	want = want.times(goroutines * rounds)
	if got := w.Counts(); got != want {
		t.Errorf("Counts() = %+v, want %+v", got, want)
	}
	if got := w.Totals(); got != want {
		t.Errorf("Totals() = %+v, want %+v", got, want)
	}
}

// TestCountConcurrentWraps: a small window wrapped many times by concurrent
// mixed records, then refilled concurrently with failures only, holds
// exactly the failures: the packed aggregate's differences telescope.
func TestCountConcurrentWraps(t *testing.T) {
	const goroutines, size = 8, 64
	w, err := NewCount(size)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range 2000 {
				w.Record(mix[(i*7+g)%len(mix)])
			}
		})
	}
	wg.Wait()
	for range goroutines {
		wg.Go(func() {
			for range size / goroutines {
				w.Record(F)
			}
		})
	}
	wg.Wait()
	got := w.Counts()
	if got.Calls != size || got.Failures != size || got.Slow != 0 {
		t.Fatalf("Counts() = %+v, want %d calls, all failures, none slow", got, size)
	}
	tot := w.Totals()
	var want Counts
	for g := range goroutines {
		for i := range 2000 {
			want = want.plus(countOf(mix[(i*7+g)%len(mix)]))
		}
	}
	want = want.plus(countOf(F).times(size))
	if tot != want {
		t.Fatalf("Totals() = %+v, want %+v", tot, want)
	}
}

func TestCountAllocs(t *testing.T) {
	w, err := NewCount(100)
	if err != nil {
		t.Fatal(err)
	}
	i := 0
	if n := testing.AllocsPerRun(1000, func() {
		w.Record(Kind(i % 8))
		i++
	}); n != 0 {
		t.Errorf("Count.Record allocates %v times per call, want 0", n)
	}
	if n := testing.AllocsPerRun(1000, func() { _ = w.Counts() }); n != 0 {
		t.Errorf("Count.Counts allocates %v times per call, want 0", n)
	}
}

func BenchmarkCountRecord(b *testing.B) {
	w, err := NewCount(100)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("single", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			w.Record(Kind(i & 3))
			i++
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				w.Record(Kind(i & 3))
				i++
			}
		})
	})
}

// AddTotal counts a call in the lifetime totals only: the window, and the
// ring's order of the last N calls, are untouched.
func TestCountAddTotal(t *testing.T) {
	w, err := NewCount(3)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []Kind{F, S, F} {
		w.Record(k)
	}
	for _, k := range []Kind{S, F, SL, FS, I} {
		w.AddTotal(k)
	}
	if got, want := w.Counts(), (Counts{3, 2, 0, 0}); got != want {
		t.Errorf("after AddTotal: Counts() = %+v, want %+v (the window untouched)", got, want)
	}
	if got, want := w.Totals(), (Counts{7, 4, 2, 1}); got != want {
		t.Errorf("after AddTotal: Totals() = %+v, want %+v", got, want)
	}
	// The ring did not move: the next record replaces the oldest call,
	// the first failure.
	w.Record(S)
	if got, want := w.Counts(), (Counts{3, 1, 0, 0}); got != want {
		t.Errorf("one record after AddTotal: Counts() = %+v, want %+v", got, want)
	}
	w.Reset()
	if got, want := w.Totals(), (Counts{8, 4, 2, 1}); got != want {
		t.Errorf("after Reset: Totals() = %+v, want %+v (kept)", got, want)
	}
}

// TestCountNeverBorrows forces the worst interleavings of a record: paused
// between its steps (its outcome counted, not yet in the ring; or in the
// ring, the outcome it replaced not yet taken out) while other records wrap
// the ring many times, replacing the paused record's slot, failures with
// successes and back. At every step the aggregate must read as a possible
// window: no field below zero (which in packed fields shows as a huge
// count borrowed from the field above), Failures and Slow at most Calls,
// Calls at most the size plus the one record in flight. Once the paused
// record finishes, the aggregate is exactly the sum of the ring.
func TestCountNeverBorrows(t *testing.T) {
	for _, step := range []string{"added", "swapped"} {
		for _, paused := range []Kind{Success, FailureBit, SlowBit, FailureBit | SlowBit} {
			t.Run(fmt.Sprintf("%s/kind%d", step, paused), func(t *testing.T) {
				const size = 4
				w, err := NewCount(size)
				if err != nil {
					t.Fatal(err)
				}
				// Fill with the opposite outcome so the paused record
				// changes the aggregate.
				for range size {
					w.Record(paused ^ (FailureBit | SlowBit))
				}
				reached, resume := make(chan struct{}), make(chan struct{})
				var first atomic.Bool
				countHook = func(s string) {
					// Only the first record to reach the step pauses;
					// the others run through.
					if s == step && first.CompareAndSwap(false, true) {
						close(reached)
						<-resume
					}
				}
				defer func() { countHook = nil }()
				done := make(chan struct{})
				go func() {
					defer close(done)
					w.Record(paused)
				}()
				testwait.Recv(t, reached, "the paused record")
				check := func(when string) {
					c := w.Counts()
					if c.Calls > size+1 || c.Failures > c.Calls || c.Slow > c.Calls {
						t.Fatalf("%s: Counts() = %+v: not a window of %d calls with one record in flight", when, c, size)
					}
				}
				// A round of successes first (it takes the paused
				// outcome out of the ring while its marks may be all
				// the aggregate has of their kind), then every kind in
				// every slot.
				kinds := []Kind{Success, FailureBit, SlowBit, FailureBit | SlowBit}
				for i := range 8 * size {
					k := Success
					if i >= size {
						k = kinds[(i+i/size)%len(kinds)]
					}
					w.Record(k)
					check(fmt.Sprintf("after %d records", i+1))
				}
				close(resume)
				testwait.Recv(t, done, "the paused record to finish")
				if got, want := w.Counts(), w.slotSum(); got != want {
					t.Fatalf("quiescent: Counts() = %+v, want the ring's sum %+v", got, want)
				}
			})
		}
	}
}
