package breaker

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/clock"
)

// TestMain fails the package's tests if a goroutine outlives them: the
// listener delivery goroutine must exit once it has nothing to deliver.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var errBoom = errors.New("boom")

func okFn(context.Context) error   { return nil }
func failFn(context.Context) error { return errBoom }

// newFake returns a fake clock at its default start.
func newFake() *clock.Fake { return clock.NewFake(time.Time{}) }

// mustNew builds a breaker on a fresh fake clock unless c names a clock.
func mustNew(t testing.TB, c Config) (*Breaker, *clock.Fake) {
	t.Helper()
	fc, _ := c.Clock.(*clock.Fake)
	if c.Clock == nil {
		fc = newFake()
		c.Clock = fc
	}
	b, err := New(c)
	if err != nil {
		t.Fatalf("New(%+v): %v", c, err)
	}
	return b, fc
}

// call makes one call through Allow and Done and fails the test if the
// breaker rejects it.
func call(t testing.TB, b *Breaker, o fusebox.Outcome) {
	t.Helper()
	p, err := b.Allow()
	if err != nil {
		t.Fatalf("Allow in state %v: %v, want a permit", b.State(), err)
	}
	p.Done(o)
}

// mustReject fails the test unless Allow rejects with an *OpenError that
// matches ErrOpen, and returns it.
func mustReject(t testing.TB, b *Breaker) *OpenError {
	t.Helper()
	p, err := b.Allow()
	if err == nil {
		p.Done(fusebox.Ignored)
		t.Fatalf("Allow in state %v admitted the call, want ErrOpen", b.State())
	}
	if !errors.Is(err, ErrOpen) {
		t.Fatalf("Allow error %v does not match ErrOpen", err)
	}
	var oe *OpenError
	if !errors.As(err, &oe) {
		t.Fatalf("Allow error %T is not an *OpenError", err)
	}
	return oe
}
