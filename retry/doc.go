// Package retry is the retry policy of the Fusebox toolkit: it runs a call
// again when an attempt fails with an error worth retrying, waiting between
// attempts according to a backoff strategy, within limits on attempts,
// elapsed time, the caller's deadline and an optional retry budget shared by
// many policies.
//
// # Pieces
//
//   - [Policy], made by [New] from a [Config], is a [fusebox.Policy]: use it
//     alone with [Policy.Execute] or as one layer of a [fusebox.Pipeline].
//   - [Backoff] and [Jitter] choose the delay between attempts: constant,
//     exponential or decorrelated, jittered in full or in equal parts.
//   - [DefaultRetryable] decides which errors are worth another attempt when
//     Config.Retryable is nil; [Permanent] marks an error as never retryable
//     and [StatusError] carries a protocol status (HTTP semantics) and a
//     server's Retry-After hint.
//   - [ParseRetryAfter] reads a Retry-After header value; any error in an
//     attempt's chain with a RetryAfter() time.Duration method stretches the
//     next delay.
//   - [Budget] caps retries at a fraction of requests over a sliding window,
//     shared across calls and policies, so that retries cannot multiply the
//     load on a dependency that is already failing.
//
// # Results
//
// Run returns nil as soon as an attempt succeeds. Otherwise it returns:
//
//   - the attempt's error, unchanged, when it is not retryable or when the
//     caller's context ended during the attempt;
//   - an [*Error] matching [ErrRetriesExhausted] when the policy gives up:
//     attempts used up, MaxElapsed reached, or the next attempt could not
//     start before the context's deadline (the policy never sleeps past it);
//   - an [*Error] matching [ErrBudgetExhausted] when the budget refused the
//     retry;
//   - an [*Error] matching the context's error (context.Canceled or
//     context.DeadlineExceeded) when the caller's context ended while the
//     policy was waiting to retry. The caller's context has ended, so
//     [fusebox.Classify] reports it as Ignored, never as a dependency failure.
//
// In every [*Error] the last attempt's error stays reachable with errors.Is
// and errors.As.
//
// # Place in a pipeline
//
// Put the retry inside the breaker and the bulkhead and outside a per-attempt
// timeout: the breaker then sees one outcome per call, and each attempt gets
// its own time limit:
//
//	fusebox.New(bulkhead, breaker, retryPolicy, perAttemptTimeout)
//
// # Cost
//
// A call whose first attempt succeeds costs one atomic add, plus one
// lock-free deposit into the budget when there is one and one clock reading
// when MaxElapsed is set: no allocation, no timer, no lock, no random number.
//
// A call whose first attempt fails and is not retried (its error is not
// retryable or is marked Permanent, or it is the rejection of a policy
// nested inside the retry, such as an open breaker) costs the same plus the
// classification: one walk of the error's tree, by [DefaultRetryable] or by
// [IsPermanent] before Config.Retryable. It allocates nothing either, unless
// an error in the tree has an As method. Of the calls that make no retry,
// only those that give up allocate: the [*Error] they return.
package retry
