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

// A Coarse clock serves hot paths: Nanotime is one atomic load of a reading
// a background goroutine refreshes every resolution.
func ExampleCoarse() {
	c, err := clock.NewCoarse(nil, time.Millisecond) // over the real clock
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Stop()

	start := c.Nanotime() // starts the refresh goroutine
	time.Sleep(20 * time.Millisecond)
	now := c.Nanotime()
	fmt.Println("running:", c.Running())
	fmt.Println("saw time pass:", now > start)
	fmt.Println("never ahead of the real clock:", now <= clock.Real().Nanotime())

	_, err = clock.NewCoarse(nil, -time.Millisecond)
	fmt.Println(err)
	// Output:
	// running: true
	// saw time pass: true
	// never ahead of the real clock: true
	// clock: resolution -1ms is negative; want 0 (default 1ms) or more
}
