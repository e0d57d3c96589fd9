package clock_test

import (
	"runtime"
	"testing"
	"time"

	"github.com/fusebox-go/fusebox/clock"
	"github.com/fusebox-go/fusebox/internal/testwait"
)

// spin keeps the goroutine it runs on busy for d of real time: a tight loop
// whose only call, a clock reading every 1024 turns, never blocks. Under
// GOMAXPROCS=1 it holds the only P until the scheduler preempts it. It
// returns by itself once d has passed.
func spin(d time.Duration) {
	rc := clock.Real()
	end := rc.Nanotime() + int64(d)
	for i := uint(0); ; i++ {
		if i%1024 == 0 && rc.Nanotime() > end {
			return
		}
	}
}

// TestCoarseLagBoundedWithOneBusyP checks the bound Coarse documents, under
// the scheduling that broke it (issue 11): GOMAXPROCS=1, one goroutine
// spinning, another reading the clock in a tight loop. Every reading must lie
// between the real clock's reading just before the call, less Resolution, and
// its reading just after.
func TestCoarseLagBoundedWithOneBusyP(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for about a second")
	}
	custom, err := clock.NewCoarse(nil, 2*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		c    *clock.Coarse
	}{
		{"Default", clock.Default()},
		{"NewCoarse 2ms", custom},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkLagWithOneBusyP(t, tc.c, 300*time.Millisecond)
		})
	}
}

func checkLagWithOneBusyP(t *testing.T, c *clock.Coarse, d time.Duration) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	rc := clock.Real()
	res := int64(c.Resolution())
	spun := make(chan struct{})
	go func() {
		defer close(spun)
		spin(d)
	}()
	start := rc.Nanotime()
	end := start + int64(d)
	var reads, late int64
	var worst int64
	for {
		b0 := rc.Nanotime()
		if b0 > end {
			break
		}
		v := c.Nanotime()
		b1 := rc.Nanotime()
		reads++
		if v > b1 {
			t.Fatalf("reading %d ahead of the real clock's later reading %d", v, b1)
		}
		if lag := b0 - v; lag > res {
			late++
			worst = max(worst, lag)
		}
	}
	testwait.Recv(t, spun, "the busy goroutine to stop by itself")
	if late > 0 {
		t.Errorf("%d of %d readings more than the resolution %v behind the real clock, the worst by %v",
			late, reads, time.Duration(res), time.Duration(worst))
	}
	t.Logf("%d readings in %v", reads, d)
}
