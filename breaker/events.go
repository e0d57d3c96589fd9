package breaker

import (
	"time"
)

// Transition describes one change of state.
type Transition struct {
	From   State     `json:"from"`
	To     State     `json:"to"`
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
	// Snapshot is the breaker as it was at the transition, the window
	// that caused it included.
	Snapshot Snapshot `json:"snapshot"`
}

type listener struct {
	id uint32
	fn func(Transition)
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
// to the other listeners and with the next transition.
func (b *Breaker) OnStateChange(fn func(Transition)) (remove func()) {
	b.mu.Lock()
	b.nextListener++
	id := b.nextListener
	b.listeners = append(b.listeners[:len(b.listeners):len(b.listeners)], listener{id: id, fn: fn})
	b.mu.Unlock()
	return func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		for i, l := range b.listeners {
			if l.id == id {
				ls := make([]listener, 0, len(b.listeners)-1)
				ls = append(ls, b.listeners[:i]...)
				b.listeners = append(ls, b.listeners[i+1:]...)
				return
			}
		}
	}
}

// unlockAndDispatch releases b.mu and makes sure queued transitions get
// delivered: it starts the delivery goroutine if none runs. Requires b.mu.
func (b *Breaker) unlockAndDispatch() {
	start := len(b.queue) > 0 && !b.dispatching
	if start {
		b.dispatching = true
	}
	b.mu.Unlock()
	if start {
		go b.dispatch()
	}
}

// dispatch delivers queued transitions in order until the queue is empty.
func (b *Breaker) dispatch() {
	for {
		b.mu.Lock()
		if len(b.queue) == 0 {
			b.dispatching = false
			b.queue = nil
			b.mu.Unlock()
			return
		}
		t := b.queue[0]
		b.queue = b.queue[1:]
		ls := b.listeners
		b.mu.Unlock()
		for _, l := range ls {
			if !callListener(l.fn, t) {
				b.mu.Lock()
				b.listenerPanic++
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
