package clock_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fusebox-go/fusebox/clock"
	"github.com/fusebox-go/fusebox/internal/testwait"
)

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestNewFakeZeroStart(t *testing.T) {
	f := clock.NewFake(time.Time{})
	if got := f.Now(); !got.Equal(epoch) || got.Location() != time.UTC {
		t.Errorf("NewFake(zero).Now() = %v, want %v", got, epoch)
	}
	if got := f.Nanotime(); got != 0 {
		t.Errorf("Nanotime at start = %d, want 0", got)
	}
	start := time.Date(2000, 2, 3, 4, 5, 6, 7, time.UTC)
	if got := clock.NewFake(start).Now(); !got.Equal(start) {
		t.Errorf("NewFake(%v).Now() = %v", start, got)
	}
}

func TestFakeAdvanceAndSet(t *testing.T) {
	f := clock.NewFake(time.Time{})
	steps := []struct {
		name    string
		do      func()
		wantOff time.Duration // Now - epoch, which is also Nanotime
	}{
		{"advance 0", func() { f.Advance(0) }, 0},
		{"advance 1ns", func() { f.Advance(1) }, 1},
		{"advance 1.5s", func() { f.Advance(1500 * time.Millisecond) }, 1500*time.Millisecond + 1},
		{"set forward", func() { f.Set(epoch.Add(time.Hour)) }, time.Hour},
		{"set backwards", func() { f.Set(epoch.Add(time.Minute)) }, time.Minute},
		{"set before start", func() { f.Set(epoch.Add(-time.Second)) }, -time.Second},
		{"advance from before start", func() { f.Advance(3 * time.Second) }, 2 * time.Second},
		{"advance 1000h", func() { f.Advance(1000 * time.Hour) }, 1000*time.Hour + 2*time.Second},
	}
	for _, s := range steps {
		s.do()
		if got, want := f.Now(), epoch.Add(s.wantOff); !got.Equal(want) {
			t.Errorf("%s: Now() = %v, want %v", s.name, got, want)
		}
		if got := f.Nanotime(); got != int64(s.wantOff) {
			t.Errorf("%s: Nanotime() = %d, want %d", s.name, got, int64(s.wantOff))
		}
		if got := f.Since(epoch); got != s.wantOff {
			t.Errorf("%s: Since(start) = %v, want %v", s.name, got, s.wantOff)
		}
	}
}

func TestFakeAdvanceNegativePanics(t *testing.T) {
	f := clock.NewFake(time.Time{})
	defer func() {
		if recover() == nil {
			t.Fatal("Advance(-1ns) did not panic")
		}
		if !f.Now().Equal(epoch) {
			t.Errorf("Now() after the panic = %v, want unchanged %v", f.Now(), epoch)
		}
	}()
	f.Advance(-1)
}

// TestFakeTimerOrder creates timers in a random order and checks that one
// Advance fires them by due time, equal due times in creation order, each
// observing its own due time.
func TestFakeTimerOrder(t *testing.T) {
	f := clock.NewFake(time.Time{})
	type fired struct {
		id  int
		due time.Duration
		at  time.Duration // Nanotime seen by the callback
	}
	var got []fired
	dues := []time.Duration{5, 1, 3, 1, 0, 5, 2, 3, 1, -4, 4, 5, 0}
	for i := range dues {
		dues[i] *= time.Second
	}
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(dues), func(i, j int) { dues[i], dues[j] = dues[j], dues[i] })
	type want struct {
		id  int
		due time.Duration
	}
	var wants []want
	for id, d := range dues {
		f.AfterFunc(d, func() { got = append(got, fired{id, d, time.Duration(f.Nanotime())}) })
		wants = append(wants, want{id, max(d, 0)})
	}
	// Stable sort by due time: equal due times keep creation order.
	slices.SortStableFunc(wants, func(a, b want) int { return cmp.Compare(a.due, b.due) }) // not int(a.due-b.due): 32 bits on 386
	if n := f.Timers(); n != len(dues) {
		t.Fatalf("Timers() = %d, want %d", n, len(dues))
	}

	f.Advance(10 * time.Second)

	if len(got) != len(wants) {
		t.Fatalf("fired %d timers, want %d", len(got), len(wants))
	}
	for i, w := range wants {
		g := got[i]
		if g.id != w.id {
			t.Errorf("firing %d: timer %d (due %v), want timer %d (due %v)", i, g.id, g.due, w.id, w.due)
		}
		if g.at != w.due {
			t.Errorf("timer %d saw Nanotime %v, want its due time %v", g.id, g.at, w.due)
		}
	}
	if f.Timers() != 0 {
		t.Errorf("Timers() after firing all = %d, want 0", f.Timers())
	}
	if got := f.Nanotime(); got != int64(10*time.Second) {
		t.Errorf("Nanotime after Advance(10s) = %v, want 10s", time.Duration(got))
	}
}

func TestFakeAdvanceFiresOnlyDueTimers(t *testing.T) {
	f := clock.NewFake(time.Time{})
	var fired []string
	f.AfterFunc(time.Second, func() { fired = append(fired, "1s") })
	f.AfterFunc(2*time.Second, func() { fired = append(fired, "2s") })
	steps := []struct {
		advance time.Duration
		want    []string
	}{
		{999 * time.Millisecond, nil},
		{time.Millisecond, []string{"1s"}},
		{999 * time.Millisecond, []string{"1s"}},
		{0, []string{"1s"}},
		{time.Millisecond, []string{"1s", "2s"}},
		{time.Hour, []string{"1s", "2s"}},
	}
	for i, s := range steps {
		f.Advance(s.advance)
		if !slices.Equal(fired, s.want) {
			t.Fatalf("step %d (advance %v): fired %v, want %v", i, s.advance, fired, s.want)
		}
	}
}

// TestFakeZeroAndNegativeDurationFireOnNextAdvanceOrSet: a timer made with
// d <= 0 is due at once and fires at the next Advance or Set, including a
// Set that moves the clock back before its due time now+d, and reads the
// clock's time at firing: its creation time unless a Set moved it back.
func TestFakeZeroAndNegativeDurationFireOnNextAdvanceOrSet(t *testing.T) {
	moves := []struct {
		name   string
		move   func(f *clock.Fake)
		wantAt time.Time // what the timer reads when it fires
	}{
		{"Advance(0)", func(f *clock.Fake) { f.Advance(0) }, epoch},
		{"Advance(1h)", func(f *clock.Fake) { f.Advance(time.Hour) }, epoch},
		{"Set(now)", func(f *clock.Fake) { f.Set(epoch) }, epoch},
		{"Set forwards", func(f *clock.Fake) { f.Set(epoch.Add(time.Hour)) }, epoch},
		{"Set back 1ns", func(f *clock.Fake) { f.Set(epoch.Add(-1)) }, epoch.Add(-1)},
		{"Set back 2h", func(f *clock.Fake) { f.Set(epoch.Add(-2 * time.Hour)) }, epoch.Add(-2 * time.Hour)},
	}
	for _, m := range moves {
		for _, d := range []time.Duration{0, -time.Nanosecond, -time.Hour} {
			t.Run(fmt.Sprintf("%s/d=%v", m.name, d), func(t *testing.T) {
				f := clock.NewFake(time.Time{})
				tm := f.NewTimer(d)
				var funcAt time.Time
				f.AfterFunc(d, func() { funcAt = f.Now() })
				select {
				case <-tm.C():
					t.Fatal("NewTimer fired before the clock moved")
				default:
				}
				if !funcAt.IsZero() {
					t.Fatal("AfterFunc fired before the clock moved")
				}
				m.move(f)
				select {
				case got := <-tm.C():
					if !got.Equal(m.wantAt) {
						t.Errorf("NewTimer sent %v, want %v", got, m.wantAt)
					}
				default:
					t.Error("NewTimer did not fire")
				}
				if !funcAt.Equal(m.wantAt) {
					t.Errorf("AfterFunc callback read %v, want %v (zero: did not fire)", funcAt, m.wantAt)
				}
				if n := f.Timers(); n != 0 {
					t.Errorf("Timers() = %d, want 0", n)
				}
			})
		}
	}
}

// TestFakeCallbackSchedulesTimers: a callback runs synchronously inside
// Advance and may create timers; those due by the Advance's target fire in
// the same Advance, the rest stay pending.
func TestFakeCallbackSchedulesTimers(t *testing.T) {
	f := clock.NewFake(time.Time{})
	var log []time.Duration
	var tick func()
	tick = func() {
		log = append(log, time.Duration(f.Nanotime()))
		f.AfterFunc(time.Second, tick) // a periodic timer built from one-shots
	}
	f.AfterFunc(time.Second, tick)

	f.Advance(3500 * time.Millisecond)
	want := []time.Duration{time.Second, 2 * time.Second, 3 * time.Second}
	if !slices.Equal(log, want) {
		t.Fatalf("callbacks ran at %v, want %v (synchronously, within one Advance)", log, want)
	}
	if n := f.Timers(); n != 1 {
		t.Fatalf("Timers() = %d, want 1 (the 4s tick)", n)
	}
	if got := f.Nanotime(); got != int64(3500*time.Millisecond) {
		t.Fatalf("Nanotime = %v, want 3.5s", time.Duration(got))
	}
	f.Advance(500 * time.Millisecond)
	if len(log) != 4 || log[3] != 4*time.Second {
		t.Fatalf("after 4s: callbacks ran at %v, want a 4th at 4s", log)
	}
}

// TestFakeCallbackUsesClock: a callback may call every method of the clock
// and of timers without deadlocking.
func TestFakeCallbackUsesClock(t *testing.T) {
	f := clock.NewFake(time.Time{})
	var victimFired, resetFired atomic.Bool
	victim := f.AfterFunc(2*time.Second, func() { victimFired.Store(true) })
	var self clock.Timer
	resets := 0
	var stopResult bool
	self = f.AfterFunc(time.Second, func() {
		_ = f.Now()
		_ = f.Nanotime()
		_ = f.Timers()
		if resets == 0 {
			testwait.Timers(t, f, 1, "the victim's timer")
			stopResult = victim.Stop()
		}
		ch := f.NewTimer(0)
		f.Set(f.Now()) // fires ch, re-entrantly
		select {
		case <-ch.C():
		default:
			t.Error("a timer due now did not fire on a nested Set")
		}
		if resets < 2 {
			resets++
			if self.Reset(time.Second) {
				t.Error("Reset of the firing timer from its own callback = true, want false")
			}
		} else {
			resetFired.Store(true)
		}
	})
	testwait.Within(t, "Advance with a callback that uses the clock", func() { f.Advance(5 * time.Second) })
	if !stopResult {
		t.Error("victim.Stop() from a callback = false, want true")
	}
	if victimFired.Load() {
		t.Error("a timer stopped by a callback fired anyway")
	}
	if !resetFired.Load() || resets != 2 {
		t.Errorf("self-resetting callback: resets = %d, final run = %v; want 2 and true", resets, resetFired.Load())
	}
}

// TestFakeAdvanceInCallbackNeverRewinds pins down a fixed bug: an Advance
// called from a callback moved the clock past the outer Advance's target,
// which then set the clock back to that target.
func TestFakeAdvanceInCallbackNeverRewinds(t *testing.T) {
	f := clock.NewFake(time.Time{})
	f.AfterFunc(time.Second, func() { f.Advance(10 * time.Second) })
	f.Advance(2 * time.Second)
	if got := time.Duration(f.Nanotime()); got != 11*time.Second {
		t.Fatalf("Nanotime = %v, want 11s (1s + the callback's 10s), never back to 2s", got)
	}
	// Set from a callback, by contrast, may move time anywhere, and the
	// outer Set's target wins.
	f.AfterFunc(time.Second, func() { f.Set(epoch.Add(time.Hour)) })
	f.Set(epoch.Add(20 * time.Second))
	if got := time.Duration(f.Nanotime()); got != 20*time.Second {
		t.Fatalf("Nanotime = %v, want 20s", got)
	}
}

func TestFakeStopReset(t *testing.T) {
	f := clock.NewFake(time.Time{})
	count := 0
	tm := f.AfterFunc(time.Second, func() { count++ })

	if !tm.Stop() {
		t.Error("Stop of a pending timer = false, want true")
	}
	if tm.Stop() {
		t.Error("Stop of a stopped timer = true, want false")
	}
	f.Advance(2 * time.Second)
	if count != 0 {
		t.Fatalf("stopped timer fired %d times", count)
	}

	if tm.Reset(time.Second) {
		t.Error("Reset of a stopped timer = true, want false")
	}
	if !tm.Reset(3 * time.Second) {
		t.Error("Reset of a pending timer = false, want true")
	}
	if n := f.Timers(); n != 1 {
		t.Errorf("Timers() after two Resets = %d, want 1", n)
	}
	f.Advance(2 * time.Second) // now 4s; due at 5s
	if count != 0 {
		t.Fatal("Reset did not move the due time later")
	}
	f.Advance(time.Second)
	if count != 1 {
		t.Fatalf("reset timer fired %d times, want 1", count)
	}

	if tm.Stop() {
		t.Error("Stop of a fired AfterFunc timer = true, want false")
	}
	if tm.Reset(time.Second) {
		t.Error("Reset of a fired AfterFunc timer = true, want false")
	}
	f.Advance(time.Second)
	if count != 2 {
		t.Fatalf("timer reset after firing fired %d times in all, want 2", count)
	}
}

func TestFakeChannelTimer(t *testing.T) {
	f := clock.NewFake(time.Time{})
	tm := f.NewTimer(time.Second)
	if tm.C() == nil {
		t.Fatal("NewTimer's C() is nil")
	}
	f.Advance(999 * time.Millisecond)
	select {
	case v := <-tm.C():
		t.Fatalf("timer fired early with %v", v)
	default:
	}
	f.Advance(time.Hour) // jumps past the due time: the time sent is the due time
	select {
	case v := <-tm.C():
		if want := epoch.Add(time.Second); !v.Equal(want) {
			t.Errorf("timer sent %v, want its due time %v", v, want)
		}
	default:
		t.Fatal("timer did not fire")
	}
	if tm.Stop() {
		t.Error("Stop of a fired and received timer = true, want false")
	}
	if tm.Reset(time.Second) {
		t.Error("Reset of a fired and received timer = true, want false")
	}
	f.Advance(time.Second)
	if v := <-tm.C(); !v.Equal(f.Now()) {
		t.Errorf("reset timer sent %v, want %v", v, f.Now())
	}
}

// TestFakeChannelTimerDiscardsUnreceivedTime pins down the Go 1.23 timer
// semantics the fake now shares with real timers: a time sent but not
// received is discarded by Stop and Reset, which then report the timer as
// pending.
func TestFakeChannelTimerDiscardsUnreceivedTime(t *testing.T) {
	f := clock.NewFake(time.Time{})

	tm := f.NewTimer(time.Second)
	f.Advance(time.Second) // fired, not received
	if !tm.Stop() {
		t.Error("Stop of a fired but unreceived timer = false, want true (as time.Timer since Go 1.23)")
	}
	select {
	case v := <-tm.C():
		t.Errorf("received stale time %v after Stop", v)
	default:
	}

	tm = f.NewTimer(time.Second)
	f.Advance(time.Second)
	if !tm.Reset(time.Second) {
		t.Error("Reset of a fired but unreceived timer = false, want true")
	}
	select {
	case v := <-tm.C():
		t.Errorf("received stale time %v right after Reset", v)
	default:
	}
	f.Advance(time.Second)
	select {
	case v := <-tm.C():
		if !v.Equal(f.Now()) {
			t.Errorf("reset timer sent %v, want %v", v, f.Now())
		}
	default:
		t.Error("reset timer did not fire")
	}
}

func TestFakeSetBackwardsKeepsAbsoluteDueTimes(t *testing.T) {
	f := clock.NewFake(time.Time{})
	fired := false
	f.AfterFunc(10*time.Second, func() { fired = true }) // due at start+10s
	f.Set(epoch.Add(-5 * time.Second))
	f.Advance(14 * time.Second) // start+9s
	if fired {
		t.Fatal("timer fired at start+9s, due at start+10s")
	}
	f.Advance(time.Second)
	if !fired {
		t.Fatal("timer did not fire at its absolute due time start+10s")
	}
	// A timer created after a backwards Set is due relative to the new now.
	f.Set(epoch)
	tm := f.NewTimer(time.Second)
	f.Advance(time.Second)
	select {
	case v := <-tm.C():
		if !v.Equal(epoch.Add(time.Second)) {
			t.Errorf("timer sent %v, want %v", v, epoch.Add(time.Second))
		}
	default:
		t.Error("timer created after a backwards Set did not fire 1s later")
	}
}

// TestFakeSetBackwardsFiresOverdueTimersAtTarget: a Set from start+10s back
// to start+8s fires the overdue timers (made with d <= 0) in order of due
// time, those due after the target included, each reading the target, never
// a time after it; a timer a callback schedules is placed relative to the
// target and fires within the Set only if due by it. Timers due after the
// target keep their absolute due time.
func TestFakeSetBackwardsFiresOverdueTimersAtTarget(t *testing.T) {
	f := clock.NewFake(time.Time{})
	f.Advance(10 * time.Second)
	type fired struct {
		name string
		at   time.Duration // Nanotime read by the callback
	}
	var log []fired
	rec := func(name string) func() {
		return func() { log = append(log, fired{name, time.Duration(f.Nanotime())}) }
	}
	f.AfterFunc(-5*time.Second, func() { // due 5s
		rec("a")()
		f.AfterFunc(-3*time.Second, rec("a-3s"))         // due 5s, made after a
		f.AfterFunc(0, rec("a+0"))                       // due 8s, made after ch
		f.AfterFunc(500*time.Millisecond, rec("a+0.5s")) // due 8.5s: after the target
	})
	ch := f.NewTimer(-2 * time.Second)          // due 8s
	f.AfterFunc(-time.Second, rec("b"))         // due 9s: after the target, but overdue
	f.AfterFunc(2*time.Second, rec("late 12s")) // due 12s
	f.AfterFunc(-2*time.Second, func() {        // due 8s, after ch
		select {
		case v := <-ch.C():
			log = append(log, fired{"ch", v.Sub(epoch)})
		default:
			t.Error("channel timer due 8s had not fired before a callback due 8s made after it")
		}
	})

	target := epoch.Add(8 * time.Second)
	f.Set(target)

	want := []fired{{"a", 8 * time.Second}, {"a-3s", 8 * time.Second}, {"ch", 8 * time.Second}, {"a+0", 8 * time.Second}, {"b", 8 * time.Second}}
	if !slices.Equal(log, want) {
		t.Fatalf("Set(start+8s) from start+10s fired %v, want %v", log, want)
	}
	if got := f.Now(); !got.Equal(target) {
		t.Fatalf("Now() after Set = %v, want %v", got, target)
	}
	if n := f.Timers(); n != 2 {
		t.Fatalf("Timers() = %d, want 2 (a+0.5s due 8.5s, late due 12s)", n)
	}

	log = nil
	f.Advance(4 * time.Second) // to 12s
	want = []fired{{"a+0.5s", 8500 * time.Millisecond}, {"late 12s", 12 * time.Second}}
	if !slices.Equal(log, want) {
		t.Fatalf("Advance to start+12s fired %v, want %v (at their due times)", log, want)
	}
}

// TestFakeSetForwardsFiresAtDueTimes: a forward Set behaves as Advance, each
// callback reading its own due time, and timers scheduled by callbacks firing
// within the same Set when due by its target.
func TestFakeSetForwardsFiresAtDueTimes(t *testing.T) {
	f := clock.NewFake(time.Time{})
	var log []time.Duration
	var tick func()
	tick = func() {
		log = append(log, time.Duration(f.Nanotime()))
		f.AfterFunc(time.Second, tick)
	}
	f.AfterFunc(time.Second, tick)
	f.Set(epoch.Add(3500 * time.Millisecond))
	if want := []time.Duration{time.Second, 2 * time.Second, 3 * time.Second}; !slices.Equal(log, want) {
		t.Fatalf("callbacks ran at %v, want %v", log, want)
	}
	if got := time.Duration(f.Nanotime()); got != 3500*time.Millisecond {
		t.Fatalf("Nanotime after Set = %v, want 3.5s", got)
	}
	if n := f.Timers(); n != 1 {
		t.Fatalf("Timers() = %d, want 1 (the 4s tick)", n)
	}
}

func TestFakeBlockUntil(t *testing.T) {
	f := clock.NewFake(time.Time{})
	testwait.Within(t, "BlockUntil(0)", func() { f.BlockUntil(0) })

	woke := make(chan time.Time)
	go func() {
		tm := f.NewTimer(time.Minute)
		woke <- <-tm.C()
	}()
	testwait.Within(t, "BlockUntil(1) with a goroutine creating a timer", func() { f.BlockUntil(1) })
	f.Advance(time.Minute)
	select {
	case v := <-woke:
		if !v.Equal(epoch.Add(time.Minute)) {
			t.Errorf("goroutine woke with %v", v)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the goroutine's timer did not fire")
	}

	// BlockUntil(2) must not return while only one timer is pending.
	f.AfterFunc(time.Hour, func() {})
	returned := make(chan struct{})
	go func() {
		f.BlockUntil(2)
		close(returned)
	}()
	select {
	case <-returned:
		t.Fatal("BlockUntil(2) returned with 1 timer pending")
	case <-time.After(20 * time.Millisecond):
	}
	f.AfterFunc(time.Hour, func() {})
	select {
	case <-returned:
	case <-time.After(5 * time.Second):
		t.Fatal("BlockUntil(2) did not return once 2 timers were pending")
	}
	f.Advance(time.Hour)
}

// TestFakeBlockUntilContext: the bounded wait returns nil once enough
// timers are pending, and an error wrapping the context's when it ends
// first, naming how many there were.
func TestFakeBlockUntilContext(t *testing.T) {
	f := clock.NewFake(time.Time{})
	if err := f.BlockUntilContext(context.Background(), 0); err != nil {
		t.Fatalf("BlockUntilContext(0) = %v, want nil", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := f.BlockUntilContext(ctx, 1)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("BlockUntilContext(done ctx, 1) = %v, want context.Canceled", err)
	}
	if want := "0 timer(s) pending on the fake clock, want at least 1"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}

	short, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	f.AfterFunc(time.Hour, func() {})
	if err := f.BlockUntilContext(short, 2); !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "1 timer(s) pending") {
		t.Fatalf("BlockUntilContext(10ms, 2) with 1 timer = %v, want DeadlineExceeded naming 1 pending", err)
	}

	ctx, cancel = context.WithTimeout(context.Background(), testwait.Limit)
	defer cancel()
	woke := make(chan time.Time)
	go func() {
		tm := f.NewTimer(time.Minute)
		woke <- <-tm.C()
	}()
	if err := f.BlockUntilContext(ctx, 2); err != nil {
		t.Fatalf("BlockUntilContext(2) with a goroutine creating the second timer: %v", err)
	}
	f.Advance(time.Hour)
	if v := testwait.Recv(t, woke, "the goroutine's timer"); !v.Equal(epoch.Add(time.Minute)) {
		t.Errorf("goroutine woke with %v", v)
	}

	// testwait.TimersErr, the helper the other tests use, names what it
	// waited for.
	if err := testwait.TimersErr(canceledWaiter{f}, 1, "the sweeper's timer"); err == nil || !strings.Contains(err.Error(), "the sweeper's timer") {
		t.Errorf("TimersErr = %v, want an error naming what it waited for", err)
	}
}

// canceledWaiter is a fake clock whose waits have already timed out.
type canceledWaiter struct{ f *clock.Fake }

func (w canceledWaiter) BlockUntilContext(_ context.Context, n int) error {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return w.f.BlockUntilContext(ctx, n)
}

// TestFakeConcurrent runs goroutines that create and stop timers and read
// the clock while another advances it: every timer either fires or is
// stopped (exactly one), and readers never see time go backwards.
func TestFakeConcurrent(t *testing.T) {
	f := clock.NewFake(time.Time{})
	const workers, perWorker = 4, 200
	var fired, stopped atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 9))
			prev := f.Nanotime()
			for i := range perWorker {
				d := time.Duration(r.IntN(50)) * time.Millisecond
				var tm clock.Timer
				if i%2 == 0 {
					tm = f.AfterFunc(d, func() { fired.Add(1) })
				} else {
					tm = f.NewTimer(d)
				}
				if r.IntN(2) == 0 {
					switch {
					case tm.Stop():
						stopped.Add(1)
					case tm.C() != nil:
						// Nobody received its time, so it is pending.
						t.Error("Stop of an unreceived channel timer = false, want true")
					default:
						// An AfterFunc that has fired (counted by fn).
					}
				} else if tm.C() != nil {
					go func() { <-tm.C(); fired.Add(1) }()
				}
				if n := f.Nanotime(); n < prev {
					t.Errorf("Nanotime went backwards: %d after %d", n, prev)
				} else {
					prev = n
				}
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
			f.Advance(time.Millisecond)
		}
	}
	f.Advance(time.Second) // everything left is due
	deadline := time.Now().Add(5 * time.Second)
	for fired.Load()+stopped.Load() != workers*perWorker && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if got := fired.Load() + stopped.Load(); got != workers*perWorker {
		t.Fatalf("fired %d + stopped %d = %d, want %d", fired.Load(), stopped.Load(), got, workers*perWorker)
	}
}
