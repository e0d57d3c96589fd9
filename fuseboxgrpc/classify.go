package fuseboxgrpc

import (
	"context"
	"errors"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/retry"
)

// CodeClassifier maps the status code of a finished RPC that failed to an
// Outcome. It must be safe for concurrent use and fast: it runs on every
// failed RPC. It is never asked about an RPC whose caller's context has
// ended, nor about one that failed by gRPC's own errors of the caller's
// making: those RPCs are Ignored whatever their code. The caller's errors
// are a request that its codec cannot encode (codes.Internal, "grpc: error
// while marshaling"; nothing reached the server) and a message larger than
// a configured size limit (codes.ResourceExhausted, with grpc-go's words):
// a request over the caller's MaxCallSendMsgSize or the server's
// MaxRecvMsgSize, an answer over the caller's MaxCallRecvMsgSize.
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
// sees came from the server or from a per-attempt timeout), except a
// ResourceExhausted for a message over a size limit, which would be just as
// large the next time (see CodeClassifier). Any other code is not, nor is
// an attempt the interceptor judged Ignored. An error without a status (a
// per-attempt timeout policy's ErrTimeout, a rejection by a policy nested
// inside the retry) is decided by retry.DefaultRetryable.
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
	s := statusOf(err)
	switch s.Code() {
	case codes.Unavailable, codes.Aborted, codes.DeadlineExceeded:
		return true
	case codes.ResourceExhausted:
		return !tooLarge(s)
	}
	return false
}

// judge returns the outcome of an attempt that returned err, for a caller
// whose context is ctx: Success for nil, Ignored once the caller's context
// has ended (see callerDone) or for a message over a size limit (see
// tooLarge), and otherwise what classify says about err's status code
// (Unknown for an error without one).
func judge(ctx context.Context, err error, classify CodeClassifier) fusebox.Outcome {
	if err == nil {
		return fusebox.Success
	}
	if callerDone(ctx) {
		return fusebox.Ignored
	}
	s := statusOf(err)
	if tooLarge(s) {
		return fusebox.Ignored
	}
	return classify(s.Code())
}

// judgeUnary is judge for a unary RPC that sent req: a request the client
// could not encode is Ignored too (see unencodable).
func judgeUnary(ctx context.Context, err error, req any, classify CodeClassifier) fusebox.Outcome {
	if err == nil {
		return fusebox.Success
	}
	if callerDone(ctx) {
		return fusebox.Ignored
	}
	s := statusOf(err)
	if tooLarge(s) || unencodable(s, req) {
		return fusebox.Ignored
	}
	return classify(s.Code())
}

// statusOf returns the status err carries, or wraps (see status.Code):
// codes.Unknown with err's text for an error without one.
func statusOf(err error) *status.Status {
	var gs grpcStatuser
	if errors.As(err, &gs) {
		if s := gs.GRPCStatus(); s != nil {
			return s
		}
	}
	return status.New(codes.Unknown, err.Error())
}

// tooLarge reports whether s is grpc-go's refusal of a message larger than
// a configured limit: ResourceExhausted with the words grpc-go uses, for a
// message to send (MaxCallSendMsgSize, the caller's own: the server never
// saw the request) or a message received (MaxCallRecvMsgSize, the caller's
// own again, or a server's MaxRecvMsgSize turning the request away).
//
// Whichever side's limit it is, the message was too large for a limit
// someone configured: that is a matter of the data and the configuration,
// and says nothing of whether the server is healthy, so it is Ignored.
// That holds even for the caller's MaxCallRecvMsgSize, where the server did
// the work and answered: counting the answer a failure would let a caller
// with too small a limit open the breaker of every caller of the method
// against a healthy server, and counting it a success would credit the
// server with an answer the caller could not use. The stream interceptor
// judges a stream's end by the same rule, so a unary RPC and a stream
// agree.
func tooLarge(s *status.Status) bool {
	if s.Code() != codes.ResourceExhausted {
		return false
	}
	msg := strings.TrimPrefix(s.Message(), "grpc: ")
	for _, p := range tooLargeMessages {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

// tooLargeMessages are the beginnings of grpc-go's size-limit errors, less
// the "grpc: " some versions put first.
var tooLargeMessages = []string{
	"trying to send message larger than max",
	"received message larger than max",
	"received message after decompression larger than max",
	"message after decompression larger than max",
}

// marshalFailed begins the message of grpc-go's error for a message its
// codec could not encode.
const marshalFailed = "grpc: error while marshaling: "

// unencodable reports whether s is grpc-go's failure to encode req, the
// request of a unary RPC: an error of the client's own making (a proto3
// string field that is not valid UTF-8, say), for which nothing reached
// the server's handler.
//
// A server that cannot encode its answer sends the client the same words,
// and that failure is the server's. The stream interceptor tells the two
// apart by where the error comes from (SendMsg or RecvMsg); an invoker does
// not say, so the request is encoded again to check that it is the one at
// fault. A request that is not a proto.Message (a codec of the caller's
// own) cannot be checked, and the words are taken to be about it.
func unencodable(s *status.Status, req any) bool {
	if s.Code() != codes.Internal || !strings.HasPrefix(s.Message(), marshalFailed) {
		return false
	}
	m, ok := req.(proto.Message)
	if !ok {
		return true
	}
	_, err := proto.Marshal(m)
	return err != nil
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
