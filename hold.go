package fusebox

import (
	"context"
	"sync"
)

// HoldKey is the context key under which a policy's call context answers
// with itself, a [Holdable], so that [Hold] can find it. Policies that end
// the context they give a call when their Run returns (a timeout's deadline
// context, a hedge's attempt context) answer it; a context answers with the
// innermost such context of its chain.
type HoldKey struct{}

// Holdable is a context a policy made for one call and ends when the
// policy's Run returns. Policies implement it; callers use [Hold].
type Holdable interface {
	context.Context
	// Hold postpones the end that Run's return would bring, until a
	// matching Unhold. It returns false, and holds nothing, when Run has
	// already returned.
	Hold() bool
	// Unhold ends one Hold; the last one ends a context whose Run has
	// returned.
	Unhold()
	// Outer is the context this one was derived from, where Hold looks
	// for the next policy's context.
	Outer() context.Context
}

// Hold keeps the contexts that the policies around ctx made for the call
// from ending when their Run returns, until the returned release function
// is called. It is for results that are still being consumed after the
// call returned: an HTTP response whose body the caller reads later, or
// rows of a query, must keep their request's context alive, or the reading
// fails with context.Canceled. Without Hold, a timeout policy ends its
// context when the call returns, and a hedge ends every attempt's, the
// winner's too.
//
// What else ends those contexts still does: a timeout's deadline passing
// (the reading then fails with context.DeadlineExceeded, as the timeout
// promised), the caller's context ending, a hedge canceling an attempt that
// lost the race. Call release exactly when the result is done with
// (fuseboxhttp calls it when the response body is closed); it is
// idempotent. Hold returns nil when no policy's context is in ctx. Call it
// from inside the call, while the policies' Run is still running: a
// context whose Run has returned is not held.
func Hold(ctx context.Context) (release func()) {
	var held []Holdable
	h, _ := ctx.Value(HoldKey{}).(Holdable)
	for h != nil {
		if h.Hold() {
			held = append(held, h)
		}
		h, _ = h.Outer().Value(HoldKey{}).(Holdable)
	}
	if len(held) == 0 {
		return nil
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			for _, h := range held {
				h.Unhold()
			}
		})
	}
}
