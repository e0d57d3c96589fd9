// Command grpc runs a real grpc-go server and client on loopback with
// Fusebox's interceptors on both sides. The client runs every RPC through
// the pipeline of its method: a circuit breaker, retries of the codes
// worth retrying (fuseboxgrpc.RetryableCode), and a timeout per attempt.
// The server recovers from panics in handlers, limits each tenant's rate
// and bounds how many RPCs of a method run at once.
//
// It ends by itself in about a second:
//
//	go run ./examples/grpc
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/breaker"
	"github.com/fusebox-go/fusebox/bulkhead"
	"github.com/fusebox-go/fusebox/fuseboxgrpc"
	"github.com/fusebox-go/fusebox/ratelimit"
	"github.com/fusebox-go/fusebox/retry"
	"github.com/fusebox-go/fusebox/timeout"
)

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "grpc:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, w io.Writer) error {
	out := &lockedWriter{w: w} // the server's goroutines print too

	// The server, with its interceptors: each tenant (the "tenant"
	// metadata value) may send 5 RPCs a second, in bursts of 20; at most
	// 8 Stock RPCs run at once; a panic in a handler becomes
	// codes.Internal and the server goes on.
	perTenant, err := ratelimit.NewKeyed(ratelimit.KeyedConfig{Name: "per-tenant", Rate: 5, Burst: 20})
	if err != nil {
		return err
	}
	stockSlots, err := bulkhead.New(bulkhead.Config{Name: "Stock", MaxConcurrent: 8})
	if err != nil {
		return err
	}
	serverOpts := []fuseboxgrpc.ServerOption{
		fuseboxgrpc.WithPanicHandler(func(ctx context.Context, method string, v any, stack []byte) {
			fmt.Fprintf(out, "  (the server recovered from a panic in %s: %v)\n", method, v)
		}),
		fuseboxgrpc.WithRateLimit(perTenant, fuseboxgrpc.MetadataKey("tenant")),
		fuseboxgrpc.WithConcurrencyLimit(func(method string) *bulkhead.Bulkhead {
			if method == stockMethod {
				return stockSlots
			}
			return nil
		}),
	}
	srv := grpc.NewServer(
		grpc.ChainUnaryInterceptor(fuseboxgrpc.UnaryServerInterceptor(serverOpts...)),
		grpc.ChainStreamInterceptor(fuseboxgrpc.StreamServerInterceptor(serverOpts...)),
	)
	inv := &inventory{}
	srv.RegisterService(&inventoryService, inv)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	defer func() {
		srv.GracefulStop()
		<-served
	}()

	// The client's pipeline for each method, outermost first: a breaker
	// that opens after 3 failed RPCs in a row; a retry of the codes
	// worth retrying, 3 attempts at most; a 250 ms timeout per attempt.
	// The interceptor builds it on the method's first RPC.
	var mu sync.Mutex
	breakers := map[string]*breaker.Breaker{} // to print their states
	newPipeline := func(method string) (*fusebox.Pipeline, error) {
		b, err := breaker.New(breaker.Config{Name: method, ConsecutiveFailures: 3, OpenDuration: 10 * time.Second})
		if err != nil {
			return nil, err
		}
		r, err := retry.New(retry.Config{
			Name:            method,
			MaxAttempts:     3,
			InitialInterval: 10 * time.Millisecond,
			Retryable:       fuseboxgrpc.RetryableCode, // only for idempotent methods: Stock reads
		})
		if err != nil {
			return nil, err
		}
		perAttempt, err := timeout.New(timeout.Config{Name: method, Timeout: 250 * time.Millisecond})
		if err != nil {
			return nil, err
		}
		mu.Lock()
		breakers[method] = b
		mu.Unlock()
		return fusebox.New(b, r, perAttempt)
	}
	conn, err := grpc.NewClient(ln.Addr().String(),
		grpc.WithTransportCredentials(insecure.NewCredentials()), // loopback; use TLS across hosts
		grpc.WithChainUnaryInterceptor(fuseboxgrpc.UnaryClientInterceptor(fuseboxgrpc.WithPipeline(newPipeline))),
		grpc.WithChainStreamInterceptor(fuseboxgrpc.StreamClientInterceptor(fuseboxgrpc.WithPipeline(newPipeline))),
	)
	if err != nil {
		return err
	}
	defer conn.Close()
	// A second client without interceptors, to show the server's side
	// alone.
	plain, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer plain.Close()

	fmt.Fprintln(out, "-- client side: breaker, retry, timeout per attempt (tenant storefront)")
	for _, step := range []struct {
		mode  string
		calls int
	}{
		{modeHealthy, 1},
		{modeFlaky, 1}, // every other RPC fails with Unavailable: a retry absorbs it
		{modeSlow, 1},  // every other RPC hangs: the attempt times out, a retry absorbs it
		{modeDown, 5},  // every RPC fails: the breaker opens and rejects RPCs without sending them
	} {
		inv.mode.Store(step.mode)
		for range step.calls {
			before := inv.calls.Load()
			n, err := stock(ctx, conn, "storefront", "lamp")
			reached := inv.calls.Load() - before
			mu.Lock()
			state := breakers[stockMethod].State()
			mu.Unlock()
			fmt.Fprintf(out, "Stock %-8s RPCs that reached the server: %d  %s  breaker %v\n",
				step.mode+":", reached, answer(n, err), state)
		}
	}

	fmt.Fprintln(out, "-- server side: a rate limit per tenant, panic recovery")
	inv.mode.Store(modeHealthy)
	answered, refused := 0, 0
	var refusal error
	for range 25 {
		_, err := stock(ctx, plain, "batch-import", "lamp")
		switch status.Code(err) {
		case codes.OK:
			answered++
		case codes.ResourceExhausted:
			refused++
			refusal = err
		default:
			return fmt.Errorf("Stock as batch-import: %w", err)
		}
	}
	fmt.Fprintf(out, "tenant batch-import, 25 RPCs in a row: %d answered, %d refused (%v)\n", answered, refused, refusal)
	n, err := stock(ctx, plain, "storefront", "lamp")
	fmt.Fprintf(out, "tenant storefront meanwhile: %s\n", answer(n, err))
	n, err = stock(ctx, plain, "storefront", "panic")
	fmt.Fprintf(out, "Stock of a SKU whose handler panics: %s\n", answer(n, err))
	n, err = stock(ctx, plain, "storefront", "lamp")
	fmt.Fprintf(out, "and the next RPC: %s\n", answer(n, err))
	return nil
}

// answer says in a few words what an RPC returned.
func answer(n int64, err error) string {
	switch {
	case err == nil:
		return fmt.Sprintf("OK, %d in stock", n)
	case errors.Is(err, fusebox.ErrOpen):
		return fmt.Sprintf("%v, rejected by the open breaker", status.Code(err))
	case errors.Is(err, fusebox.ErrRetriesExhausted):
		return fmt.Sprintf("%v, retries exhausted", status.Code(err))
	default:
		return fmt.Sprintf("%v: %s", status.Code(err), status.Convert(err).Message())
	}
}

// stock calls Inventory.Stock as tenant: how many of sku are in stock.
func stock(ctx context.Context, conn *grpc.ClientConn, tenant, sku string) (int64, error) {
	ctx = metadata.AppendToOutgoingContext(ctx, "tenant", tenant)
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second) // the caller's own deadline, for all attempts
	defer cancel()
	var n wrapperspb.Int64Value
	err := conn.Invoke(ctx, stockMethod, wrapperspb.String(sku), &n)
	return n.GetValue(), err
}

// The inventory service's behaviors.
const (
	modeHealthy = "healthy"
	modeFlaky   = "flaky"
	modeSlow    = "slow"
	modeDown    = "down"
)

// inventory is the server's implementation of the service.
type inventory struct {
	mode  atomic.Value // string
	calls atomic.Int64
}

func (s *inventory) Stock(ctx context.Context, sku *wrapperspb.StringValue) (*wrapperspb.Int64Value, error) {
	n := s.calls.Add(1)
	if sku.GetValue() == "panic" {
		panic("a bug in the handler")
	}
	mode, _ := s.mode.Load().(string)
	switch {
	case mode == modeDown, mode == modeFlaky && n%2 == 0:
		return nil, status.Error(codes.Unavailable, "inventory database unreachable")
	case mode == modeSlow && n%2 == 0:
		<-ctx.Done() // hangs until the client gives up
		return nil, ctx.Err()
	}
	return wrapperspb.Int64(42), nil
}

// The service's description: what protoc-gen-go-grpc generates from
//
//	service Inventory { rpc Stock(google.protobuf.StringValue) returns (google.protobuf.Int64Value); }
//
// written out here so that the example needs no code generation. A real
// service registers its generated code instead, and the interceptors are
// the same.
const stockMethod = "/example.Inventory/Stock"

var inventoryService = grpc.ServiceDesc{
	ServiceName: "example.Inventory",
	HandlerType: (*interface {
		Stock(context.Context, *wrapperspb.StringValue) (*wrapperspb.Int64Value, error)
	})(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Stock",
		Handler: func(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
			in := new(wrapperspb.StringValue)
			if err := dec(in); err != nil {
				return nil, err
			}
			handler := func(ctx context.Context, req any) (any, error) {
				return srv.(*inventory).Stock(ctx, req.(*wrapperspb.StringValue))
			}
			if interceptor == nil {
				return handler(ctx, in)
			}
			return interceptor(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: stockMethod}, handler)
		},
	}},
	Metadata: "inventory.proto",
}

// lockedWriter serializes writes.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
