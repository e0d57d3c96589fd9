package dashboard

import (
	"math"
	"testing"
	"time"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/breaker"
	"github.com/fusebox-go/fusebox/clock"
)

// Config.Heartbeat has no upper bound ("100ms or more"), and a stream write
// may take twice the Heartbeat (at least 10s): for a Heartbeat above
// MaxInt64/2 that saturates instead of wrapping negative.
func TestHugeHeartbeatWriteTimeoutSaturates(t *testing.T) {
	for _, hb := range []time.Duration{time.Duration(math.MaxInt64), time.Duration(1 << 62)} {
		d := newDashboard(t, Config{Heartbeat: hb, Clock: clock.NewFake(time.Unix(1700000000, 0))})
		if d.writeTimeout < hb {
			t.Errorf("Heartbeat %v: stream write timeout %v, want at least the Heartbeat (twice it, saturated)", hb, d.writeTimeout)
		}
	}
}

// Remove then Add of the same name (a policy replaced, say reconfigured):
// the new breaker's state changes land on row "api" at once, not under the
// breaker's Config.Name until the next sample indexes it.
func TestRemoveAddSameNameIndex(t *testing.T) {
	clk := clock.NewFake(time.Unix(1700000000, 0))
	bus := fusebox.NewEvents()
	defer bus.Close()
	d := newDashboard(t, Config{Clock: clk, Events: bus})
	old := newBreaker(t, breaker.Config{Name: "svc", Clock: clk, Events: bus})
	if err := d.Add("api", old); err != nil {
		t.Fatal(err)
	}
	d.Status() // row "api" shows breaker "svc"
	if !d.Remove("api") {
		t.Fatal("Remove(api) = false")
	}
	replacement := newBreaker(t, breaker.Config{Name: "svc", Clock: clk, Events: bus})
	if err := d.Add("api", replacement); err != nil {
		t.Fatal(err)
	}
	replacement.Trip()
	tl := waitTimeline(t, d, 1)
	if tl[0].Policy != "api" {
		t.Errorf("change of the breaker shown on row %q went on the timeline under %q", "api", tl[0].Policy)
	}
}
