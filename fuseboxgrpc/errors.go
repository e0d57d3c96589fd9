package fuseboxgrpc

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/fusebox-go/fusebox"
)

// StatusError is a gRPC status error that stands for an error of Fusebox's
// own: a policy's rejection (an open breaker, a full bulkhead, a rate limit),
// a timeout policy's deadline, or a context that ended while a policy
// waited. It carries a status code for gRPC, which status.FromError and
// status.Code read through its GRPCStatus method, and keeps Err reachable for
// errors.Is and errors.As:
//
//	status.Code(err) == codes.Unavailable // true
//	errors.Is(err, fusebox.ErrOpen)       // true
//
// The interceptors return errors that are already gRPC status errors (those
// of the server, or a retry's error that wraps one) unchanged; StatusError
// wraps only the rest.
type StatusError struct {
	// Code is the status code the error reports to gRPC.
	Code codes.Code
	// Err is the error it stands for: the status message is its text.
	Err error
}

// Error formats the error as gRPC formats a status error.
func (e *StatusError) Error() string {
	return "rpc error: code = " + e.Code.String() + " desc = " + e.Err.Error()
}

// GRPCStatus returns the status with Code and Err's text as message: what
// status.FromError, status.Code and a gRPC server see.
func (e *StatusError) GRPCStatus() *status.Status {
	return status.New(e.Code, e.Err.Error())
}

// Unwrap returns Err.
func (e *StatusError) Unwrap() error { return e.Err }

// grpcStatuser is an error that carries a gRPC status.
type grpcStatuser interface{ GRPCStatus() *status.Status }

// hasStatus reports whether err or an error it wraps carries a gRPC status.
func hasStatus(err error) bool {
	var gs grpcStatuser
	return errors.As(err, &gs) && gs.GRPCStatus() != nil
}

// toStatusError returns err as the caller of a client interceptor gets it:
// unchanged when it already carries a gRPC status, else wrapped in a
// *StatusError whose code says what happened (see codeOf).
func toStatusError(err error) error {
	if err == nil {
		return nil
	}
	if m, ok := err.(*judgedError); ok {
		// A judged attempt error came back unwrapped: hand the original
		// back, exactly as the server sent it.
		return m.err
	}
	if hasStatus(err) {
		return err
	}
	return &StatusError{Code: codeOf(err), Err: err}
}

// codeOf is the status code of an error of Fusebox's own: Unavailable for a
// policy's rejection, DeadlineExceeded for a timeout policy's deadline or the
// caller's, Canceled for the caller's cancellation, Unknown for anything
// else.
func codeOf(err error) codes.Code {
	switch {
	case errors.Is(err, fusebox.ErrOpen),
		errors.Is(err, fusebox.ErrBulkheadFull),
		errors.Is(err, fusebox.ErrRateLimited),
		errors.Is(err, fusebox.ErrBudgetExhausted),
		errors.Is(err, fusebox.ErrRetriesExhausted),
		errors.Is(err, fusebox.ErrClosed):
		return codes.Unavailable
	case errors.Is(err, fusebox.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return codes.DeadlineExceeded
	case errors.Is(err, context.Canceled):
		return codes.Canceled
	}
	return codes.Unknown
}

// judgedError is how an attempt's error that the interceptor judged
// Ignored reaches the policies of a pipeline while the caller's context is
// still live (a hedge's losing attempt, canceled by the hedge; a status the
// CodeClassifier ignores): it matches context.Canceled, so that every
// policy's default classifier ignores it too, and no retry classifier of
// this package or of the retry package retries it. It never reaches the
// caller: the interceptor returns the original error.
type judgedError struct{ err error }

func (e *judgedError) Error() string { return e.err.Error() }

// Is makes the error match context.Canceled.
func (e *judgedError) Is(target error) bool { return target == context.Canceled }

// Unwrap returns the attempt's own error.
func (e *judgedError) Unwrap() error { return e.err }

// GRPCStatus returns the attempt's own status, should a policy wrap the
// error on its way out.
func (e *judgedError) GRPCStatus() *status.Status {
	s, _ := status.FromError(e.err)
	return s
}
