package fuseboxgrpc

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"

	"github.com/fusebox-go/fusebox/clock"
	"github.com/fusebox-go/fusebox/internal/testwait"
	"github.com/fusebox-go/fusebox/ratelimit"
)

// TestServerRateLimitLongKeysBounded: a rate limit by MetadataKey keeps
// what clients send in bounded memory: 200 RPCs, each with its own 1 MiB
// value, grow the heap by far less than the 200 MiB the values add up to,
// with every key remembered. Before, the limiter kept each value whole:
// about 200 MiB, and at the default 10,000 keys and gRPC's 16 MiB header
// limit far more than any server has.
func TestServerRateLimitLongKeysBounded(t *testing.T) {
	const n, size = 200, 1 << 20
	// A fake clock: no bucket refills, no key goes idle.
	k, err := ratelimit.NewKeyed(ratelimit.KeyedConfig{Rate: 1, Burst: 1, Clock: clock.NewFake(time.Time{})})
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, serverOpts(WithRateLimit(k, MetadataKey("tenant"))))
	call := func(tenant string) error {
		ctx := metadata.AppendToOutgoingContext(ctxT(t), "tenant", tenant)
		_, err := h.client.UnaryCall(ctx, &testpb.SimpleRequest{})
		return err
	}
	// A first long value sets up the connection, and grows the buffers
	// in which gRPC's transport encodes and decodes headers (and keeps for
	// the next ones) to its size.
	prefix := strings.Repeat("~", size-8) // longer Huffman-coded than not: sent as it is, quicker
	if err := call(prefix + "warm-up!"); err != nil {
		t.Fatal(err)
	}
	before := testwait.HeapAlloc()
	for i := range n {
		if err := call(fmt.Sprintf("%s%08d", prefix, i)); err != nil {
			t.Fatalf("RPC %d: %v, want it through: a key of its own", i, err)
		}
	}
	if got := k.Len(); got != n+1 {
		t.Fatalf("the limiter remembers %d keys, want %d", got, n+1)
	}
	grown := testwait.HeapGrowth(t, before, 10<<20)
	t.Logf("%d keys of %d bytes: the heap grew %d bytes", n, size, grown)
	// Each long key still has its own bucket.
	wantCode(t, call(fmt.Sprintf("%s%08d", prefix, 7)), codes.ResourceExhausted)
	if got := h.svc.unary.Load(); got != n+1 {
		t.Fatalf("the handler ran %d times, want %d", got, n+1)
	}
}
