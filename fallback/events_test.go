package fallback_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/clock"
	"github.com/fusebox-go/fusebox/fallback"
	"github.com/fusebox-go/fusebox/internal/eventtest"
)

func TestEvents(t *testing.T) {
	fake := clock.NewFake(time.Time{})
	rec := eventtest.New(t)
	errFB := errors.New("no fallback either")
	boom := errors.New("boom")
	errDeclined := errors.New("not for the fallback")
	p, err := fallback.New(fallback.Config{
		Name: "profile",
		Func: func(_ context.Context, err error) (any, error) {
			switch {
			case errors.Is(err, fusebox.ErrOpen):
				return nil, errFB
			case errors.Is(err, fusebox.ErrTimeout):
				panic(boom)
			}
			return 42, nil
		},
		When:   func(err error) bool { return err != errDeclined },
		Clock:  fake,
		Events: rec.Bus,
	})
	if err != nil {
		t.Fatal(err)
	}
	pl, err := fusebox.New(p)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	failWith := func(err error) func(context.Context) (int, error) {
		return func(context.Context) (int, error) { return 7, err }
	}
	ev := func(reason string, err error) fusebox.Event {
		return fusebox.Event{Kind: fusebox.EventFallback, Policy: "fallback", Name: "profile", At: fake.Now(), Reason: reason, Err: err}
	}

	// No event: a success, an error When declines, the caller's
	// cancellation.
	if v, err := fusebox.Do(ctx, pl, failWith(nil)); v != 7 || err != nil {
		t.Fatalf("success: %v, %v", v, err)
	}
	if _, err := fusebox.Do(ctx, pl, failWith(errDeclined)); err != errDeclined {
		t.Fatalf("declined: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := fusebox.Do(cctx, pl, failWith(context.Canceled)); err != context.Canceled {
		t.Fatalf("canceled: %v", err)
	}

	// Answered.
	fake.Advance(time.Second)
	if v, err := fusebox.Do(ctx, pl, failWith(errDep)); v != 42 || err != nil {
		t.Fatalf("answered: %v, %v", v, err)
	}
	rec.Expect(ev("", errDep))

	// The fallback fails, then panics: the event's Err is the *Error Run
	// returns, holding both errors.
	for _, tc := range []struct {
		call, fb error
	}{{fusebox.ErrOpen, errFB}, {fusebox.ErrTimeout, boom}} {
		_, err := fusebox.Do(ctx, pl, failWith(tc.call))
		var fe *fallback.Error
		if !errors.As(err, &fe) {
			t.Fatalf("fallback failed: err = %v, want *Error", err)
		}
		got := rec.Expect(ev("fallback failed", tc.fb))
		if got.Err != fe || !errors.Is(got.Err, tc.call) {
			t.Errorf("event Err %v, want the returned *Error %v", got.Err, fe)
		}
	}
	rec.Close()
}

func TestEventsWithoutSubscriberAllocateNothing(t *testing.T) {
	p, err := fallback.New(fallback.Config{Func: fallback.Static(nil), Events: eventtest.IdleBus()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ok := fusebox.NextFunc(func(context.Context) error { return nil })
	failed := fusebox.NextFunc(func(context.Context) error { return errDep })
	if n := testing.AllocsPerRun(100, func() { _ = p.Run(ctx, ok) }); n != 0 {
		t.Errorf("success path with an idle bus allocates %v times, want 0", n)
	}
	if n := testing.AllocsPerRun(100, func() { _ = p.Run(ctx, failed) }); n != 0 {
		t.Errorf("a static fallback with an idle bus allocates %v times, want 0", n)
	}
}
