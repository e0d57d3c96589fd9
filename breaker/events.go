package breaker

import (
	"time"
)

// Transition describes one change of state.
type Transition struct {
	// From is the state the breaker left.
	From State `json:"from"`
	// To is the state the breaker entered.
	To State `json:"to"`
	// Reason says why: "consecutive failures", "failure rate",
	// "slow-call rate", "probe failed", "probe slow", "probes
	// succeeded", "open duration ended", or an operator's action
	// ("forced open by operator", ...).
	Reason string `json:"reason"`
	// At is when the transition happened, by the breaker's Clock.
	At time.Time `json:"at"`
	// Snapshot is the breaker as it was at the transition, the window
	// that caused it included.
	Snapshot Snapshot `json:"snapshot"`
}

type listener struct {
	id uint32
	fn func(Transition)
}

// notifier is the state-change listeners of a breaker and the transitions
// queued for them, made by the first OnStateChange so that a breaker
// without listeners does not carry it. Guarded by the breaker's mu.
type notifier struct {
	listeners    []listener
	nextListener uint32
	queue        []Transition
	dispatching  bool
	panics       uint64 // listener calls that panicked
}

// panicCount returns n.panics, 0 for a nil notifier. Requires the
// breaker's mu.
func (n *notifier) panicCount() uint64 {
	if n == nil {
		return 0
	}
	return n.panics
}

// OnStateChange registers fn to be called once for every transition, in
// the order the transitions happened, and returns a function that
// unregisters it.
//
// Listeners run in a goroutine of the breaker's, one transition at a time,
// never while the breaker's lock is held: a listener may call any method of
// the breaker, Execute included, and a slow listener delays only the
// listeners after it, never a call. The goroutine exists only while there
// are transitions to deliver.
//
// A listener that panics does not bring the program down: the panic is
// recovered and counted (Snapshot.ListenerPanics), and delivery goes on,
// to the other listeners and with the next transition. A listener that
// ends its goroutine (runtime.Goexit, which t.FailNow calls) is counted the
// same way; the listeners after it miss that transition, and a new
// goroutine delivers the next ones.
func (b *Breaker) OnStateChange(fn func(Transition)) (remove func()) {
	b.mu.Lock()
	if b.notify == nil {
		b.notify = &notifier{}
	}
	n := b.notify
	n.nextListener++
	id := n.nextListener
	n.listeners = append(n.listeners[:len(n.listeners):len(n.listeners)], listener{id: id, fn: fn})
	b.mu.Unlock()
	return func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		for i, l := range n.listeners {
			if l.id == id {
				ls := make([]listener, 0, len(n.listeners)-1)
				ls = append(ls, n.listeners[:i]...)
				n.listeners = append(ls, n.listeners[i+1:]...)
				return
			}
		}
	}
}

// unlockAndDispatch releases b.mu and makes sure queued transitions get
// delivered: it starts the delivery goroutine if none runs. Requires b.mu.
func (b *Breaker) unlockAndDispatch() {
	n := b.notify
	start := n != nil && len(n.queue) > 0 && !n.dispatching
	if start {
		n.dispatching = true
	}
	b.mu.Unlock()
	if start {
		go b.dispatch(n)
	}
}

// dispatch delivers queued transitions in order until the queue is empty.
// A listener that ends its goroutine (runtime.Goexit, as t.FailNow does)
// is counted as a panic, and a new goroutine delivers the rest.
func (b *Breaker) dispatch(n *notifier) {
	returned := false
	defer func() {
		if !returned {
			b.mu.Lock()
			n.panics++
			b.mu.Unlock()
			go b.dispatch(n)
		}
	}()
	for {
		b.mu.Lock()
		if len(n.queue) == 0 {
			n.dispatching = false
			n.queue = nil
			b.mu.Unlock()
			returned = true
			return
		}
		t := n.queue[0]
		n.queue = n.queue[1:]
		ls := n.listeners
		b.mu.Unlock()
		for _, l := range ls {
			if !callListener(l.fn, t) {
				b.mu.Lock()
				n.panics++
				b.mu.Unlock()
			}
		}
	}
}

// callListener calls fn with t and reports whether it returned without
// panicking. A listener's panic has no caller to reach (it runs in the
// breaker's goroutine), so it is recovered here.
func callListener(fn func(Transition), t Transition) (ok bool) {
	defer func() {
		if !ok {
			recover()
		}
	}()
	fn(t)
	return true
}
