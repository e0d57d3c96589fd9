package fuseboxgrpc

import (
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/status"

	"github.com/fusebox-go/fusebox/breaker"
)

// wantMessage fails the test unless err has status code code and a message
// that begins with prefix: the error is the one the test means to cause.
func wantMessage(t testing.TB, err error, code codes.Code, prefix string) {
	t.Helper()
	s, _ := status.FromError(err)
	if s.Code() != code || !strings.HasPrefix(s.Message(), prefix) {
		t.Fatalf("err %v, want %v beginning %q", err, code, prefix)
	}
}

// TestUnaryClientOwnErrorsIgnored: a request the client cannot encode, or
// one over its own MaxCallSendMsgSize, never reaches the server and says
// nothing about it: five of each leave a five-failure breaker closed,
// without a single failure counted, and the server saw no call. Before,
// they were judged by their codes alone (Internal, ResourceExhausted) and
// the first five opened the breaker for every caller of the method.
func TestUnaryClientOwnErrorsIgnored(t *testing.T) {
	for _, tc := range []struct {
		name   string
		req    *testpb.SimpleRequest
		opts   []grpc.CallOption
		code   codes.Code
		prefix string
	}{
		{
			name:   "unencodable",
			req:    withStatus(codes.OK, "not UTF-8: \xff\xfe"),
			code:   codes.Internal,
			prefix: "grpc: error while marshaling",
		},
		{
			name:   "over MaxCallSendMsgSize",
			req:    &testpb.SimpleRequest{Payload: &testpb.Payload{Body: make([]byte, 1000)}},
			opts:   []grpc.CallOption{grpc.MaxCallSendMsgSize(100)},
			code:   codes.ResourceExhausted,
			prefix: "trying to send message larger than max",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, _ := newBreaker(t, breaker.Config{ConsecutiveFailures: 5})
			h := newHarness(t, nil, clientOpts(WithPipeline(onePipeline(t, nil, b)))...)
			ctx := ctxT(t)
			for range 5 {
				_, err := h.client.UnaryCall(ctx, tc.req, tc.opts...)
				wantMessage(t, err, tc.code, tc.prefix)
			}
			if snap := b.Snapshot(); snap.State != breaker.Closed || snap.Failures != 0 || snap.Ignored != 5 {
				t.Fatalf("snapshot %+v: want closed, no failure, 5 ignored", snap)
			}
			if n := h.svc.unary.Load(); n != 0 {
				t.Fatalf("the server saw %d calls, want 0", n)
			}
			// The method still works for everyone.
			if _, err := h.client.UnaryCall(ctx, &testpb.SimpleRequest{}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestServerCannotEncodeIsAFailure: a server that answers with the words
// of grpc-go's encoding failure (its own answer could not be encoded) is
// the server failing, not the client: the request encodes, so the error is
// judged by its code.
func TestServerCannotEncodeIsAFailure(t *testing.T) {
	b, _ := newBreaker(t, breaker.Config{ConsecutiveFailures: 2})
	h := newHarness(t, nil, clientOpts(WithPipeline(onePipeline(t, nil, b)))...)
	ctx := ctxT(t)
	for range 2 {
		_, err := h.client.UnaryCall(ctx, withStatus(codes.Internal, "grpc: error while marshaling: the server's answer"))
		wantMessage(t, err, codes.Internal, "grpc: error while marshaling")
	}
	if snap := b.Snapshot(); snap.State != breaker.Open || snap.Failures != 2 {
		t.Fatalf("snapshot %+v: want open after 2 failures", snap)
	}
	if n := h.svc.unary.Load(); n != 2 {
		t.Fatalf("the server saw %d calls, want 2", n)
	}
}

// TestMessageTooLargeIgnoredUnaryAndStream: an answer over the caller's
// MaxCallRecvMsgSize, and a request over the server's MaxRecvMsgSize, are
// Ignored, by a unary RPC and by a stream alike. Before, both were judged
// failures (ResourceExhausted), whereas a stream already ignored the same
// request over the caller's MaxCallSendMsgSize.
func TestMessageTooLargeIgnoredUnaryAndStream(t *testing.T) {
	b, _ := newBreaker(t, breaker.Config{ConsecutiveFailures: 1})
	h := newHarness(t, []grpc.ServerOption{grpc.MaxRecvMsgSize(100)}, clientOpts(WithPipeline(onePipeline(t, nil, b)))...)
	ctx := ctxT(t)
	big := &testpb.Payload{Body: make([]byte, 1000)}
	small := []grpc.CallOption{grpc.MaxCallRecvMsgSize(1)}
	streamCall := func(p *testpb.Payload, opts ...grpc.CallOption) error {
		s, err := h.client.StreamingInputCall(ctx, opts...)
		if err != nil {
			return err
		}
		if err := s.Send(&testpb.StreamingInputCallRequest{Payload: p}); err != nil {
			return err
		}
		_, err = s.CloseAndRecv()
		return err
	}
	for i, tc := range []struct {
		name   string
		call   func() error
		prefix string
		served int64 // calls the handlers saw, all told; -1: not known
	}{
		{
			name: "unary answer over MaxCallRecvMsgSize",
			call: func() error {
				_, err := h.client.UnaryCall(ctx, &testpb.SimpleRequest{}, small...)
				return err
			},
			prefix: "grpc: received message larger than max",
			served: 1,
		},
		{
			name:   "stream answer over MaxCallRecvMsgSize",
			call:   func() error { return streamCall(&testpb.Payload{Body: []byte("ab")}, small...) },
			prefix: "grpc: received message larger than max",
			served: 2,
		},
		{
			name: "unary request over the server's MaxRecvMsgSize",
			call: func() error {
				_, err := h.client.UnaryCall(ctx, &testpb.SimpleRequest{Payload: big})
				return err
			},
			prefix: "grpc: received message larger than max",
			served: 2,
		},
		{
			name:   "stream request over the server's MaxRecvMsgSize",
			call:   func() error { return streamCall(big) },
			prefix: "grpc: received message larger than max",
			served: 3, // the handler runs, and its Recv fails
		},
		{
			name:   "stream request over MaxCallSendMsgSize",
			call:   func() error { return streamCall(big, grpc.MaxCallSendMsgSize(100)) },
			prefix: "trying to send message larger than max",
			// The stream was made before its message failed, and the
			// server may or may not have started its handler before the
			// client reset it.
			served: -1,
		},
	} {
		wantMessage(t, tc.call(), codes.ResourceExhausted, tc.prefix)
		if snap := b.Snapshot(); snap.State != breaker.Closed || snap.Failures != 0 || snap.Ignored != uint64(i+1) {
			t.Fatalf("%s: snapshot %+v: want closed, no failure, %d ignored", tc.name, snap, i+1)
		}
		if n := h.svc.unary.Load() + h.svc.input.Load(); tc.served >= 0 && n != tc.served {
			t.Fatalf("%s: the handlers saw %d calls, want %d", tc.name, n, tc.served)
		}
	}
	// A ResourceExhausted of the server's own (a quota) is still a failure.
	_, err := h.client.UnaryCall(ctx, withStatus(codes.ResourceExhausted, "quota exceeded"))
	wantCode(t, err, codes.ResourceExhausted)
	if snap := b.Snapshot(); snap.State != breaker.Open {
		t.Fatalf("after the server's own ResourceExhausted: snapshot %+v, want open", snap)
	}
}
