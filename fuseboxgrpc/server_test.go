package fuseboxgrpc

import (
	"context"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/fusebox-go/fusebox/bulkhead"
	"github.com/fusebox-go/fusebox/clock"
	"github.com/fusebox-go/fusebox/internal/testwait"
	"github.com/fusebox-go/fusebox/ratelimit"
)

// panicRecorder is a PanicHandler that records what it is told.
type panicRecorder struct {
	mu      sync.Mutex
	methods []string
	values  []any
	stacks  [][]byte
}

func (r *panicRecorder) handle(_ context.Context, method string, v any, stack []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.methods = append(r.methods, method)
	r.values = append(r.values, v)
	r.stacks = append(r.stacks, stack)
}

func mustBulkhead(t testing.TB, c bulkhead.Config) *bulkhead.Bulkhead {
	t.Helper()
	b, err := bulkhead.New(c)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestServerRecoversPanics: a panicking handler answers Internal without
// its panic value, releases its slot, and the server goes on serving.
func TestServerRecoversPanics(t *testing.T) {
	var rec panicRecorder
	one := mustBulkhead(t, bulkhead.Config{MaxConcurrent: 1})
	h := newHarness(t, serverOpts(
		WithPanicHandler(rec.handle),
		WithConcurrencyLimit(func(string) *bulkhead.Bulkhead { return one }),
	))
	ctx := ctxT(t)

	_, err := h.client.UnaryCall(ctx, withStatus(codes.OK, panicMessage))
	wantCode(t, err, codes.Internal)
	if s := status.Convert(err); strings.Contains(s.Message(), "boom") {
		t.Fatalf("the client was told the panic value: %q", s.Message())
	}
	if _, err := h.client.UnaryCall(ctx, &testpb.SimpleRequest{}); err != nil {
		t.Fatalf("call after the panic: %v", err)
	}

	req := outputReq(1, codes.OK)
	req.ResponseStatus = &testpb.EchoStatus{Message: panicMessage}
	s, err := h.client.StreamingOutputCall(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	n, err := drain(s)
	wantCode(t, err, codes.Internal)
	if n != 1 {
		t.Fatalf("stream sent %d messages before its panic, want 1", n)
	}
	if n, err := drain(mustStream(t, h, outputReq(2, codes.OK))); n != 2 || err != nil {
		t.Fatalf("stream after the panic: %d messages, %v; want 2, nil", n, err)
	}
	if snap := one.Snapshot(); snap.InFlight != 0 || snap.Admitted != 4 {
		t.Fatalf("bulkhead %+v: want 4 admitted and every slot released", snap)
	}

	rec.mu.Lock()
	defer rec.mu.Unlock()
	if !slices.Equal(rec.methods, []string{mUnary, mOutput}) {
		t.Fatalf("panic handler told of methods %v, want %v", rec.methods, []string{mUnary, mOutput})
	}
	for i, v := range rec.values {
		if v != "boom" || !strings.Contains(string(rec.stacks[i]), "echo") {
			t.Fatalf("panic %d: value %v, stack without the panicking function:\n%s", i, v, rec.stacks[i])
		}
	}
}

func mustStream(t testing.TB, h *harness, req *testpb.StreamingOutputCallRequest) grpc.ServerStreamingClient[testpb.StreamingOutputCallResponse] {
	t.Helper()
	s, err := h.client.StreamingOutputCall(ctxT(t), req)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestServerConcurrencyLimitSheds saturates a slow method whose bulkhead
// admits 2 RPCs: the rest are shed at once with ResourceExhausted, and a
// fast method without a limit keeps answering quickly meanwhile.
func TestServerConcurrencyLimitSheds(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []ServerOption
		code codes.Code
	}{
		{"default", nil, codes.ResourceExhausted},
		{"unavailable", []ServerOption{WithUnavailableWhenFull()}, codes.Unavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			slow := mustBulkhead(t, bulkhead.Config{MaxConcurrent: 2})
			limit := func(method string) *bulkhead.Bulkhead {
				if method == mUnary {
					return slow
				}
				return nil
			}
			h := newHarness(t, serverOpts(append(tc.opts, WithConcurrencyLimit(limit))...))
			release := h.svc.setHold()
			defer release()
			ctx := ctxT(t)
			start := time.Now()

			admitted := make(chan error, 2)
			for range 2 {
				go func() {
					_, err := h.client.UnaryCall(ctx, &testpb.SimpleRequest{})
					admitted <- err
				}()
			}
			testwait.Recv(t, h.svc.entered, "first slow call")
			testwait.Recv(t, h.svc.entered, "second slow call")

			// Load: 4 clients hammer the saturated method while the fast
			// one is timed.
			var shed atomic.Int64
			stop := make(chan struct{})
			var wg sync.WaitGroup
			for range 4 {
				wg.Go(func() {
					for i := 0; i < 200; i++ {
						select {
						case <-stop:
							return
						default:
						}
						_, err := h.client.UnaryCall(ctx, &testpb.SimpleRequest{})
						if status.Code(err) != tc.code {
							t.Errorf("slow call over the limit: %v, want %v", err, tc.code)
							return
						}
						if !strings.Contains(status.Convert(err).Message(), "bulkhead") {
							t.Errorf("shed status %q does not name the bulkhead", status.Convert(err).Message())
							return
						}
						shed.Add(1)
					}
				})
			}
			var lat []time.Duration
			for range 50 {
				t0 := time.Now()
				if _, err := h.client.EmptyCall(ctx, &testpb.Empty{}); err != nil {
					t.Fatalf("fast call: %v", err)
				}
				lat = append(lat, time.Since(t0))
			}
			close(stop)
			wg.Wait()
			slices.Sort(lat)
			if p50 := lat[len(lat)/2]; p50 > 50*time.Millisecond {
				t.Errorf("fast method's median latency %v under load, want under 50ms", p50)
			}
			if shed.Load() == 0 {
				t.Errorf("no slow call was shed")
			}
			if got := h.svc.unary.Load(); got != 2 {
				t.Errorf("slow handler ran %d times, want 2: the shed calls must not reach it", got)
			}
			release()
			for range 2 {
				if err := testwait.Recv(t, admitted, "admitted slow call"); err != nil {
					t.Fatalf("admitted slow call: %v", err)
				}
			}
			if snap := slow.Snapshot(); snap.InFlight != 0 || snap.Rejected != uint64(shed.Load()) {
				t.Fatalf("bulkhead %+v: want none in flight, %d rejected", snap, shed.Load())
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("load test took %v, want under 3s", d)
			}
			t.Logf("shed %d calls; fast method p50 %v, max %v", shed.Load(), lat[len(lat)/2], lat[len(lat)-1])
		})
	}
}

// TestServerStreamHoldsSlot: a stream holds its slot for its whole life.
func TestServerStreamHoldsSlot(t *testing.T) {
	one := mustBulkhead(t, bulkhead.Config{MaxConcurrent: 1})
	h := newHarness(t, serverOpts(WithConcurrencyLimit(func(string) *bulkhead.Bulkhead { return one })))
	release := h.svc.setHold()
	defer release()
	first := mustStream(t, h, outputReq(1, codes.OK))
	if _, err := first.Recv(); err != nil {
		t.Fatal(err)
	}
	testwait.Recv(t, h.svc.entered, "the first stream held")
	_, err := drain(mustStream(t, h, outputReq(1, codes.OK)))
	wantCode(t, err, codes.ResourceExhausted)
	release()
	if _, err := drain(first); err != nil {
		t.Fatal(err)
	}
	if n, err := drain(mustStream(t, h, outputReq(1, codes.OK))); n != 1 || err != nil {
		t.Fatalf("stream after the first ended: %d, %v", n, err)
	}
}

// TestServerRateLimit: a Keyed limiter by peer address or by metadata
// value sheds with ResourceExhausted before the handler runs.
func TestServerRateLimit(t *testing.T) {
	t.Run("peer", func(t *testing.T) {
		fc := clock.NewFake(time.Time{})
		k, err := ratelimit.NewKeyed(ratelimit.KeyedConfig{Rate: 1, Burst: 2, Clock: fc})
		if err != nil {
			t.Fatal(err)
		}
		h := newHarness(t, serverOpts(WithRateLimit(k, nil)))
		ctx := ctxT(t)
		for range 2 {
			if _, err := h.client.UnaryCall(ctx, &testpb.SimpleRequest{}); err != nil {
				t.Fatal(err)
			}
		}
		_, err = h.client.UnaryCall(ctx, &testpb.SimpleRequest{})
		wantCode(t, err, codes.ResourceExhausted)
		if !strings.Contains(status.Convert(err).Message(), "rate limited") {
			t.Fatalf("status %q does not name the rate limit", status.Convert(err).Message())
		}
		// A second connection from the same host shares the key.
		other := testpb.NewTestServiceClient(dial(t, h.addr))
		_, err = other.UnaryCall(ctx, &testpb.SimpleRequest{})
		wantCode(t, err, codes.ResourceExhausted)
		if got := h.svc.unary.Load(); got != 2 {
			t.Fatalf("handler ran %d times, want 2", got)
		}
		fc.Advance(time.Second)
		if _, err := h.client.UnaryCall(ctx, &testpb.SimpleRequest{}); err != nil {
			t.Fatalf("call after a token came: %v", err)
		}
		if got := k.Snapshot(); got.Keys != 1 {
			t.Fatalf("limiter knows %d keys, want 1 (127.0.0.1)", got.Keys)
		}
	})
	t.Run("metadata", func(t *testing.T) {
		fc := clock.NewFake(time.Time{})
		k, err := ratelimit.NewKeyed(ratelimit.KeyedConfig{Rate: 1, Burst: 1, Clock: fc})
		if err != nil {
			t.Fatal(err)
		}
		h := newHarness(t, serverOpts(WithRateLimit(k, MetadataKey("tenant"))))
		tenant := func(name string) context.Context {
			return metadata.AppendToOutgoingContext(ctxT(t), "tenant", name)
		}
		if _, err := h.client.UnaryCall(tenant("a"), &testpb.SimpleRequest{}); err != nil {
			t.Fatal(err)
		}
		_, err = h.client.UnaryCall(tenant("a"), &testpb.SimpleRequest{})
		wantCode(t, err, codes.ResourceExhausted)
		if _, err := h.client.UnaryCall(tenant("b"), &testpb.SimpleRequest{}); err != nil {
			t.Fatalf("tenant b limited by tenant a's calls: %v", err)
		}
		// A stream takes one token when it starts.
		_, err = drain(mustStream(t, h, outputReq(1, codes.OK)))
		if err != nil {
			t.Fatalf("first stream without a tenant: %v", err)
		}
		_, err = drain(mustStream(t, h, outputReq(1, codes.OK)))
		wantCode(t, err, codes.ResourceExhausted)
	})
}

// TestServerSeesDeadline: the client's deadline reaches the handler's
// context; the interceptors need do nothing for it.
func TestServerSeesDeadline(t *testing.T) {
	type deadline struct {
		t  time.Time
		ok bool
	}
	seen := make(chan deadline, 1)
	spy := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		t, ok := ctx.Deadline()
		seen <- deadline{t, ok}
		return handler(ctx, req)
	}
	h := newHarness(t, []grpc.ServerOption{grpc.ChainUnaryInterceptor(UnaryServerInterceptor(), spy)})
	want := time.Now().Add(30 * time.Second)
	ctx, cancel := context.WithDeadline(context.Background(), want)
	defer cancel()
	if _, err := h.client.UnaryCall(ctx, &testpb.SimpleRequest{}); err != nil {
		t.Fatal(err)
	}
	got := testwait.Recv(t, seen, "the handler's deadline")
	if !got.ok || got.t.After(want.Add(time.Second)) || got.t.Before(want.Add(-time.Second)) {
		t.Fatalf("handler's deadline %v (set %v), want about %v", got.t, got.ok, want)
	}
}

func TestPeerKey(t *testing.T) {
	for _, tc := range []struct {
		name string
		ctx  context.Context
		want string
	}{
		{"none", context.Background(), ""},
		{"tcp v4", peer.NewContext(context.Background(), &peer.Peer{Addr: &net.TCPAddr{IP: net.IPv4(10, 0, 0, 7), Port: 5555}}), "10.0.0.7"},
		{"tcp v6", peer.NewContext(context.Background(), &peer.Peer{Addr: &net.TCPAddr{IP: net.ParseIP("::1"), Port: 5555}}), "::1"},
		{"unix", peer.NewContext(context.Background(), &peer.Peer{Addr: &net.UnixAddr{Name: "/tmp/s.sock", Net: "unix"}}), "/tmp/s.sock"},
	} {
		if got := PeerKey(tc.ctx); got != tc.want {
			t.Errorf("%s: PeerKey = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestMetadataKey(t *testing.T) {
	key := MetadataKey("tenant")
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("tenant", "acme", "tenant", "other"))
	if got := key(ctx); got != "acme" {
		t.Errorf("key = %q, want the first value, acme", got)
	}
	if got := key(context.Background()); got != "" {
		t.Errorf("key without metadata = %q, want empty", got)
	}
}
