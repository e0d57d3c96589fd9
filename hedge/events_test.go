package hedge_test

import (
	"context"
	"testing"
	"time"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/hedge"
	"github.com/fusebox-go/fusebox/internal/eventtest"
)

func TestEvents(t *testing.T) {
	rec := eventtest.New(t)
	// Budget 0.01: the first call may spend the initial burst of 10 hedges,
	// the second call gets none.
	f := newFixture(t, hedge.Config{Name: "search", Delay: 10 * time.Millisecond, MaxHedges: hedge.MaxMaxHedges, Budget: 0.01, Events: rec.Bus})
	ev := func(kind fusebox.EventKind, reason string, attempt int, delay time.Duration, err error) fusebox.Event {
		return fusebox.Event{Kind: kind, Policy: "hedge", Name: "search", At: f.fake.Now(), Reason: reason, Attempt: attempt, Delay: delay, Err: err}
	}

	// The last hedge wins; the others wait to be canceled.
	s := newScript(func(ctx context.Context, i int) error {
		if i == hedge.MaxMaxHedges {
			return nil
		}
		<-ctx.Done()
		return ctx.Err()
	})
	ch := f.runAsync(context.Background(), s.fn)
	f.hedgeAfter(s, 10*time.Millisecond)
	rec.Expect(ev(fusebox.EventHedge, "", 2, 10*time.Millisecond, nil))
	for n := 2; n <= hedge.MaxMaxHedges; n++ {
		f.fake.Advance(10 * time.Millisecond)
		rec.Expect(ev(fusebox.EventHedge, "", n+1, time.Duration(n)*10*time.Millisecond, nil))
	}
	if err := <-ch; err != nil {
		t.Fatalf("first call: %v", err)
	}

	// The budget is spent: the second call's hedge is refused.
	release := make(chan struct{})
	s = newScript(func(ctx context.Context, i int) error {
		<-release
		return nil
	})
	ch = f.runAsync(context.Background(), s.fn)
	f.hedgeAfter(s, 10*time.Millisecond)
	rec.Expect(ev(fusebox.EventRejected, "hedge budget exhausted", 2, 10*time.Millisecond, fusebox.ErrBudgetExhausted))
	close(release)
	if err := <-ch; err != nil {
		t.Fatalf("second call: %v", err)
	}
	if got := f.p.Snapshot(); got.Hedges != hedge.MaxMaxHedges || got.BudgetDenials != 1 {
		t.Fatalf("Snapshot = %+v", got)
	}
	rec.Close()
}

// TestEventsWithoutSubscriberAllocateNothing: a bus nobody listens to adds
// no allocation to the documented cost of the fast path.
func TestEventsWithoutSubscriberAllocateNothing(t *testing.T) {
	ctx := context.Background()
	next := fusebox.NextFunc(func(context.Context) error { return nil })
	plain, err := hedge.New(hedge.Config{Delay: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	withBus, err := hedge.New(hedge.Config{Delay: time.Hour, Events: eventtest.IdleBus()})
	if err != nil {
		t.Fatal(err)
	}
	want := testing.AllocsPerRun(200, func() { _ = plain.Run(ctx, next) })
	if n := testing.AllocsPerRun(200, func() { _ = withBus.Run(ctx, next) }); n != want {
		t.Fatalf("fast path with an idle bus allocates %v times, without a bus %v", n, want)
	}
}
