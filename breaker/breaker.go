package breaker

import (
	"context"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/clock"
	"github.com/fusebox-go/fusebox/internal/window"
)

// Breaker is a circuit breaker. It is safe for concurrent use; create it
// with New.
//
// The closed state's admit and record are lock-free and allocation-free:
// one atomic load to admit, one atomic add to record a success, plus one
// reading of the monotonic clock (clock.Coarse). The mutex is
// taken only for transitions and for half-open probe outcomes.
type Breaker struct {
	// word is the state word: state in the low bits, generation above.
	word atomic.Uint64
	// Read on every call; set once by New.
	coarse    *clock.Coarse // clock.Cached(s.clock): a direct, inlinable read
	tw        *window.Time
	cw        *window.Count
	slowNanos int64 // 0 when slow calls are not tracked
	plain     bool  // no Classifier: a nil error is a Success without a call
	fast      bool  // plain and untimed: Execute and Run need no Permit
	// lastReason says why the latest transition happened. Guarded by mu;
	// it fills the first line's padding, written only by transitions.
	lastReason cause
	// armed is set while a success may complete a rate condition: see
	// checkAfterSuccess. It sits in the padding of the first line.
	armed atomic.Bool

	s      settings
	events *fusebox.Events
	// rejections counts rejected calls: one shared atomic, measured no
	// slower than per-P counters on two cores (docs/BENCHMARKS.md,
	// "Per-P counters").
	rejections atomic.Uint64
	late       atomic.Uint64
	openUntil  atomic.Int64
	openErr    atomic.Pointer[OpenError]
	probes     []probeSlot

	// Everything below is guarded by mu.
	mu            sync.Mutex
	since         int64  // Nanotime of the last transition
	reopens       int32  // consecutive openings without closing
	probeOK       uint32 // successful probes in this half-open state
	probeFail     uint64
	reclaimed     uint64
	transitions   uint64
	timer         clock.Timer
	notify        *notifier // state-change listeners; nil until the first
	seed          uint64    // jitter's random state (splitmix64)
	lastOpenNanos int64
	// shown is the lifetime totals as last shown in a Snapshot: the floor
	// of the next reading (see window.Time.Totals).
	shown window.Counts

	// consecutive is the current run of failures. Failures bump it and
	// the next success zeroes it, so under mixed traffic its cache line
	// moves between cores; it sits here, among the fields only
	// transitions write, and not on the first line with word and the
	// read-only fields every call loads (New's breaker is 64-byte
	// aligned: see TestLayout).
	consecutive atomic.Uint64
}

// probeSlot is one half-open probe permit. ticket is even while the slot is
// free and odd while a probe holds it; each acquisition makes a new ticket,
// so a stale probe can never release a slot someone else holds. since is
// when the holder took it, or math.MaxInt64 while that is not yet known.
type probeSlot struct {
	ticket atomic.Uint64
	since  atomic.Int64
}

// New returns a closed breaker configured by c, or an error naming the first
// invalid field of c.
func New(c Config) (*Breaker, error) {
	c, err := c.validate()
	if err != nil {
		return nil, err
	}
	s := newSettings(c)
	b := &Breaker{s: s, slowNanos: s.slowNanos, plain: s.classifier == nil}
	b.fast = b.plain && b.slowNanos == 0
	b.events = c.Events
	b.coarse = clock.Cached(s.clock)
	if s.countWindow {
		b.cw, _ = window.NewCount(int(s.windowSize))
	} else {
		b.tw, _ = window.NewTime(time.Duration(s.windowNanos), int(s.buckets))
		b.tw.Reset(b.coarse.Nanotime())
	}
	b.probes = make([]probeSlot, s.probes)
	for i := range b.probes {
		b.probes[i].since.Store(math.MaxInt64)
	}
	b.since = b.coarse.Nanotime()
	b.seed = rand.Uint64()
	if c.OnStateChange != nil {
		b.OnStateChange(c.OnStateChange)
	}
	return b, nil
}

// Name returns the breaker's configured name.
func (b *Breaker) Name() string { return b.s.name }

// Config returns the breaker's configuration with every default applied.
func (b *Breaker) Config() Config {
	c := b.s.config()
	c.Events = b.events
	return c
}

// State returns the current state. An open breaker whose open duration has
// ended still reads Open until a call (or the AutoHalfOpen timer) moves it.
func (b *Breaker) State() State { return stateOf(b.word.Load()) }

func (b *Breaker) now() int64 { return b.coarse.Nanotime() }

// Permit is the right to make one call, obtained from Allow. Report its
// outcome exactly once with Done; a Permit must not be copied. Done on the
// same Permit a second time does nothing. A Permit that is never done
// records nothing; in the half-open state it holds its probe slot until
// HalfOpenMaxWait passes.
type Permit struct {
	b      *Breaker
	word   uint64 // state word the permit was issued under
	start  int64  // Nanotime at admission, when slow calls are tracked
	slot   int32  // probe slot, or -1
	ticket uint64 // probe ticket
}

// Allow asks to make one call. On success the returned Permit must be done
// with the call's outcome; otherwise the error is an *OpenError matching
// ErrOpen. Allow is the two-step form for proxies and streams; most callers
// use Execute or Do.
func (b *Breaker) Allow() (Permit, error) {
	w := b.word.Load()
	if stateOf(w) == Closed && b.slowNanos == 0 {
		return Permit{b: b, word: w, slot: -1}, nil
	}
	return b.allowSlow(w)
}

func (b *Breaker) allowSlow(w uint64) (Permit, error) {
	for {
		switch stateOf(w) {
		case Closed, MetricsOnly:
			p := Permit{b: b, word: w, slot: -1}
			if b.slowNanos != 0 {
				p.start = b.coarse.Nanotime()
			}
			return p, nil
		case Disabled:
			return Permit{slot: -1}, nil
		case ForcedOpen:
			return Permit{slot: -1}, b.reject(b.openErr.Load())
		case Open:
			if b.coarse.Nanotime() < b.openUntil.Load() {
				return Permit{slot: -1}, b.reject(b.openErr.Load())
			}
			b.toHalfOpen(w, false)
		case HalfOpen:
			if p, ok := b.acquireProbe(w); ok {
				return p, nil
			}
			if b.word.Load() == w {
				return Permit{slot: -1}, b.reject(b.openErr.Load())
			}
		}
		w = b.word.Load()
	}
}

// acquireProbe takes a free probe slot, or one whose holder has held it
// longer than HalfOpenMaxWait, with compare-and-swap: never more than
// HalfOpenProbes holders at once.
//
// The caller read the state word w before; the breaker may have left that
// half-open state since (a probe failed, say) while its slots stayed as they
// were. So a slot taken is kept only if the word is still w after the
// compare-and-swap; otherwise it is given back and acquireProbe reports
// failure, for the caller to look at the state again: an open breaker
// admits no call.
func (b *Breaker) acquireProbe(w uint64) (Permit, bool) {
	now := b.coarse.Nanotime()
	for i := range b.probes {
		sl := &b.probes[i]
		t := sl.ticket.Load()
		if t&1 == 0 {
			if sl.ticket.CompareAndSwap(t, t+1) {
				sl.since.Store(now)
				if b.word.Load() != w {
					b.releaseProbe(sl, t+1)
					return Permit{}, false
				}
				return Permit{b: b, word: w, start: now, slot: int32(i), ticket: t + 1}, true
			}
			continue
		}
		since := sl.since.Load()
		if since != math.MaxInt64 && now-since >= b.s.maxWait && sl.since.CompareAndSwap(since, now) {
			if testHook != nil {
				testHook(hookReclaimSince)
			}
			if sl.ticket.CompareAndSwap(t, t+2) {
				if testHook != nil {
					testHook(hookReclaimTicket)
				}
				if b.word.Load() != w {
					b.releaseProbe(sl, t+2)
					return Permit{}, false
				}
				b.mu.Lock()
				b.reclaimed++
				b.mu.Unlock()
				return Permit{b: b, word: w, start: now, slot: int32(i), ticket: t + 2}, true
			}
		}
	}
	return Permit{}, false
}

// releaseProbe frees the slot sl held under ticket, and reports whether it
// did: false when the slot is no longer that ticket's (reclaimed, or made
// stale by a new half-open state and perhaps taken again).
//
// It frees by compare-and-swap, not a store: acquireProbe reclaims without
// the mutex, and a store could free a slot that a reclaimer took a moment
// ago, letting one probe too many in. since goes first, so that no new
// reclaim can start. If the slot is someone else's, that overwrote their
// since: give one back, unless they have set theirs since. A fresh reading
// of the clock is no earlier than when they took the slot, so their probe
// is never reclaimed early, at worst a moment late.
func (b *Breaker) releaseProbe(sl *probeSlot, ticket uint64) bool {
	sl.since.Store(math.MaxInt64)
	if !sl.ticket.CompareAndSwap(ticket, ticket+1) {
		sl.since.CompareAndSwap(math.MaxInt64, b.coarse.Nanotime())
		return false
	}
	return true
}

// testHook, set only by tests, is called at the points of the lock-free
// probe protocol named by the hook constants, so that a test can force the
// interleaving of a race. It is nil otherwise, and read only on the
// half-open reclaim path and on transitions to half-open.
var testHook func(hookPoint)

type hookPoint uint8

const (
	hookReclaimSince  hookPoint = iota // acquireProbe: a stuck slot's since taken, its ticket not yet
	hookReclaimTicket                  // acquireProbe: a stuck slot's ticket taken, the state word not yet checked
	hookHalfOpenSlot                   // transitionLocked to half-open: a held slot's ticket loaded, not yet bumped
)

// Done reports the outcome of the permitted call. Only the first Done of a
// Permit counts; an outcome that belongs to an earlier state of the breaker
// (the breaker opened while the call was in flight, say) is dropped and
// counted as late.
func (p *Permit) Done(o fusebox.Outcome) {
	b := p.b
	if b == nil {
		return
	}
	p.b = nil
	if p.slot >= 0 {
		b.doneProbe(p, o)
		return
	}
	b.record(p.word, p.start, o)
}

// record is the closed (and metrics-only) state's outcome path. Its first
// branch is the hot path: a success, not timed, into a time window.
func (b *Breaker) record(w uint64, start int64, o fusebox.Outcome) {
	if o == fusebox.Success && b.slowNanos == 0 && b.tw != nil {
		now := b.coarse.Nanotime()
		if b.word.Load() != w {
			b.lateOutcome()
			return
		}
		if b.tw.RecordAt(now, window.Success) || b.armed.Load() {
			b.judgeSuccess(w, now, window.Counts{}, false)
		}
		if b.consecutive.Load() != 0 {
			b.consecutive.Store(0)
		}
		return
	}
	b.recordSlow(w, start, o)
}

func (b *Breaker) recordSlow(w uint64, start int64, o fusebox.Outcome) {
	var now int64
	if b.tw != nil || b.slowNanos != 0 {
		now = b.coarse.Nanotime()
	}
	k := window.Success
	switch o {
	case fusebox.Failure:
		k = window.FailureBit
	case fusebox.Ignored:
		k = window.Ignored
	}
	if b.slowNanos != 0 && o != fusebox.Ignored && now-start >= b.slowNanos {
		k |= window.SlowBit
	}
	if b.word.Load() != w {
		b.lateOutcome()
		return
	}
	var (
		rotated bool          // a time window began a new epoch
		c       window.Counts // a count window's counts after the record
	)
	if b.tw != nil {
		rotated = b.tw.RecordAt(now, k)
	} else {
		c = b.cw.Record(k)
	}
	if k == window.Success {
		if b.consecutive.Load() != 0 {
			b.consecutive.Store(0)
		}
		if b.tw == nil || rotated || b.armed.Load() {
			b.judgeSuccess(w, now, c, b.tw == nil)
		}
		return
	}
	if k == window.Ignored {
		if rotated {
			b.judgeSuccess(w, now, c, false)
		}
		return
	}
	var run uint64
	if k&window.FailureBit != 0 {
		run = b.consecutive.Add(1)
	} else if b.consecutive.Load() != 0 {
		b.consecutive.Store(0)
	}
	if stateOf(w) != Closed {
		return // metrics-only: record, never trip
	}
	if b.s.consecutive != 0 && run >= uint64(b.s.consecutive) {
		b.transition(w, Open, reasonConsecutive)
		return
	}
	if b.s.rateTrips {
		b.judgeRates(w, now)
	}
}

// judgeSuccess judges the rates after a success (or, when a time window
// began a new epoch, an ignored call) in state word w. Adding a success
// lowers both rates, so it can make a rate condition newly true in two ways
// only: by bringing the window up to MinimumCalls while its failures or
// slow calls are already enough, or, in a time window, by coming first in
// a new epoch, when old calls (successes perhaps) leave the window. A count
// window's record returns its counts (known is then true, c the counts), so
// judging costs a few comparisons and every success is judged; a time
// window's reading costs a pass over its buckets, so a success judges only
// when it rotated the window or the breaker is armed (see judgeRates).
func (b *Breaker) judgeSuccess(w uint64, now int64, c window.Counts, known bool) {
	if stateOf(w) != Closed || !b.s.rateTrips {
		return
	}
	if known {
		if c.Calls >= uint64(b.s.minCalls) {
			b.tripIfRates(w, c)
		}
		return
	}
	b.judgeRates(w, now)
}

// judgeRates trips the breaker, in state word w, if the window's rates say
// so. A window short of MinimumCalls that already holds failures or slow
// calls arms the breaker: while armed, every success of a time window
// judges the rates too, for the success that brings the window up to
// MinimumCalls may complete a condition. The flag is set before the window
// is read again, so a success racing this judgement either sees the flag
// or is counted in that second reading. It is cleared, under the mutex and
// after a fresh reading, once the window holds MinimumCalls (from then on
// only a failure, a slow call or a new epoch, whose first record judges,
// can change the verdict), and by a Reset. Setting it also takes the
// mutex, so that neither clearing can come after a reading that needed
// it. The mutex is taken only while the window is short of MinimumCalls
// with failures in it: at startup, after a Reset, or under little
// traffic.
func (b *Breaker) judgeRates(w uint64, now int64) {
	c := b.counts(now)
	minCalls := uint64(b.s.minCalls)
	if c.Calls < minCalls {
		if c.Failures == 0 && c.Slow == 0 || b.tw == nil {
			// Nothing to complete, or a count window, which
			// judges every success anyway.
			return
		}
		// Set under the mutex even when it reads set already: a Reset
		// or a disarm holding the mutex may be about to clear it, and
		// must not clear it after this reading.
		b.mu.Lock()
		b.armed.Store(true)
		b.mu.Unlock()
		if c = b.counts(now); c.Calls < minCalls {
			return
		}
	} else if b.armed.Load() {
		b.mu.Lock()
		if b.counts(now).Calls >= minCalls {
			b.armed.Store(false)
		}
		b.mu.Unlock()
	}
	b.tripIfRates(w, c)
}

// tripIfRates opens the breaker, in state word w, if the counts c of a
// window holding at least MinimumCalls reach a rate threshold.
func (b *Breaker) tripIfRates(w uint64, c window.Counts) {
	if b.s.failureRate > 0 && c.FailureRate() >= b.s.failureRate {
		b.transition(w, Open, reasonFailureRate)
	} else if b.s.slowRate > 0 && c.SlowRate() >= b.s.slowRate {
		b.transition(w, Open, reasonSlowRate)
	}
}

// totalsLocked returns the lifetime totals, never below those the last
// Snapshot showed. Requires b.mu.
func (b *Breaker) totalsLocked() window.Counts {
	if b.tw != nil {
		b.shown = b.tw.Totals(b.shown)
	} else {
		b.shown = b.cw.Totals()
	}
	return b.shown
}

func (b *Breaker) counts(now int64) window.Counts {
	if b.tw != nil {
		return b.tw.CountsAt(now)
	}
	return b.cw.Counts()
}

// doneProbe applies a half-open probe's outcome, under the mutex so that
// the count of successful probes is exact.
func (b *Breaker) doneProbe(p *Permit, o fusebox.Outcome) {
	now := b.coarse.Nanotime()
	slow := b.slowNanos != 0 && o != fusebox.Ignored && now-p.start >= b.slowNanos
	sl := &b.probes[p.slot]
	b.mu.Lock()
	if sl.ticket.Load() != p.ticket {
		b.mu.Unlock()
		b.lateOutcome() // reclaimed after HalfOpenMaxWait, or from an earlier half-open state
		return
	}
	// A reclaimer may take the slot between the check above and the
	// release: then the slot is the reclaimer's and this outcome is late.
	if !b.releaseProbe(sl, p.ticket) {
		b.mu.Unlock()
		b.lateOutcome()
		return
	}
	if b.word.Load() != p.word {
		b.mu.Unlock()
		b.lateOutcome()
		return
	}
	// A probe is judged outside the window, but it was a call: it counts
	// in the lifetime totals.
	k := window.Success
	switch {
	case o == fusebox.Ignored:
		k = window.Ignored
	case o == fusebox.Failure:
		k = window.FailureBit
	}
	if slow {
		k |= window.SlowBit
	}
	if b.tw != nil {
		b.tw.AddTotal(k)
	} else {
		b.cw.AddTotal(k)
	}
	switch {
	case o == fusebox.Ignored:
		b.mu.Unlock()
	case o == fusebox.Failure || slow:
		b.probeFail++
		r := reasonProbeFailed
		if o != fusebox.Failure {
			r = reasonProbeSlow
		}
		b.transitionLocked(p.word, Open, r)
		b.unlockAndDispatch()
	default:
		b.probeOK++
		if b.probeOK >= b.s.successes {
			b.transitionLocked(p.word, Closed, reasonProbesOK)
		}
		b.unlockAndDispatch()
	}
}

// toHalfOpen moves an open breaker whose open duration has ended to
// half-open, if it is still in the state word w. The AutoHalfOpen timer
// skips the time check: its firing is the proof, and a coarse clock may
// still read a moment earlier.
func (b *Breaker) toHalfOpen(w uint64, byTimer bool) {
	b.mu.Lock()
	if b.word.Load() != w || !byTimer && b.coarse.Nanotime() < b.openUntil.Load() {
		b.mu.Unlock()
		return
	}
	b.transitionLocked(w, HalfOpen, reasonOpenEnded)
	b.unlockAndDispatch()
}

// transition moves the breaker from the state word w to state to, unless
// another transition got there first: concurrent callers that all see the
// threshold crossed make exactly one transition.
func (b *Breaker) transition(w uint64, to State, reason cause) bool {
	b.mu.Lock()
	ok := b.transitionLocked(w, to, reason)
	b.unlockAndDispatch()
	return ok
}

// transitionLocked requires b.mu held. It returns false, changing nothing,
// when the state word is no longer w.
func (b *Breaker) transitionLocked(w uint64, to State, reason cause) bool {
	if b.word.Load() != w {
		return false
	}
	from := stateOf(w)
	now := b.coarse.Nanotime()
	if b.timer != nil {
		b.timer.Stop()
		b.timer = nil
	}
	next := (w>>stateBits+1)<<stateBits | uint64(to)
	switch to {
	case Open:
		d := b.openDurationLocked()
		b.reopens++
		b.lastOpenNanos = d
		until := int64(math.MaxInt64) // saturated: an open duration near the largest Duration must not wrap
		if now <= 0 || d <= math.MaxInt64-now {
			until = now + d
		}
		b.openUntil.Store(until)
		b.openErr.Store(&OpenError{Name: b.s.name, State: Open, until: until, b: b})
		if b.s.autoHalf {
			b.timer = b.s.clock.AfterFunc(time.Duration(d), func() { b.toHalfOpen(next, true) })
		}
	case ForcedOpen:
		b.openErr.Store(&OpenError{Name: b.s.name, State: ForcedOpen, b: b})
	case HalfOpen:
		b.probeOK = 0
		for i := range b.probes {
			sl := &b.probes[i]
			sl.since.Store(math.MaxInt64)
			// A stuck probe from before: free its slot, making its
			// ticket stale. By compare-and-swap: a reclaimer that took
			// since before the store above may still take the ticket
			// (acquireProbe runs without the mutex), and a store would
			// then hand its ticket to the next prober too.
			for {
				t := sl.ticket.Load()
				if t&1 == 0 {
					break
				}
				if testHook != nil {
					testHook(hookHalfOpenSlot)
				}
				if sl.ticket.CompareAndSwap(t, t+1) {
					break
				}
			}
		}
		// Rejections while every probe slot is taken say "now".
		b.openErr.Store(&OpenError{Name: b.s.name, State: HalfOpen, b: b})
	case Closed, MetricsOnly, Disabled:
		if to == Closed || from != Closed && from != MetricsOnly {
			b.resetWindowLocked(now)
		}
		b.reopens = 0
	}
	b.transitions++
	b.lastReason = reason
	b.since = now
	if listening := b.notify != nil && len(b.notify.listeners) > 0; listening || b.events.Enabled() {
		b.word.Store(next) // the snapshot shows the new state
		t := Transition{From: from, To: to, Reason: reason.String(), At: b.s.clock.Now(), Snapshot: b.snapshotLocked(now)}
		if listening {
			b.notify.queue = append(b.notify.queue, t)
		}
		// Published under the lock, so state changes reach the bus in
		// order. Publishing only offers the event to buffered channels;
		// subscribers run in their own goroutines, never under this lock.
		b.events.Publish(fusebox.Event{
			Kind: fusebox.EventStateChange, Policy: "breaker", Name: b.s.name, At: t.At,
			From: from.String(), To: to.String(), Reason: t.Reason, Snapshot: t.Snapshot,
		})
		return true
	}
	b.word.Store(next)
	return true
}

// reject counts a rejection and publishes it when someone listens.
func (b *Breaker) reject(err *OpenError) error {
	b.rejections.Add(1)
	if b.events.Enabled() {
		b.publishRejection(err)
	}
	return err
}

func (b *Breaker) publishRejection(err *OpenError) {
	b.events.Publish(fusebox.Event{
		Kind: fusebox.EventRejected, Policy: "breaker", Name: b.s.name, At: b.s.clock.Now(),
		Reason: err.State.String(), Err: err,
	})
}

// lateOutcome counts an outcome dropped as late and publishes it when
// someone listens.
func (b *Breaker) lateOutcome() {
	b.late.Add(1)
	if b.events.Enabled() {
		b.events.Publish(fusebox.Event{Kind: fusebox.EventLateOutcome, Policy: "breaker", Name: b.s.name, At: b.s.clock.Now()})
	}
}

// resetWindowLocked empties the window and the failure run; requires b.mu.
func (b *Breaker) resetWindowLocked(now int64) {
	if b.tw != nil {
		b.tw.Reset(now)
	} else {
		b.cw.Reset()
	}
	b.consecutive.Store(0)
	b.armed.Store(false)
}

// openDurationLocked returns the next open duration in nanoseconds, at
// least 1: the base duration grown by the backoff for each consecutive
// re-open, capped at MaxOpenDuration, then shortened by the jitter, a
// uniform draw from [d×(1−jitter), d]. Jitter after the cap, and downward
// only, keeps it from being clamped away (openings in lockstep at the cap)
// and keeps every opening within the cap. Requires b.mu.
func (b *Breaker) openDurationLocked() int64 {
	d := b.s.maxOpen
	if b.s.maxOpen != b.s.openNanos {
		// In float64 the growth may reach +Inf, and the cap may round up
		// (float64(math.MaxInt64) is 2^63, which no int64 holds): compare
		// in float64, convert only what is below the cap.
		if f := float64(b.s.openNanos) * math.Pow(b.s.backoff, float64(b.reopens)); f < float64(b.s.maxOpen) {
			d = min(int64(f), b.s.maxOpen)
		}
	}
	if j := b.s.jitter; j > 0 {
		// j*random() < 1, so the cut is below float64(d) and fits an
		// int64 even for d near math.MaxInt64.
		d -= int64(float64(d) * j * b.random())
	}
	return max(d, 1)
}

// remaining returns until-now, at least 0, saturated rather than wrapped
// when until is near math.MaxInt64 and now negative (a fake clock set back).
func remaining(until, now int64) int64 {
	if until <= now {
		return 0
	}
	if now < 0 && until > math.MaxInt64+now {
		return math.MaxInt64
	}
	return until - now
}

// random returns a uniform float64 in [0, 1) from the breaker's own
// splitmix64 sequence. Requires b.mu.
func (b *Breaker) random() float64 {
	b.seed += 0x9e3779b97f4a7c15
	z := b.seed
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	z ^= z >> 31
	return float64(z>>11) / (1 << 53)
}

// Execute runs fn if the breaker admits it and records its outcome, as
// judged by the configured Classifier (an error after the caller's context
// ended is Ignored). A rejected call returns an *OpenError matching ErrOpen
// without running fn. If fn (or the Classifier) panics, the call is
// recorded as a failure and the panic continues.
func (b *Breaker) Execute(ctx context.Context, fn func(context.Context) error) error {
	w := b.word.Load()
	if stateOf(w) == Closed && b.fast {
		return b.executeClosed(ctx, fn, w)
	}
	if stateOf(w) == Open && b.coarse.Nanotime() < b.openUntil.Load() && b.events == nil {
		// The open state's rejection, kept flat: one atomic increment,
		// the preallocated error.
		b.rejections.Add(1)
		return b.openErr.Load()
	}
	return b.executeSlow(ctx, fn)
}

// executeClosed is the hot path: closed, untimed, default classifier. No
// Permit.
func (b *Breaker) executeClosed(ctx context.Context, fn func(context.Context) error, w uint64) error {
	finished := false
	defer func() {
		if !finished {
			b.record(w, 0, fusebox.Failure)
		}
	}()
	err := fn(ctx)
	finished = true
	if err == nil {
		b.record(w, 0, fusebox.Success)
	} else {
		b.record(w, 0, fusebox.Classify(ctx, err, nil))
	}
	return err
}

func (b *Breaker) executeSlow(ctx context.Context, fn func(context.Context) error) error {
	p, err := b.Allow()
	if err != nil {
		return err
	}
	finished := false
	defer func() {
		if !finished {
			p.Done(fusebox.Failure)
		}
	}()
	err = fn(ctx)
	// Classify before finished: a Classifier is user code, and if it
	// panics the deferred Done must still release the permit.
	o := b.Classify(ctx, err)
	finished = true
	p.Done(o)
	return err
}

// Run implements fusebox.Policy: Execute for the rest of a pipeline.
func (b *Breaker) Run(ctx context.Context, next fusebox.Next) error {
	w := b.word.Load()
	if stateOf(w) == Closed && b.fast {
		return b.runClosed(ctx, next, w)
	}
	if stateOf(w) == Open && b.coarse.Nanotime() < b.openUntil.Load() && b.events == nil {
		// The open state's rejection, kept flat: one atomic increment,
		// the preallocated error.
		b.rejections.Add(1)
		return b.openErr.Load()
	}
	return b.runSlow(ctx, next)
}

func (b *Breaker) runClosed(ctx context.Context, next fusebox.Next, w uint64) error {
	finished := false
	defer func() {
		if !finished {
			b.record(w, 0, fusebox.Failure)
		}
	}()
	err := next.Run(ctx)
	finished = true
	if err == nil {
		b.record(w, 0, fusebox.Success)
	} else {
		b.record(w, 0, fusebox.Classify(ctx, err, nil))
	}
	return err
}

func (b *Breaker) runSlow(ctx context.Context, next fusebox.Next) error {
	p, err := b.Allow()
	if err != nil {
		return err
	}
	finished := false
	defer func() {
		if !finished {
			p.Done(fusebox.Failure)
		}
	}()
	err = next.Run(ctx)
	o := b.Classify(ctx, err) // before finished: see executeSlow
	finished = true
	p.Done(o)
	return err
}

// Do is Execute for a function that returns a value.
func Do[T any](ctx context.Context, b *Breaker, fn func(context.Context) (T, error)) (T, error) {
	p, err := b.Allow()
	if err != nil {
		var zero T
		return zero, err
	}
	finished := false
	defer func() {
		if !finished {
			p.Done(fusebox.Failure)
		}
	}()
	v, err := fn(ctx)
	o := b.Classify(ctx, err) // before finished: see executeSlow
	finished = true
	p.Done(o)
	return v, err
}

// Classify returns the outcome the breaker gives a call that returned err
// under ctx: what a user of Allow passes to Done.
func (b *Breaker) Classify(ctx context.Context, err error) fusebox.Outcome {
	if err == nil && b.plain {
		return fusebox.Success
	}
	return fusebox.Classify(ctx, err, b.s.classifier)
}

// Trip opens the breaker now, as a failure would, with the usual open
// duration and recovery through half-open. It acts on the automatic states
// (Closed, Open, where it starts a fresh opening, and HalfOpen) only: in the
// operator states ForcedOpen, Disabled and MetricsOnly it does nothing, for
// they last until Reset or another operator command.
func (b *Breaker) Trip() { b.force(Open, reasonTripped) }

// Reset closes the breaker and empties its window, whatever its state,
// also ending ForcedOpen, Disabled and MetricsOnly. It starts a new
// generation even for a closed breaker (without a transition for
// listeners): outcomes of calls admitted before the Reset are dropped as
// late, not judged in the emptied window.
func (b *Breaker) Reset() { b.force(Closed, reasonReset) }

// ForceOpen rejects every call until Reset, Disable or MetricsOnly; Trip
// leaves a forced-open breaker forced open.
func (b *Breaker) ForceOpen() { b.force(ForcedOpen, reasonForced) }

// Disable admits every call and records nothing until Reset (or ForceOpen,
// MetricsOnly); Trip does nothing while disabled.
func (b *Breaker) Disable() { b.force(Disabled, reasonDisabled) }

// MetricsOnly admits every call and records outcomes, but never trips,
// until Reset (or ForceOpen, Disable); Trip does nothing in metrics-only
// mode.
func (b *Breaker) MetricsOnly() { b.force(MetricsOnly, reasonMetricsOnly) }

func (b *Breaker) force(to State, reason cause) {
	b.mu.Lock()
	w := b.word.Load()
	from := stateOf(w)
	if to == Open && (from == ForcedOpen || from == Disabled || from == MetricsOnly) {
		b.mu.Unlock() // Trip leaves the operator states alone
		return
	}
	if from == to && to != Open {
		if to == Closed {
			// Reset of a closed breaker: a new generation, so that
			// calls in flight report late instead of into the emptied
			// window; no transition.
			b.word.Store((w>>stateBits+1)<<stateBits | uint64(Closed))
			b.resetWindowLocked(b.coarse.Nanotime())
		}
		b.mu.Unlock()
		return
	}
	if to == Open && stateOf(w) == Open {
		b.reopens = 0 // a manual trip starts the backoff afresh
	}
	b.transitionLocked(w, to, reason)
	b.unlockAndDispatch()
}
