package fuseboxgrpc

import (
	"errors"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/breaker"
	"github.com/fusebox-go/fusebox/clock"
	"github.com/fusebox-go/fusebox/timeout"
)

// TestOutageLifecycle drives one client through an outage of a real
// grpc-go server on loopback: Unavailable, then answers slower than the
// client's per-attempt deadline, then an internal error, then recovery.
// The breaker opens, no RPC reaches the server while it is open, each
// half-open state lets exactly one probe through, and it closes once the
// server is well. The breaker's clock is fake; the per-attempt timeout
// runs on the real clock.
func TestOutageLifecycle(t *testing.T) {
	b, fc := newBreaker(t, breaker.Config{
		ConsecutiveFailures: 3, OpenDuration: 5 * time.Second,
		HalfOpenProbes: 1, HalfOpenSuccesses: 1,
	})
	attempt, err := timeout.New(timeout.Config{Timeout: 100 * time.Millisecond, Clock: clock.Real()})
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, nil, clientOpts(WithPipeline(onePipeline(t, nil, b, attempt)))...)
	ctx := ctxT(t)
	call := func() error {
		_, err := h.client.UnaryCall(ctx, &testpb.SimpleRequest{})
		return err
	}
	expectOpen := func(phase string) {
		t.Helper()
		if s := b.State(); s != breaker.Open {
			t.Fatalf("%s: breaker is %s, want open", phase, s)
		}
		before := h.svc.unary.Load()
		for range 10 {
			wantRejected(t, call(), fusebox.ErrOpen)
		}
		if n := h.svc.unary.Load() - before; n != 0 {
			t.Fatalf("%s: %d RPCs reached the server while the breaker was open", phase, n)
		}
	}
	probe := func(phase string) error {
		t.Helper()
		fc.Advance(5 * time.Second)
		before := h.svc.unary.Load()
		err := call()
		if n := h.svc.unary.Load() - before; n != 1 {
			t.Fatalf("%s: the probe made %d RPCs, want exactly 1", phase, n)
		}
		return err
	}

	for range 3 {
		if err := call(); err != nil {
			t.Fatalf("healthy: %v", err)
		}
	}

	h.svc.failAll(codes.Unavailable)
	for range 3 {
		wantCode(t, call(), codes.Unavailable)
	}
	expectOpen("after Unavailable")

	// Slower than the per-attempt deadline: the probe times out.
	h.svc.failAll(codes.OK)
	release := h.svc.setHold()
	defer release()
	if err := probe("slow"); !errors.Is(err, fusebox.ErrTimeout) {
		t.Fatalf("slow: probe err = %v, want ErrTimeout", err)
	}
	h.svc.stopHolding()
	expectOpen("after a slow probe")

	h.svc.failAll(codes.Internal)
	wantCode(t, probe("internal"), codes.Internal)
	expectOpen("after an internal error")

	h.svc.failAll(codes.OK)
	if err := probe("recovered"); err != nil {
		t.Fatalf("recovered: probe %v", err)
	}
	if s := b.State(); s != breaker.Closed {
		t.Fatalf("recovered: breaker is %s, want closed", s)
	}
	for range 3 {
		if err := call(); err != nil {
			t.Fatalf("after recovery: %v", err)
		}
	}
	if s := b.Snapshot(); s.FailedProbes != 2 || s.Rejections != 30 {
		t.Fatalf("snapshot: %d failed probes, %d rejections; want 2 and 30", s.FailedProbes, s.Rejections)
	}
}
