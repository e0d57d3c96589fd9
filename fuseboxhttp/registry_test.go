package fuseboxhttp_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/breaker"
	"github.com/fusebox-go/fusebox/clock"
	"github.com/fusebox-go/fusebox/fuseboxhttp"
	"github.com/fusebox-go/fusebox/registry"
)

// With WithRegistry, a client of many hosts keeps a bounded number of
// pipelines: idle ones are evicted past MaxKeys, yet an open breaker's
// pipeline is kept, so its host stays cut off.
func TestRoundTripperRegistryBoundsPipelines(t *testing.T) {
	fake := clock.NewFake(time.Time{})
	var mu sync.Mutex
	built := map[string]int{}
	reg, err := registry.New(registry.Config[*fusebox.Pipeline]{
		New: func(key string) (*fusebox.Pipeline, error) {
			mu.Lock()
			built[key]++
			mu.Unlock()
			br, err := breaker.New(breaker.Config{Name: key, ConsecutiveFailures: 2, OpenDuration: time.Hour, Clock: fake})
			if err != nil {
				return nil, err
			}
			return fusebox.New(br)
		},
		MaxKeys: 3,
		Clock:   fake,
	})
	if err != nil {
		t.Fatal(err)
	}
	down := newTestServer(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) })
	var up []*testServer
	for range 6 {
		up = append(up, newTestServer(t, func(w http.ResponseWriter, r *http.Request) {}))
	}
	c := newClient(t, mustRT(t, newBase(t), fuseboxhttp.WithRegistry(reg)))

	// Two 503s open the down host's breaker; the third call is rejected.
	for i := 0; i < 2; i++ {
		if resp, _, err := get(t, c, down.URL); err != nil || resp.StatusCode != 503 {
			t.Fatalf("call %d to the down host: %v, %v; want its 503", i, resp, err)
		}
	}
	if _, _, err := get(t, c, down.URL); !errors.Is(err, fusebox.ErrOpen) {
		t.Fatalf("third call to the down host: %v, want ErrOpen", err)
	}

	// Six other hosts, each idle by the time the next comes.
	for _, s := range up {
		fake.Advance(time.Second)
		if resp, _, err := get(t, c, s.URL); err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %v, %v; want 200", s.URL, resp, err)
		}
		if n := reg.Len(); n > 3 {
			t.Fatalf("%d pipelines in the registry, want at most MaxKeys 3", n)
		}
	}
	if st := reg.Stats(); st.Evicted < 4 {
		t.Fatalf("registry stats %+v: want at least 4 evictions for 7 hosts in 3 keys", st)
	}

	// The down host's open breaker survived the evictions.
	before := down.requests.Load()
	if _, _, err := get(t, c, down.URL); !errors.Is(err, fusebox.ErrOpen) {
		t.Fatalf("the down host after the others: %v, want ErrOpen from the kept breaker", err)
	}
	if n := down.requests.Load(); n != before {
		t.Fatalf("the down host got %d more requests while its breaker was open", n-before)
	}
	mu.Lock()
	defer mu.Unlock()
	if n := built[strings.ToLower(down.URL)]; n != 1 {
		t.Fatalf("the down host's pipeline was built %d times, want once", n)
	}
}

// A registry whose factory fails fails the request with the factory's
// error; WithRegistry rejects nil and WithPipeline alongside.
func TestRoundTripperRegistryErrors(t *testing.T) {
	boom := errors.New("no pipeline today")
	reg, err := registry.New(registry.Config[*fusebox.Pipeline]{
		New: func(string) (*fusebox.Pipeline, error) { return nil, boom },
	})
	if err != nil {
		t.Fatal(err)
	}
	ts := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {})
	c := newClient(t, mustRT(t, newBase(t), fuseboxhttp.WithRegistry(reg)))
	if _, _, err := get(t, c, ts.URL); !errors.Is(err, boom) {
		t.Fatalf("request with a failing registry: %v, want the factory's error", err)
	}
	if n := ts.requests.Load(); n != 0 {
		t.Fatalf("%d requests reached the server without a pipeline", n)
	}

	nilReg, _ := registry.New(registry.Config[*fusebox.Pipeline]{
		New: func(string) (*fusebox.Pipeline, error) { return nil, nil },
	})
	c = newClient(t, mustRT(t, newBase(t), fuseboxhttp.WithRegistry(nilReg)))
	if _, _, err := get(t, c, ts.URL); err == nil || !strings.Contains(err.Error(), "nil pipeline") {
		t.Fatalf("request with a registry of nil pipelines: %v, want an error naming the nil pipeline", err)
	}

	for _, tc := range []struct {
		name string
		opts []fuseboxhttp.Option
		want string
	}{
		{"nil", []fuseboxhttp.Option{fuseboxhttp.WithRegistry(nil)}, "WithRegistry(nil)"},
		{"with WithPipeline", []fuseboxhttp.Option{fuseboxhttp.WithRegistry(reg), fuseboxhttp.WithPipeline(breakerRetry)}, "both set"},
	} {
		if _, err := fuseboxhttp.NewRoundTripper(nil, tc.opts...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: NewRoundTripper error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}

// deadHostsBase is a base transport that sends every request, whatever its
// host, to a closed loopback port: each call fails at once with a refused
// connection, as a webhook URL pointing at a dead host would.
func deadHostsBase(t testing.TB) *http.Transport {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	var d net.Dialer
	tr := &http.Transport{
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, addr)
		},
	}
	t.Cleanup(tr.CloseIdleConnections)
	return tr
}

// hostsToServer is a base transport that sends every request, whatever its
// host, to ts: many hosts, one real server that sees each request's Host.
func hostsToServer(t testing.TB, ts *testServer) *http.Transport {
	t.Helper()
	addr := ts.Listener.Addr().String()
	var d net.Dialer
	tr := &http.Transport{
		MaxIdleConnsPerHost: 4,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, addr)
		},
	}
	t.Cleanup(tr.CloseIdleConnections)
	return tr
}

// heapAlloc returns the live heap after a full collection.
func heapAlloc() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// Issue 12: a client made to call many distinct dead hosts (webhook URLs)
// through WithRegistry keeps at most MaxKeys pipelines, whatever their
// breakers' state, and its memory stops growing with the hosts: measured
// here by the registry's member count and by the live heap.
func TestRoundTripperRegistryMemoryBoundedByMaxKeys(t *testing.T) {
	const maxKeys, warm, hosts = 100, 300, 4000
	fake := clock.NewFake(time.Time{}) // frozen: every breaker stays inside its open period
	reg, err := registry.New(registry.Config[*fusebox.Pipeline]{
		New: func(key string) (*fusebox.Pipeline, error) {
			br, err := breaker.New(breaker.Config{Name: key, ConsecutiveFailures: 1, OpenDuration: time.Hour, Clock: fake})
			if err != nil {
				return nil, err
			}
			return fusebox.New(br)
		},
		MaxKeys: maxKeys,
		Clock:   fake,
	})
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, mustRT(t, deadHostsBase(t), fuseboxhttp.WithRegistry(reg)))
	call := func(i int) {
		t.Helper()
		resp, _, err := get(t, c, fmt.Sprintf("http://dead-%d.hooks.test/event", i))
		if err == nil {
			t.Fatalf("dead host %d answered %v", i, resp.Status)
		}
	}
	// Warm up: fill the registry to its cap and past it, so that what is
	// measured next is the steady state.
	for i := range warm {
		call(i)
	}
	before := heapAlloc()
	for i := warm; i < warm+hosts; i++ {
		call(i)
		if n := reg.Len(); n > maxKeys {
			t.Fatalf("after %d dead hosts: %d pipelines in the registry, want at most MaxKeys %d", i+1, n, maxKeys)
		}
	}
	after := heapAlloc()
	growth := int64(after) - int64(before)
	t.Logf("%d more dead hosts: %d pipelines, heap %d -> %d bytes (%+d, %.1f bytes per host); stats %+v",
		hosts, reg.Len(), before, after, growth, float64(growth)/hosts, reg.Stats())
	// A pipeline per host costs over a kibibyte: 4000 of them, megabytes.
	// Bounded, the registry may keep its table of remembered hosts (tens
	// of bytes each, at most a few thousand) and the heap may wobble.
	if st := reg.Stats(); st.Remembered > st.MaxRemembered || st.MaxRemembered > 4*maxKeys+255 {
		t.Fatalf("registry stats %+v: want at most MaxRemembered remembered hosts, about 4 × MaxKeys", st)
	}
	if growth > 512<<10 {
		t.Fatalf("the heap grew by %d bytes for %d dead hosts, want it bounded (under 512 KiB)", growth, hosts)
	}
}

// Issue 12: when the cap evicts the pipeline of a host whose breaker is
// open, the host is still not called until the breaker's open period ends,
// counted at a real server; then it is called again.
func TestRoundTripperRegistryEvictedOpenHostNotCalled(t *testing.T) {
	fake := clock.NewFake(time.Time{})
	reg, err := registry.New(registry.Config[*fusebox.Pipeline]{
		New: func(key string) (*fusebox.Pipeline, error) {
			br, err := breaker.New(breaker.Config{Name: key, ConsecutiveFailures: 1, OpenDuration: time.Minute, Clock: fake})
			if err != nil {
				return nil, err
			}
			return fusebox.New(br)
		},
		MaxKeys: 2,
		Clock:   fake,
	})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	calls := map[string]int{} // by Host
	ts := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls[r.Host]++
		mu.Unlock()
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	called := func(host string) int {
		mu.Lock()
		defer mu.Unlock()
		return calls[host]
	}
	c := newClient(t, mustRT(t, hostsToServer(t, ts), fuseboxhttp.WithRegistry(reg)))
	url := func(host string) string { return "http://" + host + "/hook" }

	// Three down hosts, each opened by its first 503, a second apart: the
	// first is the least recently used when the third makes room.
	for _, h := range []string{"a.test", "b.test", "c.test"} {
		if resp, _, err := get(t, c, url(h)); err != nil || resp.StatusCode != 503 {
			t.Fatalf("%s: %v, %v; want its 503", h, resp, err)
		}
		fake.Advance(time.Second)
	}
	if n := reg.Len(); n > 2 {
		t.Fatalf("%d pipelines in the registry, want at most MaxKeys 2", n)
	}
	// a.test opened at 0 s for a minute; it is 3 s now. It is rejected
	// without a call until its open period ends (the last check is 1 s
	// before).
	elapsed := 3 * time.Second
	for _, step := range []time.Duration{0, 30 * time.Second, 26 * time.Second} {
		fake.Advance(step)
		elapsed += step
		_, _, err := get(t, c, url("a.test"))
		var held *registry.HeldError
		if !errors.Is(err, fusebox.ErrOpen) || !errors.As(err, &held) {
			t.Fatalf("a.test at %v, after its eviction: %v, want the registry's HeldError, matching ErrOpen", elapsed, err)
		}
		if got, want := held.RetryAfter(), time.Minute-elapsed; got != want {
			t.Fatalf("a.test at %v: retry after %v, want %v, the rest of its open period", elapsed, got, want)
		}
		if n := called("a.test"); n != 1 {
			t.Fatalf("a.test was called %d times, want once: its breaker's open period has not ended", n)
		}
	}
	// Past the open period the host is called again.
	fake.Advance(2 * time.Second)
	if resp, _, err := get(t, c, url("a.test")); err != nil || resp.StatusCode != 503 {
		t.Fatalf("a.test after its open period: %v, %v; want its 503", resp, err)
	}
	if n := called("a.test"); n != 2 {
		t.Fatalf("a.test was called %d times after its open period, want 2", n)
	}
	if n := reg.Len(); n > 2 {
		t.Fatalf("%d pipelines in the registry, want at most MaxKeys 2", n)
	}
	if st := reg.Stats(); st.Refused != 3 || st.EvictedHeld < 2 {
		t.Fatalf("registry stats %+v: want 3 refused requests and the open pipelines evicted as held", st)
	}
}
