package clock_test

import (
	"testing"
	"time"

	"github.com/fusebox-go/fusebox/clock"
)

var (
	_ clock.Clock = clock.Real()
	_ clock.Clock = (*clock.Fake)(nil)
	_ clock.Clock = (*clock.Coarse)(nil)
)

func TestRealNowAndNanotime(t *testing.T) {
	c := clock.Real()
	before := time.Now()
	now := c.Now()
	after := time.Now()
	if now.Before(before) || now.After(after) {
		t.Fatalf("Real().Now() = %v, want between %v and %v", now, before, after)
	}
	prev := c.Nanotime()
	for range 1000 {
		n := c.Nanotime()
		if n < prev {
			t.Fatalf("Real().Nanotime went backwards: %d after %d", n, prev)
		}
		prev = n
	}
	start := c.Nanotime()
	time.Sleep(2 * time.Millisecond)
	if d := time.Duration(c.Nanotime() - start); d < 2*time.Millisecond {
		t.Fatalf("Real().Nanotime advanced %v over a 2ms sleep", d)
	}
}

func TestRealTimers(t *testing.T) {
	c := clock.Real()

	tm := c.NewTimer(time.Millisecond)
	select {
	case <-tm.C():
	case <-time.After(5 * time.Second):
		t.Fatal("Real timer did not fire")
	}
	if tm.Stop() {
		t.Error("Stop of a fired and received timer = true, want false")
	}

	long := c.NewTimer(time.Hour)
	if !long.Reset(time.Hour) {
		t.Error("Reset of a pending timer = false, want true")
	}
	if !long.Stop() {
		t.Error("Stop of a pending timer = false, want true")
	}
	if long.Stop() {
		t.Error("second Stop = true, want false")
	}

	ran := make(chan struct{})
	af := c.AfterFunc(time.Millisecond, func() { close(ran) })
	if af.C() != nil {
		t.Error("AfterFunc timer has a channel, want nil")
	}
	select {
	case <-ran:
	case <-time.After(5 * time.Second):
		t.Fatal("Real AfterFunc did not run")
	}
}
