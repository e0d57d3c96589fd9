package fuseboxgrpc

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/breaker"
	"github.com/fusebox-go/fusebox/bulkhead"
	"github.com/fusebox-go/fusebox/internal/testwait"
)

// outputReq asks StreamingOutputCall for n messages, then the status code
// (OK: none).
func outputReq(n int, code codes.Code) *testpb.StreamingOutputCallRequest {
	req := &testpb.StreamingOutputCallRequest{ResponseParameters: make([]*testpb.ResponseParameters, n)}
	for i := range req.ResponseParameters {
		req.ResponseParameters[i] = &testpb.ResponseParameters{}
	}
	if code != codes.OK {
		req.ResponseStatus = &testpb.EchoStatus{Code: int32(code), Message: "stream fails"}
	}
	return req
}

// drain reads a server stream to its end and returns how many messages it
// got and the error that ended it (nil for io.EOF).
func drain(s interface {
	Recv() (*testpb.StreamingOutputCallResponse, error)
}) (int, error) {
	n := 0
	for {
		_, err := s.Recv()
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		n++
	}
}

// TestStreamJudgedOnceByItsEnd: a stream counts once, by how it ends,
// however many messages it carries.
func TestStreamJudgedOnceByItsEnd(t *testing.T) {
	b, _ := newBreaker(t, breaker.Config{ConsecutiveFailures: 10})
	h := newHarness(t, nil, clientOpts(WithPipeline(onePipeline(t, nil, b)))...)
	ctx := ctxT(t)

	for _, tc := range []struct {
		name             string
		req              *testpb.StreamingOutputCallRequest
		code             codes.Code
		calls, failures  uint64
		ignored, granted uint64
	}{
		{"ends well", outputReq(3, codes.OK), codes.OK, 1, 0, 0, 3},
		{"fails after messages", outputReq(3, codes.Unavailable), codes.Unavailable, 2, 1, 0, 3},
		{"answers NotFound", outputReq(0, codes.NotFound), codes.NotFound, 3, 1, 0, 0},
		{"fails at once", outputReq(0, codes.Internal), codes.Internal, 4, 2, 0, 0},
	} {
		s, err := h.client.StreamingOutputCall(ctx, tc.req)
		if err != nil {
			t.Fatalf("%s: establishment: %v", tc.name, err)
		}
		n, err := drain(s)
		wantCode(t, err, tc.code)
		if n != int(tc.granted) {
			t.Fatalf("%s: got %d messages, want %d", tc.name, n, tc.granted)
		}
		// Reading past the end reports nothing more.
		if _, err := s.Recv(); err == nil {
			t.Fatalf("%s: Recv after the end succeeded", tc.name)
		}
		snap := b.Snapshot()
		if snap.Calls != tc.calls || snap.Failures != tc.failures || snap.Ignored != tc.ignored {
			t.Fatalf("%s: snapshot calls %d failures %d ignored %d, want %d %d %d",
				tc.name, snap.Calls, snap.Failures, snap.Ignored, tc.calls, tc.failures, tc.ignored)
		}
	}
}

// TestClientStreamJudgedOnce: a client-streaming RPC is judged when its one
// answer arrives.
func TestClientStreamJudgedOnce(t *testing.T) {
	b, _ := newBreaker(t, breaker.Config{ConsecutiveFailures: 10})
	h := newHarness(t, nil, clientOpts(WithPipeline(onePipeline(t, nil, b)))...)
	ctx := ctxT(t)
	send := func() (*testpb.StreamingInputCallResponse, error) {
		s, err := h.client.StreamingInputCall(ctx)
		if err != nil {
			return nil, err
		}
		for range 3 {
			if err := s.Send(&testpb.StreamingInputCallRequest{Payload: &testpb.Payload{Body: []byte("ab")}}); err != nil {
				return nil, err
			}
		}
		return s.CloseAndRecv()
	}
	resp, err := send()
	if err != nil || resp.GetAggregatedPayloadSize() != 6 {
		t.Fatalf("client stream: %v, %v; want size 6", resp, err)
	}
	if snap := b.Snapshot(); snap.Calls != 1 || snap.Failures != 0 {
		t.Fatalf("snapshot %+v: want 1 call, no failure", snap)
	}
	h.svc.failAll(codes.Unavailable)
	_, err = send()
	wantCode(t, err, codes.Unavailable)
	if snap := b.Snapshot(); snap.Calls != 2 || snap.Failures != 1 {
		t.Fatalf("snapshot %+v: want 2 calls, 1 failure", snap)
	}
}

// TestStreamRejectedWhenOpen: an open breaker rejects a stream at
// establishment; nothing reaches the server.
func TestStreamRejectedWhenOpen(t *testing.T) {
	b, _ := newBreaker(t, breaker.Config{})
	h := newHarness(t, nil, clientOpts(WithPipeline(onePipeline(t, nil, b)))...)
	b.Trip()
	_, err := h.client.StreamingOutputCall(ctxT(t), outputReq(1, codes.OK))
	wantRejected(t, err, fusebox.ErrOpen)
	_, err = h.client.StreamingInputCall(ctxT(t))
	wantRejected(t, err, fusebox.ErrOpen)
	if got := h.svc.output.Load() + h.svc.input.Load(); got != 0 {
		t.Fatalf("server saw %d streams, want 0", got)
	}
}

// TestStreamHoldsProbeForItsLife: a half-open breaker's probe permit is held
// until the stream ends, not just while it is established, and the
// stream's end decides the probe.
func TestStreamHoldsProbeForItsLife(t *testing.T) {
	b, fc := newBreaker(t, breaker.Config{OpenDuration: time.Second, HalfOpenProbes: 1})
	h := newHarness(t, nil, clientOpts(WithPipeline(onePipeline(t, nil, b)))...)
	ctx := ctxT(t)
	b.Trip()
	fc.Advance(time.Second)
	release := h.svc.setHold()
	defer release()

	probe, err := h.client.StreamingOutputCall(ctx, outputReq(1, codes.OK))
	if err != nil {
		t.Fatalf("probe stream: %v", err)
	}
	if _, err := probe.Recv(); err != nil {
		t.Fatalf("probe's first message: %v", err)
	}
	testwait.Recv(t, h.svc.entered, "the probe held at the server")
	// The probe is established and has a message, but has not ended: its
	// slot is still taken.
	_, err = h.client.StreamingOutputCall(ctx, outputReq(1, codes.OK))
	wantRejected(t, err, fusebox.ErrOpen)
	_, err = h.client.UnaryCall(ctx, &testpb.SimpleRequest{})
	wantRejected(t, err, fusebox.ErrOpen)
	if got := b.State(); got != breaker.HalfOpen {
		t.Fatalf("state %v while the probe runs, want half-open", got)
	}
	release()
	if n, err := drain(probe); err != nil || n != 0 {
		t.Fatalf("probe's end: %d more messages, %v; want 0, nil", n, err)
	}
	if got := b.State(); got != breaker.Closed {
		t.Fatalf("state %v after the probe stream ended well, want closed", got)
	}
}

// TestStreamCallerCancelIgnored: a caller that cancels a stream, reading
// its end or not, does not count against the server.
func TestStreamCallerCancelIgnored(t *testing.T) {
	b, _ := newBreaker(t, breaker.Config{ConsecutiveFailures: 1})
	h := newHarness(t, nil, clientOpts(WithPipeline(onePipeline(t, nil, b)))...)
	release := h.svc.setHold()
	defer release()

	for i, read := range []bool{true, false} {
		ctx, cancel := context.WithCancel(ctxT(t))
		s, err := h.client.StreamingOutputCall(ctx, outputReq(0, codes.OK))
		if err != nil {
			t.Fatal(err)
		}
		testwait.Recv(t, h.svc.entered, "the stream at the server")
		cancel()
		if read {
			_, err = drain(s)
			wantCode(t, err, codes.Canceled)
		}
		want := uint64(i + 1)
		testwait.Eventually(t, "the canceled stream reported", func() bool { return b.Snapshot().Ignored == want })
	}
	if snap := b.Snapshot(); snap.State != breaker.Closed || snap.Failures != 0 {
		t.Fatalf("snapshot %+v: want closed, no failures", snap)
	}
}

// TestStreamEstablishmentFails: a stream to a server that is gone fails at
// establishment (or at its first read, as gRPC decides), and counts once.
func TestStreamEstablishmentFails(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close() // nothing listens there any more
	b, _ := newBreaker(t, breaker.Config{ConsecutiveFailures: 1})
	conn := dial(t, addr, clientOpts(WithPipeline(onePipeline(t, nil, b)))...)
	client := testpb.NewTestServiceClient(conn)
	ctx := ctxT(t)
	s, err := client.StreamingOutputCall(ctx, outputReq(1, codes.OK))
	if err == nil {
		_, err = drain(s)
	}
	wantCode(t, err, codes.Unavailable)
	if errors.Is(err, fusebox.ErrOpen) {
		t.Fatalf("the first failure %v is a rejection", err)
	}
	if snap := b.Snapshot(); snap.State != breaker.Open || snap.TotalFailures != 1 {
		t.Fatalf("snapshot %+v: want open after 1 failure", snap)
	}
	_, err = client.StreamingOutputCall(ctx, outputReq(1, codes.OK))
	wantRejected(t, err, fusebox.ErrOpen)
}

// TestStreamPipelineWithoutBreaker: other policies guard establishment only.
func TestStreamPipelineWithoutBreaker(t *testing.T) {
	bh, err := bulkhead.New(bulkhead.Config{MaxConcurrent: 1})
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, nil, clientOpts(WithPipeline(onePipeline(t, nil, bh)))...)
	ctx := ctxT(t)
	// Two streams open at once: the bulkhead's slot was held only while
	// each was established.
	s1, err := h.client.StreamingOutputCall(ctx, outputReq(2, codes.OK))
	if err != nil {
		t.Fatal(err)
	}
	s2, err := h.client.StreamingOutputCall(ctx, outputReq(2, codes.OK))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []interface {
		Recv() (*testpb.StreamingOutputCallResponse, error)
	}{s1, s2} {
		if n, err := drain(s); n != 2 || err != nil {
			t.Fatalf("stream: %d messages, %v; want 2, nil", n, err)
		}
	}
	if snap := bh.Snapshot(); snap.InFlight != 0 || snap.Admitted != 2 {
		t.Fatalf("bulkhead %+v: want 2 admitted, none in flight", snap)
	}
}
