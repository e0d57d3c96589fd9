package breaker

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/fusebox-go/fusebox"
)

// The event bus gets state changes in order, rejections and late outcomes.
func TestEvents(t *testing.T) {
	bus := fusebox.NewEvents()
	ch := make(chan fusebox.Event, 64)
	bus.Subscribe(func(e fusebox.Event) { ch <- e }, 64)
	b, clk := mustNew(t, Config{Name: "ev", ConsecutiveFailures: 1, OpenDuration: time.Second, HalfOpenProbes: 1, Events: bus})
	if b.Config().Events != bus {
		t.Errorf("Config().Events is not the configured bus")
	}
	held, _ := b.Allow()
	call(t, b, bad)                           // closed → open
	_ = b.Execute(context.Background(), okFn) // rejected
	held.Done(ok)                             // late
	clk.Advance(time.Second)
	call(t, b, ok) // open → half-open → closed
	b.ForceOpen()
	mustReject(t, b)
	bus.Close() // delivers what is buffered

	type ev struct {
		kind     fusebox.EventKind
		from, to string
		reason   string
	}
	want := []ev{
		{fusebox.EventStateChange, "closed", "open", "consecutive failures"},
		{fusebox.EventRejected, "", "", "open"},
		{fusebox.EventLateOutcome, "", "", ""},
		{fusebox.EventStateChange, "open", "half-open", "open duration ended"},
		{fusebox.EventStateChange, "half-open", "closed", "probes succeeded"},
		{fusebox.EventStateChange, "closed", "forced-open", "forced open by operator"},
		{fusebox.EventRejected, "", "", "forced-open"},
	}
	for i, w := range want {
		var e fusebox.Event
		select {
		case e = <-ch:
		default:
			t.Fatalf("event %d missing; want %+v", i, w)
		}
		if got := (ev{e.Kind, e.From, e.To, e.Reason}); got != w || e.Policy != "breaker" || e.Name != "ev" {
			t.Errorf("event %d = %v %q %q→%q %q (policy %q name %q), want %+v", i, e.Kind, e.Reason, e.From, e.To, e.Reason, e.Policy, e.Name, w)
		}
		if e.Kind == fusebox.EventRejected && !errors.Is(e.Err, ErrOpen) {
			t.Errorf("rejection event Err = %v, want ErrOpen", e.Err)
		}
		if e.Kind == fusebox.EventStateChange {
			if s, ok := e.Snapshot.(Snapshot); !ok || s.State.String() != e.To {
				t.Errorf("state-change snapshot %#v, want a Snapshot in state %s", e.Snapshot, e.To)
			}
		}
	}
	select {
	case e := <-ch:
		t.Errorf("unexpected event %v", e)
	default:
	}
}
