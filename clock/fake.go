package clock

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"
)

// Fake is a clock for tests: it stands still until Advance or Set moves it,
// and then fires every timer that has come due, in order of due time (and of
// creation for equal due times), before returning. A timer made with a
// duration of zero or less is due at once: it fires at the next Advance or
// Set, whichever way Set moves the clock. AfterFunc callbacks run
// synchronously in the goroutine that called Advance or Set, without any lock
// of the clock held, so a callback may use the clock. Channel timers behave as
// time.Timer does since Go 1.23: Stop and Reset discard a time that was sent
// but not yet received, and report such a timer as still pending.
//
// Advance and Set fire every timer due by their target, including one that
// another goroutine creates while they run: a goroutine woken by a channel
// timer may arm its next timer before Advance returns, and if that one is
// due by the target it fires in the same Advance. So a test that steps a
// goroutine through its waits one at a time advances by exactly the wait it
// expects (the next timer is then due after the target), not by a generous
// margin that would cover two waits.
//
// The zero value is not usable; create one with NewFake.
type Fake struct {
	mu     sync.Mutex
	now    time.Time
	start  time.Time
	seq    uint64
	timers []*fakeTimer
	// changed is closed and replaced whenever a timer is added, so that
	// BlockUntil can wait without polling.
	changed chan struct{}
	// cached is what Cached returns for this clock: a Coarse reading it
	// directly, shared by every policy that uses the clock.
	cached *Coarse
}

// NewFake returns a fake clock that reads start. A zero start means
// 2026-01-01 00:00:00 UTC, so tests print stable times.
func NewFake(start time.Time) *Fake {
	if start.IsZero() {
		start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	f := &Fake{now: start, start: start, changed: make(chan struct{})}
	f.cached = &Coarse{base: f, resolution: DefaultResolution}
	return f
}

// Now returns the fake time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// Nanotime returns the nanoseconds between the clock's start and its
// current time. Set may move it backwards.
func (f *Fake) Nanotime() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return int64(f.now.Sub(f.start))
}

// Since returns the fake time elapsed since t.
func (f *Fake) Since(t time.Time) time.Duration { return f.Now().Sub(t) }

// NewTimer returns a timer that fires on its channel when the clock reaches
// now+d, sending the clock's time at firing. A d of zero or less fires at the
// next Advance or Set, even a Set to a time before now+d.
func (f *Fake) NewTimer(d time.Duration) Timer {
	t := &fakeTimer{clock: f, ch: make(chan time.Time, 1)}
	f.schedule(t, d)
	return t
}

// AfterFunc returns a timer that calls fn when the clock reaches now+d. As
// with NewTimer, a d of zero or less fires at the next Advance or Set.
func (f *Fake) AfterFunc(d time.Duration, fn func()) Timer {
	t := &fakeTimer{clock: f, fn: fn}
	f.schedule(t, d)
	return t
}

// Advance moves the clock forward by d and fires every timer due by then.
// It panics if d is negative: a test that moves time backwards must say so
// with Set.
func (f *Fake) Advance(d time.Duration) {
	if d < 0 {
		panic("clock: Fake.Advance with a negative duration; use Set to move backwards")
	}
	f.mu.Lock()
	target := f.now.Add(d)
	f.mu.Unlock()
	f.runUntil(target, true)
}

// Set moves the clock to t, forwards or backwards, as a wall clock may jump,
// and fires every timer due by t: each one whose due time is at or before t,
// and each one made with a duration of zero or less (see NewTimer), in order
// of due time (and of creation for equal due times). Timers keep their
// absolute due times: one due after t stays pending, however late it is
// compared with the time before the Set.
//
// Moving forwards, Set behaves as Advance: before a timer fires, the clock
// moves to its due time, so a callback reads the time it was due at. Moving
// backwards, the clock first jumps to t, and every timer fired by the Set
// reads t (or sends t on its channel), unless a callback moves the clock
// itself: time does not run backwards and then forwards again to show a
// timer its earlier due time. Either way, a timer
// a callback schedules is placed relative to the time the callback reads,
// and fires within the same Set if it is due by t. Set returns with Now()
// equal to t, even if a callback moved the clock.
func (f *Fake) Set(t time.Time) {
	f.runUntil(t, false)
}

// runUntil fires due timers one at a time, moving the clock forward to each
// timer's due time first (never past target), so a callback observes the
// time it was due at and may schedule further timers that also fire within
// the same Advance or Set. Without forward (Set), it first moves the clock
// back to target if target is earlier, and at the end sets it to target.
// With forward (Advance), it never moves the clock backwards, which an
// Advance called from a callback, or from another goroutine, could otherwise
// do.
func (f *Fake) runUntil(target time.Time, forward bool) {
	if !forward {
		f.mu.Lock()
		if target.Before(f.now) {
			f.now = target
		}
		f.mu.Unlock()
	}
	for {
		f.mu.Lock()
		i := f.nextDueLocked(target)
		if i < 0 {
			if !forward || target.After(f.now) {
				f.now = target
			}
			f.mu.Unlock()
			return
		}
		t := f.timers[i]
		f.timers = slices.Delete(f.timers, i, i+1)
		t.active = false
		// A timer made with d <= 0 may be due after target, if a Set
		// moved the clock back since: it fires at the current time.
		if t.when.After(f.now) && !t.when.After(target) {
			f.now = t.when
		}
		if t.fn == nil {
			// Sent under the lock, so that Stop and Reset, which drain
			// the channel under it, never leave a stale time behind.
			select {
			case t.ch <- f.now:
			default:
			}
			f.mu.Unlock()
			continue
		}
		f.mu.Unlock()
		t.fn()
	}
}

// nextDueLocked returns the index of the first timer, in due order, that
// fires by target: due at or before it, or made with a duration of zero or
// less. It returns -1 if there is none. Requires f.mu held.
func (f *Fake) nextDueLocked(target time.Time) int {
	for i, t := range f.timers {
		// Sorted by due time: past the first timer due after target,
		// only the immediate ones can match.
		if t.immediate || !t.when.After(target) {
			return i
		}
	}
	return -1
}

// Timers returns how many timers are pending.
func (f *Fake) Timers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.timers)
}

// BlockUntil waits until at least n timers are pending: the way a test waits
// for a goroutine under test to start waiting on the clock before advancing
// it. It waits forever if no timer comes; tests should prefer
// BlockUntilContext, which a deadline bounds, so that a goroutine that never
// arms its timer fails the test instead of hanging it.
func (f *Fake) BlockUntil(n int) {
	_ = f.BlockUntilContext(context.Background(), n)
}

// BlockUntilContext waits until at least n timers are pending, as
// BlockUntil does, or until ctx ends. It returns nil in the first case; in
// the second an error that wraps ctx.Err() and says how many timers were
// pending.
func (f *Fake) BlockUntilContext(ctx context.Context, n int) error {
	for {
		f.mu.Lock()
		have := len(f.timers)
		if have >= n {
			f.mu.Unlock()
			return nil
		}
		ch := f.changed
		f.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("clock: %d timer(s) pending on the fake clock, want at least %d: %w", have, n, ctx.Err())
		}
	}
}

// schedule adds t at now+d. Requires f.mu not held.
func (f *Fake) schedule(t *fakeTimer, d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.scheduleLocked(t, d)
}

// scheduleLocked requires f.mu held.
func (f *Fake) scheduleLocked(t *fakeTimer, d time.Duration) {
	f.seq++
	t.when = f.now.Add(d)
	t.immediate = d <= 0
	t.seq = f.seq
	t.active = true
	i := sort.Search(len(f.timers), func(i int) bool {
		o := f.timers[i]
		return o.when.After(t.when) || (o.when.Equal(t.when) && o.seq > t.seq)
	})
	f.timers = append(f.timers, nil)
	copy(f.timers[i+1:], f.timers[i:])
	f.timers[i] = t
	close(f.changed)
	f.changed = make(chan struct{})
}

// removeLocked requires f.mu held.
func (f *Fake) removeLocked(t *fakeTimer) bool {
	if !t.active {
		return false
	}
	for i, o := range f.timers {
		if o == t {
			f.timers = append(f.timers[:i], f.timers[i+1:]...)
			break
		}
	}
	t.active = false
	return true
}

type fakeTimer struct {
	clock *Fake
	when  time.Time
	seq   uint64
	// immediate marks a timer made with d <= 0: it fires at the next
	// Advance or Set even if a Set moved the clock back before when.
	immediate bool
	active    bool
	fn        func()
	ch        chan time.Time
}

func (t *fakeTimer) C() <-chan time.Time { return t.ch }

func (t *fakeTimer) Stop() bool {
	t.clock.mu.Lock()
	defer t.clock.mu.Unlock()
	was := t.clock.removeLocked(t)
	return t.drainLocked() || was
}

func (t *fakeTimer) Reset(d time.Duration) bool {
	t.clock.mu.Lock()
	defer t.clock.mu.Unlock()
	was := t.clock.removeLocked(t)
	was = t.drainLocked() || was
	t.clock.scheduleLocked(t, d)
	return was
}

// drainLocked discards a time sent but not received, as time.Timer's Stop
// and Reset do since Go 1.23, and reports whether there was one. Requires
// t.clock.mu held.
func (t *fakeTimer) drainLocked() bool {
	select {
	case <-t.ch: // a nil channel (AfterFunc) is never ready
		return true
	default:
		return false
	}
}
