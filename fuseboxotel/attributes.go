package fuseboxotel

import (
	"context"
	"errors"

	"go.opentelemetry.io/otel/attribute"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/retry"
)

// ScopeName is the instrumentation scope name to get a Meter or Tracer
// with: provider.Meter(fuseboxotel.ScopeName).
const ScopeName = "github.com/fusebox-go/fusebox/fuseboxotel"

// Attribute keys of the metrics, spans and span events of this package.
const (
	// AttrPolicyName is the name a source, a latency or a tracing policy
	// was given.
	AttrPolicyName = attribute.Key("fusebox.policy.name")
	// AttrPolicyKey is the key of a registry member (WatchRegistry).
	AttrPolicyKey = attribute.Key("fusebox.policy.key")
	// AttrPolicyLayer is the position of a policy in a pipeline, 0 for the
	// outermost (pipeline sources only).
	AttrPolicyLayer = attribute.Key("fusebox.policy.layer")
	// AttrPolicyKind is the kind of policy an event came from: "breaker",
	// "retry", "bulkhead", ... (CountEvents).
	AttrPolicyKind = attribute.Key("fusebox.policy.kind")
	// AttrOutcome is what a call came to: "success", "failure", "ignored"
	// or "rejected".
	AttrOutcome = attribute.Key("fusebox.outcome")
	// AttrState is a circuit breaker state: "closed", "open", "half-open",
	// "forced-open", "disabled" or "metrics-only".
	AttrState = attribute.Key("fusebox.state")
	// AttrStateFrom and AttrStateTo are the states of a transition.
	AttrStateFrom = attribute.Key("fusebox.state.from")
	AttrStateTo   = attribute.Key("fusebox.state.to")
	// AttrReason says why: why a call was rejected, why a retry gave up,
	// why a breaker changed state, why a bulkhead turned a call away.
	AttrReason = attribute.Key("fusebox.reason")
	// AttrAttempt is the number of an attempt, 1 for the first.
	AttrAttempt = attribute.Key("fusebox.attempt")
	// AttrEvent is the kind of a fusebox.Event: "state-change",
	// "rejected", "retry", ... (CountEvents).
	AttrEvent = attribute.Key("fusebox.event")
	// AttrCacheResult is how a fallback cache answered a lookup: "hit",
	// "stale_hit" or "miss".
	AttrCacheResult = attribute.Key("fusebox.cache.result")
)

// Outcome values of AttrOutcome. OutcomeRejected is a call a policy refused
// to run (an open breaker, a full bulkhead, a rate limit, a closed policy):
// it says nothing about the dependency, and its duration is not the
// dependency's latency.
const (
	OutcomeSuccess  = "success"
	OutcomeFailure  = "failure"
	OutcomeIgnored  = "ignored"
	OutcomeRejected = "rejected"
)

// Span event names.
const (
	// EventRejected: a policy refused to run the call; AttrReason is
	// "open", "bulkhead_full", "rate_limited" or "closed".
	EventRejected = "fusebox.rejected"
	// EventRetriesExhausted: a retry policy gave up; AttrReason is
	// "max_attempts" or "budget_exhausted", AttrAttempt the attempts made.
	EventRetriesExhausted = "fusebox.retries_exhausted"
	// EventTimeout: a timeout policy's own deadline passed.
	EventTimeout = "fusebox.timeout"
	// EventStateChange: a watched circuit breaker changed state while the
	// call ran (WithBreaker).
	EventStateChange = "fusebox.breaker.state_change"
)

// rejections maps the sentinels of a call that never ran to a reason.
// ErrBudgetExhausted is not one: the retry budget refuses a retry of a call
// that did run, and comes wrapped in a *retry.Error.
var rejections = [...]struct {
	err    error
	reason string
}{
	{fusebox.ErrOpen, "open"},
	{fusebox.ErrBulkheadFull, "bulkhead_full"},
	{fusebox.ErrRateLimited, "rate_limited"},
	{fusebox.ErrClosed, "closed"},
}

// rejectionReason returns the reason of a rejection, or "" when err is no
// rejection. An error a retry policy gave up with is no rejection, even
// when it wraps one: attempts were made.
func rejectionReason(err error) string {
	if err == nil || errors.Is(err, fusebox.ErrRetriesExhausted) || errors.Is(err, fusebox.ErrBudgetExhausted) {
		return ""
	}
	for _, r := range rejections {
		if errors.Is(err, r.err) {
			return r.reason
		}
	}
	return ""
}

// outcomeOf judges a finished call: OutcomeRejected for a rejection,
// otherwise what fusebox.Classify says with c.
func outcomeOf(ctx context.Context, err error, c fusebox.Classifier) string {
	if err == nil {
		return OutcomeSuccess
	}
	if rejectionReason(err) != "" {
		return OutcomeRejected
	}
	switch fusebox.Classify(ctx, err, c) {
	case fusebox.Success:
		return OutcomeSuccess
	case fusebox.Ignored:
		return OutcomeIgnored
	}
	return OutcomeFailure
}

// outcomeIndex numbers the outcomes for per-outcome precomputed options.
func outcomeIndex(o string) int {
	switch o {
	case OutcomeSuccess:
		return 0
	case OutcomeFailure:
		return 1
	case OutcomeIgnored:
		return 2
	}
	return 3
}

var outcomes = [...]string{OutcomeSuccess, OutcomeFailure, OutcomeIgnored, OutcomeRejected}

// errorEvent returns the span event err calls for, with its attributes
// (name and attempts included), or "" when it calls for none. attempts is
// the attempt count the caller knows of, 0 if none.
func errorEvent(err error, name string, attempts int) (string, []attribute.KeyValue) {
	if err == nil {
		return "", nil
	}
	var re *retry.Error
	if errors.As(err, &re) {
		reason := ""
		switch {
		case errors.Is(re.Reason, fusebox.ErrRetriesExhausted):
			reason = "max_attempts"
		case errors.Is(re.Reason, fusebox.ErrBudgetExhausted):
			reason = "budget_exhausted"
		}
		if reason != "" {
			return EventRetriesExhausted, []attribute.KeyValue{AttrPolicyName.String(name), AttrReason.String(reason), AttrAttempt.Int(re.Attempts)}
		}
	} else if errors.Is(err, fusebox.ErrRetriesExhausted) || errors.Is(err, fusebox.ErrBudgetExhausted) {
		reason := "max_attempts"
		if errors.Is(err, fusebox.ErrBudgetExhausted) {
			reason = "budget_exhausted"
		}
		kv := []attribute.KeyValue{AttrPolicyName.String(name), AttrReason.String(reason)}
		if attempts > 0 {
			kv = append(kv, AttrAttempt.Int(attempts))
		}
		return EventRetriesExhausted, kv
	}
	if r := rejectionReason(err); r != "" {
		return EventRejected, []attribute.KeyValue{AttrPolicyName.String(name), AttrReason.String(r)}
	}
	if errors.Is(err, fusebox.ErrTimeout) {
		return EventTimeout, []attribute.KeyValue{AttrPolicyName.String(name)}
	}
	return "", nil
}
