package fuseboxotel_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/breaker"
	"github.com/fusebox-go/fusebox/clock"
	"github.com/fusebox-go/fusebox/fuseboxotel"
	"github.com/fusebox-go/fusebox/hedge"
	"github.com/fusebox-go/fusebox/internal/testwait"
	"github.com/fusebox-go/fusebox/ratelimit"
	"github.com/fusebox-go/fusebox/retry"
)

// attr returns the value of key among kvs, or an invalid Value.
func attr(kvs []attribute.KeyValue, key attribute.Key) attribute.Value {
	for _, kv := range kvs {
		if kv.Key == key {
			return kv.Value
		}
	}
	return attribute.Value{}
}

// spansNamed returns the ended spans named name, ordered by attempt.
func spansNamed(spans []sdktrace.ReadOnlySpan, name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range spans {
		if s.Name() == name {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return attr(out[i].Attributes(), fuseboxotel.AttrAttempt).AsInt64() < attr(out[j].Attributes(), fuseboxotel.AttrAttempt).AsInt64()
	})
	return out
}

// eventsOf returns the span's events named name.
func eventsOf(s sdktrace.ReadOnlySpan, name string) []sdktrace.Event {
	var out []sdktrace.Event
	for _, e := range s.Events() {
		if e.Name == name {
			out = append(out, e)
		}
	}
	return out
}

// retryWait is the constant delay of the tests' retry policies. A test
// advances the fake clock by exactly this much per wait: a longer step
// (the tests used to advance a minute over jittered delays) may fire the
// next wait too, when the retrying goroutine arms it before Advance
// returns, and the test then waits for a timer that has come and gone.
const retryWait = time.Second

// runRetried runs p under a parent span while advancing the fake clock
// over the retry's waits, and returns the parent span once ended.
func runRetried(t *testing.T, tracer trace.Tracer, sr interface {
	Ended() []sdktrace.ReadOnlySpan
}, fake *clock.Fake, p *fusebox.Pipeline, waits int, fn func(context.Context) error) (sdktrace.ReadOnlySpan, error) {
	t.Helper()
	ctx, parent := tracer.Start(bg, "parent")
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx, fn) }()
	for range waits {
		testwait.Timers(t, fake, 1, "the retry's wait")
		fake.Advance(retryWait)
	}
	err := testwait.Recv(t, done, "the retried call")
	parent.End()
	ps := spansNamed(sr.Ended(), "parent")
	if len(ps) != 1 {
		t.Fatalf("%d parent spans", len(ps))
	}
	return ps[0], err
}

// TestAttemptSpansUnderRetry: three attempts under a retry make three
// child spans of the call's span, numbered, with their outcomes.
func TestAttemptSpansUnderRetry(t *testing.T) {
	tracer, sr := newTracer(t)
	fake := clock.NewFake(time.Time{})
	tp, err := fuseboxotel.NewTracingPolicy(tracer, "payments")
	if err != nil {
		t.Fatal(err)
	}
	rp, _ := retry.New(retry.Config{MaxAttempts: 3, Backoff: retry.BackoffConstant, InitialInterval: retryWait, Retryable: func(error) bool { return true }, Clock: fake})
	p, _ := fusebox.New(tp, rp, tp.Attempt())

	var calls atomic.Int32
	parent, err := runRetried(t, tracer, sr, fake, p, 2, func(context.Context) error {
		if calls.Add(1) < 3 {
			return errBoom
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	attempts := spansNamed(sr.Ended(), "payments attempt")
	if len(attempts) != 3 {
		t.Fatalf("%d attempt spans, want 3", len(attempts))
	}
	wantOutcome := []string{"failure", "failure", "success"}
	for i, s := range attempts {
		if s.Parent().SpanID() != parent.SpanContext().SpanID() {
			t.Errorf("attempt %d: parent %v, want the call's span %v", i+1, s.Parent().SpanID(), parent.SpanContext().SpanID())
		}
		if s.SpanContext().TraceID() != parent.SpanContext().TraceID() {
			t.Errorf("attempt %d: another trace", i+1)
		}
		if n := attr(s.Attributes(), fuseboxotel.AttrAttempt).AsInt64(); n != int64(i+1) {
			t.Errorf("span %d: fusebox.attempt = %d, want %d", i, n, i+1)
		}
		if o := attr(s.Attributes(), fuseboxotel.AttrOutcome).AsString(); o != wantOutcome[i] {
			t.Errorf("attempt %d: outcome %q, want %q", i+1, o, wantOutcome[i])
		}
		if nm := attr(s.Attributes(), fuseboxotel.AttrPolicyName).AsString(); nm != "payments" {
			t.Errorf("attempt %d: name %q", i+1, nm)
		}
		failed := wantOutcome[i] == "failure"
		if got := s.Status().Code == codes.Error; got != failed {
			t.Errorf("attempt %d: status %v, want error %v", i+1, s.Status(), failed)
		}
		if got := len(eventsOf(s, "exception")) == 1; got != failed {
			t.Errorf("attempt %d: exception recorded %v, want %v", i+1, got, failed)
		}
		if s.SpanKind() != trace.SpanKindInternal {
			t.Errorf("attempt %d: kind %v", i+1, s.SpanKind())
		}
	}
	if ev := parent.Events(); len(ev) != 0 {
		t.Errorf("events on the parent of a call that succeeded: %v", ev)
	}
}

// TestRetriesExhaustedEvent: a retry that gives up leaves an event with the
// attempts on the call's span.
func TestRetriesExhaustedEvent(t *testing.T) {
	tracer, sr := newTracer(t)
	fake := clock.NewFake(time.Time{})
	tp, _ := fuseboxotel.NewTracingPolicy(tracer, "payments")
	rp, _ := retry.New(retry.Config{MaxAttempts: 3, Backoff: retry.BackoffConstant, InitialInterval: retryWait, Retryable: func(error) bool { return true }, Clock: fake})
	p, _ := fusebox.New(tp, rp, tp.Attempt())
	parent, err := runRetried(t, tracer, sr, fake, p, 2, fail)
	if !errors.Is(err, fusebox.ErrRetriesExhausted) {
		t.Fatalf("Run: %v", err)
	}
	if n := len(spansNamed(sr.Ended(), "payments attempt")); n != 3 {
		t.Fatalf("%d attempt spans, want 3", n)
	}
	ev := eventsOf(parent, fuseboxotel.EventRetriesExhausted)
	if len(ev) != 1 {
		t.Fatalf("events %v, want one %s", parent.Events(), fuseboxotel.EventRetriesExhausted)
	}
	if n := attr(ev[0].Attributes, fuseboxotel.AttrAttempt).AsInt64(); n != 3 {
		t.Errorf("attempts %d, want 3", n)
	}
	if r := attr(ev[0].Attributes, fuseboxotel.AttrReason).AsString(); r != "max_attempts" {
		t.Errorf("reason %q, want max_attempts", r)
	}
}

// TestRejectionEvents: what the call's error says becomes one event on the
// call's span.
func TestRejectionEvents(t *testing.T) {
	tests := []struct {
		err    error
		event  string
		reason string
	}{
		{fusebox.ErrOpen, fuseboxotel.EventRejected, "open"},
		{fmt.Errorf("wrapped: %w", fusebox.ErrBulkheadFull), fuseboxotel.EventRejected, "bulkhead_full"},
		{fusebox.ErrRateLimited, fuseboxotel.EventRejected, "rate_limited"},
		{fusebox.ErrClosed, fuseboxotel.EventRejected, "closed"},
		{fusebox.ErrTimeout, fuseboxotel.EventTimeout, ""},
		{fusebox.ErrRetriesExhausted, fuseboxotel.EventRetriesExhausted, "max_attempts"},
		{errBoom, "", ""},
		{nil, "", ""},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.err), func(t *testing.T) {
			tracer, sr := newTracer(t)
			tp, _ := fuseboxotel.NewTracingPolicy(tracer, "payments")
			ctx, parent := tracer.Start(bg, "parent")
			if err := tp.Execute(ctx, func(context.Context) error { return tt.err }); err != tt.err {
				t.Fatalf("Execute returned %v, want the call's own error %v", err, tt.err)
			}
			parent.End()
			evs := sr.Ended()[0].Events()
			if tt.event == "" {
				if len(evs) != 0 {
					t.Fatalf("events %v, want none", evs)
				}
				return
			}
			if len(evs) != 1 || evs[0].Name != tt.event {
				t.Fatalf("events %v, want one %s", evs, tt.event)
			}
			if r := attr(evs[0].Attributes, fuseboxotel.AttrReason).AsString(); r != tt.reason {
				t.Errorf("reason %q, want %q", r, tt.reason)
			}
			if n := attr(evs[0].Attributes, fuseboxotel.AttrPolicyName).AsString(); n != "payments" {
				t.Errorf("name %q, want payments", n)
			}
		})
	}
}

// TestRejectionOnParentSpan: real policies inside a pipeline reject; the
// event lands on the parent span, and the attempt span says "rejected".
func TestRejectionOnParentSpan(t *testing.T) {
	tracer, sr := newTracer(t)
	fake := clock.NewFake(time.Time{})
	b, _ := breaker.New(breaker.Config{Name: "b", Clock: fake})
	rl, _ := ratelimit.New(ratelimit.Config{Rate: 1, Burst: 1, Clock: fake})
	tp, _ := fuseboxotel.NewTracingPolicy(tracer, "payments")
	p, _ := fusebox.New(tp, b, tp.Attempt(), rl)

	ctx, parent := tracer.Start(bg, "parent")
	_ = p.Run(ctx, ok) // takes the only token
	if err := p.Run(ctx, ok); !errors.Is(err, fusebox.ErrRateLimited) {
		t.Fatalf("second call: %v, want ErrRateLimited", err)
	}
	b.ForceOpen()
	if err := p.Run(ctx, ok); !errors.Is(err, fusebox.ErrOpen) {
		t.Fatalf("third call: %v, want ErrOpen", err)
	}
	parent.End()

	ps := spansNamed(sr.Ended(), "parent")[0]
	var reasons []string
	for _, e := range eventsOf(ps, fuseboxotel.EventRejected) {
		reasons = append(reasons, attr(e.Attributes, fuseboxotel.AttrReason).AsString())
	}
	if strings.Join(reasons, ",") != "rate_limited,open" {
		t.Fatalf("rejection reasons on the parent: %v, want rate_limited,open", reasons)
	}
	// The breaker rejected before the attempt policy ran: two attempt
	// spans, the second rejected by the limiter inside it.
	at := sr.Ended()
	var outcomes []string
	for _, s := range at {
		if s.Name() == "payments attempt" {
			outcomes = append(outcomes, attr(s.Attributes(), fuseboxotel.AttrOutcome).AsString())
			if o := outcomes[len(outcomes)-1]; o == "rejected" && len(eventsOf(s, fuseboxotel.EventRejected)) != 1 {
				t.Errorf("rejected attempt without a rejection event: %v", s.Events())
			}
		}
	}
	if strings.Join(outcomes, ",") != "success,rejected" {
		t.Fatalf("attempt outcomes %v, want success,rejected", outcomes)
	}
}

// TestStateChangeEvent: a watched breaker that opens during the call is
// reported on the call's span.
func TestStateChangeEvent(t *testing.T) {
	tracer, sr := newTracer(t)
	b, _ := breaker.New(breaker.Config{Name: "db", ConsecutiveFailures: 1, Clock: clock.NewFake(time.Time{})})
	tp, err := fuseboxotel.NewTracingPolicy(tracer, "payments", fuseboxotel.WithBreaker(b))
	if err != nil {
		t.Fatal(err)
	}
	p, _ := fusebox.New(tp, b)
	ctx, parent := tracer.Start(bg, "parent")
	_ = p.Run(ctx, ok)
	_ = p.Run(ctx, fail)
	parent.End()
	ev := eventsOf(sr.Ended()[0], fuseboxotel.EventStateChange)
	if len(ev) != 1 {
		t.Fatalf("state-change events %v, want 1", sr.Ended()[0].Events())
	}
	from := attr(ev[0].Attributes, fuseboxotel.AttrStateFrom).AsString()
	to := attr(ev[0].Attributes, fuseboxotel.AttrStateTo).AsString()
	if from != "closed" || to != "open" || attr(ev[0].Attributes, fuseboxotel.AttrPolicyName).AsString() != "db" {
		t.Fatalf("state change %v", ev[0].Attributes)
	}
}

// TestHedgeAttemptSpans: a hedge's attempts run concurrently; each gets its
// own span and number, the loser "ignored".
func TestHedgeAttemptSpans(t *testing.T) {
	tracer, sr := newTracer(t)
	fake := clock.NewFake(time.Time{})
	tp, _ := fuseboxotel.NewTracingPolicy(tracer, "search")
	hp, err := hedge.New(hedge.Config{Delay: 10 * time.Millisecond, Budget: 1, Clock: fake})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := fusebox.New(tp, hp, tp.Attempt())
	ctx, parent := tracer.Start(bg, "parent")
	entered := make(chan struct{}, 1)
	var n atomic.Int32
	done := make(chan error, 1)
	go func() {
		done <- p.Run(ctx, func(ctx context.Context) error {
			if n.Add(1) == 1 {
				entered <- struct{}{}
				<-ctx.Done() // the slow first attempt, canceled when the hedge wins
				return ctx.Err()
			}
			return nil
		})
	}()
	<-entered
	testwait.Timers(t, fake, 1, "the hedge's timer")
	fake.Advance(10 * time.Millisecond)
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	parent.End()
	spans := spansNamed(sr.Ended(), "search attempt")
	if len(spans) != 2 {
		t.Fatalf("%d attempt spans, want 2", len(spans))
	}
	for i, want := range []string{"ignored", "success"} {
		s := spans[i]
		if got := attr(s.Attributes(), fuseboxotel.AttrAttempt).AsInt64(); got != int64(i+1) {
			t.Errorf("span %d: attempt %d", i, got)
		}
		if got := attr(s.Attributes(), fuseboxotel.AttrOutcome).AsString(); got != want {
			t.Errorf("attempt %d: outcome %q, want %q", i+1, got, want)
		}
		if s.Status().Code == codes.Error || len(eventsOf(s, "exception")) != 0 {
			t.Errorf("attempt %d: error status %v, events %v: want neither for a hedge's attempt", i+1, s.Status(), s.Events())
		}
	}
}

// TestAttemptWithoutCallPolicy: attempts are traced but not numbered.
func TestAttemptWithoutCallPolicy(t *testing.T) {
	tracer, sr := newTracer(t)
	tp, _ := fuseboxotel.NewTracingPolicy(tracer, "payments")
	ctx, parent := tracer.Start(bg, "parent")
	_ = tp.Attempt().Execute(ctx, ok)
	parent.End()
	s := spansNamed(sr.Ended(), "payments attempt")
	if len(s) != 1 {
		t.Fatalf("%d attempt spans, want 1", len(s))
	}
	for _, kv := range s[0].Attributes() {
		if kv.Key == fuseboxotel.AttrAttempt {
			t.Fatalf("fusebox.attempt = %v without the call-level policy, want none", kv.Value.String())
		}
	}
}

// TestNoSpanNoTrace: without a span in the context nothing is started and
// the call runs.
func TestNoSpanNoTrace(t *testing.T) {
	tracer, sr := newTracer(t)
	tp, _ := fuseboxotel.NewTracingPolicy(tracer, "payments")
	p, _ := fusebox.New(tp, tp.Attempt())
	ran := false
	if err := p.Run(bg, func(context.Context) error { ran = true; return fusebox.ErrOpen }); !errors.Is(err, fusebox.ErrOpen) || !ran {
		t.Fatalf("Run: %v, ran %v", err, ran)
	}
	if n := len(sr.Ended()) + len(sr.Started()); n != 0 {
		t.Fatalf("%d spans without a parent, want none", n)
	}
}

// TestAttemptPanic: the attempt span ends as an error and the panic goes
// on.
func TestAttemptPanic(t *testing.T) {
	tracer, sr := newTracer(t)
	tp, _ := fuseboxotel.NewTracingPolicy(tracer, "payments")
	p, _ := fusebox.New(tp, tp.Attempt())
	ctx, parent := tracer.Start(bg, "parent")
	func() {
		defer func() {
			if r := recover(); r != "bang" {
				t.Errorf("recovered %v, want the original panic", r)
			}
		}()
		_ = p.Run(ctx, func(context.Context) error { panic("bang") })
	}()
	parent.End()
	s := spansNamed(sr.Ended(), "payments attempt")
	if len(s) != 1 || s[0].Status().Code != codes.Error || attr(s[0].Attributes(), fuseboxotel.AttrOutcome).AsString() != "failure" {
		t.Fatalf("attempt spans after a panic: %d, want 1 ended with an error status and outcome failure", len(s))
	}
}

func TestNewTracingPolicyErrors(t *testing.T) {
	tracer, _ := newTracer(t)
	if _, err := fuseboxotel.NewTracingPolicy(nil, "p"); err == nil {
		t.Error("nil tracer: no error")
	}
	if _, err := fuseboxotel.NewTracingPolicy(tracer, ""); err == nil {
		t.Error("empty name: no error")
	}
	if _, err := fuseboxotel.NewTracingPolicy(tracer, "p", fuseboxotel.WithBreaker(nil)); err == nil {
		t.Error("nil breaker: no error")
	}
}

// TestTracingAllocs: a call with no span costs no allocation.
func TestTracingAllocs(t *testing.T) {
	tracer, _ := newTracer(t)
	tp, _ := fuseboxotel.NewTracingPolicy(tracer, "p")
	p, _ := fusebox.New(tp, tp.Attempt())
	if n := testing.AllocsPerRun(100, func() { _ = p.Run(bg, ok) }); n != 0 {
		t.Fatalf("%v allocations per call without a span, want 0", n)
	}
}
