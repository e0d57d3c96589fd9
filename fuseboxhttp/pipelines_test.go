package fuseboxhttp_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/breaker"
	"github.com/fusebox-go/fusebox/clock"
	"github.com/fusebox-go/fusebox/dashboard"
	"github.com/fusebox-go/fusebox/fallback"
	"github.com/fusebox-go/fusebox/fuseboxhttp"
	"github.com/fusebox-go/fusebox/registry"
)

// perHostBreakers is a factory of one breaker per key.
func perHostBreakers(t testing.TB, fake clock.Clock) func(string) (*fusebox.Pipeline, error) {
	t.Helper()
	return func(key string) (*fusebox.Pipeline, error) {
		br, err := breaker.New(breaker.Config{Name: key, ConsecutiveFailures: 2, OpenDuration: time.Hour, Clock: fake})
		if err != nil {
			return nil, err
		}
		return fusebox.New(br)
	}
}

// rangeKeys returns the keys Range visits, sorted, with their breakers.
func rangeKeys(rt *fuseboxhttp.RoundTripper) ([]string, map[string]*breaker.Breaker) {
	var keys []string
	brs := map[string]*breaker.Breaker{}
	rt.Range(func(key string, p *fusebox.Pipeline) bool {
		keys = append(keys, key)
		brs[key], _ = p.Policies()[0].(*breaker.Breaker)
		return true
	})
	sort.Strings(keys)
	return keys, brs
}

// Range and Snapshot reach the per-host pipelines, whether WithPipeline or
// WithRegistry built them.
func TestRoundTripperRangeAndSnapshot(t *testing.T) {
	fake := clock.NewFake(time.Time{})
	a := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {})
	b := newTestServer(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) })
	reg, err := registry.New(registry.Config[*fusebox.Pipeline]{New: perHostBreakers(t, fake), Clock: fake})
	if err != nil {
		t.Fatal(err)
	}
	for _, opt := range []struct {
		name string
		opt  fuseboxhttp.Option
	}{
		{"WithPipeline", fuseboxhttp.WithPipeline(perHostBreakers(t, fake))},
		{"WithRegistry", fuseboxhttp.WithRegistry(reg)},
	} {
		t.Run(opt.name, func(t *testing.T) {
			rt, err := fuseboxhttp.NewRoundTripper(newBase(t), opt.opt)
			if err != nil {
				t.Fatal(err)
			}
			if keys, _ := rangeKeys(rt); len(keys) != 0 {
				t.Fatalf("before any request Range visits %q, want nothing", keys)
			}
			c := newClient(t, rt)
			for i := 0; i < 2; i++ {
				for _, s := range []*testServer{a, b} {
					if _, _, err := get(t, c, s.URL); err != nil {
						t.Fatal(err)
					}
				}
			}
			keys, brs := rangeKeys(rt)
			want := []string{a.URL, b.URL}
			sort.Strings(want)
			if strings.Join(keys, " ") != strings.Join(want, " ") {
				t.Fatalf("Range visits %q, want %q", keys, want)
			}
			if st := brs[b.URL].State(); st != breaker.Open {
				t.Fatalf("the failing host's breaker, reached through Range, is %v, want open", st)
			}
			if st := brs[a.URL].State(); st != breaker.Closed {
				t.Fatalf("the healthy host's breaker is %v, want closed", st)
			}
			// Range stops when fn says so.
			n := 0
			rt.Range(func(string, *fusebox.Pipeline) bool { n++; return false })
			if n != 1 {
				t.Fatalf("Range went on after false: %d calls", n)
			}

			members := rt.Snapshot()
			if len(members) != 2 || members[0].Key != want[0] || members[1].Key != want[1] {
				t.Fatalf("Snapshot = %+v, want the two hosts, sorted", members)
			}
			for _, m := range members {
				layers, ok := m.Value.([]any)
				if !ok || len(layers) != 1 {
					t.Fatalf("member %s: Value %#v, want one layer's snapshot", m.Key, m.Value)
				}
				s, ok := layers[0].(breaker.Snapshot)
				if !ok {
					t.Fatalf("member %s: layer %T, want a breaker.Snapshot", m.Key, layers[0])
				}
				if open := s.State == breaker.Open; open != (m.Key == b.URL) || m.Kept != open {
					t.Fatalf("member %s: state %v, kept %v", m.Key, s.State, m.Kept)
				}
			}
		})
	}

	// Without a factory every request shares the empty pipeline: nothing
	// to see.
	rt, err := fuseboxhttp.NewRoundTripper(newBase(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := get(t, newClient(t, rt), a.URL); err != nil {
		t.Fatal(err)
	}
	if keys, _ := rangeKeys(rt); len(keys) != 0 || len(rt.Snapshot()) != 0 {
		t.Fatalf("without a factory Range visits %q, Snapshot %v; want nothing", keys, rt.Snapshot())
	}
}

// A RoundTripper built with WithPipeline is a dashboard Source: its
// per-host breakers are rows, and an operator action reaches them.
func TestRoundTripperIsDashboardSource(t *testing.T) {
	fake := clock.NewFake(time.Time{})
	host := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {})
	rt, err := fuseboxhttp.NewRoundTripper(newBase(t), fuseboxhttp.WithPipeline(perHostBreakers(t, fake)))
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, rt)
	if _, _, err := get(t, c, host.URL); err != nil {
		t.Fatal(err)
	}
	const token = "0123456789abcdef"
	d, err := dashboard.New(dashboard.Config{Sources: []dashboard.Source{rt}, Actions: true, Token: token, Clock: fake})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	row := host.URL + "/breaker"
	var found bool
	for _, p := range d.Status().Policies {
		if p.Name == row && p.Kind == dashboard.KindBreaker && p.State == "closed" {
			found = true
		}
	}
	if !found {
		t.Fatalf("dashboard rows %+v: want %s, a closed breaker", d.Status().Policies, row)
	}

	req := httptest.NewRequest(http.MethodPost, "/actions", strings.NewReader(`{"policy":"`+row+`","action":"force-open"}`))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	d.ServeHTTP(w, req)
	if w.Code != http.StatusOK {
		body, _ := io.ReadAll(w.Body)
		t.Fatalf("force-open through the dashboard: %d %s", w.Code, body)
	}
	before := host.requests.Load()
	if _, _, err := get(t, c, host.URL); !errors.Is(err, fusebox.ErrOpen) {
		t.Fatalf("after the dashboard forced the breaker open: %v, want ErrOpen", err)
	}
	if host.requests.Load() != before {
		t.Fatal("a request reached the host whose breaker the dashboard forced open")
	}
}

// A fallback in a RoundTripper's shared pipeline sees the request's key,
// and its response comes back with the failure it replaced as the cause.
func TestRoundTripperFallbackSeesKey(t *testing.T) {
	down := newTestServer(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusBadGateway) })
	var seen []string
	fb, err := fallback.New(fallback.Config{Func: func(ctx context.Context, err error) (any, error) {
		k, _ := fusebox.CallKeyFromContext(ctx)
		seen = append(seen, k)
		return &http.Response{StatusCode: http.StatusOK, Header: http.Header{"X-Degraded": {err.Error()}}, Body: http.NoBody}, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, mustRT(t, newBase(t), fixed(t, fb)))
	resp, _, err := get(t, c, down.URL+"/users/1")
	if err != nil || resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("X-Degraded"), "502") {
		t.Fatalf("GET through the fallback: %v, %v; want the fallback's 200 marked with the 502", resp, err)
	}
	// The caller's own key wins.
	req, _ := http.NewRequestWithContext(fusebox.WithCallKey(context.Background(), "user 1"), http.MethodGet, down.URL, nil)
	if _, _, err := do(t, c, req); err != nil {
		t.Fatal(err)
	}
	if want := down.URL + ",user 1"; strings.Join(seen, ",") != want {
		t.Fatalf("the fallback saw keys %q, want %q", seen, want)
	}
}
