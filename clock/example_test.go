package clock_test

import (
	"fmt"
	"time"

	"github.com/fusebox-go/fusebox/clock"
)

// A Fake clock stands still until the test advances it; timers that come due
// fire inside Advance, at their due time.
func ExampleFake() {
	f := clock.NewFake(time.Time{}) // 2026-01-01 00:00:00 UTC
	timer := f.NewTimer(2 * time.Second)
	f.AfterFunc(time.Second, func() { fmt.Println("callback at", f.Now().Format(time.TimeOnly)) })

	f.Advance(1500 * time.Millisecond)
	select {
	case <-timer.C():
		fmt.Println("fired early")
	default:
		fmt.Println("timer pending at", f.Now().Format("15:04:05.000"))
	}

	f.Advance(time.Hour)
	fmt.Println("timer fired at", (<-timer.C()).Format(time.TimeOnly))
	fmt.Println("now", f.Now().Format(time.TimeOnly))
	// Output:
	// callback at 00:00:01
	// timer pending at 00:00:01.500
	// timer fired at 00:00:02
	// now 01:00:01
}

// A Coarse clock serves hot paths: Nanotime is a direct call that, over the
// real clock, reads the monotonic clock, so a reading is never behind the
// real clock's at the call's start.
func ExampleCoarse() {
	c, err := clock.NewCoarse(nil, time.Millisecond) // over the real clock
	if err != nil {
		fmt.Println(err)
		return
	}

	before := clock.Real().Nanotime()
	now := c.Nanotime()
	after := clock.Real().Nanotime()
	fmt.Println("taken during the call:", before <= now && now <= after)
	fmt.Println("policies share one:", clock.Cached(nil) == clock.Default())

	_, err = clock.NewCoarse(nil, -time.Millisecond)
	fmt.Println(err)
	// Output:
	// taken during the call: true
	// policies share one: true
	// clock: resolution -1ms is negative; want 0 (default 1ms) or more
}
