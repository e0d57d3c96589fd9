package percpu

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
)

// The shape of an open breaker's rejection, in three variants that differ
// only in how they count it, so that the cost of an exact count can be read
// off one run (docs/BENCHMARKS.md, "the price of an exact count"):
// uncounted, counted with the pinned per-P increment the breaker uses, and
// counted with one shared atomic.

type rejecter struct {
	word   atomic.Uint64
	now    *atomic.Int64 // a coarse clock's cached time
	until  atomic.Int64
	err    atomic.Pointer[error]
	pinned *Counter
	shared atomic.Uint64
}

var errRejected = errors.New("rejected")

func newRejecter() *rejecter {
	r := &rejecter{now: new(atomic.Int64), pinned: New()}
	r.word.Store(1)
	r.until.Store(1 << 62)
	e := errRejected
	r.err.Store(&e)
	return r
}

//go:noinline
func (r *rejecter) uncounted(ctx context.Context, fn func(context.Context) error) error {
	if r.word.Load() == 1 && r.now.Load() < r.until.Load() {
		return *r.err.Load()
	}
	return fn(ctx)
}

//go:noinline
func (r *rejecter) countedPinned(ctx context.Context, fn func(context.Context) error) error {
	if r.word.Load() == 1 && r.now.Load() < r.until.Load() {
		err, c := *r.err.Load(), r.pinned
		c.AddPinned(Pin(), 1)
		Unpin()
		return err
	}
	return fn(ctx)
}

//go:noinline
func (r *rejecter) countedAtomic(ctx context.Context, fn func(context.Context) error) error {
	if r.word.Load() == 1 && r.now.Load() < r.until.Load() {
		r.shared.Add(1)
		return *r.err.Load()
	}
	return fn(ctx)
}

// BenchmarkRejectShape calls each variant directly, as a caller calls a
// breaker's Execute.
func BenchmarkRejectShape(b *testing.B) {
	ctx := context.Background()
	fn := func(context.Context) error { return nil }
	b.Run("uncounted", func(b *testing.B) {
		r := newRejecter()
		for b.Loop() {
			if r.uncounted(ctx, fn) == nil {
				b.Fatal("admitted")
			}
		}
	})
	b.Run("pinned", func(b *testing.B) {
		r := newRejecter()
		for b.Loop() {
			if r.countedPinned(ctx, fn) == nil {
				b.Fatal("admitted")
			}
		}
		if r.pinned.Load() == 0 {
			b.Fatal("nothing counted")
		}
	})
	b.Run("atomic", func(b *testing.B) {
		r := newRejecter()
		for b.Loop() {
			if r.countedAtomic(ctx, fn) == nil {
				b.Fatal("admitted")
			}
		}
		if r.shared.Load() == 0 {
			b.Fatal("nothing counted")
		}
	})
}
