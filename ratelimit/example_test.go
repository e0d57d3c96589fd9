package ratelimit_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/clock"
	"github.com/fusebox-go/fusebox/ratelimit"
)

func ExampleBucket() {
	clk := clock.NewFake(time.Time{}) // leave Clock nil outside tests
	// Two calls per second on average, bursts of up to three.
	b, err := ratelimit.New(ratelimit.Config{Rate: 2, Burst: 3, Clock: clk})
	if err != nil {
		panic(err)
	}
	fmt.Println(b.Allow(), b.Allow(), b.Allow(), b.Allow())

	clk.Advance(500 * time.Millisecond) // one token back
	fmt.Println(b.Allow(), b.Allow())
	// Output:
	// true true true false
	// true false
}

func ExampleBucket_Run() {
	b, _ := ratelimit.New(ratelimit.Config{Rate: 1, Burst: 1, Clock: clock.NewFake(time.Time{})})
	p, _ := fusebox.New(b)
	call := func(context.Context) error { return nil }
	for range 2 {
		err := p.Run(context.Background(), call)
		fmt.Println(err, errors.Is(err, fusebox.ErrRateLimited))
	}
	// Output:
	// <nil> false
	// fusebox: rate limited true
}

func ExampleBucket_Wait() {
	clk := clock.NewFake(time.Now()) // leave Clock nil outside tests
	b, _ := ratelimit.New(ratelimit.Config{Rate: 1, Burst: 1, Clock: clk})
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	// The first token is there: Wait returns at once.
	fmt.Println(b.Wait(ctx))
	// The next one comes in a second, after ctx's deadline: rather than
	// sleep in vain, Wait fails at once.
	fmt.Println(b.Wait(ctx))
	// Output:
	// <nil>
	// fusebox: rate limited
}

func ExampleBucket_Reserve() {
	clk := clock.NewFake(time.Time{})
	b, _ := ratelimit.New(ratelimit.Config{Rate: 10, Burst: 1, Clock: clk})
	b.Allow()
	r := b.Reserve()
	fmt.Println(r.OK, r.Delay)
	r.Cancel() // changed our mind: the token goes back
	fmt.Println(b.Tokens())
	// Output:
	// true 100ms
	// 0
}

func ExampleWindow() {
	clk := clock.NewFake(time.Time{})
	w, _ := ratelimit.NewWindow(ratelimit.WindowConfig{Limit: 4, Window: time.Minute, Clock: clk})
	fmt.Println(w.Allow(), w.Allow(), w.Allow(), w.Allow(), w.Allow())
	// Half way into the next minute, half of the last minute's calls
	// still count: room for two.
	clk.Advance(90 * time.Second)
	fmt.Println(w.Allow(), w.Allow(), w.Allow())
	// Output:
	// true true true true false
	// true true false
}

func ExampleKeyed() {
	clk := clock.NewFake(time.Time{})
	// Each client may make one call per second, two in a burst.
	k, _ := ratelimit.NewKeyed(ratelimit.KeyedConfig{Rate: 1, Burst: 2, Clock: clk})
	for _, client := range []string{"alice", "alice", "alice", "bob"} {
		fmt.Println(client, k.Allow(client))
	}
	fmt.Println("clients:", k.Len())

	// As a policy, the key comes from the context.
	ctx := ratelimit.WithKey(context.Background(), "alice")
	err := k.Execute(ctx, func(context.Context) error { return nil })
	fmt.Println(err)
	// Output:
	// alice true
	// alice true
	// alice false
	// bob true
	// clients: 2
	// fusebox: rate limited
}

func ExampleKeyed_events() {
	bus := fusebox.NewEvents()
	// The subscriber runs in a goroutine of the subscription's; Close below
	// waits until it has seen every event.
	bus.Subscribe(func(e fusebox.Event) { fmt.Println(e) }, 0)
	k, _ := ratelimit.NewKeyed(ratelimit.KeyedConfig{Name: "api", Rate: 1, Burst: 1, Events: bus, Clock: clock.NewFake(time.Time{})})
	k.Allow("alice")
	k.Allow("alice")
	bus.Close()
	// Output:
	// ratelimit api: rejected (rate limited: key=alice): fusebox: rate limited
}
