// Package eventtest helps the policies' tests check the events they
// publish: a Recorder subscribes to a bus of its own and hands each event
// over on a channel, so a test waits for deliveries instead of sleeping.
package eventtest

import (
	"errors"
	"testing"
	"time"

	"github.com/fusebox-go/fusebox"
)

// Recorder is a bus with one subscriber that records what is published.
type Recorder struct {
	t testing.TB
	// Bus is the bus to give the policy under test.
	Bus *fusebox.Events
	ch  chan fusebox.Event
}

// New returns a recorder whose bus is closed when the test ends.
func New(t testing.TB) *Recorder {
	r := &Recorder{t: t, Bus: fusebox.NewEvents(), ch: make(chan fusebox.Event, 1024)}
	r.Bus.Subscribe(func(e fusebox.Event) { r.ch <- e }, 1024)
	t.Cleanup(r.Bus.Close)
	return r
}

// Expect waits for the next event and checks its Kind, Policy, Name,
// Reason, Attempt and Delay against want's, its Err against want.Err with
// errors.Is (nil wants nil), and its At against want.At when that is set.
func (r *Recorder) Expect(want fusebox.Event) fusebox.Event {
	r.t.Helper()
	var got fusebox.Event
	select {
	case got = <-r.ch:
	case <-time.After(10 * time.Second):
		r.t.Fatalf("no event delivered; want %v", want)
	}
	if got.Kind != want.Kind || got.Policy != want.Policy || got.Name != want.Name ||
		got.Reason != want.Reason || got.Attempt != want.Attempt || got.Delay != want.Delay {
		r.t.Errorf("event %q, want %q", got, want)
	}
	if (want.Err == nil) != (got.Err == nil) || want.Err != nil && !errors.Is(got.Err, want.Err) {
		r.t.Errorf("event %q: Err %v, want %v", got, got.Err, want.Err)
	}
	if !want.At.IsZero() && !got.At.Equal(want.At) {
		r.t.Errorf("event %q: At %v, want %v", got, got.At, want.At)
	}
	return got
}

// Close closes the bus, which delivers whatever is still buffered, and
// fails the test if any event came that was not expected.
func (r *Recorder) Close() {
	r.t.Helper()
	r.Bus.Close()
	for {
		select {
		case e := <-r.ch:
			r.t.Errorf("unexpected event %q", e)
		default:
			return
		}
	}
}

// IdleBus returns a bus nobody listens to any more: it had a subscriber,
// now closed.
func IdleBus() *fusebox.Events {
	bus := fusebox.NewEvents()
	bus.Subscribe(func(fusebox.Event) {}, 1).Close()
	return bus
}
