package fusebox

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// EventKind says what an Event reports.
type EventKind uint8

const (
	// EventStateChange: a policy changed state (a breaker opened, say).
	// From, To and Reason are set; Snapshot holds the policy's snapshot at
	// the transition.
	EventStateChange EventKind = iota + 1
	// EventRejected: a policy refused a call. Reason names why ("open",
	// "bulkhead full", "rate limited", "budget exhausted", ...).
	EventRejected
	// EventRetry: a retry policy is about to wait Delay before attempt
	// Attempt, because of Err.
	EventRetry
	// EventFallback: a fallback served the call after Err.
	EventFallback
	// EventHedge: a hedge policy launched extra attempt Attempt after
	// Delay.
	EventHedge
	// EventQueueWait: a call waited Delay in a bulkhead's queue before it
	// was admitted (or, with Err set, before it gave up).
	EventQueueWait
	// EventLateOutcome: an outcome arrived after the state it belonged to
	// had ended and was dropped.
	EventLateOutcome
	// EventTimeout: a timeout policy's own deadline passed (Delay is the
	// timeout).
	EventTimeout
)

var eventKindNames = [...]string{"", "state-change", "rejected", "retry", "fallback", "hedge", "queue-wait", "late-outcome", "timeout"}

// String returns the kind's name, such as "state-change".
func (k EventKind) String() string {
	if int(k) < len(eventKindNames) && k != 0 {
		return eventKindNames[k]
	}
	return "event(" + itoa(int(k)) + ")"
}

// Event is one thing a policy did. Which fields are set depends on Kind.
type Event struct {
	// Kind is what happened.
	Kind EventKind `json:"kind"`
	// Policy is the kind of policy: "breaker", "retry", "bulkhead", ...
	Policy string `json:"policy"`
	// Name is the policy's configured name.
	Name string `json:"name"`
	// At is when it happened, by the policy's Clock.
	At time.Time `json:"at"`
	// From is the state a state change left ("closed", "open", ...).
	From string `json:"from,omitempty"`
	// To is the state a state change entered.
	To string `json:"to,omitempty"`
	// Reason says why: a transition's cause or a rejection's reason.
	Reason string `json:"reason,omitempty"`
	// Attempt is, for a retry's or a hedge's events, the number of the
	// attempt about to start (2 for the first retry or hedge) or refused
	// by the budget; 0 otherwise.
	Attempt int `json:"attempt,omitempty"`
	// Delay is a retry's wait before the attempt (EventRetry), a
	// timeout's limit (EventTimeout), or for a hedge's events the time
	// since the call started; 0 otherwise. In JSON, nanoseconds.
	Delay time.Duration `json:"delay,omitempty"`
	// Err is the error involved: the failure a retry follows, the error
	// a rejected call returned, the call's error a fallback answered.
	// Errors do not marshal to JSON; String shows it.
	Err error `json:"-"`
	// Snapshot is the policy's snapshot, for state changes.
	Snapshot any `json:"snapshot,omitempty"`
}

// String renders the event on one line, for logs and tests.
func (e Event) String() string {
	s := e.Policy + " " + e.Name + ": " + e.Kind.String()
	if e.From != "" || e.To != "" {
		s += " " + e.From + " -> " + e.To
	}
	if e.Reason != "" {
		s += " (" + e.Reason + ")"
	}
	if e.Attempt != 0 {
		s += fmt.Sprintf(" attempt %d", e.Attempt)
	}
	if e.Delay != 0 {
		s += " after " + e.Delay.String()
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// DefaultEventBuffer is the buffer of a subscription made with a zero
// buffer size.
const DefaultEventBuffer = 1024

// Events is a bus that policies publish events to and subscribers read
// from. Policies share one bus (pass it in their Config); the zero value is
// not usable, create one with NewEvents. A nil *Events is valid and drops
// everything, so a policy without a bus pays nothing.
//
// Subscribers never slow a call: each subscription has a bounded buffer and
// its own goroutine that calls the subscriber's function, outside any lock,
// in the order the events were published. When the buffer is full, the
// event is dropped for that subscriber and counted (Subscription.Dropped);
// so is an event whose Publish races the subscription's Close (or the bus's)
// and arrives after the subscription stopped taking events: every event
// offered to a subscription is either delivered or counted as dropped. A
// subscriber's function that panics does not bring the program down: the
// panic is recovered and counted (Subscription.Panics), and delivery goes on
// with the next event. Publishing with no subscriber costs one atomic load.
type Events struct {
	subs   atomic.Pointer[[]*Subscription]
	mu     sync.Mutex // serialises Subscribe, unsubscribe and Close
	closed bool
}

// NewEvents returns an empty bus.
func NewEvents() *Events { return &Events{} }

// Enabled reports whether anyone subscribes: a policy checks it before
// building an event, so events cost nothing when nobody listens.
func (e *Events) Enabled() bool {
	if e == nil {
		return false
	}
	p := e.subs.Load()
	return p != nil && len(*p) > 0
}

// Publish offers ev to every subscription without blocking.
func (e *Events) Publish(ev Event) {
	if e == nil {
		return
	}
	p := e.subs.Load()
	if p == nil {
		return
	}
	publish(*p, ev)
}

// publish offers ev to each of subs, a list Publish loaded from the bus:
// by the time it runs, any of them may have been closed.
func publish(subs []*Subscription, ev Event) {
	for _, s := range subs {
		s.offer(ev)
	}
}

// Subscribe calls fn with every event published from now on, in order,
// from a goroutine of the subscription's, with a buffer of buffer events
// (DefaultEventBuffer if zero or less). Close the subscription to stop; a
// closed bus, or a nil one, returns an already-closed subscription, whose
// function is never called.
func (e *Events) Subscribe(fn func(Event), buffer int) *Subscription {
	if e == nil {
		return closedSubscription(nil)
	}
	if buffer <= 0 {
		buffer = DefaultEventBuffer
	}
	s := &Subscription{bus: e, fn: fn, ch: make(chan Event, buffer), stop: make(chan struct{}), done: make(chan struct{})}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return closedSubscription(e)
	}
	var old []*Subscription
	if p := e.subs.Load(); p != nil {
		old = *p
	}
	next := append(append(make([]*Subscription, 0, len(old)+1), old...), s)
	e.subs.Store(&next)
	go s.deliver()
	return s
}

// remove drops s from the bus; requires e.mu.
func (e *Events) removeLocked(s *Subscription) {
	p := e.subs.Load()
	if p == nil {
		return
	}
	next := make([]*Subscription, 0, len(*p))
	for _, o := range *p {
		if o != s {
			next = append(next, o)
		}
	}
	e.subs.Store(&next)
}

// Close ends every subscription, after each has delivered what its buffer
// held, and waits for their goroutines. An event whose Publish races Close
// is either delivered or counted in its subscription's Dropped. Later
// subscriptions are closed from the start; publishing goes on to drop
// everything. Close is idempotent. Like Subscription.Close, it must not be
// called from a subscriber's function, whose goroutine it would wait for;
// from there, use go bus.Close().
func (e *Events) Close() {
	e.mu.Lock()
	e.closed = true
	var subs []*Subscription
	if p := e.subs.Load(); p != nil {
		subs = *p
	}
	empty := []*Subscription{}
	e.subs.Store(&empty)
	e.mu.Unlock()
	for _, s := range subs {
		s.stopAndWait()
	}
}

// Subscription is one subscriber of an Events bus.
type Subscription struct {
	bus  *Events // nil for a subscription to a nil bus
	fn   func(Event)
	ch   chan Event
	stop chan struct{}
	done chan struct{}
	// mu guards closing against offer: offer sends into ch only under
	// RLock with closing false, and closing is set under Lock before stop
	// is closed, so every event sent is in ch when deliver's final drain
	// runs, and none is sent after it (it would stay in ch, neither
	// delivered nor counted).
	mu       sync.RWMutex
	closing  bool
	stopOnce sync.Once
	dropped  atomic.Uint64
	panics   atomic.Uint64
}

// closedSubscription returns a subscription of bus (nil or closed) that
// was never started.
func closedSubscription(bus *Events) *Subscription {
	s := &Subscription{bus: bus, closing: true, stop: make(chan struct{}), done: make(chan struct{})}
	s.stopOnce.Do(func() { close(s.stop) })
	close(s.done)
	return s
}

func (s *Subscription) offer(ev Event) {
	s.mu.RLock()
	if s.closing {
		s.mu.RUnlock()
		s.dropped.Add(1)
		return
	}
	select {
	case s.ch <- ev:
	default:
		s.dropped.Add(1)
	}
	s.mu.RUnlock()
}

func (s *Subscription) deliver() {
	defer close(s.done)
	// The subscriber's function may end this goroutine (runtime.Goexit,
	// as t.FailNow does): stop taking events and count what is left as
	// dropped, so nothing stays in ch uncounted. After a normal end, ch is
	// already empty.
	defer func() {
		s.markClosing()
		for {
			select {
			case <-s.ch:
				s.dropped.Add(1)
			default:
				return
			}
		}
	}()
	for {
		select {
		case ev := <-s.ch:
			s.call(ev)
		case <-s.stop:
			for {
				select {
				case ev := <-s.ch:
					s.call(ev)
				default:
					return
				}
			}
		}
	}
}

// call runs the subscriber's function on ev. A panic there has no caller
// to be raised in (this is the subscription's own goroutine) and would end
// the program: it is recovered and counted instead.
func (s *Subscription) call(ev Event) {
	defer func() {
		if r := recover(); r != nil {
			s.panics.Add(1)
		}
	}()
	s.fn(ev)
}

// Dropped returns how many events this subscription lost: because its
// buffer was full, or because they were published while it was closing
// (by its Close or the bus's) and arrived after it stopped taking events.
func (s *Subscription) Dropped() uint64 { return s.dropped.Load() }

// Panics returns how many times the subscriber's function panicked. Each
// panic is recovered (the event counts as delivered) and delivery goes on
// with the next event.
func (s *Subscription) Panics() uint64 { return s.panics.Load() }

// Close unsubscribes: events already buffered are still delivered, then the
// goroutine ends, and Close waits for it; an event whose Publish races
// Close is either delivered or counted in Dropped. Close is idempotent. It
// must not be called from the subscriber's own function, which the
// goroutine is running (that would wait for itself); from there, use
// go sub.Close().
func (s *Subscription) Close() {
	if s.bus != nil {
		s.bus.mu.Lock()
		s.bus.removeLocked(s)
		s.bus.mu.Unlock()
	}
	s.stopAndWait()
}

func (s *Subscription) markClosing() {
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
}

func (s *Subscription) stopAndWait() {
	s.stopOnce.Do(func() {
		s.markClosing()
		close(s.stop)
	})
	<-s.done
}
