package ratelimit

import (
	"runtime"
	"testing"
	"time"

	"github.com/fusebox-go/fusebox/clock"
	"github.com/fusebox-go/fusebox/internal/testwait"
)

// spin keeps the goroutine it runs on busy for d of real time: a tight loop
// whose only call, a clock reading every 1024 turns, never blocks. Under
// GOMAXPROCS=1 it holds the only P until the scheduler preempts it, which
// is what starves a clock that counts on a goroutine of its own. It returns
// by itself once d has passed.
func spin(d time.Duration) {
	rc := clock.Real()
	end := rc.Nanotime() + int64(d)
	for i := uint(0); ; i++ {
		if i%1024 == 0 && rc.Nanotime() > end {
			return
		}
	}
}

// TestBucketDefaultClockWithOneBusyP checks a Bucket on the default clock
// against the token bucket's promise while another goroutine keeps the only P
// busy (GOMAXPROCS=1, the everyday case of a one-CPU container): over the
// period it grants at most Rate × period + Burst, and it denies a call only
// when, by the real clock, it had no token left. A clock that lagged behind
// real time broke the second half (issue 11: 15–41 % of calls denied at 1e9
// tokens per second with a burst of 1e6, where a call never outruns a token).
func TestBucketDefaultClockWithOneBusyP(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for about a second")
	}
	for _, tc := range []struct {
		name  string
		rate  float64
		burst int
	}{
		// Issue 11's case: a token arrives every nanosecond, faster
		// than calls come, so no call may be denied.
		{"1e9 per second, burst 1e6", 1e9, 1e6},
		// Calls come faster than tokens: most are rightly denied, the
		// upper bound is tight, and the denials must be the bucket's,
		// not the clock's.
		{"1e6 per second, burst 1e3", 1e6, 1e3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkBucketWithOneBusyP(t, tc.rate, tc.burst, 400*time.Millisecond)
		})
	}
}

// checkBucketWithOneBusyP calls Allow on a new Bucket on the default clock as
// fast as it can for d of real time while a goroutine spins for as long, under
// GOMAXPROCS=1, and fails the test if the bucket broke its bounds.
//
// A denial is judged by the real clock, giving the bucket the benefit of the
// doubt. At its reading now of call i, a bucket (a GCRA) whose earlier
// grants j took their readings n_j holds Burst − D/interval tokens, where
//
//	D = max(0, max over grants j of (interval × grants since j, j included) − (now − n_j))
//
// and it grants call i exactly when that is at least one token. The test
// reads the real clock every 256 calls. A bucket whose clock is right read
// now no earlier than the last reading before call i, and n_j no later than
// the first reading after call j, or at most now when that reading has not
// been taken yet (j in the current batch of 256). Those bounds make an upper
// bound on D, so a lower bound on the tokens: a denial while that lower bound
// is a token or more is wrongful. The bound also counts the creation as a j
// with no grant before it: harmless, since the first grant's term is at
// least as large.
func checkBucketWithOneBusyP(t *testing.T, rate float64, burst int, d time.Duration) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	rc := clock.Real()
	spun := make(chan struct{})
	go func() {
		defer close(spun)
		spin(d)
	}()

	start := rc.Nanotime() // no later than the bucket's creation
	b := mustBucket(t, Config{Rate: rate, Burst: burst})
	created := rc.Nanotime() // no earlier than the bucket's creation
	interval := b.g.interval
	if float64(interval)*rate != 1e9 {
		t.Fatalf("interval %d ns is not 1e9/%g: the bound below needs an exact one", interval, rate)
	}
	tau := int64(burst) * interval

	var granted, denied, wrongful int64
	var firstWrong time.Duration
	// m is the max over grants j of previous batches (and the creation)
	// of (the first reading after j) − interval × (grants before j).
	m := created
	batchGranted := int64(-1) // grants before the current batch's first grant; -1: none yet
	batchStart := int64(0)    // grants before the current batch
	end := start + int64(d)
	seen := created // the last real reading, taken before the next call
	for i := uint(0); ; i++ {
		if i%256 == 0 {
			seen = rc.Nanotime()
			if batchGranted >= 0 {
				m = max(m, seen-interval*batchGranted)
			}
			batchGranted, batchStart = -1, granted
			if seen > end {
				break
			}
		}
		if b.Allow() {
			if batchGranted < 0 {
				batchGranted = granted
			}
			granted++
			continue
		}
		denied++
		dmax := max(interval*granted+m-seen, interval*(granted-batchStart), 0)
		if tau-dmax >= interval {
			wrongful++
			if wrongful == 1 {
				firstWrong = time.Duration(seen - start)
			}
		}
	}
	stop := rc.Nanotime()
	testwait.Recv(t, spun, "the busy goroutine to stop by itself")

	period := stop - start
	calls := granted + denied
	if limit := float64(burst) + rate*float64(period)/1e9; float64(granted) > limit {
		t.Errorf("granted %d calls in %v, more than Rate × period + Burst = %.0f", granted, time.Duration(period), limit)
	}
	if wrongful > 0 {
		t.Errorf("denied %d of %d calls (%.1f %%) in %v, %d of them while the bucket held a token by the real clock, the first %v in",
			denied, calls, 100*float64(denied)/float64(calls), time.Duration(period), wrongful, firstWrong)
	}
	t.Logf("%d calls in %v: %d granted, %d denied, %d wrongly", calls, time.Duration(period), granted, denied, wrongful)
}
