package fuseboxgrpc

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/status"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/breaker"
	"github.com/fusebox-go/fusebox/bulkhead"
	"github.com/fusebox-go/fusebox/clock"
	"github.com/fusebox-go/fusebox/fallback"
	"github.com/fusebox-go/fusebox/hedge"
	"github.com/fusebox-go/fusebox/internal/testwait"
	"github.com/fusebox-go/fusebox/retry"
)

func withStatus(c codes.Code, msg string) *testpb.SimpleRequest {
	return &testpb.SimpleRequest{ResponseStatus: &testpb.EchoStatus{Code: int32(c), Message: msg}}
}

// TestBreakerOpensProbesAndCloses walks a breaker through its states over a
// real server: Unavailable answers open it, no RPC reaches the server while
// it is open, half-open admits exactly its probes, and successful probes
// close it.
func TestBreakerOpensProbesAndCloses(t *testing.T) {
	b, fc := newBreaker(t, breaker.Config{
		ConsecutiveFailures: 3, OpenDuration: 5 * time.Second,
		HalfOpenProbes: 2, HalfOpenSuccesses: 2,
	})
	var keys []string
	h := newHarness(t, nil, clientOpts(WithPipeline(onePipeline(t, &keys, b)))...)
	ctx := ctxT(t)

	h.svc.failAll(codes.Unavailable)
	for i := range 3 {
		_, err := h.client.UnaryCall(ctx, &testpb.SimpleRequest{})
		wantCode(t, err, codes.Unavailable)
		if errors.Is(err, fusebox.ErrOpen) {
			t.Fatalf("call %d: the server's Unavailable matches ErrOpen", i)
		}
	}
	if got := b.State(); got != breaker.Open {
		t.Fatalf("after 3 Unavailable: state %v, want open", got)
	}
	if got := h.svc.unary.Load(); got != 3 {
		t.Fatalf("server saw %d calls, want 3", got)
	}

	for range 5 {
		_, err := h.client.UnaryCall(ctx, &testpb.SimpleRequest{})
		wantRejected(t, err, fusebox.ErrOpen)
		var oe *breaker.OpenError
		if !errors.As(err, &oe) {
			t.Fatalf("rejection %v is not an *breaker.OpenError", err)
		}
		if s, _ := status.FromError(err); !strings.Contains(s.Message(), "open") {
			t.Fatalf("rejection status message %q does not name the open breaker", s.Message())
		}
	}
	if got := h.svc.unary.Load(); got != 3 {
		t.Fatalf("server saw %d calls while the breaker was open, want still 3", got)
	}

	// Half-open: the server has recovered but holds its answers, so that
	// both probes are in flight at once.
	fc.Advance(5 * time.Second)
	h.svc.failAll(codes.OK)
	release := h.svc.setHold()
	defer release()
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			_, err := h.client.UnaryCall(ctx, &testpb.SimpleRequest{})
			errs <- err
		}()
	}
	testwait.Recv(t, h.svc.entered, "first probe")
	testwait.Recv(t, h.svc.entered, "second probe")
	_, err := h.client.UnaryCall(ctx, &testpb.SimpleRequest{})
	wantRejected(t, err, fusebox.ErrOpen)
	if got := h.svc.unary.Load(); got != 5 {
		t.Fatalf("server saw %d calls, want 5: 3 failures and exactly 2 probes", got)
	}
	release()
	for range 2 {
		if err := testwait.Recv(t, errs, "probe result"); err != nil {
			t.Fatalf("probe: %v", err)
		}
	}
	if got := b.State(); got != breaker.Closed {
		t.Fatalf("after 2 successful probes: state %v, want closed", got)
	}
	if _, err := h.client.UnaryCall(ctx, &testpb.SimpleRequest{}); err != nil {
		t.Fatalf("call after recovery: %v", err)
	}
	for _, k := range keys {
		if k != mUnary {
			t.Fatalf("pipeline key %q, want the full method %q", k, mUnary)
		}
	}
	if len(keys) != 1 {
		t.Fatalf("pipeline function called %d times, want once", len(keys))
	}
}

// TestSuccessCodesAreNotFailures: a status the server answers with on
// purpose reaches the caller unchanged and counts as a success.
func TestSuccessCodesAreNotFailures(t *testing.T) {
	b, _ := newBreaker(t, breaker.Config{ConsecutiveFailures: 1})
	h := newHarness(t, nil, clientOpts(WithPipeline(onePipeline(t, nil, b)))...)
	ctx := ctxT(t)
	for _, c := range []codes.Code{codes.NotFound, codes.InvalidArgument, codes.AlreadyExists,
		codes.PermissionDenied, codes.FailedPrecondition, codes.OutOfRange, codes.Unauthenticated} {
		_, err := h.client.UnaryCall(ctx, withStatus(c, "answer "+c.String()))
		s, ok := status.FromError(err)
		if !ok || s.Code() != c || s.Message() != "answer "+c.String() {
			t.Fatalf("%v: got %v, want the server's status unchanged", c, err)
		}
		var se *StatusError
		if errors.As(err, &se) {
			t.Fatalf("%v: the server's status came back wrapped: %v", c, err)
		}
	}
	snap := b.Snapshot()
	if snap.State != breaker.Closed || snap.Failures != 0 || snap.Calls != 7 {
		t.Fatalf("snapshot %+v: want closed, 7 calls, no failures", snap)
	}
}

// TestCallerEndIsIgnored: the caller's cancellation and the caller's
// deadline say nothing about the server; a DeadlineExceeded set by the
// server, with the caller's context live, is a failure.
func TestCallerEndIsIgnored(t *testing.T) {
	b, _ := newBreaker(t, breaker.Config{ConsecutiveFailures: 1})
	h := newHarness(t, nil, clientOpts(WithPipeline(onePipeline(t, nil, b)))...)
	release := h.svc.setHold()
	defer release()

	ctx, cancel := context.WithCancel(ctxT(t))
	errs := make(chan error, 1)
	go func() {
		_, err := h.client.UnaryCall(ctx, &testpb.SimpleRequest{})
		errs <- err
	}()
	testwait.Recv(t, h.svc.entered, "the call at the server")
	cancel()
	wantCode(t, testwait.Recv(t, errs, "canceled call"), codes.Canceled)

	dctx, dcancel := context.WithTimeout(ctxT(t), 50*time.Millisecond)
	defer dcancel()
	_, err := h.client.UnaryCall(dctx, &testpb.SimpleRequest{})
	wantCode(t, err, codes.DeadlineExceeded)

	// A Canceled status from the server, the caller's context live (a
	// server passing on a cancellation): Ignored too.
	_, err = h.client.UnaryCall(ctxT(t), withStatus(codes.Canceled, "upstream canceled"))
	wantCode(t, err, codes.Canceled)

	snap := b.Snapshot()
	if snap.State != breaker.Closed || snap.Failures != 0 || snap.Ignored != 3 {
		t.Fatalf("snapshot %+v: want closed, 3 ignored, no failures", snap)
	}

	release()
	_, err = h.client.UnaryCall(ctxT(t), withStatus(codes.DeadlineExceeded, "server gave up"))
	wantCode(t, err, codes.DeadlineExceeded)
	if got := b.State(); got != breaker.Open {
		t.Fatalf("after a server-set DeadlineExceeded: state %v, want open", got)
	}
}

// TestWithClassifier: a custom classifier decides what counts.
func TestWithClassifier(t *testing.T) {
	b, _ := newBreaker(t, breaker.Config{ConsecutiveFailures: 2})
	strict := func(c codes.Code) fusebox.Outcome {
		if c == codes.NotFound {
			return fusebox.Failure
		}
		return DefaultCodeClassifier(c)
	}
	h := newHarness(t, nil, clientOpts(WithPipeline(onePipeline(t, nil, b)), WithClassifier(strict))...)
	ctx := ctxT(t)
	for range 2 {
		_, err := h.client.UnaryCall(ctx, withStatus(codes.NotFound, "gone"))
		wantCode(t, err, codes.NotFound)
	}
	if got := b.State(); got != breaker.Open {
		t.Fatalf("state %v, want open after 2 NotFound judged failures", got)
	}
	_, err := h.client.UnaryCall(ctx, &testpb.SimpleRequest{})
	wantRejected(t, err, fusebox.ErrOpen)
}

// TestRetryThroughPipeline: a retry policy with RetryableCode retries
// Unavailable, not NotFound, and the breaker outside it sees one outcome
// per RPC.
func TestRetryThroughPipeline(t *testing.T) {
	b, _ := newBreaker(t, breaker.Config{ConsecutiveFailures: 5})
	rc := clock.NewFake(time.Time{})
	r, err := retry.New(retry.Config{
		MaxAttempts: 3, Backoff: retry.BackoffConstant, InitialInterval: 10 * time.Millisecond,
		Retryable: RetryableCode, Clock: rc,
	})
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, nil, clientOpts(WithPipeline(onePipeline(t, nil, b, r)))...)
	ctx := ctxT(t)

	// call runs an RPC, advancing the retry's clock through its waits.
	call := func(req *testpb.SimpleRequest, waits int) (*testpb.SimpleResponse, error) {
		type result struct {
			resp *testpb.SimpleResponse
			err  error
		}
		done := make(chan result, 1)
		go func() {
			resp, err := h.client.UnaryCall(ctx, req)
			done <- result{resp, err}
		}()
		for range waits {
			testwait.Timers(t, rc, 1, "the retry's wait")
			rc.Advance(10 * time.Millisecond)
		}
		res := testwait.Recv(t, done, "retried call")
		return res.resp, res.err
	}

	h.svc.failNext(codes.Unavailable, 2)
	resp, err := call(&testpb.SimpleRequest{}, 2)
	if err != nil {
		t.Fatalf("call with 2 Unavailable then OK: %v", err)
	}
	if resp.GetUsername() != "call 3" {
		t.Fatalf("reply %q, want the third attempt's", resp.GetUsername())
	}
	if got := h.svc.unary.Load(); got != 3 {
		t.Fatalf("server saw %d attempts, want 3", got)
	}

	_, err = call(withStatus(codes.NotFound, "no such thing"), 0)
	wantCode(t, err, codes.NotFound)
	if got := h.svc.unary.Load(); got != 4 {
		t.Fatalf("server saw %d attempts, want 4: NotFound is not retried", got)
	}

	h.svc.failAll(codes.Unavailable)
	_, err = call(&testpb.SimpleRequest{}, 2)
	wantCode(t, err, codes.Unavailable)
	if !errors.Is(err, fusebox.ErrRetriesExhausted) {
		t.Fatalf("err %v does not match ErrRetriesExhausted", err)
	}
	snap := b.Snapshot()
	if snap.Calls != 3 || snap.Failures != 1 {
		t.Fatalf("breaker snapshot %+v: want 3 calls (one per RPC), 1 failure", snap)
	}
}

// TestPipelinePerKey: keys are methods by default, services with
// WithServiceKeys; concurrent first RPCs of a key build its pipeline once.
func TestPipelinePerKey(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []Option
		want map[string]int
	}{
		{"method", nil, map[string]int{mUnary: 1, mEmpty: 1}},
		{"service", []Option{WithServiceKeys()}, map[string]int{service: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			got := map[string]int{}
			gate := make(chan struct{})
			newPipeline := func(key string) (*fusebox.Pipeline, error) {
				<-gate
				mu.Lock()
				got[key]++
				mu.Unlock()
				return DefaultPipeline(key)
			}
			h := newHarness(t, nil, clientOpts(append(tc.opts, WithPipeline(newPipeline))...)...)
			ctx := ctxT(t)
			var wg sync.WaitGroup
			for i := range 16 {
				wg.Go(func() {
					var err error
					if i%2 == 0 {
						_, err = h.client.UnaryCall(ctx, &testpb.SimpleRequest{})
					} else {
						_, err = h.client.EmptyCall(ctx, &testpb.Empty{})
					}
					if err != nil {
						t.Errorf("call: %v", err)
					}
				})
			}
			close(gate)
			wg.Wait()
			mu.Lock()
			defer mu.Unlock()
			if len(got) != len(tc.want) {
				t.Fatalf("pipelines built %v, want %v", got, tc.want)
			}
			for k, n := range tc.want {
				if got[k] != n {
					t.Fatalf("pipelines built %v, want %v", got, tc.want)
				}
			}
		})
	}
}

// TestPipelineFuncError: an error reaches the RPC as Internal, is not kept,
// and a nil pipeline leaves the key unguarded.
func TestPipelineFuncError(t *testing.T) {
	var calls atomic.Int64
	newPipeline := func(key string) (*fusebox.Pipeline, error) {
		if calls.Add(1) == 1 {
			return nil, errors.New("no config yet")
		}
		return nil, nil
	}
	h := newHarness(t, nil, clientOpts(WithPipeline(newPipeline))...)
	ctx := ctxT(t)
	_, err := h.client.UnaryCall(ctx, &testpb.SimpleRequest{})
	wantCode(t, err, codes.Internal)
	if !strings.Contains(err.Error(), "no config yet") || !strings.Contains(err.Error(), mUnary) {
		t.Fatalf("err %v does not name the key and the cause", err)
	}
	if got := h.svc.unary.Load(); got != 0 {
		t.Fatalf("server saw %d calls, want 0", got)
	}
	// Unguarded: failures go through and nothing trips.
	h.svc.failAll(codes.Unavailable)
	for range 30 {
		_, err = h.client.UnaryCall(ctx, &testpb.SimpleRequest{})
		wantCode(t, err, codes.Unavailable)
	}
	if got := calls.Load(); got != 2 {
		t.Fatalf("pipeline function called %d times, want 2 (the error is not kept)", got)
	}
	if got := h.svc.unary.Load(); got != 30 {
		t.Fatalf("server saw %d calls, want 30", got)
	}
}

// TestDefaultPipeline: with no option, each method gets a default breaker,
// which opens after enough failures.
func TestDefaultPipeline(t *testing.T) {
	h := newHarness(t, nil, clientOpts()...)
	ctx := ctxT(t)
	h.svc.failAll(codes.Internal)
	for range breaker.DefaultMinimumCalls {
		_, err := h.client.UnaryCall(ctx, &testpb.SimpleRequest{})
		wantCode(t, err, codes.Internal)
	}
	_, err := h.client.UnaryCall(ctx, &testpb.SimpleRequest{})
	wantRejected(t, err, fusebox.ErrOpen)
	// Another method has a breaker of its own.
	if _, err := h.client.EmptyCall(ctx, &testpb.Empty{}); err != nil {
		t.Fatalf("EmptyCall: %v", err)
	}
}

// TestOtherRejections: every policy's rejection is an Unavailable status
// that matches its sentinel.
func TestOtherRejections(t *testing.T) {
	bh, err := bulkhead.New(bulkhead.Config{MaxConcurrent: 1})
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, nil, clientOpts(WithPipeline(onePipeline(t, nil, bh)))...)
	release := h.svc.setHold()
	defer release()
	ctx := ctxT(t)
	done := make(chan error, 1)
	go func() {
		_, err := h.client.UnaryCall(ctx, &testpb.SimpleRequest{})
		done <- err
	}()
	testwait.Recv(t, h.svc.entered, "the first call at the server")
	_, err = h.client.UnaryCall(ctx, &testpb.SimpleRequest{})
	wantRejected(t, err, fusebox.ErrBulkheadFull)
	release()
	if err := testwait.Recv(t, done, "the first call"); err != nil {
		t.Fatal(err)
	}
}

// TestHedgeAttemptsGetOwnReplies: a hedge runs attempts concurrently; each
// gets its own reply message and the winner's is the caller's (the race
// detector checks that no two attempts share one).
func TestHedgeAttemptsGetOwnReplies(t *testing.T) {
	hc := clock.NewFake(time.Time{})
	hp, err := hedge.New(hedge.Config{Delay: 10 * time.Millisecond, Budget: 1, Clock: hc})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := newBreaker(t, breaker.Config{ConsecutiveFailures: 1})
	h := newHarness(t, nil, clientOpts(WithPipeline(onePipeline(t, nil, b, hp)))...)
	release := h.svc.setHold()
	defer release()
	ctx := ctxT(t)
	type result struct {
		resp *testpb.SimpleResponse
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := h.client.UnaryCall(ctx, &testpb.SimpleRequest{})
		done <- result{resp, err}
	}()
	testwait.Recv(t, h.svc.entered, "the first attempt at the server")
	h.svc.stopHolding() // the hedge, unlike the first attempt, answers at once
	testwait.Timers(t, hc, 1, "the hedge's timer")
	hc.Advance(10 * time.Millisecond)
	res := testwait.Recv(t, done, "the hedged call")
	if res.err != nil {
		t.Fatalf("hedged call: %v", res.err)
	}
	if res.resp.GetUsername() != "call 2" {
		t.Fatalf("reply %q, want the hedge's, %q", res.resp.GetUsername(), "call 2")
	}
	// The losing attempt was canceled by the hedge, not by the caller:
	// Ignored, not a failure.
	if snap := b.Snapshot(); snap.State != breaker.Closed || snap.Failures != 0 {
		t.Fatalf("breaker %+v, want closed without failures", snap)
	}
}

// TestFallbackAnswersWithReply: a fallback's value of the reply's type is
// merged into the reply; one of another type is an Internal error.
func TestFallbackAnswersWithReply(t *testing.T) {
	for _, tc := range []struct {
		name  string
		value any
		code  codes.Code
	}{
		{"reply type", &testpb.SimpleResponse{Username: "from the fallback"}, codes.OK},
		{"other type", &testpb.Empty{}, codes.Internal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fb, err := fallback.New(fallback.Config{Func: fallback.Static(tc.value)})
			if err != nil {
				t.Fatal(err)
			}
			b, _ := newBreaker(t, breaker.Config{ConsecutiveFailures: 1})
			h := newHarness(t, nil, clientOpts(WithPipeline(onePipeline(t, nil, fb, b)))...)
			h.svc.failAll(codes.Unavailable)
			resp, err := h.client.UnaryCall(ctxT(t), &testpb.SimpleRequest{})
			wantCode(t, err, tc.code)
			if tc.code == codes.OK && resp.GetUsername() != "from the fallback" {
				t.Fatalf("reply %v, want the fallback's", resp)
			}
		})
	}
}

// TestPipelineFuncPanic: a panicking PipelineFunc panics in the RPC that
// called it, strands no RPC waiting for the same key, and is called again
// by the key's next RPC.
func TestPipelineFuncPanic(t *testing.T) {
	gate := make(chan struct{})
	var calls atomic.Int64
	c := newClient([]Option{WithPipeline(func(key string) (*fusebox.Pipeline, error) {
		if calls.Add(1) == 1 {
			<-gate
			panic("bad config")
		}
		return nil, nil
	})})
	ctx := ctxT(t)
	panicked := make(chan any, 1)
	go func() {
		defer func() { panicked <- recover() }()
		_, _ = c.lookup(ctx, "k")
	}()
	testwait.Eventually(t, "the entry being built", func() bool { _, ok := c.entries.Load("k"); return ok })
	waiter := make(chan error, 1)
	go func() {
		_, err := c.lookup(ctx, "k")
		waiter <- err
	}()
	close(gate)
	if v := testwait.Recv(t, panicked, "the panic"); v != "bad config" {
		t.Fatalf("recovered %v, want the PipelineFunc's panic", v)
	}
	// The waiter either saw the failed build or came late and built anew.
	if err := testwait.Recv(t, waiter, "the waiting RPC"); err != nil && status.Code(err) != codes.Internal {
		t.Fatalf("waiting RPC: %v, want Internal or success", err)
	}
	if e, err := c.lookup(ctx, "k"); err != nil || e.p != nil {
		t.Fatalf("lookup after the panic: %v, %v; want a nil pipeline, built anew", e, err)
	}
}
