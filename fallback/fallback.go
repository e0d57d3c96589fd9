package fallback

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync/atomic"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/clock"
)

// ErrClosed is returned by Cache.Get after Close. It is [fusebox.ErrClosed].
var ErrClosed = fusebox.ErrClosed

// Func is a fallback: given the context and the error of the call that
// failed, it returns the value to hand to the caller in place of the call's,
// or an error when it has none. A nil value stands for the zero value of the
// call's result type ([fusebox.Do]) or for no result ([fusebox.Pipeline.Run]).
// A Func must be safe for concurrent use.
//
// The value's type is checked against the call's when the fallback
// answers: a mistake shows during an outage, as an *Error. [FuncOf] and
// [NewPipeline] check it at compile time instead.
//
// The context is the call's: what the call is for is in it when the caller
// said (fusebox.WithCallKey), or when the call says it itself (a
// fuseboxhttp request's key); read it with fusebox.CallKeyFromContext.
type Func func(ctx context.Context, err error) (any, error)

// Static returns a Func that always answers v.
func Static(v any) Func {
	return func(context.Context, error) (any, error) { return v, nil }
}

// Chain returns a Func that tries fns in order, each given the call's error,
// and answers with the first that returns no error. A fallback that panics
// counts as failed (its panic becomes a *PanicError) and the next one is
// tried. When all fail, the error joins theirs (errors.Join); a Chain of no
// functions fails with the call's error. Nil entries are skipped.
func Chain(fns ...Func) Func {
	fns = append([]Func(nil), fns...)
	return func(ctx context.Context, err error) (any, error) {
		var errs []error
		for _, fn := range fns {
			if fn == nil {
				continue
			}
			v, ferr := protect(ctx, fn, err)
			if ferr == nil {
				return v, nil
			}
			errs = append(errs, ferr)
		}
		if len(errs) == 0 {
			return nil, err
		}
		return nil, errors.Join(errs...)
	}
}

// Config configures a Policy. Func is required; the other fields may be
// left zero.
type Config struct {
	// Name identifies the policy in events.
	Name string `json:"name" yaml:"name"`
	// Func is the fallback. Required: New rejects a nil Func.
	Func Func `json:"-" yaml:"-"`
	// When decides which errors the fallback answers for. Nil means every
	// error. It is never asked about an error that came with the caller's
	// context ended: the caller's cancellation or deadline is never
	// answered by a fallback. It must be safe for concurrent use and fast.
	When func(err error) bool `json:"-" yaml:"-"`
	// Clock supplies the timestamps of events; nil means clock.Default().
	// The policy reads it only to publish an event.
	Clock clock.Clock `json:"-" yaml:"-"`
	// Events, when set, receives an EventFallback (Policy "fallback") each
	// time the fallback runs, once it has answered: with Err the call's
	// error when it succeeded, and with Reason "fallback failed" and Err
	// the *Error Run returns when it failed, panicked or answered a value
	// of the wrong type. nil means no events.
	Events *fusebox.Events `json:"-" yaml:"-"`
}

// Policy runs a fallback when the call it wraps fails. It is safe for
// concurrent use; build it once with New and share it.
type Policy struct {
	fn     Func
	when   func(error) bool
	name   string
	events *fusebox.Events
	clock  clock.Clock

	calls          atomic.Uint64
	failures       atomic.Uint64
	fallbacks      atomic.Uint64
	fallbackErrors atomic.Uint64
}

// New validates cfg and returns a Policy.
func New(cfg Config) (*Policy, error) {
	if cfg.Func == nil {
		return nil, errors.New("fallback: Func is nil: want a fallback function (fallback.Static(v) for a constant)")
	}
	p := &Policy{fn: cfg.Func, when: cfg.When, name: cfg.Name, events: cfg.Events, clock: cfg.Clock}
	if p.clock == nil {
		p.clock = clock.Default()
	}
	return p, nil
}

// Run runs next and returns nil when it succeeds. When it fails, and the
// caller's ctx is still live, and When (if set) accepts the error, Run runs
// the fallback and hands its value to the caller with next.SetFallback:
// Run returns nil, fusebox.Do returns the fallback's value, and
// fusebox.DoAnswer reports it as degraded, with next's error as its cause.
// The fallback's context is ctx with the call's key (fusebox.WithCallKey)
// when ctx has none and the call has one (a fuseboxhttp request).
//
// Run returns next's error unchanged when ctx has ended (the caller gave up:
// no fallback) or When declines the error; it returns an *Error holding both
// errors when the fallback fails, panics, or answers a value of the wrong
// type. A panic in next is not recovered: it passes through Run.
//
// Run allocates nothing on success; a fallback allocates what its Func
// does, plus the *Error when it fails.
func (p *Policy) Run(ctx context.Context, next fusebox.Next) error {
	p.calls.Add(1)
	err := next.Run(ctx)
	if err == nil {
		return nil
	}
	p.failures.Add(1)
	if ctx.Err() != nil || (p.when != nil && !p.when(err)) {
		return err
	}
	p.fallbacks.Add(1)
	v, ferr := protect(withCallKey(ctx, next), p.fn, err)
	if ferr == nil {
		ferr = next.SetFallback(v, err)
	}
	if ferr != nil {
		p.fallbackErrors.Add(1)
		e := &Error{Err: err, Fallback: ferr}
		if p.events.Enabled() {
			p.publish("fallback failed", e)
		}
		return e
	}
	if p.events.Enabled() {
		p.publish("", err)
	}
	return nil
}

// withCallKey returns ctx with the call's key for the fallback: the
// caller's (fusebox.WithCallKey), or else the Call's own (a fuseboxhttp
// request's key), or none.
func withCallKey(ctx context.Context, next fusebox.Next) context.Context {
	if _, ok := fusebox.CallKeyFromContext(ctx); ok {
		return ctx
	}
	if key, ok := next.CallKey(); ok {
		return fusebox.WithCallKey(ctx, key)
	}
	return ctx
}

// publish sends an EventFallback; callers check events.Enabled first.
func (p *Policy) publish(reason string, err error) {
	p.events.Publish(fusebox.Event{Kind: fusebox.EventFallback, Policy: "fallback", Name: p.name, At: p.clock.Now(), Reason: reason, Err: err})
}

// Execute runs fn under the policy: Run with fusebox.NextFunc(fn). Since fn
// returns no value, only a fallback that answers nil can succeed here; use a
// fusebox.Pipeline with fusebox.Do for fallbacks with values.
func (p *Policy) Execute(ctx context.Context, fn func(context.Context) error) error {
	return p.Run(ctx, fusebox.NextFunc(fn))
}

// protect calls fn and turns a panic into a *PanicError.
func protect(ctx context.Context, fn Func, err error) (v any, ferr error) {
	defer func() {
		if r := recover(); r != nil {
			v, ferr = nil, &PanicError{Value: r, Stack: debug.Stack()}
		}
	}()
	return fn(ctx, err)
}

// Snapshot is a point-in-time copy of a Policy's counters.
type Snapshot struct {
	// Calls is how many calls Run started.
	Calls uint64 `json:"calls"`
	// Failures is how many of them failed before any fallback.
	Failures uint64 `json:"failures"`
	// Fallbacks is how many failures the fallback was run for.
	Fallbacks uint64 `json:"fallbacks"`
	// FallbackErrors is how many fallbacks failed, panicked or answered a
	// value of the wrong type.
	FallbackErrors uint64 `json:"fallbackErrors"`
}

// Snapshot returns the policy's counters, read one by one.
func (p *Policy) Snapshot() Snapshot {
	return Snapshot{
		Calls:          p.calls.Load(),
		Failures:       p.failures.Load(),
		Fallbacks:      p.fallbacks.Load(),
		FallbackErrors: p.fallbackErrors.Load(),
	}
}

// Error is returned when the fallback itself failed. Both the call's error
// and the fallback's are reachable with errors.Is and errors.As.
type Error struct {
	// Err is the error of the call the fallback answered for.
	Err error
	// Fallback is the fallback's error: what its Func returned, a
	// *PanicError, or the error of a value of the wrong type.
	Fallback error
}

// Error returns "fallback: <fallback error> (call failed: <call error>)".
func (e *Error) Error() string {
	return "fallback: " + e.Fallback.Error() + " (call failed: " + e.Err.Error() + ")"
}

// Unwrap returns the fallback's error and the call's error.
func (e *Error) Unwrap() []error { return []error{e.Fallback, e.Err} }

// PanicError is a panic recovered from a fallback or from a Cache fetch.
type PanicError struct {
	// Value is the value the function panicked with.
	Value any
	// Stack is the stack of the goroutine that panicked, at the panic.
	Stack []byte
}

// Error returns the panic value and the stack.
func (e *PanicError) Error() string {
	return fmt.Sprintf("panic: %v\n\n%s", e.Value, e.Stack)
}

// Unwrap returns the panic value when it is an error, else nil.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}
