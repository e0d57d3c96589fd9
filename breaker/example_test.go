package breaker_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/breaker"
	"github.com/fusebox-go/fusebox/clock"
)

var errUnavailable = errors.New("503 service unavailable")

func ExampleBreaker_Execute() {
	b, err := breaker.New(breaker.Config{
		Name:                "inventory",
		ConsecutiveFailures: 3,
		Clock:               clock.NewFake(time.Time{}),
	})
	if err != nil {
		panic(err)
	}
	callInventory := func(ctx context.Context) error { return errUnavailable }

	for i := 1; i <= 4; i++ {
		err := b.Execute(context.Background(), callInventory)
		fmt.Printf("call %d: %v (open: %v)\n", i, err, errors.Is(err, breaker.ErrOpen))
	}
	fmt.Println("state:", b.State())
	// Output:
	// call 1: 503 service unavailable (open: false)
	// call 2: 503 service unavailable (open: false)
	// call 3: 503 service unavailable (open: false)
	// call 4: breaker inventory: open (open: true)
	// state: open
}

func ExampleDo() {
	b, err := breaker.New(breaker.Config{Clock: clock.NewFake(time.Time{})})
	if err != nil {
		panic(err)
	}
	price, err := breaker.Do(context.Background(), b, func(ctx context.Context) (float64, error) {
		return 9.99, nil // a call to a pricing service
	})
	fmt.Println(price, err)
	// Output: 9.99 <nil>
}

// Allow and Done are the two-step form, for code that cannot wrap the call
// in a function: a proxy, or a stream whose outcome is known only at its end.
func ExampleBreaker_Allow() {
	b, err := breaker.New(breaker.Config{ConsecutiveFailures: 1, Clock: clock.NewFake(time.Time{})})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	for _, status := range []int{200, 503, 200} {
		permit, err := b.Allow()
		if err != nil {
			fmt.Println("rejected:", err)
			continue
		}
		// ... forward the request, read the response status ...
		var callErr error
		if status >= 500 {
			callErr = fmt.Errorf("status %d", status)
		}
		permit.Done(b.Classify(ctx, callErr))
		fmt.Println("status", status, "→", b.State())
	}
	// Output:
	// status 200 → closed
	// status 503 → open
	// rejected: breaker: open
}

func ExampleOpenError_RetryAfter() {
	clk := clock.NewFake(time.Time{})
	b, err := breaker.New(breaker.Config{
		Name: "payments", ConsecutiveFailures: 1, OpenDuration: 30 * time.Second, Clock: clk,
	})
	if err != nil {
		panic(err)
	}
	_ = b.Execute(context.Background(), func(context.Context) error { return errUnavailable })

	clk.Advance(10 * time.Second)
	err = b.Execute(context.Background(), func(context.Context) error { return nil })
	var open *breaker.OpenError
	if errors.As(err, &open) {
		// An HTTP handler would set the Retry-After header from this.
		fmt.Printf("%v; retry after %v\n", open, open.RetryAfter())
	}
	// Output: breaker payments: open; retry after 20s
}

func ExampleBreaker_OnStateChange() {
	clk := clock.NewFake(time.Time{})
	b, err := breaker.New(breaker.Config{
		ConsecutiveFailures: 2, OpenDuration: 5 * time.Second, HalfOpenProbes: 1, Clock: clk,
	})
	if err != nil {
		panic(err)
	}
	// Listeners run in their own goroutine, in order; the channel carries
	// the transitions back to this one.
	transitions := make(chan breaker.Transition, 8)
	stop := b.OnStateChange(func(t breaker.Transition) { transitions <- t })
	defer stop()

	fail := func(context.Context) error { return errUnavailable }
	succeed := func(context.Context) error { return nil }
	ctx := context.Background()
	_ = b.Execute(ctx, fail)
	_ = b.Execute(ctx, fail) // trips
	clk.Advance(5 * time.Second)
	_ = b.Execute(ctx, succeed) // a probe: half-open, then closed

	for range 3 {
		t := <-transitions
		fmt.Printf("%v → %v (%s)\n", t.From, t.To, t.Reason)
	}
	// Output:
	// closed → open (consecutive failures)
	// open → half-open (open duration ended)
	// half-open → closed (probes succeeded)
}

// A breaker is a fusebox.Policy: put it in a pipeline.
func Example_pipeline() {
	b, err := breaker.New(breaker.Config{ConsecutiveFailures: 1, Clock: clock.NewFake(time.Time{})})
	if err != nil {
		panic(err)
	}
	p, err := fusebox.New(b)
	if err != nil {
		panic(err)
	}
	fmt.Println(p.Run(context.Background(), func(context.Context) error { return errUnavailable }))
	fmt.Println(p.Run(context.Background(), func(context.Context) error { return nil }))
	// Output:
	// 503 service unavailable
	// breaker: open
}
