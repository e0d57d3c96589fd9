package fusebox_test

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fusebox-go/fusebox"
)

func TestEventsDeliverInOrder(t *testing.T) {
	bus := fusebox.NewEvents()
	defer bus.Close()
	var got []int
	done := make(chan struct{})
	sub := bus.Subscribe(func(ev fusebox.Event) {
		got = append(got, ev.Attempt)
		if ev.Attempt == 500 {
			close(done)
		}
	}, 1000)
	for i := 1; i <= 500; i++ {
		bus.Publish(fusebox.Event{Kind: fusebox.EventRetry, Attempt: i})
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
	bus := fusebox.NewEvents()
	release := make(chan struct{})
	var delivered int
	sub := bus.Subscribe(func(fusebox.Event) {
		<-release
		delivered++
	}, 4)
	start := time.Now()
	for i := 0; i < 100; i++ {
		bus.Publish(fusebox.Event{Kind: fusebox.EventRejected})
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
	_ = start
	bus.Close()
}

func TestEventsCloseDeliversBufferedThenStops(t *testing.T) {
	bus := fusebox.NewEvents()
	var mu sync.Mutex
	n := 0
	bus.Subscribe(func(fusebox.Event) { mu.Lock(); n++; mu.Unlock() }, 100)
	for i := 0; i < 50; i++ {
		bus.Publish(fusebox.Event{Kind: fusebox.EventFallback})
	}
	bus.Close()
	mu.Lock()
	if n != 50 {
		t.Fatalf("after Close %d events delivered, want all 50 buffered", n)
	}
	mu.Unlock()
	bus.Publish(fusebox.Event{Kind: fusebox.EventFallback}) // no panic, dropped
	if bus.Enabled() {
		t.Fatal("a closed bus reports subscribers")
	}
	late := bus.Subscribe(func(fusebox.Event) { t.Error("delivered on a closed bus") }, 1)
	late.Close()
	bus.Close() // idempotent
}

func TestEventsSubscribeUnsubscribeWhilePublishing(t *testing.T) {
	bus := fusebox.NewEvents()
	defer bus.Close()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
					bus.Publish(fusebox.Event{Kind: fusebox.EventRetry})
				}
			}
		}()
	}
	for i := 0; i < 200; i++ {
		s := bus.Subscribe(func(fusebox.Event) {}, 8)
		s.Close()
		s.Close() // idempotent
	}
	close(stop)
	wg.Wait()
	if bus.Enabled() {
		t.Fatal("every subscription was closed, yet Enabled is true")
	}
}

func TestNilEventsIsANoOp(t *testing.T) {
	var bus *fusebox.Events
	if bus.Enabled() {
		t.Fatal("nil bus enabled")
	}
	bus.Publish(fusebox.Event{Kind: fusebox.EventRetry})
}

func TestPublishWithoutSubscribersAllocatesNothing(t *testing.T) {
	bus := fusebox.NewEvents()
	ev := fusebox.Event{Kind: fusebox.EventRejected, Policy: "breaker", Name: "x"}
	if n := testing.AllocsPerRun(1000, func() {
		if bus.Enabled() {
			bus.Publish(ev)
		}
	}); n != 0 {
		t.Fatalf("allocs = %v, want 0", n)
	}
}

func TestEventString(t *testing.T) {
	ev := fusebox.Event{Kind: fusebox.EventStateChange, Policy: "breaker", Name: "db", From: "closed", To: "open", Reason: "failure rate"}
	if got, want := ev.String(), "breaker db: state-change closed -> open (failure rate)"; got != want {
		t.Fatalf("String = %q, want %q", got, want)
	}
	ev = fusebox.Event{Kind: fusebox.EventRetry, Policy: "retry", Name: "r", Attempt: 2, Delay: time.Second, Err: errors.New("503")}
	if got := ev.String(); !strings.Contains(got, "attempt 2") || !strings.Contains(got, "after 1s") || !strings.Contains(got, ": 503") {
		t.Fatalf("String = %q", got)
	}
	if got := fusebox.EventKind(99).String(); got != "event(99)" {
		t.Fatalf("unknown kind String = %q", got)
	}
}

// BenchmarkPublishNoSubscriber shows what a policy pays for events when
// nobody listens: the Enabled check.
func BenchmarkPublishNoSubscriber(b *testing.B) {
	bus := fusebox.NewEvents()
	b.ReportAllocs()
	for b.Loop() {
		if bus.Enabled() {
			bus.Publish(fusebox.Event{Kind: fusebox.EventRejected})
		}
	}
}

func BenchmarkPublishOneSubscriber(b *testing.B) {
	bus := fusebox.NewEvents()
	defer bus.Close()
	bus.Subscribe(func(fusebox.Event) {}, 0)
	b.ReportAllocs()
	for b.Loop() {
		bus.Publish(fusebox.Event{Kind: fusebox.EventRejected})
	}
}
