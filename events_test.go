package fusebox

// These tests are in package fusebox so that they can replay a Publish
// that loaded the list of subscriptions before a Close (see publish).

import (
	"errors"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestEventsDeliverInOrder(t *testing.T) {
	bus := NewEvents()
	defer bus.Close()
	var got []int
	done := make(chan struct{})
	sub := bus.Subscribe(func(ev Event) {
		got = append(got, ev.Attempt)
		if ev.Attempt == 500 {
			close(done)
		}
	}, 1000)
	for i := 1; i <= 500; i++ {
		bus.Publish(Event{Kind: EventRetry, Attempt: i})
	}
	<-done
	sub.Close()
	if len(got) != 500 {
		t.Fatalf("delivered %d events, want 500", len(got))
	}
	for i, a := range got {
		if a != i+1 {
			t.Fatalf("event %d has attempt %d: out of order", i, a)
		}
	}
	if sub.Dropped() != 0 {
		t.Fatalf("Dropped = %d, want 0", sub.Dropped())
	}
}

func TestEventsSlowSubscriberDropsAndCounts(t *testing.T) {
	bus := NewEvents()
	release := make(chan struct{})
	var delivered int
	sub := bus.Subscribe(func(Event) {
		<-release
		delivered++
	}, 4)
	for i := 0; i < 100; i++ {
		bus.Publish(Event{Kind: EventRejected})
	}
	// Publishing never waited for the blocked subscriber: at most one
	// event is in its hands and four in its buffer; the rest are dropped.
	if d := sub.Dropped(); d < 95 || d > 96 {
		t.Fatalf("Dropped = %d, want 95 or 96 of 100 (buffer 4)", d)
	}
	close(release)
	sub.Close()
	if delivered+int(sub.Dropped()) != 100 {
		t.Fatalf("delivered %d + dropped %d != 100 published", delivered, sub.Dropped())
	}
	bus.Close()
}

func TestEventsCloseDeliversBufferedThenStops(t *testing.T) {
	bus := NewEvents()
	var mu sync.Mutex
	n := 0
	bus.Subscribe(func(Event) { mu.Lock(); n++; mu.Unlock() }, 100)
	for i := 0; i < 50; i++ {
		bus.Publish(Event{Kind: EventFallback})
	}
	bus.Close()
	mu.Lock()
	if n != 50 {
		t.Fatalf("after Close %d events delivered, want all 50 buffered", n)
	}
	mu.Unlock()
	bus.Publish(Event{Kind: EventFallback}) // no panic, dropped
	if bus.Enabled() {
		t.Fatal("a closed bus reports subscribers")
	}
	late := bus.Subscribe(func(Event) { t.Error("delivered on a closed bus") }, 1)
	late.Close()
	bus.Close() // idempotent
}

func TestEventsSubscribeUnsubscribeWhilePublishing(t *testing.T) {
	bus := NewEvents()
	defer bus.Close()
	stop := publishUntilStopped(bus, 4)
	for i := 0; i < 200; i++ {
		s := bus.Subscribe(func(Event) {}, 8)
		s.Close()
		s.Close() // idempotent
	}
	stop()
	if bus.Enabled() {
		t.Fatal("every subscription was closed, yet Enabled is true")
	}
}

// A subscriber's function runs on the subscription's own goroutine, where
// no caller could recover a panic: before the fix, one panicking subscriber
// ended the whole program (this test binary). The panic is now recovered and
// counted, the panicking subscriber gets its later events, and the others
// are unaffected.
func TestEventsPanickingSubscriberIsRecoveredAndCounted(t *testing.T) {
	bus := NewEvents()
	var good atomic.Int64
	var survived []int // only the subscription's goroutine touches it before Close
	bad := bus.Subscribe(func(ev Event) {
		if ev.Attempt%2 == 1 {
			panic("subscriber bug")
		}
		survived = append(survived, ev.Attempt)
	}, 8)
	ok := bus.Subscribe(func(Event) { good.Add(1) }, 8)
	for i := 1; i <= 5; i++ {
		bus.Publish(Event{Kind: EventRetry, Policy: "retry", Name: "x", Attempt: i})
	}
	bad.Close()
	ok.Close()
	bus.Close()
	if good.Load() != 5 {
		t.Errorf("well-behaved subscriber got %d events, want 5", good.Load())
	}
	if got := bad.Panics(); got != 3 {
		t.Errorf("Panics = %d, want 3 (attempts 1, 3, 5)", got)
	}
	if len(survived) != 2 || survived[0] != 2 || survived[1] != 4 {
		t.Errorf("panicking subscriber handled %v after its panics, want [2 4]", survived)
	}
	if bad.Dropped() != 0 || ok.Panics() != 0 {
		t.Errorf("bad.Dropped = %d, ok.Panics = %d, want 0 and 0", bad.Dropped(), ok.Panics())
	}
}

// A subscriber's function that ends its goroutine (runtime.Goexit, as
// t.FailNow does) cannot be recovered; the events it leaves behind are
// counted as dropped instead of staying in the buffer forever.
func TestEventsSubscriberGoexitCountsTheRestAsDropped(t *testing.T) {
	bus := NewEvents()
	defer bus.Close()
	var calls atomic.Int64
	sub := bus.Subscribe(func(Event) {
		calls.Add(1)
		runtime.Goexit()
	}, 8)
	for range 3 {
		bus.Publish(Event{Kind: EventRejected})
	}
	sub.Close()
	if calls.Load() != 1 || sub.Dropped() != 2 {
		t.Fatalf("calls = %d, Dropped = %d; want 1 and 2 (every event delivered or counted)", calls.Load(), sub.Dropped())
	}
}

// The doc says a nil *Events is valid and drops everything: Subscribe on it
// panicked. It returns an already-closed subscription, as a closed bus
// does.
func TestEventsSubscribeToNilBusReturnsClosedSubscription(t *testing.T) {
	var bus *Events
	sub := bus.Subscribe(func(Event) { t.Error("delivered on a nil bus") }, 0)
	bus.Publish(Event{Kind: EventRejected})
	sub.Close()
	sub.Close() // idempotent
	if sub.Dropped() != 0 || sub.Panics() != 0 {
		t.Fatalf("Dropped = %d, Panics = %d, want 0 and 0", sub.Dropped(), sub.Panics())
	}
}

// A Publish that loaded the list of subscriptions just before a Close
// offers its event after the subscription's goroutine drained its buffer
// and ended. Before the fix the event stayed in the buffer: neither
// delivered nor counted. Replayed deterministically with publish, the
// second half of Publish, for both ways of closing.
func TestEventsPublishRacingCloseCountsDropped(t *testing.T) {
	for _, tc := range []struct {
		name  string
		close func(*Events, *Subscription)
	}{
		{"Subscription.Close", func(_ *Events, s *Subscription) { s.Close() }},
		{"Events.Close", func(e *Events, _ *Subscription) { e.Close() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bus := NewEvents()
			defer bus.Close()
			var delivered atomic.Int64
			sub := bus.Subscribe(func(Event) { delivered.Add(1) }, 8)
			bus.Publish(Event{Kind: EventRejected})
			loaded := *bus.subs.Load() // what a racing Publish holds
			tc.close(bus, sub)
			publish(loaded, Event{Kind: EventRejected})
			publish(loaded, Event{Kind: EventRejected})
			if delivered.Load() != 1 || sub.Dropped() != 2 {
				t.Fatalf("delivered %d + dropped %d, want 1 + 2: every event published is delivered or counted",
					delivered.Load(), sub.Dropped())
			}
			if n := len(sub.ch); n != 0 {
				t.Fatalf("%d events left in a closed subscription's buffer", n)
			}
		})
	}
}

// The same race run for real: publishers keep publishing while
// subscriptions are closed under them. After Close, no event may be left in
// a subscription's buffer, where it would be neither delivered nor counted.
// (Not deterministic: before the fix it failed in some runs only.)
func TestEventsPublishRacingCloseLeavesNothingBuffered(t *testing.T) {
	bus := NewEvents()
	defer bus.Close()
	stop := publishUntilStopped(bus, 2)
	var subs []*Subscription
	for range 200 {
		s := bus.Subscribe(func(Event) {}, 4)
		subs = append(subs, s)
		s.Close()
	}
	stop()
	for i, s := range subs {
		if n := len(s.ch); n != 0 {
			t.Fatalf("subscription %d: %d events left in its buffer after Close, neither delivered nor dropped", i, n)
		}
	}
}

func TestNilEventsIsANoOp(t *testing.T) {
	var bus *Events
	if bus.Enabled() {
		t.Fatal("nil bus enabled")
	}
	bus.Publish(Event{Kind: EventRetry})
}

func TestPublishWithoutSubscribersAllocatesNothing(t *testing.T) {
	bus := NewEvents()
	ev := Event{Kind: EventRejected, Policy: "breaker", Name: "x"}
	if n := testing.AllocsPerRun(1000, func() {
		if bus.Enabled() {
			bus.Publish(ev)
		}
	}); n != 0 {
		t.Fatalf("allocs = %v, want 0", n)
	}
}

func TestEventString(t *testing.T) {
	ev := Event{Kind: EventStateChange, Policy: "breaker", Name: "db", From: "closed", To: "open", Reason: "failure rate"}
	if got, want := ev.String(), "breaker db: state-change closed -> open (failure rate)"; got != want {
		t.Fatalf("String = %q, want %q", got, want)
	}
	ev = Event{Kind: EventRetry, Policy: "retry", Name: "r", Attempt: 2, Delay: time.Second, Err: errors.New("503")}
	if got := ev.String(); !strings.Contains(got, "attempt 2") || !strings.Contains(got, "after 1s") || !strings.Contains(got, ": 503") {
		t.Fatalf("String = %q", got)
	}
	if got := EventKind(99).String(); got != "event(99)" {
		t.Fatalf("unknown kind String = %q", got)
	}
}

// BenchmarkPublishNoSubscriber shows what a policy pays for events when
// nobody listens: the Enabled check.
func BenchmarkPublishNoSubscriber(b *testing.B) {
	bus := NewEvents()
	b.ReportAllocs()
	for b.Loop() {
		if bus.Enabled() {
			bus.Publish(Event{Kind: EventRejected})
		}
	}
}

func BenchmarkPublishOneSubscriber(b *testing.B) {
	bus := NewEvents()
	defer bus.Close()
	bus.Subscribe(func(Event) {}, 0)
	b.ReportAllocs()
	for b.Loop() {
		bus.Publish(Event{Kind: EventRejected})
	}
}

// publishUntilStopped starts n goroutines publishing on bus as fast as they
// can; the returned stop ends them and waits until they have.
func publishUntilStopped(bus *Events, n int) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
					bus.Publish(Event{Kind: EventRetry})
				}
			}
		})
	}
	return func() {
		close(done)
		wg.Wait()
	}
}
