package fuseboxotel

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/breaker"
)

// TracingPolicy is a fusebox.Policy that reports what Fusebox did to a call
// on the call's span: the span active in the context the call runs with
// (trace.SpanFromContext). It starts no span of its own. After the call it
// adds, when the call's error says so, one span event:
//
//   - EventRejected when a policy inside refused the call (an open breaker,
//     a full bulkhead, a rate limit, a closed policy);
//   - EventRetriesExhausted when a retry policy inside gave up, with the
//     number of attempts;
//   - EventTimeout when a timeout policy's own deadline passed;
//
// and, for each breaker given with WithBreaker whose state changed during
// the call, an EventStateChange.
//
// Its companion, the policy Attempt returns, goes inside a retry or a hedge
// and starts a child span per attempt. Place both in one pipeline:
//
//	tp, _ := fuseboxotel.NewTracingPolicy(tracer, "payments")
//	p, _ := fusebox.New(tp, breakerPolicy, retryPolicy, tp.Attempt(), attemptTimeout)
//
// A TracingPolicy is safe for concurrent use. A call whose context carries
// no valid span context costs one context lookup and allocates nothing.
type TracingPolicy struct {
	tracer      trace.Tracer
	name        string
	attemptName string
	classifier  fusebox.Classifier
	breakers    []*breaker.Breaker
	nameAttr    attribute.KeyValue
	attempt     AttemptPolicy
}

// callKey is the context key under which a TracingPolicy leaves its call's
// attempt counter for its AttemptPolicy. Keying by the policy keeps nested
// pipelines with tracing policies of their own apart.
type callKey struct{ t *TracingPolicy }

// callState is one call's attempt counter; hedged attempts run
// concurrently, hence the atomic.
type callState struct{ attempts atomic.Int64 }

// NewTracingPolicy returns a TracingPolicy named name: the AttrPolicyName
// of its events and spans, and the prefix of its attempt spans' name
// ("<name> attempt"). It takes WithClassifier and WithBreaker. It returns
// an error when tracer is nil, name is empty or a breaker is nil.
func NewTracingPolicy(tracer trace.Tracer, name string, opts ...Option) (*TracingPolicy, error) {
	if tracer == nil {
		return nil, errors.New("fuseboxotel: tracer is nil")
	}
	if name == "" {
		return nil, errors.New("fuseboxotel: name is empty: want the policy's name")
	}
	var o options
	for _, op := range opts {
		if op != nil {
			op.apply(&o)
		}
	}
	for i, b := range o.breakers {
		if b == nil {
			return nil, fmt.Errorf("fuseboxotel: WithBreaker #%d is nil", i)
		}
	}
	t := &TracingPolicy{
		tracer:      tracer,
		name:        name,
		attemptName: name + " attempt",
		classifier:  o.classifier,
		breakers:    o.breakers,
		nameAttr:    AttrPolicyName.String(name),
	}
	t.attempt.t = t
	return t, nil
}

// Name returns the policy's name.
func (t *TracingPolicy) Name() string { return t.name }

// Attempt returns the policy's per-attempt companion. Place it inside the
// retry or hedge whose attempts it should trace, with the TracingPolicy
// itself outside them so that attempts are numbered.
func (t *TracingPolicy) Attempt() *AttemptPolicy { return &t.attempt }

// Run runs next and reports what happened to it on the current span (see
// TracingPolicy). Without a valid span context in ctx it just runs next.
func (t *TracingPolicy) Run(ctx context.Context, next fusebox.Next) error {
	span := trace.SpanFromContext(ctx)
	if !span.SpanContext().IsValid() {
		return next.Run(ctx)
	}
	st := &callState{}
	ctx = context.WithValue(ctx, callKey{t}, st)
	var before []breaker.State
	if len(t.breakers) > 0 {
		before = make([]breaker.State, len(t.breakers))
		for i, b := range t.breakers {
			before[i] = b.State()
		}
	}
	err := next.Run(ctx)
	if !span.IsRecording() {
		return err
	}
	if name, kv := errorEvent(err, t.name, int(st.attempts.Load())); name != "" {
		span.AddEvent(name, trace.WithAttributes(kv...))
	}
	for i, b := range t.breakers {
		if after := b.State(); after != before[i] {
			span.AddEvent(EventStateChange, trace.WithAttributes(
				AttrPolicyName.String(b.Name()),
				AttrStateFrom.String(before[i].String()),
				AttrStateTo.String(after.String()),
			))
		}
	}
	return err
}

// Execute runs fn under the policy: Run with fusebox.NextFunc(fn).
func (t *TracingPolicy) Execute(ctx context.Context, fn func(context.Context) error) error {
	return t.Run(ctx, fusebox.NextFunc(fn))
}

// AttemptPolicy is the per-attempt companion of a TracingPolicy, from
// TracingPolicy.Attempt. Each time it runs, as a child of the span in its
// context, it starts a span named "<name> attempt" (trace.SpanKindInternal)
// with the attributes AttrPolicyName, AttrAttempt (1 for the first attempt
// of the call, counted by the TracingPolicy, which must run outside the
// retry or hedge; without it the attribute is left out) and AttrOutcome.
// An attempt that failed or was rejected records its error (an
// "exception" event) and sets the span's status to Error; an ignored one
// (the caller gave up, a hedge canceled it) gets its outcome only. An
// attempt's rejection, timeout or exhausted inner retry is reported on its
// span with the same events as a TracingPolicy's.
//
// With no valid span context in its context it starts no span: an attempt
// span is always somebody's child, never a stray root.
type AttemptPolicy struct {
	t *TracingPolicy
}

// Run runs next inside a new attempt span.
func (a *AttemptPolicy) Run(ctx context.Context, next fusebox.Next) (err error) {
	t := a.t
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return next.Run(ctx)
	}
	n := int64(0)
	if st, ok := ctx.Value(callKey{t}).(*callState); ok {
		n = st.attempts.Add(1)
	}
	attrs := []attribute.KeyValue{t.nameAttr}
	if n > 0 {
		attrs = append(attrs, AttrAttempt.Int64(n))
	}
	actx, span := t.tracer.Start(ctx, t.attemptName, trace.WithSpanKind(trace.SpanKindInternal), trace.WithAttributes(attrs...))
	finished := false
	defer func() {
		if !finished {
			// A panic: end the span as a failure and let the panic go on
			// with its original stack.
			span.SetAttributes(AttrOutcome.String(OutcomeFailure))
			span.SetStatus(codes.Error, "panic")
		}
		span.End()
	}()
	err = next.Run(actx)
	finished = true
	if !span.IsRecording() {
		return err
	}
	o := outcomeOf(ctx, err, t.classifier)
	span.SetAttributes(AttrOutcome.String(o))
	if err != nil {
		// An ignored attempt (the caller gave up, or a hedge canceled the
		// loser) is no error of the dependency: it gets its outcome only.
		if o == OutcomeFailure || o == OutcomeRejected {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
		if name, kv := errorEvent(err, t.name, 0); name != "" {
			span.AddEvent(name, trace.WithAttributes(kv...))
		}
	}
	return err
}

// Execute runs fn under the policy: Run with fusebox.NextFunc(fn).
func (a *AttemptPolicy) Execute(ctx context.Context, fn func(context.Context) error) error {
	return a.Run(ctx, fusebox.NextFunc(fn))
}
