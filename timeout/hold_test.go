package timeout_test

import (
	"context"
	"testing"
	"time"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/clock"
	"github.com/fusebox-go/fusebox/timeout"
)

func TestHoldKeepsContextsAliveUntilReleased(t *testing.T) {
	fake := clock.NewFake(time.Time{})
	outer, err := timeout.New(timeout.Config{Timeout: 10 * time.Second, Clock: fake})
	if err != nil {
		t.Fatal(err)
	}
	inner, err := timeout.New(timeout.Config{Timeout: 5 * time.Second, Clock: fake})
	if err != nil {
		t.Fatal(err)
	}
	p, err := fusebox.New(outer, inner)
	if err != nil {
		t.Fatal(err)
	}
	var kept context.Context
	var release func()
	if err := p.Run(context.Background(), func(ctx context.Context) error {
		kept, release = ctx, fusebox.Hold(ctx)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if release == nil {
		t.Fatal("Hold found no timeout context")
	}
	if kept.Err() != nil {
		t.Fatalf("held context ended when Run returned: %v", kept.Err())
	}
	done := kept.Done()
	release()
	select {
	case <-done:
	default:
		t.Fatal("release did not end the contexts")
	}
	if kept.Err() != context.Canceled {
		t.Fatalf("after release: Err = %v, want context.Canceled", kept.Err())
	}
	release() // idempotent
}

func TestHoldDeadlineStillApplies(t *testing.T) {
	fake := clock.NewFake(time.Time{})
	to, err := timeout.New(timeout.Config{Timeout: 5 * time.Second, Clock: fake})
	if err != nil {
		t.Fatal(err)
	}
	var kept context.Context
	var release func()
	if err := to.Execute(context.Background(), func(ctx context.Context) error {
		kept, release = ctx, fusebox.Hold(ctx)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	defer release()
	done := kept.Done()
	fake.Advance(5 * time.Second)
	<-done
	if kept.Err() != context.DeadlineExceeded {
		t.Fatalf("held context past its deadline: Err = %v, want DeadlineExceeded", kept.Err())
	}
}

func TestHoldWithoutTimeoutIsNil(t *testing.T) {
	if fusebox.Hold(context.Background()) != nil {
		t.Fatal("Hold on a context without a timeout returned a release function")
	}
}
