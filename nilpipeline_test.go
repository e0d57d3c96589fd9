package fusebox_test

import (
	"context"
	"strings"
	"testing"

	"github.com/fusebox-go/fusebox"
)

// A nil pipeline is an error, as a nil function is, never a panic.
func TestNilPipeline(t *testing.T) {
	ctx := context.Background()
	var p *fusebox.Pipeline
	called := false
	fn := func(context.Context) (int, error) { called = true; return 1, nil }
	if v, err := fusebox.Do(ctx, p, fn); err == nil || v != 0 || !strings.Contains(err.Error(), "nil *Pipeline") {
		t.Errorf("Do(nil pipeline) = %v, %v; want 0 and an error naming the nil pipeline", v, err)
	}
	if err := p.Run(ctx, func(context.Context) error { called = true; return nil }); err == nil {
		t.Error("Run on a nil pipeline returned no error")
	}
	if err := p.RunCall(ctx, &countingCall{}); err == nil {
		t.Error("RunCall on a nil pipeline returned no error")
	}
	if ps := p.Policies(); ps != nil {
		t.Errorf("Policies of a nil pipeline = %v, want nil", ps)
	}
	if called {
		t.Error("a function was called through a nil pipeline")
	}
	// The first result of a New whose error went unchecked is such a nil.
	bad, _ := fusebox.New(nil)
	if _, err := fusebox.Do(ctx, bad, fn); err == nil {
		t.Error("Do through New's nil result returned no error")
	}
}
