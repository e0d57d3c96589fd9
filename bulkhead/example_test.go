package bulkhead_test

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/bulkhead"
)

func ExampleBulkhead() {
	// At most two calls to the dependency at once; no queue.
	b, err := bulkhead.New(bulkhead.Config{MaxConcurrent: 2})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()

	// Two slots held elsewhere (see Acquire): the next call is rejected
	// without running.
	p1, _ := b.Acquire(ctx)
	p2, _ := b.Acquire(ctx)
	err = b.Execute(ctx, func(context.Context) error { return nil })
	fmt.Println(errors.Is(err, fusebox.ErrBulkheadFull))

	p1.Release()
	p2.Release()
	err = b.Execute(ctx, func(context.Context) error {
		fmt.Println("calling the dependency")
		return nil
	})
	fmt.Println(err, b.Snapshot().InFlight)
	// Output:
	// true
	// calling the dependency
	// <nil> 0
}

func ExampleBulkhead_Acquire() {
	b, _ := bulkhead.New(bulkhead.Config{MaxConcurrent: 10, MaxQueue: 100})
	ctx := context.Background()

	// For work that is not one function call: a stream, a proxied
	// connection. Release when done; releasing twice is harmless.
	permit, err := b.Acquire(ctx)
	if err != nil {
		fmt.Println("rejected:", err)
		return
	}
	defer permit.Release()
	fmt.Println("in flight:", b.Snapshot().InFlight)
	// Output:
	// in flight: 1
}

func ExampleBulkhead_pipeline() {
	b, _ := bulkhead.New(bulkhead.Config{MaxConcurrent: 8, MaxQueue: 16})
	p, _ := fusebox.New(b)
	v, err := fusebox.Do(context.Background(), p, func(context.Context) (string, error) {
		return "pong", nil
	})
	fmt.Println(v, err)
	// Output:
	// pong <nil>
}

func ExamplePool() {
	// Two workers upper-case strings; up to ten jobs wait for them.
	pool, err := bulkhead.NewPool(bulkhead.PoolConfig{Workers: 2, QueueSize: 10},
		func(_ context.Context, s string) (string, error) {
			if s == "" {
				return "", errors.New("empty")
			}
			return strings.ToUpper(s), nil
		})
	if err != nil {
		panic(err)
	}
	defer pool.Close()

	for _, s := range []string{"fuse", ""} {
		v, err := pool.Submit(context.Background(), s)
		fmt.Printf("%q %v\n", v, err)
	}
	// Output:
	// "FUSE" <nil>
	// "" empty
}
