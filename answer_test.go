package fusebox_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/fusebox-go/fusebox"
)

// answerFallback answers every failure with v through SetFallback, giving
// the failure as the cause: what fallback.Policy does.
type answerFallback struct{ v any }

func (f answerFallback) Run(ctx context.Context, next fusebox.Next) error {
	if err := next.Run(ctx); err != nil {
		return next.SetFallback(f.v, err)
	}
	return nil
}

func TestDoAnswer(t *testing.T) {
	ctx := context.Background()
	down := errors.New("down")

	if a, err := fusebox.DoAnswer(ctx, nil, func(context.Context) (int, error) { return 1, nil }); err == nil || a != (fusebox.Answer[int]{}) {
		t.Errorf("DoAnswer(nil pipeline) = %+v, %v; want the zero Answer and an error", a, err)
	}

	p, _ := fusebox.New(answerFallback{"cached"})
	a, err := fusebox.DoAnswer(ctx, p, func(context.Context) (string, error) { return "fresh", nil })
	if err != nil || a.Value != "fresh" || a.Degraded || a.Cause != nil {
		t.Errorf("success: DoAnswer = %+v, %v; want fresh, not degraded", a, err)
	}
	a, err = fusebox.DoAnswer(ctx, p, func(context.Context) (string, error) { return "", down })
	if err != nil || a.Value != "cached" || !a.Degraded || !errors.Is(a.Cause, down) {
		t.Errorf("fallback: DoAnswer = %+v, %v; want cached, degraded, caused by down, nil error", a, err)
	}
	// Do gives the same value and the same nil error: callers that do not
	// care see no difference.
	v, err := fusebox.Do(ctx, p, func(context.Context) (string, error) { return "", down })
	if err != nil || v != "cached" {
		t.Errorf("Do = %q, %v; want cached, nil", v, err)
	}

	// A policy that only calls SetResult still marks the answer degraded,
	// without a cause.
	p, _ = fusebox.New(substitute{"cached"})
	a, err = fusebox.DoAnswer(ctx, p, func(context.Context) (string, error) { return "", down })
	if err != nil || a.Value != "cached" || !a.Degraded || a.Cause != nil {
		t.Errorf("SetResult: DoAnswer = %+v, %v; want cached, degraded, no cause", a, err)
	}

	// A rejection is a cause as good as a failure.
	p, _ = fusebox.New(answerFallback{0}, policyFunc(func(context.Context, fusebox.Next) error { return fusebox.ErrOpen }))
	n, err := fusebox.DoAnswer(ctx, p, func(context.Context) (int, error) { return 1, nil })
	if err != nil || !n.Degraded || !errors.Is(n.Cause, fusebox.ErrOpen) {
		t.Errorf("rejected: DoAnswer = %+v, %v; want degraded by ErrOpen", n, err)
	}

	// No fallback: the failure comes back, not degraded.
	p, _ = fusebox.New()
	a, err = fusebox.DoAnswer(ctx, p, func(context.Context) (string, error) { return "partial", down })
	if !errors.Is(err, down) || a.Value != "partial" || a.Degraded || a.Cause != nil {
		t.Errorf("no fallback: DoAnswer = %+v, %v; want partial, down, not degraded", a, err)
	}
}

// DoAnswer costs what Do costs: one allocation, the typed call, whether
// the call succeeds or a fallback answers.
func TestDoAnswerAllocations(t *testing.T) {
	ctx := context.Background()
	p, _ := fusebox.New(answerFallback{7}, passthrough{})
	ok := func(context.Context) (int, error) { return 1, nil }
	down := errors.New("down")
	fail := func(context.Context) (int, error) { return 0, down }

	do := testing.AllocsPerRun(1000, func() { _, _ = fusebox.Do(ctx, p, ok) })
	answer := testing.AllocsPerRun(1000, func() { _, _ = fusebox.DoAnswer(ctx, p, ok) })
	if answer != do || answer > 1 {
		t.Errorf("success: DoAnswer allocates %v times, Do %v; want the same, at most 1", answer, do)
	}
	doFail := testing.AllocsPerRun(1000, func() { _, _ = fusebox.Do(ctx, p, fail) })
	answerFail := testing.AllocsPerRun(1000, func() { _, _ = fusebox.DoAnswer(ctx, p, fail) })
	if answerFail != doFail {
		t.Errorf("degraded: DoAnswer allocates %v times, Do %v; want the same", answerFail, doFail)
	}
}

func TestResultDegraded(t *testing.T) {
	var r fusebox.Result[int]
	if cause, ok := r.Degraded(); ok || cause != nil {
		t.Fatalf("zero Result: Degraded = %v, %v; want nil, false", cause, ok)
	}
	r.Record(1, nil)
	if _, ok := r.Degraded(); ok {
		t.Fatal("a recorded success is degraded")
	}
	down := errors.New("down")
	if err := r.SetFallback(2, down); err != nil {
		t.Fatal(err)
	}
	if cause, ok := r.Degraded(); !ok || cause != down || r.Value() != 2 {
		t.Fatalf("after SetFallback: Degraded = %v, %v, value %d; want down, true, 2", cause, ok, r.Value())
	}
	if err := r.SetFallback("two", down); err == nil || !strings.Contains(err.Error(), "string") || !strings.Contains(err.Error(), "int") {
		t.Fatalf("SetFallback of a string into a Result[int] = %v, want an error naming both types", err)
	}
	// An interface result type is named, not printed as <nil>.
	var e fusebox.Result[error]
	if err := e.Set(3); err == nil || !strings.Contains(err.Error(), "type error") {
		t.Fatalf("Set of an int into a Result[error] = %v, want an error naming the type error", err)
	}
}

// keyedCall is a Call that says what it is for.
type keyedCall struct {
	countingCall
	key  string
	asks int
}

func (c *keyedCall) CallKey() string { c.asks++; return c.key }

func TestCallKey(t *testing.T) {
	ctx := context.Background()
	if k, ok := fusebox.CallKeyFromContext(ctx); ok || k != "" {
		t.Fatalf("CallKeyFromContext(Background) = %q, %v; want none", k, ok)
	}
	kctx := fusebox.WithCallKey(ctx, "product-42")
	if k, ok := fusebox.CallKeyFromContext(kctx); !ok || k != "product-42" {
		t.Fatalf("CallKeyFromContext = %q, %v; want product-42", k, ok)
	}
	// The empty key is a key.
	if k, ok := fusebox.CallKeyFromContext(fusebox.WithCallKey(ctx, "")); !ok || k != "" {
		t.Fatalf("CallKeyFromContext of an empty key = %q, %v; want \"\", true", k, ok)
	}

	// Next.CallKey asks a KeyedCall, and nothing else.
	var got []string
	record := policyFunc(func(ctx context.Context, next fusebox.Next) error {
		k, ok := next.CallKey()
		if ok {
			got = append(got, k)
		} else {
			got = append(got, "<none>")
		}
		return next.Run(ctx)
	})
	p, _ := fusebox.New(record)
	c := &keyedCall{key: "https://api.example.com"}
	if err := p.RunCall(ctx, c); err != nil {
		t.Fatal(err)
	}
	if err := p.RunCall(ctx, &countingCall{}); err != nil {
		t.Fatal(err)
	}
	if _, err := fusebox.Do(kctx, p, func(context.Context) (int, error) { return 0, nil }); err != nil {
		t.Fatal(err)
	}
	if want := []string{"https://api.example.com", "<none>", "<none>"}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("Next.CallKey gave %q, want %q", got, want)
	}
	if c.asks != 1 {
		t.Fatalf("the KeyedCall was asked %d times, want 1", c.asks)
	}
}
