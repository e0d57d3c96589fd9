// Package fusebox is the composition layer of the Fusebox fault-tolerance
// toolkit: the outcome model every policy shares, the sentinel errors every
// rejection is matched with, and the Pipeline that composes policies into one
// execution model.
//
// A policy (a circuit breaker, a retry, a bulkhead, a rate limiter, a
// timeout, a fallback, a hedge) lives in its own package and implements
// [Policy]. A [Pipeline] is built once from policies, outermost first, and
// then run for every call:
//
//	p, err := fusebox.New(bulkheadPolicy, breakerPolicy, retryPolicy)
//	...
//	err = p.Run(ctx, func(ctx context.Context) error { return callDependency(ctx) })
//
// [Do] runs a function that returns a value as well
// (user, err := fusebox.Do(ctx, p, fetchUser)) and carries a fallback's
// value back to the caller, with a nil error; [DoAnswer] also says whether
// the value is a fallback's, and the failure it replaced. [WithCallKey]
// tells a fallback what a call is for. An integration that keeps each call's state in
// an object of its own (fuseboxhttp's RoundTripper does) makes it a [Call]
// and runs it with [Pipeline.RunCall], which allocates nothing more.
//
// Every policy judges the result of a call through the same outcome model: a
// [Classifier] maps an error to [Success], [Failure] or [Ignored], and
// [Classify] applies the rule no classifier can override: when the caller's
// own context has ended, the call says nothing about the dependency and is
// Ignored.
package fusebox
