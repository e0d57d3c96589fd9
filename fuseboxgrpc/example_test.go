package fuseboxgrpc_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/breaker"
	"github.com/fusebox-go/fusebox/bulkhead"
	"github.com/fusebox-go/fusebox/fuseboxgrpc"
	"github.com/fusebox-go/fusebox/ratelimit"
	"github.com/fusebox-go/fusebox/retry"
)

// serve starts srv on a loopback port and returns its address and a
// function that stops it.
func serve(srv *grpc.Server) (addr string, stop func()) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(lis)
	}()
	return lis.Addr().String(), func() { srv.Stop(); <-done }
}

// A client guarded by a circuit breaker: NotFound is the server answering,
// not failing; once the server is gone, two Unavailable answers open the
// breaker, which then rejects RPCs without sending them.
func ExampleUnaryClientInterceptor() {
	srv := grpc.NewServer()
	healthpb.RegisterHealthServer(srv, health.NewServer())
	addr, stop := serve(srv)

	b, err := breaker.New(breaker.Config{Name: "health", ConsecutiveFailures: 2})
	if err != nil {
		panic(err)
	}
	conn, err := grpc.NewClient(addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithChainUnaryInterceptor(fuseboxgrpc.UnaryClientInterceptor(
			fuseboxgrpc.WithServiceKeys(),
			fuseboxgrpc.WithPipeline(func(key string) (*fusebox.Pipeline, error) {
				return fusebox.New(b) // key is "grpc.health.v1.Health"
			}),
		)),
	)
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	client := healthpb.NewHealthClient(conn)

	check := func(service string) {
		_, err := client.Check(context.Background(), &healthpb.HealthCheckRequest{Service: service})
		fmt.Printf("%-17v rejected=%-5v breaker %v\n", status.Code(err), errors.Is(err, breaker.ErrOpen), b.State())
	}
	check("")        // serving
	check("nothing") // an unknown service: NotFound
	stop()           // the server goes away
	check("")
	check("")
	check("")
	// Output:
	// OK                rejected=false breaker closed
	// NotFound          rejected=false breaker closed
	// Unavailable       rejected=false breaker closed
	// Unavailable       rejected=false breaker open
	// Unavailable       rejected=true  breaker open
}

// Server interceptors: a rate limit per tenant (a metadata value) and a
// concurrency limit per method; both shed with ResourceExhausted before
// the handler runs.
func ExampleUnaryServerInterceptor() {
	perTenant, err := ratelimit.NewKeyed(ratelimit.KeyedConfig{Rate: 1, Burst: 1})
	if err != nil {
		panic(err)
	}
	checks, err := bulkhead.New(bulkhead.Config{MaxConcurrent: 100})
	if err != nil {
		panic(err)
	}
	opts := []fuseboxgrpc.ServerOption{
		fuseboxgrpc.WithRateLimit(perTenant, fuseboxgrpc.MetadataKey("tenant")),
		fuseboxgrpc.WithConcurrencyLimit(func(method string) *bulkhead.Bulkhead {
			if method == "/grpc.health.v1.Health/Check" {
				return checks
			}
			return nil
		}),
	}
	srv := grpc.NewServer(
		grpc.ChainUnaryInterceptor(fuseboxgrpc.UnaryServerInterceptor(opts...)),
		grpc.ChainStreamInterceptor(fuseboxgrpc.StreamServerInterceptor(opts...)),
	)
	healthpb.RegisterHealthServer(srv, health.NewServer())
	addr, stop := serve(srv)
	defer stop()

	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	client := healthpb.NewHealthClient(conn)
	for _, tenant := range []string{"acme", "acme", "globex"} {
		ctx := metadata.AppendToOutgoingContext(context.Background(), "tenant", tenant)
		_, err := client.Check(ctx, &healthpb.HealthCheckRequest{})
		s := status.Convert(err)
		fmt.Println(strings.TrimSpace(fmt.Sprintf("%-6s %v %s", tenant, s.Code(), s.Message())))
	}
	// Output:
	// acme   OK
	// acme   ResourceExhausted fusebox: rate limited
	// globex OK
}

// A pipeline that retries the codes worth retrying, inside a breaker that
// sees one outcome per RPC.
func ExampleRetryableCode() {
	newPipeline := func(key string) (*fusebox.Pipeline, error) {
		b, err := breaker.New(breaker.Config{Name: key})
		if err != nil {
			return nil, err
		}
		r, err := retry.New(retry.Config{MaxAttempts: 3, Retryable: fuseboxgrpc.RetryableCode})
		if err != nil {
			return nil, err
		}
		return fusebox.New(b, r)
	}
	_ = grpc.WithChainUnaryInterceptor(fuseboxgrpc.UnaryClientInterceptor(fuseboxgrpc.WithPipeline(newPipeline)))

	for _, c := range []codes.Code{codes.Unavailable, codes.Aborted, codes.Internal, codes.NotFound} {
		fmt.Println(c, fuseboxgrpc.RetryableCode(status.Error(c, "")))
	}
	// Output:
	// Unavailable true
	// Aborted true
	// Internal false
	// NotFound false
}
