package fusebox_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/clock"
	"github.com/fusebox-go/fusebox/hedge"
	"github.com/fusebox-go/fusebox/timeout"
)

// Hold finds every policy context of the chain, whatever its kind and
// nesting (a timeout outside a hedge outside a timeout), and keeps each
// alive past Run until released.
func TestHoldAcrossPolicies(t *testing.T) {
	fake := clock.NewFake(time.Time{})
	outer, err := timeout.New(timeout.Config{Timeout: time.Minute, Clock: fake})
	if err != nil {
		t.Fatal(err)
	}
	h, err := hedge.New(hedge.Config{Delay: time.Hour, Clock: fake})
	if err != nil {
		t.Fatal(err)
	}
	inner, err := timeout.New(timeout.Config{Timeout: time.Second, Clock: fake})
	if err != nil {
		t.Fatal(err)
	}
	p, err := fusebox.New(outer, h, inner)
	if err != nil {
		t.Fatal(err)
	}
	var chain []context.Context // innermost first
	var release func()
	if err := p.Run(context.Background(), func(ctx context.Context) error {
		release = fusebox.Hold(ctx)
		for c, _ := ctx.Value(fusebox.HoldKey{}).(fusebox.Holdable); c != nil; c, _ = c.Outer().Value(fusebox.HoldKey{}).(fusebox.Holdable) {
			chain = append(chain, c)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if release == nil || len(chain) != 3 {
		t.Fatalf("Hold: release %v, %d policy contexts in the chain; want 3", release != nil, len(chain))
	}
	for i, c := range chain {
		if err := c.Err(); err != nil {
			t.Fatalf("policy context %d ended when Run returned, though held: %v", i, err)
		}
	}
	release()
	for i, c := range chain {
		if c.Err() == nil {
			t.Fatalf("policy context %d is still alive after release", i)
		}
	}
	release() // idempotent
}

func TestHoldWithoutPolicies(t *testing.T) {
	if fusebox.Hold(context.Background()) != nil {
		t.Fatal("Hold of a context with no policy context returned a release function")
	}
	p, err := fusebox.New()
	if err != nil {
		t.Fatal(err)
	}
	var release func()
	_ = p.Run(context.Background(), func(ctx context.Context) error {
		release = fusebox.Hold(ctx)
		return errors.New("any")
	})
	if release != nil {
		t.Fatal("Hold inside an empty pipeline returned a release function")
	}
}
