package retry_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/fusebox-go/fusebox/clock"
	"github.com/fusebox-go/fusebox/retry"
)

// instantClock is a fake clock whose timers fire as soon as they are made,
// by advancing the fake time by their duration: a policy's waits then take no
// real time but move the clock exactly as a real wait would.
type instantClock struct {
	*clock.Fake
	mu     sync.Mutex
	timers int
}

func newInstant() *instantClock { return &instantClock{Fake: clock.NewFake(time.Time{})} }

func (c *instantClock) NewTimer(d time.Duration) clock.Timer {
	c.mu.Lock()
	c.timers++
	c.mu.Unlock()
	t := c.Fake.NewTimer(d)
	c.Advance(max(d, 0))
	return t
}

func (c *instantClock) made() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.timers
}

// deadlineCtx has a deadline but no timer behind it: its Done channel never
// closes, so a test can place the deadline on a fake clock's time line.
type deadlineCtx struct {
	context.Context
	dl time.Time
}

func (c deadlineCtx) Deadline() (time.Time, bool) { return c.dl, true }

// unavailable is a retryable error.
var unavailable = &retry.StatusError{Code: 503}

// failing returns a function that fails with err for its first n calls, then
// succeeds, and a counter of its calls.
func failing(n int, err error) (func(context.Context) error, *int) {
	calls := new(int)
	return func(context.Context) error {
		*calls++
		if *calls <= n {
			return err
		}
		return nil
	}, calls
}

// recordDelays returns an OnRetry hook that appends every delay to *ds.
func recordDelays(ds *[]time.Duration) func(retry.Attempt) {
	return func(a retry.Attempt) { *ds = append(*ds, a.Delay) }
}

func mustNew(t testing.TB, c retry.Config) *retry.Policy {
	t.Helper()
	p, err := retry.New(c)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return p
}

func mustBudget(t testing.TB, c retry.BudgetConfig) *retry.Budget {
	t.Helper()
	b, err := retry.NewBudget(c)
	if err != nil {
		t.Fatalf("NewBudget: %v", err)
	}
	return b
}

// async runs p.Execute(ctx, fn) in a goroutine and returns its result.
func async(p *retry.Policy, ctx context.Context, fn func(context.Context) error) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- p.Execute(ctx, fn) }()
	return ch
}

func wantIs(t *testing.T, err error, targets ...error) {
	t.Helper()
	for _, target := range targets {
		if !errors.Is(err, target) {
			t.Errorf("errors.Is(%v, %v) = false, want true", err, target)
		}
	}
}

func wantNotIs(t *testing.T, err error, targets ...error) {
	t.Helper()
	for _, target := range targets {
		if errors.Is(err, target) {
			t.Errorf("errors.Is(%v, %v) = true, want false", err, target)
		}
	}
}
