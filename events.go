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
	Kind EventKind `json:"kind"`
	// Policy is the kind of policy: "breaker", "retry", "bulkhead", ...
	Policy string `json:"policy"`
	// Name is the policy's configured name.
	Name string    `json:"name"`
	At   time.Time `json:"at"`
	// From and To are the states of a state change.
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
	// Reason says why: a transition's cause or a rejection's reason.
	Reason  string        `json:"reason,omitempty"`
	Attempt int           `json:"attempt,omitempty"`
	Delay   time.Duration `json:"delay,omitempty"`
	Err     error         `json:"-"`
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
// event is dropped for that subscriber and counted (Subscription.Dropped).
// Publishing with no subscriber costs one atomic load.
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
	for _, s := range *p {
		s.offer(ev)
	}
}

// Subscribe calls fn with every event published from now on, in order,
// from a goroutine of the subscription's, with a buffer of buffer events
// (DefaultEventBuffer if zero or less). Close the subscription to stop; a
// closed bus returns an already-closed subscription.
func (e *Events) Subscribe(fn func(Event), buffer int) *Subscription {
	if buffer <= 0 {
		buffer = DefaultEventBuffer
	}
	s := &Subscription{bus: e, fn: fn, ch: make(chan Event, buffer), stop: make(chan struct{}), done: make(chan struct{})}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		s.stopOnce.Do(func() { close(s.stop) })
		close(s.done)
		return s
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
// held, and waits for their goroutines. Later subscriptions are closed from
// the start; publishing goes on to drop everything. Close is idempotent.
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
	bus      *Events
	fn       func(Event)
	ch       chan Event
	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
	dropped  atomic.Uint64
}

func (s *Subscription) offer(ev Event) {
	select {
	case s.ch <- ev:
	default:
		s.dropped.Add(1)
	}
}

func (s *Subscription) deliver() {
	defer close(s.done)
	for {
		select {
		case ev := <-s.ch:
			s.fn(ev)
		case <-s.stop:
			for {
				select {
				case ev := <-s.ch:
					s.fn(ev)
				default:
					return
				}
			}
		}
	}
}

// Dropped returns how many events this subscription lost because its
// buffer was full.
func (s *Subscription) Dropped() uint64 { return s.dropped.Load() }

// Close unsubscribes: events already buffered are still delivered, then the
// goroutine ends, and Close waits for it. Close is idempotent. It must not
// be called from the subscriber's own function, which the goroutine is
// running (that would wait for itself); from there, use go sub.Close().
func (s *Subscription) Close() {
	s.bus.mu.Lock()
	s.bus.removeLocked(s)
	s.bus.mu.Unlock()
	s.stopAndWait()
}

func (s *Subscription) stopAndWait() {
	s.stopOnce.Do(func() { close(s.stop) })
	<-s.done
}
