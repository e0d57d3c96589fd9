package fuseboxotel

import (
	"context"
	"errors"
	"fmt"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/fusebox-go/fusebox"
)

// EventsName is the name of the counter CountEvents adds to.
const EventsName = "fusebox.events"

// CountEvents subscribes to bus and counts each event it delivers in the
// counter EventsName (unit "{event}") made with meter, with the attributes
// AttrEvent (the event's kind, "state-change", "rejected", ...),
// AttrPolicyKind, AttrPolicyName and, where the event has them,
// AttrStateFrom and AttrStateTo (state changes) and AttrReason (state
// changes and rejections). It is what snapshots cannot tell: which
// transitions happened, not only how many.
//
// Events carry no context, so they cannot be tied to a span; see the
// package documentation for what reaches spans, and how. The subscription
// has bus's buffer (buffer events, fusebox.DefaultEventBuffer if 0 or
// less): events it drops when it falls behind are counted in its Dropped,
// not in the counter. Close the subscription to stop counting.
//
// It returns an error when meter or bus is nil or the meter refuses the
// counter.
func CountEvents(meter metric.Meter, bus *fusebox.Events, buffer int) (*fusebox.Subscription, error) {
	if meter == nil {
		return nil, errors.New("fuseboxotel: meter is nil")
	}
	if bus == nil {
		return nil, errors.New("fuseboxotel: bus is nil")
	}
	c, err := meter.Int64Counter(EventsName,
		metric.WithUnit("{event}"),
		metric.WithDescription("Events Fusebox policies published, by kind."),
	)
	if err != nil {
		return nil, fmt.Errorf("fuseboxotel: %s: %w", EventsName, err)
	}
	ctx := context.Background()
	return bus.Subscribe(func(ev fusebox.Event) {
		kv := make([]attribute.KeyValue, 0, 6)
		kv = append(kv,
			AttrEvent.String(ev.Kind.String()),
			AttrPolicyKind.String(ev.Policy),
			AttrPolicyName.String(ev.Name),
		)
		if ev.Kind == fusebox.EventStateChange {
			kv = append(kv, AttrStateFrom.String(ev.From), AttrStateTo.String(ev.To))
		}
		if ev.Reason != "" && (ev.Kind == fusebox.EventStateChange || ev.Kind == fusebox.EventRejected) {
			kv = append(kv, AttrReason.String(ev.Reason))
		}
		c.Add(ctx, 1, metric.WithAttributes(kv...))
	}, buffer), nil
}
