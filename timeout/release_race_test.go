package timeout

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fusebox-go/fusebox/clock"
)

// countingParent is a parent context that never ends and counts the
// AfterFunc registrations not yet stopped.
type countingParent struct {
	context.Context
	done chan struct{}
	live atomic.Int64
}

func (p *countingParent) Done() <-chan struct{} { return p.done }

func (p *countingParent) AfterFunc(f func()) func() bool {
	p.live.Add(1)
	var once sync.Once
	return func() bool {
		stopped := false
		once.Do(func() { p.live.Add(-1); stopped = true })
		return stopped
	}
}

// A Done (or a context derived with WithCancel, or AfterFunc) racing the
// CancelFunc must not leave a timer or a registration with the parent
// behind: the parent would keep the registration (and through it the
// context) until it ends, and the timer would run until the deadline.
// Before the fix, release read the timer and the registration, stopped
// them, and only then ended the context, so a Done in between armed new
// ones nothing stopped. Found by review.
func TestReleaseRacingDoneLeavesNothingArmed(t *testing.T) {
	parent := &countingParent{Context: context.Background(), done: make(chan struct{})}
	fake := clock.NewFake(time.Time{})
	clk := clock.Cached(fake)
	// Bounded in time: before the fix it failed within about 0.4 s.
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) && parent.live.Load() == 0 {
		c := newClockCtx(parent, clk, fake.Nanotime(), time.Hour)
		var wg sync.WaitGroup
		wg.Go(func() { c.Done() })
		c.release()
		wg.Wait()
	}
	if n := parent.live.Load(); n != 0 {
		t.Errorf("%d registration(s) with the parent left behind by released contexts", n)
	}
}
