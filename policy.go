package fusebox

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
)

// Policy is one layer of a Pipeline. Run executes next, the rest of the
// pipeline inside this policy, under the policy's rules: it may refuse to
// call it (returning a rejection error), call it once, or call it several
// times (retries, hedges). Run must release everything it acquired before it
// returns, also when next panics, and must not use next after it returns.
type Policy interface {
	// Run runs next under the policy's rules and returns the call's
	// error, or the policy's rejection.
	Run(ctx context.Context, next Next) error
}

// Next is the rest of a pipeline as seen from inside a policy: the policies
// nested inside it and, innermost, the caller's function. It is a small value
// passed by copy, so running a pipeline allocates nothing of its own. A Next
// may be run several times, also concurrently (by a hedge), but only until
// the policy's Run returns.
type Next struct {
	policies []Policy
	call     Call
}

// Call is the caller's side of a pipeline run as one value: the function
// the innermost policy calls, and the place a fallback's value goes. Run and
// Do wrap a plain function in one; an integration that keeps each call's
// state in an object of its own can make that object a Call and run it with
// Pipeline.RunCall, which then allocates nothing more; a Result keeps its
// value the way Do does.
//
// Policies may run a Call several times, also concurrently (hedges), and
// may call SetResult concurrently with a running attempt; both must be safe
// for that.
type Call interface {
	// Run runs one attempt.
	Run(ctx context.Context) error
	// SetResult makes v the call's result in place of the attempts'
	// results (a fallback's answer). It returns an error when v is not of
	// the call's result type.
	SetResult(v any) error
}

// FallbackCall is a Call that also wants to know why a fallback answered
// for it: [Next.SetFallback] calls its SetFallback instead of SetResult.
// Do's own Call is one (that is how [DoAnswer] reports the cause); a Call
// without the method still gets the value, through SetResult.
type FallbackCall interface {
	Call
	// SetFallback is SetResult with cause, the error the value answers
	// for: the call's failure, or a policy's rejection.
	SetFallback(v any, cause error) error
}

// KeyedCall is a Call that can say what it is for, for a fallback that
// needs to know: fuseboxhttp's call answers with its request's key. Read
// it through [Next.CallKey]; it is asked only when a policy needs it (a
// fallback about to run), so it may build its key then. A key the caller
// put in the context with [WithCallKey] takes precedence.
type KeyedCall interface {
	Call
	// CallKey returns the call's key (see [WithCallKey]).
	CallKey() string
}

// funcCall adapts a plain function; converting it to the Call interface
// does not allocate, since a func value is a single pointer.
type funcCall func(context.Context) error

func (f funcCall) Run(ctx context.Context) error { return f(ctx) }

func (f funcCall) SetResult(v any) error {
	if v == nil {
		return nil
	}
	return fmt.Errorf("fusebox: a result of type %T was supplied to a call that returns only an error (use fusebox.Do)", v)
}

// NextFunc returns the Next that calls fn directly: how a policy is run on
// its own, outside a Pipeline.
func NextFunc(fn func(context.Context) error) Next {
	return Next{call: funcCall(fn)}
}

// Run runs the rest of the pipeline with ctx.
func (n Next) Run(ctx context.Context) error {
	if len(n.policies) == 0 {
		return n.call.Run(ctx)
	}
	return n.policies[0].Run(ctx, Next{policies: n.policies[1:], call: n.call})
}

// SetResult makes v the result of the call, in place of whatever the
// caller's function returned: how a fallback hands its value to [Do]. It
// returns an error when v's type is not the call's result type, or when the
// call was started with Run and returns no result (then only a nil v is
// accepted).
func (n Next) SetResult(v any) error {
	return n.call.SetResult(v)
}

// SetFallback is SetResult for a fallback: it makes v the call's result
// and records cause, the error v answers for, so that [DoAnswer] can tell
// the caller the answer is degraded and why. A Call that is not a
// [FallbackCall] just gets SetResult(v).
func (n Next) SetFallback(v any, cause error) error {
	if c, ok := n.call.(FallbackCall); ok {
		return c.SetFallback(v, cause)
	}
	return n.call.SetResult(v)
}

// CallKey returns the key of the call when it is a [KeyedCall], else ""
// and false. A fallback policy asks it only when its fallback is about to
// run and the context has no key of the caller's (see [WithCallKey]).
func (n Next) CallKey() (string, bool) {
	if c, ok := n.call.(KeyedCall); ok {
		return c.CallKey(), true
	}
	return "", false
}

// Pipeline is a fixed chain of policies around a call. The first policy is
// the outermost: New(a, b, c).Run(ctx, fn) runs a(b(c(fn))). A Pipeline is
// built once and safe for concurrent use; running it allocates nothing
// beyond what its policies and the caller's function allocate.
//
// The recommended order, outermost first:
//
//	fallback → deadline → bulkhead → breaker → retry → per-attempt timeout → hedge → fn
//
//	fallback  answers when everything inside failed or rejected
//	deadline  bounds the whole call, retries included
//	bulkhead  bounds how many calls are in flight, retries included
//	breaker   sees one outcome per call, after retries
//	retry     repeats attempts the breaker admitted
//	timeout   bounds each attempt
//	hedge     races extra attempts against a slow one
type Pipeline struct {
	policies []Policy
}

// New builds a pipeline from policies, outermost first. It returns an error
// when a policy is nil, a nil interface or a nil pointer (often the first
// result of a policy's New whose error went unchecked). A pipeline with no
// policies just calls the function.
func New(policies ...Policy) (*Pipeline, error) {
	for i, p := range policies {
		if p == nil {
			return nil, fmt.Errorf("fusebox: policies[%d] is nil", i)
		}
		if isNil(p) {
			return nil, fmt.Errorf("fusebox: policies[%d] is a nil %T (was the error of its New checked?)", i, p)
		}
	}
	return &Pipeline{policies: append([]Policy(nil), policies...)}, nil
}

// isNil reports whether p holds a nil pointer, func, map, channel or slice,
// which would panic on its first call.
func isNil(p Policy) bool {
	switch v := reflect.ValueOf(p); v.Kind() {
	case reflect.Pointer, reflect.Func, reflect.Map, reflect.Chan, reflect.Slice, reflect.UnsafePointer:
		return v.IsNil()
	}
	return false
}

// Policies returns the pipeline's policies, outermost first.
func (p *Pipeline) Policies() []Policy {
	if p == nil {
		return nil
	}
	return append([]Policy(nil), p.policies...)
}

// Run calls fn through every policy of the pipeline and returns what the
// outermost policy returns: fn's error, or a rejection that matches one of
// the package's sentinel errors with errors.Is. It returns an error, and
// calls nothing, for a nil fn or a nil pipeline.
func (p *Pipeline) Run(ctx context.Context, fn func(context.Context) error) error {
	switch {
	case p == nil:
		return errNilPipeline
	case fn == nil:
		return errNilFunc
	}
	return Next{policies: p.policies, call: funcCall(fn)}.Run(ctx)
}

// RunCall runs c through every policy of the pipeline, like Run, for a
// caller that implements Call itself.
func (p *Pipeline) RunCall(ctx context.Context, c Call) error {
	switch {
	case p == nil:
		return errNilPipeline
	case c == nil:
		return errNilCall
	}
	return Next{policies: p.policies, call: c}.Run(ctx)
}

// Do calls fn through every policy of p and returns its value. When policies
// run fn several times (retries, hedges), value and error belong to the same
// attempt: the value is the one of the attempt that succeeded, or of the
// attempt whose error the pipeline returned (see [Result.ValueFor]); a
// fallback may supply the value instead: then Do returns it with a nil
// error, and only [DoAnswer] tells it apart from the call's own. Do
// allocates one small object per call to carry the typed result; use
// Pipeline.Run when even that matters. It returns an error, and calls
// nothing, for a nil fn or a nil pipeline.
func Do[T any](ctx context.Context, p *Pipeline, fn func(context.Context) (T, error)) (T, error) {
	c, err := do(ctx, p, fn)
	if c == nil {
		var zero T
		return zero, err
	}
	return c.res.ValueFor(err), err
}

// Answer is what [DoAnswer] returns: the call's value, and whether a
// fallback gave it in place of the call's own.
type Answer[T any] struct {
	// Value is the value Do would return.
	Value T
	// Degraded reports that a fallback answered: the call failed, or a
	// policy rejected it, and Value is the fallback's, not the call's.
	// DoAnswer's error is then usually nil, as Do's is.
	Degraded bool
	// Cause is the error the fallback answered for, when Degraded: the
	// call's failure, or a policy's rejection (match it with errors.Is
	// against the sentinel errors, fusebox.ErrOpen say). It is nil when
	// the answer is not degraded, or when the policy that supplied the
	// value gave no cause (it called Next.SetResult, not
	// Next.SetFallback; the fallback package's policies give one).
	Cause error
}

// DoAnswer is Do for a caller that wants to know whether the value is a
// fallback's: it returns the value with [Answer.Degraded] and
// [Answer.Cause], and the same error Do would return, nil when a fallback
// answered. It costs what Do costs: the one allocation of Do, and nothing
// more, degraded or not.
func DoAnswer[T any](ctx context.Context, p *Pipeline, fn func(context.Context) (T, error)) (Answer[T], error) {
	c, err := do(ctx, p, fn)
	if c == nil {
		return Answer[T]{}, err
	}
	a := Answer[T]{Value: c.res.ValueFor(err)}
	a.Cause, a.Degraded = c.res.Degraded()
	return a, err
}

// do runs fn through p for Do and DoAnswer; a nil call means it did not
// run.
func do[T any](ctx context.Context, p *Pipeline, fn func(context.Context) (T, error)) (*typedCall[T], error) {
	switch {
	case p == nil:
		return nil, errNilPipeline
	case fn == nil:
		return nil, errNilFunc
	}
	c := &typedCall[T]{fn: fn}
	err := Next{policies: p.policies, call: c}.Run(ctx)
	return c, err
}

// typedCall is Do's Call: fn, and its result.
type typedCall[T any] struct {
	fn  func(context.Context) (T, error)
	res Result[T]
}

func (c *typedCall[T]) Run(ctx context.Context) error {
	v, err := c.fn(ctx)
	c.res.Record(v, err)
	return err
}

func (c *typedCall[T]) SetResult(v any) error { return c.res.Set(v) }

func (c *typedCall[T]) SetFallback(v any, cause error) error { return c.res.SetFallback(v, cause) }

// Result is the result of a call whose attempts return values of type T,
// kept the way Do keeps it: the first successful attempt's value wins;
// until one succeeds, the latest failed attempt's value is kept (an HTTP
// response that came with an error, say); a fallback's value, once set,
// replaces them for good. [Result.ValueFor] refines this with the error the
// pipeline returned. Attempts may run concurrently (hedges), so it is safe
// for concurrent use. A Call of one's own can hold one and forward its
// SetResult to Set. The zero value is an empty result.
type Result[T any] struct {
	mu    sync.Mutex
	val   T
	won   bool  // an attempt succeeded: attempts no longer change val
	fixed bool  // a fallback set val: nothing changes it any more
	cause error // the error the fallback answered for, if it said
	// The failed attempts' values and errors, in order of recording, for
	// ValueFor: the first one here, the others in more (a call with at
	// most one failed attempt, the common case, allocates nothing).
	failed    attemptResult[T]
	more      []attemptResult[T]
	nFailures int
}

// attemptResult is a failed attempt's value and error.
type attemptResult[T any] struct {
	v   T
	err error
}

// Record takes an attempt's value v and error err.
func (r *Result[T]) Record(v T, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fixed {
		return
	}
	if err != nil {
		if r.nFailures == 0 {
			r.failed = attemptResult[T]{v, err}
		} else {
			r.more = append(r.more, attemptResult[T]{v, err})
		}
		r.nFailures++
	}
	if !r.won {
		r.val = v
		r.won = err == nil
	}
}

// Set makes v, a fallback's value, the result: what a Call's SetResult
// does. v nil means T's zero value. It returns an error when v is not a T
// (a typed fallback, fallback.FuncOf, rules that out at compile time).
func (r *Result[T]) Set(v any) error { return r.SetFallback(v, nil) }

// SetFallback is Set with cause, the error the fallback's value answers
// for, which Degraded reports: what a FallbackCall's SetFallback does.
func (r *Result[T]) SetFallback(v any, cause error) error {
	var t T
	if v != nil {
		tv, ok := v.(T)
		if !ok {
			return fmt.Errorf("fusebox: fallback result of type %T is not the call's result type %s (fallback.FuncOf and fallback.NewPipeline check the type at compile time)", v, typeName[T]())
		}
		t = tv
	}
	r.mu.Lock()
	r.val = t
	r.fixed = true
	r.cause = cause
	r.mu.Unlock()
	return nil
}

// Degraded reports whether a fallback set the result (Set or
// SetFallback), and the cause SetFallback gave (nil after Set).
func (r *Result[T]) Degraded() (cause error, degraded bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cause, r.fixed
}

// typeName names T, an interface type included (%T of a nil interface
// value would say <nil>).
func typeName[T any]() string {
	return reflect.TypeFor[T]().String()
}

// Value returns the result.
func (r *Result[T]) Value() T {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.val
}

// ValueFor returns the result that goes with err, the error the pipeline
// returned, so that a caller never gets one attempt's value with another
// attempt's error: a fallback's value; for a nil err, the first
// successful attempt's value; otherwise the value of the latest failed
// attempt whose error is err itself (the same value, or the same slice or
// map for an error type == cannot compare), or else of the latest whose
// error err wraps (errors.Is). That is the attempt a hedge picked when its
// Classifier calls an error a success, or the one it reported when none
// won, even if other attempts recorded after it. With no such attempt,
// ValueFor is Value. Two attempts that returned the very same error value
// cannot be told apart: the later one's value is returned.
func (r *Result[T]) ValueFor(err error) T {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fixed || err == nil || r.nFailures == 0 {
		return r.val
	}
	// Two passes, latest attempt first: the attempt whose error err is,
	// then one whose error err wraps.
	for _, exact := range [...]bool{true, false} {
		matches := func(a error) bool {
			if exact {
				return sameError(err, a)
			}
			return errors.Is(err, a)
		}
		for i := len(r.more) - 1; i >= 0; i-- {
			if matches(r.more[i].err) {
				return r.more[i].v
			}
		}
		if matches(r.failed.err) {
			return r.failed.v
		}
	}
	return r.val
}

// sameError reports whether a and b are the same error value: equal, for a
// comparable type; the same slice, map or function, for one that == would
// panic on.
func sameError(a, b error) bool {
	ta, tb := reflect.TypeOf(a), reflect.TypeOf(b)
	if ta != tb {
		return false
	}
	if ta.Comparable() {
		return a == b
	}
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	switch va.Kind() {
	case reflect.Slice:
		return va.Len() == vb.Len() && va.Pointer() == vb.Pointer()
	case reflect.Map, reflect.Func:
		return va.Pointer() == vb.Pointer()
	}
	return false
}

// errNilFunc guards against a nil function: better a clear error than a nil
// dereference deep inside a policy.
var errNilFunc = errors.New("fusebox: nil function")

// errNilCall is RunCall's errNilFunc.
var errNilCall = errors.New("fusebox: nil Call")

// errNilPipeline: a nil *Pipeline, often the first result of a New whose
// error went unchecked.
var errNilPipeline = errors.New("fusebox: nil *Pipeline (was the error of fusebox.New checked?)")
