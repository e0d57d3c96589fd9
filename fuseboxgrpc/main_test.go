package fuseboxgrpc

import (
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/status"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/breaker"
	"github.com/fusebox-go/fusebox/clock"
)

// TestMain fails the package's tests if a goroutine outlives them: every
// test closes its client connections and stops its servers.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// Full method names of the test service.
const (
	mUnary  = "/grpc.testing.TestService/UnaryCall"
	mEmpty  = "/grpc.testing.TestService/EmptyCall"
	mOutput = "/grpc.testing.TestService/StreamingOutputCall"
	mInput  = "/grpc.testing.TestService/StreamingInputCall"
	service = "grpc.testing.TestService"
)

// panicMessage, as a request's status message, makes the handler panic.
const panicMessage = "panic please"

// testService is a real implementation of grpc.testing.TestService whose
// answers the test controls:
//
//   - a request's ResponseStatus, when set, is the status the RPC ends with
//     (after a stream's messages), and a panic when its message is
//     panicMessage;
//   - failCode, when not OK, is the status of every UnaryCall,
//     StreamingOutputCall and StreamingInputCall without a ResponseStatus;
//     failNext makes only the next n such calls fail;
//   - hold, when set, makes UnaryCall and StreamingOutputCall wait, before
//     answering, until it is closed or the RPC's context ends.
//
// It counts the RPCs that reach each handler and reports each arrival of
// a holding RPC on entered.
type testService struct {
	testpb.UnimplementedTestServiceServer

	unary, empty, output, input atomic.Int64

	failCode atomic.Uint32
	limited  atomic.Bool // failCode applies only to the next failLeft RPCs
	failLeft atomic.Int64

	mu      sync.Mutex
	hold    chan struct{}
	entered chan string
}

func newTestService() *testService {
	return &testService{entered: make(chan string, 100)}
}

// setHold makes RPCs wait until release is called.
func (s *testService) setHold() (release func()) {
	ch := make(chan struct{})
	s.mu.Lock()
	s.hold = ch
	s.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			s.hold = nil
			s.mu.Unlock()
			close(ch)
		})
	}
}

// stopHolding makes new RPCs answer at once; those already held go on
// waiting for the release, or for their context to end.
func (s *testService) stopHolding() {
	s.mu.Lock()
	s.hold = nil
	s.mu.Unlock()
}

// wait holds the RPC if a hold is set, and reports its arrival.
func (s *testService) wait(ctx context.Context, method string) error {
	s.mu.Lock()
	ch := s.hold
	s.mu.Unlock()
	if ch == nil {
		return nil
	}
	s.entered <- method
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return status.FromContextError(ctx.Err()).Err()
	}
}

// failNext makes the next n RPCs without a ResponseStatus fail with code.
func (s *testService) failNext(code codes.Code, n int64) {
	s.failLeft.Store(n)
	s.limited.Store(true)
	s.failCode.Store(uint32(code))
}

// failAll makes every RPC without a ResponseStatus fail with code (OK: none).
func (s *testService) failAll(code codes.Code) {
	s.limited.Store(false)
	s.failCode.Store(uint32(code))
}

// failure returns the error an RPC without a ResponseStatus ends with.
func (s *testService) failure() error {
	c := codes.Code(s.failCode.Load())
	if c == codes.OK {
		return nil
	}
	if s.limited.Load() && s.failLeft.Add(-1) < 0 {
		return nil
	}
	return status.Error(c, "test server fails")
}

func echo(st *testpb.EchoStatus) error {
	if st == nil {
		return nil
	}
	if st.Message == panicMessage {
		panic("boom")
	}
	return status.Error(codes.Code(st.Code), st.Message)
}

func (s *testService) EmptyCall(context.Context, *testpb.Empty) (*testpb.Empty, error) {
	s.empty.Add(1)
	return &testpb.Empty{}, nil
}

func (s *testService) UnaryCall(ctx context.Context, req *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	n := s.unary.Add(1)
	if err := echo(req.ResponseStatus); err != nil {
		return nil, err
	}
	if err := s.failure(); err != nil {
		return nil, err
	}
	if err := s.wait(ctx, mUnary); err != nil {
		return nil, err
	}
	return &testpb.SimpleResponse{Username: "call " + strconv.FormatInt(n, 10)}, nil
}

func (s *testService) StreamingOutputCall(req *testpb.StreamingOutputCallRequest, ss grpc.ServerStreamingServer[testpb.StreamingOutputCallResponse]) error {
	s.output.Add(1)
	for range req.ResponseParameters {
		if err := ss.Send(&testpb.StreamingOutputCallResponse{}); err != nil {
			return err
		}
	}
	if err := echo(req.ResponseStatus); err != nil {
		return err
	}
	if err := s.failure(); err != nil {
		return err
	}
	return s.wait(ss.Context(), mOutput)
}

func (s *testService) StreamingInputCall(ss grpc.ClientStreamingServer[testpb.StreamingInputCallRequest, testpb.StreamingInputCallResponse]) error {
	s.input.Add(1)
	var size int32
	for {
		req, err := ss.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		size += int32(len(req.GetPayload().GetBody()))
	}
	if err := s.failure(); err != nil {
		return err
	}
	return ss.SendAndClose(&testpb.StreamingInputCallResponse{AggregatedPayloadSize: size})
}

// harness is a real gRPC server on a loopback TCP port and a client
// connection to it.
type harness struct {
	svc    *testService
	conn   *grpc.ClientConn
	client testpb.TestServiceClient
	addr   string
}

// newHarness starts a server with the server options given and connects
// to it with the dial options given; both are closed when the test ends.
func newHarness(t testing.TB, sopts []grpc.ServerOption, dopts ...grpc.DialOption) *harness {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	svc := newTestService()
	srv := grpc.NewServer(sopts...)
	testpb.RegisterTestServiceServer(srv, svc)
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(lis)
	}()
	h := &harness{svc: svc, addr: lis.Addr().String()}
	h.conn = dial(t, h.addr, dopts...)
	h.client = testpb.NewTestServiceClient(h.conn)
	t.Cleanup(func() {
		h.conn.Close()
		srv.Stop()
		<-served
	})
	return h
}

// dial connects to addr; the connection is closed when the test ends.
func dial(t testing.TB, addr string, dopts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	opts := append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, dopts...)
	conn, err := grpc.NewClient(addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// clientOpts installs both client interceptors built from opts.
func clientOpts(opts ...Option) []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithChainUnaryInterceptor(UnaryClientInterceptor(opts...)),
		grpc.WithChainStreamInterceptor(StreamClientInterceptor(opts...)),
	}
}

// serverOpts installs both server interceptors built from opts.
func serverOpts(opts ...ServerOption) []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(UnaryServerInterceptor(opts...)),
		grpc.ChainStreamInterceptor(StreamServerInterceptor(opts...)),
	}
}

// newBreaker builds a breaker on a fresh fake clock.
func newBreaker(t testing.TB, c breaker.Config) (*breaker.Breaker, *clock.Fake) {
	t.Helper()
	fc := clock.NewFake(time.Time{})
	c.Clock = fc
	b, err := breaker.New(c)
	if err != nil {
		t.Fatal(err)
	}
	return b, fc
}

// onePipeline returns a PipelineFunc that gives every key the pipeline of
// policies, and records the keys it was called with.
func onePipeline(t testing.TB, keys *[]string, policies ...fusebox.Policy) PipelineFunc {
	t.Helper()
	p, err := fusebox.New(policies...)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	return func(key string) (*fusebox.Pipeline, error) {
		if keys != nil {
			mu.Lock()
			*keys = append(*keys, key)
			mu.Unlock()
		}
		return p, nil
	}
}

// ctxT returns a context that ends with a generous timeout, so that a
// broken test fails instead of hanging.
func ctxT(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// wantCode fails the test unless err has status code want.
func wantCode(t testing.TB, err error, want codes.Code) {
	t.Helper()
	if got := status.Code(err); got != want {
		t.Fatalf("status code %v (err %v), want %v", got, err, want)
	}
}

// wantRejected fails the test unless err is a *StatusError with code
// Unavailable that matches sentinel.
func wantRejected(t testing.TB, err error, sentinel error) {
	t.Helper()
	wantCode(t, err, codes.Unavailable)
	if !errors.Is(err, sentinel) {
		t.Fatalf("err %v does not match %v", err, sentinel)
	}
	var se *StatusError
	if !errors.As(err, &se) {
		t.Fatalf("err %T is not a *StatusError", err)
	}
}
