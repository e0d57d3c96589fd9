package breaker

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/fusebox-go/fusebox/internal/testwait"
)

type edge struct {
	From, To State
	Reason   string
}

func edgeOf(tr Transition) edge { return edge{tr.From, tr.To, tr.Reason} }

// Every transition reaches every listener exactly once, in order, with a
// snapshot that shows the new state.
func TestListenersSeeEveryTransitionInOrder(t *testing.T) {
	events := make(chan Transition, 64)
	second := make(chan Transition, 64)
	b, clk := mustNew(t, Config{
		Name: "seq", ConsecutiveFailures: 2, OpenDuration: time.Second, HalfOpenProbes: 1,
		OnStateChange: func(tr Transition) { events <- tr },
	})
	b.OnStateChange(func(tr Transition) { second <- tr })

	call(t, b, bad)
	call(t, b, bad) // closed → open
	clk.Advance(time.Second)
	call(t, b, bad) // open → half-open → open
	clk.Advance(2 * time.Second)
	call(t, b, ok) // open → half-open → closed
	b.Trip()
	b.ForceOpen()
	b.ForceOpen() // no transition
	b.Reset()
	b.Disable()
	b.MetricsOnly()
	b.Reset()
	b.Reset() // no transition

	want := []edge{
		{Closed, Open, "consecutive failures"},
		{Open, HalfOpen, "open duration ended"},
		{HalfOpen, Open, "probe failed"},
		{Open, HalfOpen, "open duration ended"},
		{HalfOpen, Closed, "probes succeeded"},
		{Closed, Open, "tripped by operator"},
		{Open, ForcedOpen, "forced open by operator"},
		{ForcedOpen, Closed, "reset by operator"},
		{Closed, Disabled, "disabled by operator"},
		{Disabled, MetricsOnly, "metrics-only by operator"},
		{MetricsOnly, Closed, "reset by operator"},
	}
	var prevAt time.Time
	for i, w := range want {
		tr := testwait.Recv(t, events, "transition")
		if got := edgeOf(tr); got != w {
			t.Fatalf("transition %d = %+v, want %+v", i, got, w)
		}
		if tr.Snapshot.State != w.To || tr.Snapshot.Name != "seq" || tr.Snapshot.Transitions != uint64(i+1) || tr.Snapshot.Generation != uint64(i+1) {
			t.Errorf("transition %d snapshot: state %v name %q transitions %d generation %d", i, tr.Snapshot.State, tr.Snapshot.Name, tr.Snapshot.Transitions, tr.Snapshot.Generation)
		}
		if tr.At.Before(prevAt) {
			t.Errorf("transition %d at %v, before the previous one at %v", i, tr.At, prevAt)
		}
		prevAt = tr.At
		if got := edgeOf(testwait.Recv(t, second, "transition for the second listener")); got != w {
			t.Fatalf("second listener: transition %d = %+v, want %+v", i, got, w)
		}
	}
	if s := b.Snapshot(); s.Transitions != uint64(len(want)) {
		t.Errorf("Snapshot.Transitions = %d, want %d", s.Transitions, len(want))
	}
	// Nothing more was queued: the next delivery is the next transition.
	b.Trip()
	if got := edgeOf(testwait.Recv(t, events, "marker transition")); got != (edge{Closed, Open, "tripped by operator"}) {
		t.Fatalf("after the sequence got %+v, want only the marker closed→open", got)
	}
	testwait.Recv(t, second, "marker transition")
}

// The Transition snapshot includes the window that caused the trip.
func TestTransitionSnapshotHasTheCause(t *testing.T) {
	events := make(chan Transition, 1)
	b, clk := mustNew(t, Config{Window: CountWindow, WindowSize: 4, MinimumCalls: 4, FailureRate: 0.75, OnStateChange: func(tr Transition) { events <- tr }})
	call(t, b, ok)
	clk.Advance(time.Second)
	call(t, b, bad)
	call(t, b, bad)
	call(t, b, bad)
	tr := testwait.Recv(t, events, "trip")
	if tr.Snapshot.Calls != 4 || tr.Snapshot.Failures != 3 || tr.Snapshot.FailureRate != 0.75 || tr.Reason != "failure rate" {
		t.Errorf("trip snapshot %+v reason %q, want 4 calls, 3 failures", tr.Snapshot, tr.Reason)
	}
	if want := clk.Now(); !tr.At.Equal(want) {
		t.Errorf("At = %v, want the fake clock's %v", tr.At, want)
	}
	if tr.Snapshot.TimeInState != 0 {
		t.Errorf("TimeInState at the transition = %v, want 0", tr.Snapshot.TimeInState)
	}
	clk.Advance(3 * time.Second)
	if s := b.Snapshot(); s.TimeInState != 3*time.Second {
		t.Errorf("TimeInState = %v, want 3s", s.TimeInState)
	}
}

// Listeners run outside the breaker's lock: one that calls back into the
// breaker, Execute included, does not deadlock, and sees the new state.
func TestListenerMayCallTheBreaker(t *testing.T) {
	type seen struct {
		state State
		snap  Snapshot
		err   error
	}
	got := make(chan seen, 8)
	var b *Breaker
	b, clk := mustNew(t, Config{ConsecutiveFailures: 1, OpenDuration: time.Second, HalfOpenProbes: 1, OnStateChange: func(tr Transition) {
		s := seen{state: b.State(), snap: b.Snapshot()}
		if tr.To == Open {
			s.err = b.Execute(context.Background(), okFn)
		}
		if tr.To == Closed && tr.From == HalfOpen {
			b.Trip() // a transition from inside a listener
		}
		got <- s
	}})
	testwait.Within(t, "a transition with a re-entrant listener", func() { call(t, b, bad) })
	s := testwait.Recv(t, got, "listener")
	if s.state != Open || s.snap.State != Open || !isOpenErr(s.err) {
		t.Fatalf("listener saw %v/%v and Execute = %v; want open and ErrOpen", s.state, s.snap.State, s.err)
	}
	clk.Advance(time.Second)
	testwait.Within(t, "probe", func() { call(t, b, ok) }) // half-open, then closed: the listener trips it again
	for range 3 {                                          // half-open, closed, open
		testwait.Recv(t, got, "listener")
	}
	if st := b.State(); st != Open {
		t.Fatalf("state %v, want open (tripped by the listener)", st)
	}
}

func isOpenErr(err error) bool {
	var oe *OpenError
	return errors.Is(err, ErrOpen) && errors.As(err, &oe)
}

// A blocked listener delays only deliveries, never calls; the transitions it
// held up are delivered in order once it returns.
func TestSlowListenerDoesNotBlockCalls(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	delivered := make(chan edge, 64)
	b, clk := mustNew(t, Config{ConsecutiveFailures: 1, OpenDuration: time.Second, HalfOpenProbes: 1})
	b.OnStateChange(func(tr Transition) {
		select {
		case entered <- struct{}{}:
		default:
		}
		<-release
		delivered <- edgeOf(tr)
	})
	b.Trip()
	testwait.Recv(t, entered, "listener entered")
	testwait.Within(t, "calls while a listener blocks", func() {
		for range 100 {
			if err := b.Execute(context.Background(), okFn); !isOpenErr(err) {
				t.Errorf("Execute = %v, want ErrOpen", err)
				return
			}
		}
		clk.Advance(time.Second)
		if err := b.Execute(context.Background(), okFn); err != nil {
			t.Errorf("probe = %v", err)
		}
		for range 100 {
			if err := b.Execute(context.Background(), okFn); err != nil {
				t.Errorf("Execute = %v", err)
				return
			}
		}
		_ = b.Execute(context.Background(), failFn) // trips
		_ = b.Snapshot()
		b.Reset()
	})
	close(release)
	want := []State{Open, HalfOpen, Closed, Open}
	for i, w := range want {
		if got := testwait.Recv(t, delivered, "delivery"); got.To != w {
			t.Fatalf("delivery %d to %v, want %v", i, got.To, w)
		}
	}
	if got := testwait.Recv(t, delivered, "delivery"); got.To != Closed || got.Reason != "reset by operator" {
		t.Fatalf("last delivery %+v, want the reset", got)
	}
}

func TestUnregister(t *testing.T) {
	a := make(chan Transition, 8)
	bb := make(chan Transition, 8)
	c := make(chan Transition, 8)
	b, _ := mustNew(t, Config{})
	removeA := b.OnStateChange(func(tr Transition) { a <- tr })
	removeB := b.OnStateChange(func(tr Transition) { bb <- tr })
	b.OnStateChange(func(tr Transition) { c <- tr })
	b.Trip()
	testwait.Recv(t, a, "a")
	testwait.Recv(t, bb, "b")
	testwait.Recv(t, c, "c")
	removeA()
	removeA() // twice: harmless
	b.Reset()
	// Listeners run in registration order in one goroutine: once the last
	// one has the transition, a removed earlier one would already have it.
	testwait.Recv(t, bb, "b")
	testwait.Recv(t, c, "c")
	if len(a) != 0 {
		t.Fatalf("removed listener got %d transitions", len(a))
	}
	removeB()
	b.Trip()
	testwait.Recv(t, c, "c")
	if len(a) != 0 || len(bb) != 0 {
		t.Fatalf("removed listeners got %d/%d transitions", len(a), len(bb))
	}
}

// A listener registered from inside a listener gets later transitions.
func TestRegisterFromListener(t *testing.T) {
	inner := make(chan Transition, 8)
	outer := make(chan Transition, 8)
	var b *Breaker
	once := false
	b, _ = mustNew(t, Config{OnStateChange: func(tr Transition) {
		if !once {
			once = true
			b.OnStateChange(func(tr Transition) { inner <- tr })
		}
		outer <- tr
	}})
	b.Trip()
	testwait.Recv(t, outer, "outer")
	b.Reset()
	testwait.Recv(t, outer, "outer")
	if got := testwait.Recv(t, inner, "inner"); got.To != Closed {
		t.Fatalf("inner listener got %v, want the reset", got.To)
	}
}

// Without listeners transitions queue nothing.
func TestNoListenerNoQueue(t *testing.T) {
	b, _ := mustNew(t, Config{})
	for range 100 {
		b.Trip()
		b.Reset()
	}
	b.mu.Lock()
	made := b.notify != nil
	b.mu.Unlock()
	if made {
		t.Fatal("a breaker without listeners made their queue")
	}
	if s := b.Snapshot(); s.Transitions != 200 {
		t.Fatalf("Transitions = %d, want 200", s.Transitions)
	}
}

// A listener that panics neither kills the process (it runs in the
// breaker's own goroutine, where nothing else would recover it) nor stops
// delivery: the listeners after it get the transition, every later
// transition is delivered, and the panics are counted.
func TestPanickingListenerIsRecoveredAndCounted(t *testing.T) {
	b, clk := mustNew(t, Config{ConsecutiveFailures: 1, OpenDuration: time.Second, HalfOpenProbes: 1})
	b.OnStateChange(func(tr Transition) { panic("listener bug on " + tr.To.String()) })
	got := make(chan Transition, 8)
	b.OnStateChange(func(tr Transition) { got <- tr })
	call(t, b, bad) // closed → open
	clk.Advance(time.Second)
	call(t, b, ok) // open → half-open → closed
	for i, want := range []State{Open, HalfOpen, Closed} {
		if tr := testwait.Recv(t, got, "the second listener"); tr.To != want {
			t.Fatalf("transition %d to %v, want %v", i, tr.To, want)
		}
	}
	// The panicking listener runs first: each panic was counted before
	// the second listener got the transition.
	if n := b.Snapshot().ListenerPanics; n != 3 {
		t.Fatalf("ListenerPanics = %d, want 3", n)
	}
}
