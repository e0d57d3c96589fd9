package fuseboxhttp_test

import (
	"errors"
	"net/http"
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
