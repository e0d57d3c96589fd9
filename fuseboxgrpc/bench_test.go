package fuseboxgrpc

import (
	"context"
	"testing"

	"google.golang.org/grpc"
	testpb "google.golang.org/grpc/interop/grpc_testing"

	"github.com/fusebox-go/fusebox/bulkhead"
	"github.com/fusebox-go/fusebox/ratelimit"
)

// The benchmarks measure what the interceptors add to an RPC: the invoker
// and handler answer at once, without a network.

func okInvoker(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
	return nil
}

func BenchmarkUnaryClientInterceptor(b *testing.B) {
	ic := UnaryClientInterceptor() // a default breaker per method
	req, reply := &testpb.SimpleRequest{}, &testpb.SimpleResponse{}
	ctx := context.Background()
	if err := ic(ctx, mUnary, req, reply, nil, okInvoker); err != nil {
		b.Fatal(err)
	}
	b.Run("single", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := ic(ctx, mUnary, req, reply, nil, okInvoker); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			reply := &testpb.SimpleResponse{}
			for pb.Next() {
				if err := ic(ctx, mUnary, req, reply, nil, okInvoker); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

func BenchmarkUnaryServerInterceptor(b *testing.B) {
	bh, err := bulkhead.New(bulkhead.Config{MaxConcurrent: 1 << 20})
	if err != nil {
		b.Fatal(err)
	}
	k, err := ratelimit.NewKeyed(ratelimit.KeyedConfig{Rate: 1e9, Burst: 1 << 30})
	if err != nil {
		b.Fatal(err)
	}
	ic := UnaryServerInterceptor(
		WithConcurrencyLimit(func(string) *bulkhead.Bulkhead { return bh }),
		WithRateLimit(k, func(context.Context) string { return "client" }),
	)
	info := &grpc.UnaryServerInfo{FullMethod: mUnary}
	handler := func(context.Context, any) (any, error) { return nil, nil }
	ctx := context.Background()
	b.Run("single", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := ic(ctx, nil, info, handler); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := ic(ctx, nil, info, handler); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// TestServerInterceptorAllocs: admitting an RPC through a rate limit and a
// bulkhead allocates nothing, and neither does shedding one.
func TestServerInterceptorAllocs(t *testing.T) {
	bh, err := bulkhead.New(bulkhead.Config{MaxConcurrent: 1})
	if err != nil {
		t.Fatal(err)
	}
	k, err := ratelimit.NewKeyed(ratelimit.KeyedConfig{Rate: 1e9, Burst: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	ic := UnaryServerInterceptor(
		WithConcurrencyLimit(func(string) *bulkhead.Bulkhead { return bh }),
		WithRateLimit(k, func(context.Context) string { return "client" }),
	)
	info := &grpc.UnaryServerInfo{FullMethod: mUnary}
	ctx := context.Background()
	ok := func(context.Context, any) (any, error) { return nil, nil }
	if n := testing.AllocsPerRun(1000, func() { _, _ = ic(ctx, nil, info, ok) }); n != 0 {
		t.Errorf("admitting allocates %v times per RPC, want 0", n)
	}
	var shedErr error
	nested := func(context.Context, any) (any, error) {
		_, shedErr = ic(ctx, nil, info, ok) // the one slot is taken: shed
		return nil, nil
	}
	if n := testing.AllocsPerRun(1000, func() { _, _ = ic(ctx, nil, info, nested) }); n != 0 {
		t.Errorf("shedding allocates %v times per RPC, want 0", n)
	}
	if shedErr != errFull {
		t.Errorf("nested RPC got %v, want the bulkhead's rejection", shedErr)
	}
}
