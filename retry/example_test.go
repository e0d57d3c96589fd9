package retry_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/retry"
)

// A call that fails twice with 503 Service Unavailable, then succeeds.
func Example() {
	policy, err := retry.New(retry.Config{
		MaxAttempts:     4,
		InitialInterval: time.Millisecond,
		Jitter:          retry.JitterNone, // for a stable output; keep the default full jitter in production
		OnRetry: func(a retry.Attempt) {
			fmt.Printf("attempt %d failed (%v), retrying in %v\n", a.Number, a.Err, a.Delay)
		},
	})
	if err != nil {
		panic(err)
	}
	attempt := 0
	err = policy.Execute(context.Background(), func(ctx context.Context) error {
		attempt++
		if attempt < 3 {
			return &retry.StatusError{Code: 503}
		}
		return nil
	})
	fmt.Println("err:", err)
	fmt.Printf("%+v\n", policy.Snapshot())
	// Output:
	// attempt 1 failed (status 503), retrying in 1ms
	// attempt 2 failed (status 503), retrying in 2ms
	// err: <nil>
	// {Calls:1 Attempts:3 Retries:2 SuccessesAfterRetry:1 Exhausted:0 BudgetRejections:0 RetriesByAttempt:[1 1 0]}
}

// A budget shared by every policy that calls the same dependency caps retries
// at a fifth of the requests. Here the window holds one request and no floor,
// so the very first retry is refused.
func Example_budget() {
	budget, err := retry.NewBudget(retry.BudgetConfig{
		Ratio:               0.2,
		MinRetriesPerSecond: retry.NoMinRetries,
	})
	if err != nil {
		panic(err)
	}
	policy, err := retry.New(retry.Config{Budget: budget})
	if err != nil {
		panic(err)
	}
	errDown := &retry.StatusError{Code: 502}
	err = policy.Execute(context.Background(), func(context.Context) error { return errDown })
	fmt.Println(err)
	fmt.Println("budget exhausted:", errors.Is(err, retry.ErrBudgetExhausted))
	fmt.Println("last error reachable:", errors.Is(err, errDown))
	// Output:
	// retry: retry budget exhausted after 1 attempt: status 502
	// budget exhausted: true
	// last error reachable: true
}

// An error marked with Permanent is never retried, even by a classifier that
// retries everything.
func ExamplePermanent() {
	policy, err := retry.New(retry.Config{Retryable: func(error) bool { return true }})
	if err != nil {
		panic(err)
	}
	errInvalid := errors.New("invalid order id")
	attempts := 0
	err = policy.Execute(context.Background(), func(context.Context) error {
		attempts++
		return retry.Permanent(errInvalid)
	})
	fmt.Println(attempts, err, errors.Is(err, errInvalid))
	// Output:
	// 1 invalid order id true
}

func ExampleParseRetryAfter() {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, v := range []string{"120", "Sun, 01 Mar 2026 12:00:30 GMT", "later"} {
		d, ok := retry.ParseRetryAfter(v, now)
		fmt.Println(d, ok)
	}
	// Output:
	// 2m0s true
	// 30s true
	// 0s false
}

// The retry inside a pipeline: policies outside it (a breaker, a bulkhead)
// see one call; policies inside it (a per-attempt timeout) see every attempt.
func Example_pipeline() {
	policy, err := retry.New(retry.Config{InitialInterval: time.Millisecond})
	if err != nil {
		panic(err)
	}
	pipeline, err := fusebox.New(policy)
	if err != nil {
		panic(err)
	}
	attempt := 0
	v, err := fusebox.Do(context.Background(), pipeline, func(context.Context) (string, error) {
		attempt++
		if attempt == 1 {
			return "", fusebox.ErrTimeout // say, from a per-attempt timeout
		}
		return "hello", nil
	})
	fmt.Println(v, err)
	// Output:
	// hello <nil>
}
