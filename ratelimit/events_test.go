package ratelimit

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/internal/eventtest"
)

func TestEvents(t *testing.T) {
	clk := newFake()
	rec := eventtest.New(t)
	ctx := context.Background()
	fn := func(context.Context) error { return nil }
	rejected := func(name, reason string) fusebox.Event {
		return fusebox.Event{Kind: fusebox.EventRejected, Policy: "ratelimit", Name: name, At: clk.Now(), Reason: reason, Err: ErrRateLimited}
	}

	b := mustBucket(t, Config{Name: "bucket", Rate: 1, Burst: 1, Clock: clk, Events: rec.Bus})
	if !b.Allow() {
		t.Fatal("Allow on a full bucket: false")
	}
	if b.Allow() {
		t.Fatal("Allow on an empty bucket: true")
	}
	rec.Expect(rejected("bucket", "rate limited"))
	if err := b.Execute(ctx, fn); err != ErrRateLimited {
		t.Fatalf("Execute on an empty bucket: %v", err)
	}
	rec.Expect(rejected("bucket", "rate limited"))
	if b.AllowN(2) {
		t.Fatal("AllowN beyond Burst: true")
	}
	rec.Expect(rejected("bucket", "rate limited"))
	if err := b.WaitN(ctx, 2); !errors.Is(err, ErrRateLimited) {
		t.Fatalf("WaitN beyond Burst: %v", err)
	}
	rec.Expect(rejected("bucket", "rate limited"))
	clk.Advance(time.Second)
	if !b.Allow() {
		t.Fatal("Allow after a second: false")
	}

	waiting := mustBucket(t, Config{Name: "waiting", Rate: 1, Burst: 1, Wait: true, MaxWait: 500 * time.Millisecond, Clock: clk, Events: rec.Bus})
	if err := waiting.Execute(ctx, fn); err != nil {
		t.Fatal(err)
	}
	if err := waiting.Execute(ctx, fn); err != ErrRateLimited {
		t.Fatalf("Execute with the token beyond MaxWait: %v", err)
	}
	rec.Expect(rejected("waiting", "rate limited"))

	w := mustWindow(t, WindowConfig{Name: "window", Limit: 1, Window: time.Second, Clock: clk, Events: rec.Bus})
	if !w.Allow() {
		t.Fatal("Window.Allow on an empty window: false")
	}
	if w.Allow() {
		t.Fatal("Window.Allow beyond Limit: true")
	}
	rec.Expect(rejected("window", "rate limited"))
	if err := w.Execute(ctx, fn); err != ErrRateLimited {
		t.Fatalf("Window.Execute beyond Limit: %v", err)
	}
	rec.Expect(rejected("window", "rate limited"))

	k := mustKeyed(t, KeyedConfig{Name: "keyed", Rate: 1, Burst: 1, Clock: clk, Events: rec.Bus})
	if !k.Allow("a") || k.Allow("a") {
		t.Fatal("Keyed.Allow: want one call of key a allowed, the next refused")
	}
	rec.Expect(rejected("keyed", "rate limited: key=a"))
	bctx := WithKey(ctx, "b")
	if err := k.Execute(bctx, fn); err != nil {
		t.Fatal(err)
	}
	if err := k.Execute(bctx, fn); err != ErrRateLimited {
		t.Fatalf("Keyed.Execute beyond Burst: %v", err)
	}
	rec.Expect(rejected("keyed", "rate limited: key=b"))
	// A long key is named by its digest, as it is kept.
	long := strings.Repeat("c", MaxKeyLen+1)
	if !k.Allow(long) || k.Allow(long) {
		t.Fatal("Keyed.Allow: want one call of a long key allowed, the next refused")
	}
	rec.Expect(rejected("keyed", "rate limited: key="+storedKey(long)))
	rec.Close()
}

func TestEventsWithoutSubscriberAllocateNothing(t *testing.T) {
	ctx := context.Background()
	fn := func(context.Context) error { return nil }
	bus := eventtest.IdleBus()
	b := mustBucket(t, Config{Rate: 1e6, Burst: 1000, Clock: newFake(), Events: bus})
	empty := mustBucket(t, Config{Rate: 1, Burst: 1, Clock: newFake(), Events: bus})
	empty.Allow()
	w := mustWindow(t, WindowConfig{Limit: 1, Clock: newFake(), Events: bus})
	w.Allow()
	k := mustKeyed(t, KeyedConfig{Rate: 1, Burst: 1, Clock: newFake(), Events: bus})
	k.Allow("a")
	checks := map[string]func(){
		"Bucket.Execute":          func() { _ = b.Execute(ctx, fn) },
		"Bucket rejection":        func() { _ = empty.Execute(ctx, fn) },
		"Window rejection":        func() { _ = w.Execute(ctx, fn) },
		"Keyed rejection (Allow)": func() { k.Allow("a") },
	}
	for name, f := range checks {
		if n := testing.AllocsPerRun(500, f); n != 0 {
			t.Errorf("%s with an idle bus allocates %v times per call", name, n)
		}
	}
}
