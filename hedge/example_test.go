package hedge_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/clock"
	"github.com/fusebox-go/fusebox/hedge"
)

// The first attempt is slow; after the delay a hedge starts, answers first,
// and the slow attempt is canceled. The fake clock stands in for time
// passing; in production leave Clock nil.
func Example() {
	fake := clock.NewFake(time.Time{})
	p, err := hedge.New(hedge.Config{
		Delay:   50 * time.Millisecond,
		Budget:  1, // no limit, for the example
		Clock:   fake,
		OnHedge: func(n int) { fmt.Println("hedge", n, "started") },
	})
	if err != nil {
		panic(err)
	}
	pipeline, err := fusebox.New(p)
	if err != nil {
		panic(err)
	}

	var attempts atomic.Int32
	firstStarted := make(chan struct{})
	go func() {
		<-firstStarted
		// Once Run waits for the delay (a test bounds the wait), 50ms pass.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := fake.BlockUntilContext(ctx, 1); err != nil {
			panic(err)
		}
		fake.Advance(50 * time.Millisecond)
	}()
	replica, err := fusebox.Do(context.Background(), pipeline, func(ctx context.Context) (string, error) {
		if attempts.Add(1) == 1 {
			close(firstStarted)
			<-ctx.Done() // a slow replica, canceled once the hedge wins
			fmt.Println("first attempt:", context.Cause(ctx))
			return "", ctx.Err()
		}
		return "replica-2", nil
	})

	s := p.Snapshot()
	fmt.Println(replica, err)
	fmt.Printf("calls=%d hedges=%d wins=%d\n", s.Calls, s.Hedges, s.HedgeWins)
	// Output:
	// hedge 1 started
	// first attempt: hedge: another attempt won
	// replica-2 <nil>
	// calls=1 hedges=1 wins=1
}
