package fuseboxhttp_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/breaker"
	"github.com/fusebox-go/fusebox/clock"
	"github.com/fusebox-go/fusebox/fuseboxhttp"
	"github.com/fusebox-go/fusebox/timeout"
)

// recordingRT remembers the requests it passes on to next.
type recordingRT struct {
	next http.RoundTripper
	mu   sync.Mutex
	reqs []*http.Request
}

func (r *recordingRT) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.reqs = append(r.reqs, req)
	r.mu.Unlock()
	return r.next.RoundTrip(req)
}

func (r *recordingRT) last() *http.Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reqs[len(r.reqs)-1]
}

// An attempt that changes nothing sends the caller's request itself; one
// whose context a policy derived (a timeout) sends a copy carrying that
// context and the deadline header, leaving the caller's request as it was.
func TestRoundTripperCopiesTheRequestOnlyWhenItChanges(t *testing.T) {
	ts := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Header.Get(fuseboxhttp.DefaultDeadlineHeader))
	})
	rec := &recordingRT{next: newBase(t)}
	send := func(rt http.RoundTripper, req *http.Request) string {
		t.Helper()
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return string(body)
	}

	plain := mustRT(t, rec, fixed(t, newBreaker(t, breaker.Config{}), quickRetry(t, 2)))
	req, _ := http.NewRequest(http.MethodGet, ts.URL, nil)
	if got := send(plain, req); got != "" {
		t.Fatalf("deadline header %q without a deadline, want none", got)
	}
	if rec.last() != req {
		t.Fatal("an attempt with the caller's own context sent a copy of the request, want the request itself")
	}

	to, err := timeout.New(timeout.Config{Timeout: 5 * time.Second, Clock: clock.Real()})
	if err != nil {
		t.Fatal(err)
	}
	timed := mustRT(t, rec, fixed(t, to))
	req, _ = http.NewRequest(http.MethodGet, ts.URL, nil)
	got := send(timed, req)
	sent := rec.last()
	if sent == req {
		t.Fatal("an attempt under a timeout sent the caller's request, want a copy carrying the timeout's context")
	}
	if _, ok := sent.Context().Deadline(); !ok {
		t.Fatal("the copy sent under a timeout has no deadline")
	}
	if got == "" || req.Header.Get(fuseboxhttp.DefaultDeadlineHeader) != "" {
		t.Fatalf("deadline header %q sent, caller's request has %q; want it sent and the caller's request untouched",
			got, req.Header.Get(fuseboxhttp.DefaultDeadlineHeader))
	}
}

// answeringRT answers every request itself with 200 and the request's URL:
// a transport for tests of keying, which need no network.
type answeringRT struct{}

func (answeringRT) RoundTrip(req *http.Request) (*http.Response, error) {
	body := req.URL.String()
	return &http.Response{
		StatusCode: 200, Header: http.Header{}, ContentLength: int64(len(body)),
		Body: io.NopCloser(strings.NewReader(body)), Request: req,
	}, nil
}

// keyTag records, on every call, the key of the pipeline it belongs to.
type keyTag struct {
	key string
	ran *counter
}

func (k keyTag) Run(ctx context.Context, next fusebox.Next) error {
	k.ran.add(k.key)
	return next.Run(ctx)
}

// Requests find their key's pipeline, also when they spell the host in
// another case, and http and https of one host are two keys; the factory
// runs once per key however often a host is seen.
func TestRoundTripperDefaultKeyCache(t *testing.T) {
	var built, ran counter
	factory := func(key string) (*fusebox.Pipeline, error) {
		built.add(key)
		return fusebox.New(keyTag{key: key, ran: &ran})
	}
	rt := mustRT(t, answeringRT{}, fuseboxhttp.WithPipeline(factory))
	urls := []struct{ url, key string }{
		{"http://api.example.com/a", "http://api.example.com"},
		{"http://API.Example.com/b", "http://api.example.com"},
		{"https://api.example.com/c", "https://api.example.com"},
		{"HTTPS://api.example.com:443/d", "https://api.example.com:443"},
		{"http://other.example.com:8080/e", "http://other.example.com:8080"},
	}
	var want []string
	for round := 0; round < 3; round++ {
		for _, u := range urls {
			req, err := http.NewRequest(http.MethodGet, u.url, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := rt.RoundTrip(req)
			if err != nil {
				t.Fatalf("%s: %v", u.url, err)
			}
			resp.Body.Close()
			want = append(want, u.key)
		}
	}
	if got := ran.get(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("pipelines run:\n%v\nwant\n%v", got, want)
	}
	wantBuilt := []string{"http://api.example.com", "https://api.example.com", "https://api.example.com:443", "http://other.example.com:8080"}
	if got := built.get(); fmt.Sprint(got) != fmt.Sprint(wantBuilt) {
		t.Fatalf("factory calls %v, want %v", got, wantBuilt)
	}
}

// A request through the RoundTripper allocates at most one object more
// than through its base: the body that holds a short body read ahead, whose
// bytes go into a pooled buffer. The call's state comes from a pool, and
// the key lookup, the pipeline and the request itself, sent as it came,
// allocate nothing; a body that is not read ahead costs nothing more, nor
// does a call the breaker rejects.
func TestRoundTripperAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop objects at random: pooled state is allocated again")
	}
	req, err := http.NewRequest(http.MethodGet, "http://api.example.com/items", nil)
	if err != nil {
		t.Fatal(err)
	}
	allocs := func(rt http.RoundTripper, wantErr bool) float64 {
		return testing.AllocsPerRun(200, func() {
			resp, err := rt.RoundTrip(req)
			if (err != nil) != wantErr {
				t.Fatalf("RoundTrip: %v, %v", resp, err)
			}
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
	bare := allocs(answeringRT{}, false)
	for _, tc := range []struct {
		name string
		rt   http.RoundTripper
		max  float64
	}{
		{"short body read ahead", mustRT(t, answeringRT{}, fuseboxhttp.WithPipeline(breakerRetry)), 1},
		{"no read-ahead", mustRT(t, answeringRT{}, fuseboxhttp.WithPipeline(breakerRetry), fuseboxhttp.WithBodyReadAhead(0)), 0},
	} {
		if extra := allocs(tc.rt, false) - bare; extra > tc.max {
			t.Errorf("%s: the RoundTripper allocates %v objects per request more than its base, want at most %v", tc.name, extra, tc.max)
		}
	}
	open := newBreaker(t, breaker.Config{})
	open.ForceOpen()
	if n := allocs(mustRT(t, answeringRT{}, fixed(t, open, quickRetry(t, 3))), true); n != 0 {
		t.Errorf("a rejected request allocates %v objects, want none", n)
	}
}
