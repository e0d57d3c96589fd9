// Command quickstart shows a circuit breaker at work: a dependency starts
// failing, the breaker opens and rejects calls at once, and after the open
// duration a few probes find the dependency healthy again and close it.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/fusebox-go/fusebox/breaker"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run() error {
	b, err := breaker.New(breaker.Config{
		Name:                "payments",
		ConsecutiveFailures: 3,
		OpenDuration:        200 * time.Millisecond,
		HalfOpenProbes:      1,
	})
	if err != nil {
		return err
	}
	healthy := false
	payments := func(ctx context.Context) error {
		if !healthy {
			return errors.New("payments: 503 service unavailable")
		}
		return nil
	}

	ctx := context.Background()
	for i := 1; i <= 5; i++ {
		err := b.Execute(ctx, payments)
		var open *breaker.OpenError
		switch {
		case errors.As(err, &open):
			fmt.Printf("call %d: rejected without calling payments, retry in %v (breaker %s)\n", i, open.RetryAfter().Round(10*time.Millisecond), b.State())
		case err != nil:
			fmt.Printf("call %d: failed: %v (breaker %s)\n", i, err, b.State())
		default:
			fmt.Printf("call %d: ok (breaker %s)\n", i, b.State())
		}
	}

	fmt.Println("payments recovers; waiting out the open duration")
	healthy = true
	time.Sleep(250 * time.Millisecond)
	if err := b.Execute(ctx, payments); err != nil {
		return fmt.Errorf("probe after recovery: %w", err)
	}
	fmt.Println("probe ok; breaker is", b.State())
	return nil
}
