package fallback

import (
	"context"
	"errors"
	"fmt"

	"github.com/fusebox-go/fusebox"
)

// FuncOf is a fallback for calls whose result is a T: a [Func] whose
// value's type is known at compile time. Give it to [NewPipeline], whose
// Do takes only functions that return a T, and a fallback of the wrong
// type is a compile error rather than an *Error during an outage. The
// context and the error are a Func's (see Func); a FuncOf must be safe for
// concurrent use.
type FuncOf[T any] func(ctx context.Context, err error) (T, error)

// Value returns a FuncOf that always answers v: the typed form of Static.
func Value[T any](v T) FuncOf[T] {
	return func(context.Context, error) (T, error) { return v, nil }
}

// ChainOf is the typed form of Chain: it tries fns in order and answers
// with the first that returns no error; a panic counts as a failure (a
// *PanicError) and the next one is tried. When all fail, the error joins
// theirs; a ChainOf of no functions fails with the call's error. Nil
// entries are skipped.
func ChainOf[T any](fns ...FuncOf[T]) FuncOf[T] {
	untyped := make([]Func, 0, len(fns))
	for _, fn := range fns {
		if fn != nil {
			untyped = append(untyped, fn.Func())
		}
	}
	chain := Chain(untyped...)
	return func(ctx context.Context, err error) (T, error) {
		v, ferr := chain(ctx, err)
		t, _ := v.(T) // every entry answers a T, or nil on failure
		return t, ferr
	}
}

// Func returns f as an untyped Func, for Config.Func and Chain, where the
// value's type is again checked only when the fallback answers. A nil f
// gives a nil Func.
func (f FuncOf[T]) Func() Func {
	if f == nil {
		return nil
	}
	return func(ctx context.Context, err error) (any, error) {
		v, ferr := f(ctx, err)
		if ferr != nil {
			return nil, ferr
		}
		return v, nil
	}
}

// Pipeline is a fusebox.Pipeline for calls that return a T, with a typed
// fallback as its outermost policy: its Do and DoAnswer take only
// functions that return a T, the type its FuncOf answers, so that the
// fallback and the calls agree by construction. Build it with
// NewPipeline; it is safe for concurrent use.
//
// Pipeline.Pipeline is the plain pipeline, for what takes one (a
// fuseboxhttp factory, a registry, fusebox.Do): the compile-time check
// holds only for calls made through the Pipeline's own methods.
type Pipeline[T any] struct {
	policy   *Policy
	pipeline *fusebox.Pipeline
}

// NewPipeline builds a Pipeline: the fallback fn, configured by cfg,
// around the policies inner, outermost first, in the recommended order
// (the fallback outermost, then deadline, bulkhead, breaker, retry...).
// cfg.Func must be nil, as fn is the fallback; the rest of cfg is as for
// New. It returns an error for a nil fn, a cfg.Func set, or a nil inner
// policy.
//
//	products, err := fallback.NewPipeline(fallback.Value(Product{Name: "unavailable"}), fallback.Config{Name: "products"}, brk, rt)
//	product, err := products.Do(ctx, getProduct) // getProduct must return (Product, error)
func NewPipeline[T any](fn FuncOf[T], cfg Config, inner ...fusebox.Policy) (*Pipeline[T], error) {
	if fn == nil {
		return nil, errors.New("fallback: NewPipeline with a nil FuncOf: want a fallback (fallback.Value(v) for a constant)")
	}
	if cfg.Func != nil {
		return nil, errors.New("fallback: NewPipeline with Config.Func set: the FuncOf argument is the fallback; leave Func nil")
	}
	// Check inner on its own first, so that an error names the index the
	// caller wrote.
	if _, err := fusebox.New(inner...); err != nil {
		return nil, fmt.Errorf("fallback: NewPipeline: inner %w", err)
	}
	cfg.Func = fn.Func()
	policy, err := New(cfg)
	if err != nil {
		return nil, err
	}
	pipeline, err := fusebox.New(append([]fusebox.Policy{policy}, inner...)...)
	if err != nil {
		return nil, err
	}
	return &Pipeline[T]{policy: policy, pipeline: pipeline}, nil
}

// Do runs fn through the pipeline: fusebox.Do. When the fallback answers,
// Do returns its value and a nil error; use DoAnswer to tell.
func (p *Pipeline[T]) Do(ctx context.Context, fn func(context.Context) (T, error)) (T, error) {
	return fusebox.Do(ctx, p.pipeline, fn)
}

// DoAnswer runs fn through the pipeline and reports whether the fallback
// answered, and for what error: fusebox.DoAnswer.
func (p *Pipeline[T]) DoAnswer(ctx context.Context, fn func(context.Context) (T, error)) (fusebox.Answer[T], error) {
	return fusebox.DoAnswer(ctx, p.pipeline, fn)
}

// Pipeline returns the plain pipeline: the fallback policy, then the inner
// policies.
func (p *Pipeline[T]) Pipeline() *fusebox.Pipeline { return p.pipeline }

// Policy returns the fallback policy, for its Snapshot.
func (p *Pipeline[T]) Policy() *Policy { return p.policy }
