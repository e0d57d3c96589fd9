package timeout_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/clock"
	"github.com/fusebox-go/fusebox/timeout"
)

// A call that outlives the policy's timeout has its context canceled and
// ends with ErrTimeout. The example drives a fake clock; in production leave
// Clock nil.
func Example() {
	fake := clock.NewFake(time.Time{})
	p, err := timeout.New(timeout.Config{Timeout: 2 * time.Second, Clock: fake})
	if err != nil {
		panic(err)
	}

	go func() {
		// Once the call waits on its deadline (a test bounds the wait), two
		// seconds pass.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := fake.BlockUntilContext(ctx, 1); err != nil {
			panic(err)
		}
		fake.Advance(2 * time.Second)
	}()
	err = p.Execute(context.Background(), func(ctx context.Context) error {
		<-ctx.Done() // a slow dependency that honours its context
		return ctx.Err()
	})

	fmt.Println(errors.Is(err, timeout.ErrTimeout))
	fmt.Println(errors.Is(err, context.DeadlineExceeded))
	fmt.Println(err)
	// Output:
	// true
	// true
	// timeout: call exceeded 2s: context deadline exceeded
}

// The caller's own cancellation is not a timeout: the caller's error comes
// back unchanged and fusebox.Classify reports it as Ignored.
func Example_callerCancellation() {
	p, err := timeout.New(timeout.Config{Timeout: time.Minute})
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	err = p.Execute(ctx, func(ctx context.Context) error { return ctx.Err() })

	fmt.Println(err, errors.Is(err, timeout.ErrTimeout))
	fmt.Println(fusebox.Classify(ctx, err, nil))
	// Output:
	// context canceled false
	// ignored
}

// NewContext is a cheaper context.WithTimeout: a handler that only polls
// its context never starts a timer. The example drives a fake clock; pass
// nil for the real one.
func ExampleNewContext() {
	fake := clock.NewFake(time.Time{})
	ctx, cancel := timeout.NewContext(context.Background(), 300*time.Millisecond, fake)
	defer cancel()

	for step := 1; ctx.Err() == nil; step++ {
		fake.Advance(100 * time.Millisecond) // a step of work
		fmt.Printf("step %d done, err %v\n", step, ctx.Err())
	}
	fmt.Println("cause:", context.Cause(ctx))
	// Output:
	// step 1 done, err <nil>
	// step 2 done, err <nil>
	// step 3 done, err context deadline exceeded
	// cause: fusebox: timeout
}
