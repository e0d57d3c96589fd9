package hedge

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestPercentileMatchesSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 500 {
		n := 1 + rng.IntN(historySize)
		xs := make([]int64, n)
		for i := range xs {
			switch trial % 3 {
			case 0:
				xs[i] = rng.Int64N(1000)
			case 1:
				xs[i] = rng.Int64N(4) // many duplicates
			default:
				xs[i] = int64(i) // sorted input
			}
		}
		p := []float64{0.01, 0.5, 0.9, 0.95, 0.99}[trial%5]
		sorted := slices.Clone(xs)
		slices.Sort(sorted)
		rank := 0
		for float64(rank+1) < p*float64(n) {
			rank++
		}
		want := sorted[rank]
		if got := percentile(slices.Clone(xs), p); got != want {
			t.Fatalf("percentile(%v, %v) = %d, want %d", xs, p, got, want)
		}
	}
}

func TestTrackerDelay(t *testing.T) {
	tr := newTracker(0.9, 5*time.Millisecond)
	for i := range minSamples - 1 {
		tr.record(int64(time.Duration(i+1) * time.Millisecond))
	}
	if got := time.Duration(tr.delay.Load()); got != 5*time.Millisecond {
		t.Fatalf("delay before %d samples = %v, want MinDelay", minSamples, got)
	}
	tr.record(int64(32 * time.Millisecond))
	// 32 samples 1..32ms: the nearest-rank 90th percentile is the 29th.
	if got := time.Duration(tr.delay.Load()); got != 29*time.Millisecond {
		t.Fatalf("delay = %v, want 29ms", got)
	}
	// Fast latencies: the delay falls to the floor, not below.
	for range historySize {
		tr.record(int64(time.Millisecond))
	}
	if got := time.Duration(tr.delay.Load()); got != 5*time.Millisecond {
		t.Fatalf("delay = %v, want the MinDelay floor", got)
	}
}

func TestTrackerRecordAllocatesNothing(t *testing.T) {
	tr := newTracker(0.95, time.Millisecond)
	var d int64
	if n := testing.AllocsPerRun(1000, func() { d++; tr.record(d) }); n != 0 {
		t.Fatalf("record allocates %v times, want 0", n)
	}
}

func TestBudget(t *testing.T) {
	var b budget
	b.init(0.25, 1)
	for i := range 10 { // starts full: a burst of 10
		if !b.withdraw() {
			t.Fatalf("withdraw %d refused from a full bucket", i)
		}
	}
	if b.withdraw() {
		t.Fatal("withdraw from an empty bucket")
	}
	for range 3 {
		b.deposit()
	}
	if b.withdraw() {
		t.Fatal("0.75 of a token paid a hedge")
	}
	b.deposit()
	if !b.withdraw() {
		t.Fatal("four calls at 0.25 did not pay one hedge")
	}
	for range 1000 {
		b.deposit()
	}
	if got := b.tokens.Load(); got != budgetBurst {
		t.Fatalf("tokens = %d, want capped at %d", got, budgetBurst)
	}

	var u budget
	u.init(2, 2)
	for range 100 {
		if !u.withdraw() {
			t.Fatal("a budget of MaxHedges refused a hedge")
		}
	}
}
