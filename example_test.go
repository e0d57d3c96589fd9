package fusebox_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/breaker"
	"github.com/fusebox-go/fusebox/bulkhead"
	"github.com/fusebox-go/fusebox/fallback"
	"github.com/fusebox-go/fusebox/retry"
	"github.com/fusebox-go/fusebox/timeout"
)

// A pipeline is built once and run for every call. Here a breaker guards a
// dependency that keeps failing: after three failures in a row the breaker
// opens and later calls are rejected without reaching the dependency.
func ExamplePipeline() {
	b, err := breaker.New(breaker.Config{Name: "inventory", ConsecutiveFailures: 3})
	if err != nil {
		panic(err)
	}
	p, err := fusebox.New(b)
	if err != nil {
		panic(err)
	}
	reached := 0
	for i := 0; i < 5; i++ {
		err := p.Run(context.Background(), func(context.Context) error {
			reached++
			return errors.New("inventory: 503")
		})
		fmt.Printf("call %d: open=%v\n", i+1, errors.Is(err, fusebox.ErrOpen))
	}
	fmt.Println("calls that reached inventory:", reached)
	// Output:
	// call 1: open=false
	// call 2: open=false
	// call 3: open=false
	// call 4: open=true
	// call 5: open=true
	// calls that reached inventory: 3
}

// Do returns the function's value through the pipeline.
func ExampleDo() {
	p, _ := fusebox.New()
	n, err := fusebox.Do(context.Background(), p, func(context.Context) (int, error) {
		return 42, nil
	})
	fmt.Println(n, err)
	// Output: 42 <nil>
}

// The recommended order, outermost first: fallback, deadline, bulkhead,
// breaker, retry, per-attempt timeout. The dependency fails once; the retry
// absorbs it, and the breaker records a single success for the call.
func Example_recommendedOrder() {
	must := func(p fusebox.Policy, err error) fusebox.Policy {
		if err != nil {
			panic(err)
		}
		return p
	}
	fb := must(fallback.New(fallback.Config{Func: fallback.Static("cached price")}))
	deadline := must(timeout.New(timeout.Config{Timeout: 2 * time.Second}))
	bh := must(bulkhead.New(bulkhead.Config{MaxConcurrent: 10, MaxQueue: 10}))
	br, _ := breaker.New(breaker.Config{Name: "pricing"})
	rt := must(retry.New(retry.Config{InitialInterval: time.Millisecond, Retryable: func(error) bool { return true }}))
	attempt := must(timeout.New(timeout.Config{Timeout: 500 * time.Millisecond}))

	p, err := fusebox.New(fb, deadline, bh, br, rt, attempt)
	if err != nil {
		panic(err)
	}
	calls := 0
	price, err := fusebox.Do(context.Background(), p, func(ctx context.Context) (string, error) {
		calls++
		if calls == 1 {
			return "", errors.New("pricing: 503")
		}
		return "42.00", nil
	})
	fmt.Println(price, err, "attempts:", calls)
	s := br.Snapshot()
	fmt.Println("breaker saw", s.Calls, "call,", s.Failures, "failures")
	// Output:
	// 42.00 <nil> attempts: 2
	// breaker saw 1 call, 0 failures
}

// lookup is a call that keeps its own state: the attempts it made and the
// answer, its own or a fallback's.
type lookup struct {
	key      string
	attempts int
	answer   string
}

// Run is one attempt: the first one fails.
func (l *lookup) Run(ctx context.Context) error {
	l.attempts++
	if l.attempts == 1 {
		return errors.New("connection reset")
	}
	l.answer = "value of " + l.key
	return nil
}

// SetResult takes a fallback's answer.
func (l *lookup) SetResult(v any) error {
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("lookup answers strings, not %T", v)
	}
	l.answer = s
	return nil
}

// A Call of one's own carries the call's state through the pipeline
// without the allocation Do makes for its result.
func ExamplePipeline_RunCall() {
	r, err := retry.New(retry.Config{MaxAttempts: 3, InitialInterval: time.Millisecond, Retryable: func(error) bool { return true }})
	if err != nil {
		panic(err)
	}
	p, err := fusebox.New(r)
	if err != nil {
		panic(err)
	}
	l := &lookup{key: "user:42"}
	err = p.RunCall(context.Background(), l)
	fmt.Println(l.answer, err, "after", l.attempts, "attempts")
	// Output: value of user:42 <nil> after 2 attempts
}

// A result still being read after the call returned (a streamed response
// body, rows of a query) needs its context to stay alive: Hold keeps the
// contexts the policies made for the call until the result is done with.
func ExampleHold() {
	to, err := timeout.New(timeout.Config{Timeout: time.Minute})
	if err != nil {
		panic(err)
	}
	p, err := fusebox.New(to)
	if err != nil {
		panic(err)
	}
	var stream context.Context // what a body reader would read under
	var done func()
	_ = p.Run(context.Background(), func(ctx context.Context) error {
		stream, done = ctx, fusebox.Hold(ctx)
		return nil
	})
	fmt.Println("after Run:", stream.Err())
	done() // the body was closed
	fmt.Println("after release:", stream.Err())
	// Output:
	// after Run: <nil>
	// after release: context canceled
}

// DoAnswer is Do that also says whether a fallback answered, and for what
// failure; its error stays nil, as Do's.
func ExampleDoAnswer() {
	fb, _ := fallback.New(fallback.Config{Func: fallback.Static("default greeting")})
	p, _ := fusebox.New(fb)

	a, err := fusebox.DoAnswer(context.Background(), p, func(context.Context) (string, error) {
		return "", errors.New("greeting service down")
	})
	fmt.Println(a.Value, a.Degraded, a.Cause, err)
	// Output: default greeting true greeting service down <nil>
}

// WithCallKey says what a call is for, so that a fallback can answer for
// it.
func ExampleWithCallKey() {
	ctx := fusebox.WithCallKey(context.Background(), "product-42")
	key, ok := fusebox.CallKeyFromContext(ctx)
	fmt.Println(key, ok)
	// Output: product-42 true
}
