package fuseboxhttp_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/fusebox-go/fusebox/clock"
	"github.com/fusebox-go/fusebox/fuseboxhttp"
	"github.com/fusebox-go/fusebox/internal/testwait"
	"github.com/fusebox-go/fusebox/ratelimit"
)

// TestRateLimiterLongKeysBounded: a RateLimiter keyed by a header keeps
// what a client sends in bounded memory: 200 requests, each with its own
// 1 MiB value, grow the heap by far less than the 200 MiB the values add
// up to, with every key remembered. Before, the limiter kept each value
// whole: about 200 MiB.
func TestRateLimiterLongKeysBounded(t *testing.T) {
	const n, size = 200, 1 << 20
	// A fake clock: no bucket refills, no key goes idle.
	k, err := ratelimit.NewKeyed(ratelimit.KeyedConfig{Rate: 1, Burst: 1, Clock: clock.NewFake(time.Time{})})
	if err != nil {
		t.Fatal(err)
	}
	m := must(t)(fuseboxhttp.RateLimiter(fuseboxhttp.RateLimiterConfig{
		Limiter: k,
		KeyFunc: func(r *http.Request) string { return r.Header.Get("X-Tenant") },
	}))
	ts := httptest.NewUnstartedServer(m(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })))
	ts.Config.MaxHeaderBytes = 2 * size
	ts.Start()
	defer ts.Close()
	c := newClient(t, newBase(t))
	send := func(tenant string) int {
		req, err := http.NewRequest(http.MethodGet, ts.URL, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Tenant", tenant)
		resp, _, err := do(t, c, req)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode
	}
	// A first long value sets up the connection, and whatever buffers
	// the client and the server keep for the next request.
	prefix := strings.Repeat("v", size-8)
	send(prefix + "warm-up!")
	before := testwait.HeapAlloc()
	for i := range n {
		if code := send(fmt.Sprintf("%s%08d", prefix, i)); code != http.StatusNoContent {
			t.Fatalf("request %d: status %d, want 204: a key of its own", i, code)
		}
	}
	if got := k.Len(); got != n+1 {
		t.Fatalf("the limiter remembers %d keys, want %d", got, n+1)
	}
	grown := testwait.HeapGrowth(t, before, 10<<20)
	t.Logf("%d keys of %d bytes: the heap grew %d bytes", n, size, grown)
	// Each long key still has its own bucket.
	if code := send(fmt.Sprintf("%s%08d", prefix, 7)); code != http.StatusTooManyRequests {
		t.Fatalf("a long key's second request: status %d, want 429", code)
	}
}
