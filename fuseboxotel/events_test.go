package fuseboxotel_test

import (
	"testing"
	"time"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/breaker"
	"github.com/fusebox-go/fusebox/clock"
	"github.com/fusebox-go/fusebox/fuseboxotel"
)

// TestCountEvents counts a breaker's transition and rejections by kind,
// with the transition's states.
func TestCountEvents(t *testing.T) {
	meter, reader := newMeter(t)
	bus := fusebox.NewEvents()
	sub, err := fuseboxotel.CountEvents(meter, bus, 0)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := breaker.New(breaker.Config{Name: "db", ConsecutiveFailures: 1, Clock: clock.NewFake(time.Time{}), Events: bus})
	_ = b.Execute(bg, fail)
	_ = b.Execute(bg, ok)
	_ = b.Execute(bg, ok)
	bus.Close() // delivers what is buffered, then ends the subscription
	sub.Close()

	c := collect(t, reader)
	m, _ := c.metric(fuseboxotel.EventsName)
	if m.Unit != "{event}" {
		t.Errorf("unit %q, want {event}", m.Unit)
	}
	kind, pname := fuseboxotel.AttrPolicyKind.String("breaker"), name("db")
	if got := c.int(fuseboxotel.EventsName, fuseboxotel.AttrEvent.String("state-change"), kind, pname,
		fuseboxotel.AttrStateFrom.String("closed"), fuseboxotel.AttrStateTo.String("open")); got != 1 {
		t.Errorf("closed->open state changes = %d, want 1", got)
	}
	if got := c.int(fuseboxotel.EventsName, fuseboxotel.AttrEvent.String("rejected"), kind, pname); got != 2 {
		t.Errorf("rejections = %d, want 2", got)
	}
	if sub.Dropped() != 0 {
		t.Errorf("%d events dropped", sub.Dropped())
	}
}

func TestCountEventsErrors(t *testing.T) {
	meter, _ := newMeter(t)
	if _, err := fuseboxotel.CountEvents(nil, fusebox.NewEvents(), 0); err == nil {
		t.Error("nil meter: no error")
	}
	if _, err := fuseboxotel.CountEvents(meter, nil, 0); err == nil {
		t.Error("nil bus: no error")
	}
}
