package fuseboxgrpc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/status"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/breaker"
	"github.com/fusebox-go/fusebox/retry"
)

func TestDefaultCodeClassifier(t *testing.T) {
	want := map[codes.Code]fusebox.Outcome{
		codes.OK:                 fusebox.Success,
		codes.Canceled:           fusebox.Ignored,
		codes.Unknown:            fusebox.Failure,
		codes.InvalidArgument:    fusebox.Success,
		codes.DeadlineExceeded:   fusebox.Failure,
		codes.NotFound:           fusebox.Success,
		codes.AlreadyExists:      fusebox.Success,
		codes.PermissionDenied:   fusebox.Success,
		codes.ResourceExhausted:  fusebox.Failure,
		codes.FailedPrecondition: fusebox.Success,
		codes.Aborted:            fusebox.Failure,
		codes.OutOfRange:         fusebox.Success,
		codes.Unimplemented:      fusebox.Success,
		codes.Internal:           fusebox.Failure,
		codes.Unavailable:        fusebox.Failure,
		codes.DataLoss:           fusebox.Failure,
		codes.Unauthenticated:    fusebox.Success,
	}
	for c := codes.OK; c <= codes.Unauthenticated; c++ {
		w, ok := want[c]
		if !ok {
			t.Fatalf("no expectation for %v", c)
		}
		if got := DefaultCodeClassifier(c); got != w {
			t.Errorf("DefaultCodeClassifier(%v) = %v, want %v", c, got, w)
		}
	}
}

func TestJudge(t *testing.T) {
	live := context.Background()
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	// A deadline that has passed by the clock, whether or not its timer
	// has ended the context yet.
	past, cancelPast := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancelPast()
	unavailable := status.Error(codes.Unavailable, "down")
	for _, tc := range []struct {
		name string
		ctx  context.Context
		err  error
		want fusebox.Outcome
	}{
		{"nil", live, nil, fusebox.Success},
		{"nil, caller gone", canceled, nil, fusebox.Success},
		{"unavailable", live, unavailable, fusebox.Failure},
		{"unavailable, caller canceled", canceled, unavailable, fusebox.Ignored},
		{"deadline from server", live, status.Error(codes.DeadlineExceeded, "x"), fusebox.Failure},
		{"caller's deadline", past, status.Error(codes.DeadlineExceeded, "x"), fusebox.Ignored},
		{"not found", live, status.Error(codes.NotFound, "x"), fusebox.Success},
		{"no status", live, errors.New("plain"), fusebox.Failure},
		{"send over the limit", live, status.Error(codes.ResourceExhausted, "trying to send message larger than max (1000 vs. 100)"), fusebox.Ignored},
		{"send over the limit, older words", live, status.Error(codes.ResourceExhausted, "grpc: trying to send message larger than max (1000 vs. 100)"), fusebox.Ignored},
		{"received over the limit", live, status.Error(codes.ResourceExhausted, "grpc: received message larger than max (8 vs. 1)"), fusebox.Ignored},
		{"received over the limit, wrapped", live, fmt.Errorf("retry: %w", status.Error(codes.ResourceExhausted, "grpc: received message larger than max (8 vs. 1)")), fusebox.Ignored},
		{"decompressed over the limit", live, status.Error(codes.ResourceExhausted, "grpc: received message after decompression larger than max 4194304"), fusebox.Ignored},
		{"decompressed over the limit, other words", live, status.Error(codes.ResourceExhausted, "grpc: message after decompression larger than max (9 vs. 1)"), fusebox.Ignored},
		{"a quota", live, status.Error(codes.ResourceExhausted, "quota exceeded"), fusebox.Failure},
		{"size words, other code", live, status.Error(codes.Internal, "grpc: received message larger than max (8 vs. 1)"), fusebox.Failure},
	} {
		if got := judge(tc.ctx, tc.err, DefaultCodeClassifier); got != tc.want {
			t.Errorf("%s: judge = %v, want %v", tc.name, got, tc.want)
		}
		// A unary RPC agrees, whatever its request.
		if got := judgeUnary(tc.ctx, tc.err, &testpb.SimpleRequest{}, DefaultCodeClassifier); got != tc.want {
			t.Errorf("%s: judgeUnary = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestJudgeUnaryUnencodable: grpc-go's encoding error is the client's own
// when the request does not encode, and the server's when it does.
func TestJudgeUnaryUnencodable(t *testing.T) {
	live := context.Background()
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	marshal := status.Error(codes.Internal, "grpc: error while marshaling: string field contains invalid UTF-8")
	bad := &testpb.SimpleRequest{ResponseStatus: &testpb.EchoStatus{Message: "\xff"}}
	good := &testpb.SimpleRequest{}
	for _, tc := range []struct {
		name string
		ctx  context.Context
		err  error
		req  any
		want fusebox.Outcome
	}{
		{"the request does not encode", live, marshal, bad, fusebox.Ignored},
		{"wrapped", live, fmt.Errorf("x: %w", marshal), bad, fusebox.Ignored},
		{"the request encodes: the server's answer did not", live, marshal, good, fusebox.Failure},
		{"not a proto.Message: taken at its word", live, marshal, struct{}{}, fusebox.Ignored},
		{"other words", live, status.Error(codes.Internal, "boom"), bad, fusebox.Failure},
		{"caller gone", canceled, status.Error(codes.Internal, "boom"), bad, fusebox.Ignored},
	} {
		if got := judgeUnary(tc.ctx, tc.err, tc.req, DefaultCodeClassifier); got != tc.want {
			t.Errorf("%s: judgeUnary = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestPresent: what the policies see agrees with the judgement under
// every policy's default classifier.
func TestPresent(t *testing.T) {
	live := context.Background()
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	st := status.Error(codes.Unavailable, "x")
	for _, tc := range []struct {
		ctx context.Context
		o   fusebox.Outcome
	}{
		{live, fusebox.Success}, {live, fusebox.Failure}, {live, fusebox.Ignored},
		{canceled, fusebox.Ignored},
	} {
		perr := present(tc.ctx, st, tc.o)
		if got := fusebox.Classify(tc.ctx, perr, nil); got != tc.o {
			t.Errorf("present(%v) = %v, classified %v", tc.o, perr, got)
		}
		// Once the caller's context has ended the retry policy stops by
		// itself; before, an ignored attempt must not look retryable.
		if tc.o == fusebox.Ignored && tc.ctx.Err() == nil && RetryableCode(perr) {
			t.Errorf("an ignored attempt %v is retryable", perr)
		}
	}
}

func TestRetryableCode(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{status.Error(codes.Unavailable, "x"), true},
		{status.Error(codes.ResourceExhausted, "x"), true},
		{status.Error(codes.ResourceExhausted, "trying to send message larger than max (1000 vs. 100)"), false},
		{fmt.Errorf("wrapped: %w", status.Error(codes.ResourceExhausted, "grpc: received message larger than max (8 vs. 1)")), false},
		{status.Error(codes.Aborted, "x"), true},
		{status.Error(codes.DeadlineExceeded, "x"), true},
		{fmt.Errorf("wrapped: %w", status.Error(codes.Unavailable, "x")), true},
		{status.Error(codes.Internal, "x"), false},
		{status.Error(codes.Unknown, "x"), false},
		{status.Error(codes.NotFound, "x"), false},
		{status.Error(codes.InvalidArgument, "x"), false},
		{status.Error(codes.Canceled, "x"), false},
		{&judgedError{err: status.Error(codes.Unavailable, "x")}, false},
		{retry.Permanent(status.Error(codes.Unavailable, "x")), true}, // the retry policy checks Permanent itself
		{fusebox.ErrTimeout, true},
		{fusebox.ErrOpen, false},
		{syscall.ECONNREFUSED, true},
		{io.ErrUnexpectedEOF, true},
		{errors.New("plain"), false},
	} {
		if got := RetryableCode(tc.err); got != tc.want {
			t.Errorf("RetryableCode(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func TestToStatusError(t *testing.T) {
	st := status.Error(codes.NotFound, "gone")
	b, err := breaker.New(breaker.Config{})
	if err != nil {
		t.Fatal(err)
	}
	b.Trip()
	_, openErr := b.Allow()
	retryErr := &retry.Error{Attempts: 3, Reason: retry.ErrRetriesExhausted, Err: status.Error(codes.Unavailable, "down")}
	for _, tc := range []struct {
		name string
		err  error
		code codes.Code
		same bool  // returned unchanged
		is   error // matched with errors.Is
	}{
		{"status", st, codes.NotFound, true, nil},
		{"judged", &judgedError{err: st}, codes.NotFound, false, nil},
		{"retry wrapping a status", retryErr, codes.Unavailable, true, retry.ErrRetriesExhausted},
		{"open", openErr, codes.Unavailable, false, fusebox.ErrOpen},
		{"bulkhead", fusebox.ErrBulkheadFull, codes.Unavailable, false, fusebox.ErrBulkheadFull},
		{"rate", fusebox.ErrRateLimited, codes.Unavailable, false, fusebox.ErrRateLimited},
		{"budget", fusebox.ErrBudgetExhausted, codes.Unavailable, false, fusebox.ErrBudgetExhausted},
		{"closed", fusebox.ErrClosed, codes.Unavailable, false, fusebox.ErrClosed},
		{"timeout", fusebox.ErrTimeout, codes.DeadlineExceeded, false, fusebox.ErrTimeout},
		{"canceled", context.Canceled, codes.Canceled, false, context.Canceled},
		{"deadline", context.DeadlineExceeded, codes.DeadlineExceeded, false, context.DeadlineExceeded},
		{"other", errors.New("plain"), codes.Unknown, false, nil},
	} {
		got := toStatusError(tc.err)
		s, ok := status.FromError(got)
		if !ok || s.Code() != tc.code {
			t.Errorf("%s: status %v (ok %v), want code %v", tc.name, s, ok, tc.code)
		}
		if tc.same && got != tc.err {
			t.Errorf("%s: %v changed to %v", tc.name, tc.err, got)
		}
		if tc.name == "judged" && got != st {
			t.Errorf("judged: got %v, want the original status error", got)
		}
		if tc.is != nil && !errors.Is(got, tc.is) {
			t.Errorf("%s: %v does not match %v", tc.name, got, tc.is)
		}
	}
	if toStatusError(nil) != nil {
		t.Error("toStatusError(nil) != nil")
	}
}

// TestStatusError: a rejection is a status error, keeps its cause, and
// keeps both through further wrapping.
func TestStatusError(t *testing.T) {
	err := error(&StatusError{Code: codes.Unavailable, Err: fusebox.ErrOpen})
	for _, e := range []error{err, fmt.Errorf("calling payments: %w", err)} {
		s, ok := status.FromError(e)
		if !ok || s.Code() != codes.Unavailable {
			t.Errorf("status.FromError(%v) = %v, %v", e, s, ok)
		}
		if !errors.Is(e, fusebox.ErrOpen) {
			t.Errorf("%v does not match ErrOpen", e)
		}
	}
	if s := status.Convert(err); s.Message() != fusebox.ErrOpen.Error() {
		t.Errorf("message %q, want %q", s.Message(), fusebox.ErrOpen.Error())
	}
	if want := "rpc error: code = Unavailable desc = " + fusebox.ErrOpen.Error(); err.Error() != want {
		t.Errorf("Error() = %q, want %q", err.Error(), want)
	}
}

func TestKeys(t *testing.T) {
	for _, tc := range []struct {
		method  string
		service bool
		want    string
	}{
		{"/pkg.Svc/Do", false, "/pkg.Svc/Do"},
		{"/pkg.Svc/Do", true, "pkg.Svc"},
		{"/a.b.c.Svc/Do", true, "a.b.c.Svc"},
		{"odd", true, "odd"},
		{"/odd", true, "/odd"},
	} {
		c := defaultClientConfig()
		c.serviceKeys = tc.service
		if got := c.key(tc.method); got != tc.want {
			t.Errorf("key(%q, service %v) = %q, want %q", tc.method, tc.service, got, tc.want)
		}
	}
}

// TestNilOptions: nil options and nil functions mean the defaults.
func TestNilOptions(t *testing.T) {
	c := newClientConfig([]Option{nil, WithPipeline(nil), WithClassifier(nil)})
	if c.newPipeline == nil || c.codeClassify == nil {
		t.Fatal("nil functions left nil")
	}
	if c.codeClassify(codes.Unavailable) != fusebox.Failure {
		t.Fatal("WithClassifier(nil) is not the default classifier")
	}
	s := newServerConfig([]ServerOption{nil, WithPanicHandler(nil), WithRateLimit(nil, nil)})
	if s.onPanic == nil || s.key == nil || s.limiter != nil || s.fullCode != codes.ResourceExhausted {
		t.Fatalf("server defaults not kept: %+v", s)
	}
}
