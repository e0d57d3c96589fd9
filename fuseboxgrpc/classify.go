package fuseboxgrpc

import (
	"context"
	"errors"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/retry"
)

// CodeClassifier maps the status code of a finished RPC that failed to an
// Outcome. It must be safe for concurrent use and fast: it runs on every
// failed RPC. It is never asked about an RPC whose caller's context has
// ended: that RPC is Ignored whatever its code.
type CodeClassifier func(codes.Code) fusebox.Outcome

// DefaultCodeClassifier is the CodeClassifier used when none is given.
//
// Failure, the server or the way to it is in trouble: Unavailable,
// DeadlineExceeded (the client's interceptors see it only while the caller's
// context is live, so it was set by the server, or by a per-attempt timeout
// policy, never by the caller), ResourceExhausted, Internal, Unknown,
// DataLoss, Aborted.
//
// Ignored, the RPC says nothing about the server: Canceled (the caller's
// cancellation never gets here; this is an attempt a hedge called off, or a
// server passing on a cancellation).
//
// Success, the server did its job and answered: every other code, among them
// OK, InvalidArgument, NotFound, AlreadyExists, PermissionDenied,
// FailedPrecondition, OutOfRange, Unimplemented and Unauthenticated. The
// caller still gets the error; it just does not count against the server.
func DefaultCodeClassifier(c codes.Code) fusebox.Outcome {
	switch c {
	case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted,
		codes.Internal, codes.Unknown, codes.DataLoss, codes.Aborted:
		return fusebox.Failure
	case codes.Canceled:
		return fusebox.Ignored
	}
	return fusebox.Success
}

// RetryableCode reports whether an RPC that failed with err may be tried
// again. It is meant for retry.Config.Retryable in a client pipeline:
//
//	retry.New(retry.Config{Retryable: fuseboxgrpc.RetryableCode})
//
// An error with a gRPC status is retryable when its code is Unavailable,
// ResourceExhausted, Aborted or DeadlineExceeded (the retry policy never
// retries once the caller's own context has ended, so a DeadlineExceeded it
// sees came from the server or from a per-attempt timeout). Any other code
// is not, nor is an attempt the interceptor judged Ignored. An error without
// a status (a per-attempt timeout policy's ErrTimeout, a rejection by a
// policy nested inside the retry) is decided by retry.DefaultRetryable.
//
// Retrying is safe only for idempotent methods: give the others a pipeline
// without a retry (WithPipeline gets the key of each method).
func RetryableCode(err error) bool {
	if err == nil {
		return false
	}
	var j *judgedError
	if errors.As(err, &j) {
		return false
	}
	if !hasStatus(err) {
		return retry.DefaultRetryable(err)
	}
	switch status.Code(err) {
	case codes.Unavailable, codes.ResourceExhausted, codes.Aborted, codes.DeadlineExceeded:
		return true
	}
	return false
}

// judge returns the outcome of an attempt that returned err, for a caller
// whose context is ctx: Success for nil, Ignored once the caller's context
// has ended (see callerDone), and otherwise what classify says about err's
// status code (Unknown for an error without one).
func judge(ctx context.Context, err error, classify CodeClassifier) fusebox.Outcome {
	if err == nil {
		return fusebox.Success
	}
	if callerDone(ctx) {
		return fusebox.Ignored
	}
	return classify(status.Code(err))
}

// callerDone reports whether the caller's context has ended: canceled, or
// past its deadline. The deadline is read too, not only ctx.Err: the server
// ends an RPC at the deadline gRPC sent it, and its answer can reach the
// client before the client's own timer has ended ctx (by milliseconds on a
// busy machine). Deadlines are on the real clock, so it is read here.
func callerDone(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	dl, ok := ctx.Deadline()
	return ok && !time.Now().Before(dl)
}

// present turns an attempt's error into what the policies of a pipeline are
// given, so that their default classifiers reach the interceptor's judgement:
// nil for a Success (the error, if any, is kept by the caller of present and
// returned to the RPC's caller), the error itself for a Failure, and for
// an Ignored attempt the error itself once the caller's context has ended
// (fusebox.Classify ignores it), else a *judgedError that matches
// context.Canceled.
func present(ctx context.Context, err error, o fusebox.Outcome) error {
	switch {
	case err == nil, o == fusebox.Success:
		return nil
	case o == fusebox.Ignored && ctx.Err() == nil:
		return &judgedError{err: err}
	}
	return err
}
