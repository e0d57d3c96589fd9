package breaker

import (
	"sync"
	"testing"
	"time"

	"github.com/fusebox-go/fusebox"
)

// A probe finishing at the very moment its slot is reclaimed must not free
// the slot the reclaimer now holds: HalfOpenProbes is a hard limit.
func TestProbeDoneRacesReclaim(t *testing.T) {
	b, clk := mustNew(t, Config{ConsecutiveFailures: 1, OpenDuration: time.Second, HalfOpenProbes: 1, HalfOpenMaxWait: time.Second})
	b.Trip()
	clk.Advance(time.Second)
	violations := 0
	for i := range 10000 {
		old, err := b.Allow()
		if err != nil {
			t.Fatalf("iteration %d: the slot should be free: %v", i, err)
		}
		clk.Advance(time.Second) // old may now be reclaimed
		var fresh Permit
		var ferr error
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); old.Done(fusebox.Ignored) }()
		go func() { defer wg.Done(); fresh, ferr = b.Allow() }()
		wg.Wait()
		if ferr == nil {
			// fresh holds the only slot: nobody else may get in.
			if extra, err := b.Allow(); err == nil {
				violations++
				extra.Done(fusebox.Ignored)
			}
			fresh.Done(fusebox.Ignored)
		}
		if b.State() != HalfOpen {
			t.Fatalf("state %v", b.State())
		}
	}
	if violations > 0 {
		t.Fatalf("%d times two probes held the one slot", violations)
	}
}
