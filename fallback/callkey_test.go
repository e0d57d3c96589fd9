package fallback_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/fallback"
)

// A fallback sees what the call was for: the key the caller put in the
// context, or else the Call's own.
func TestFallbackSeesCallKey(t *testing.T) {
	var seen []string
	fb, err := fallback.New(fallback.Config{Func: func(ctx context.Context, err error) (any, error) {
		k, ok := fusebox.CallKeyFromContext(ctx)
		if !ok {
			k = "<none>"
		}
		seen = append(seen, k)
		return nil, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	pl, _ := fusebox.New(fb)
	ctx := context.Background()
	fail := func(context.Context) (int, error) { return 0, errDep }

	_, _ = fusebox.Do(fusebox.WithCallKey(ctx, "product-42"), pl, fail)
	_, _ = fusebox.Do(ctx, pl, fail)
	_ = pl.RunCall(ctx, &keyedCall{key: "https://api.example.com"})
	_ = pl.RunCall(fusebox.WithCallKey(ctx, "mine"), &keyedCall{key: "https://api.example.com"})
	want := "product-42,<none>,https://api.example.com,mine"
	if got := strings.Join(seen, ","); got != want {
		t.Fatalf("the fallback saw %s, want %s", got, want)
	}
}

// keyedCall fails, and says its key.
type keyedCall struct{ key string }

func (c *keyedCall) Run(context.Context) error { return errDep }
func (c *keyedCall) SetResult(v any) error     { return nil }
func (c *keyedCall) CallKey() string           { return c.key }

// DoAnswer reports the fallback's answer as degraded, with the failure it
// replaced as the cause.
func TestPolicyGivesCause(t *testing.T) {
	fb, err := fallback.New(fallback.Config{Func: fallback.Static(7)})
	if err != nil {
		t.Fatal(err)
	}
	pl, _ := fusebox.New(fb)
	ctx := context.Background()
	a, err := fusebox.DoAnswer(ctx, pl, func(context.Context) (int, error) { return 1, nil })
	if err != nil || a.Value != 1 || a.Degraded || a.Cause != nil {
		t.Fatalf("healthy: DoAnswer = %+v, %v; want 1, not degraded", a, err)
	}
	a, err = fusebox.DoAnswer(ctx, pl, func(context.Context) (int, error) { return 0, errDep })
	if err != nil || a.Value != 7 || !a.Degraded || !errors.Is(a.Cause, errDep) {
		t.Fatalf("down: DoAnswer = %+v, %v; want 7, degraded by errDep", a, err)
	}
	// A fallback that fails answers nothing: the *Error comes back, not
	// a degraded answer.
	failing, _ := fallback.New(fallback.Config{Func: func(context.Context, error) (any, error) { return nil, errors.New("no") }})
	pl, _ = fusebox.New(failing)
	a, err = fusebox.DoAnswer(ctx, pl, func(context.Context) (int, error) { return 0, errDep })
	var fe *fallback.Error
	if !errors.As(err, &fe) || a.Degraded {
		t.Fatalf("failing fallback: DoAnswer = %+v, %v; want a *fallback.Error, not degraded", a, err)
	}
}
