package chaos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fusebox-go/fusebox/clock"
	"github.com/fusebox-go/fusebox/internal/testwait"
)

const backendBody = "0123456789abcdefghijklmnopqrstuvwxyz"

// backend is an httptest server that counts its requests.
func backend(t *testing.T) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		_, _ = io.WriteString(w, backendBody)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

// chaosClient returns a client whose transport injects inj's faults over
// a transport of its own, closed at cleanup.
func chaosClient(t *testing.T, inj *Injector) *http.Client {
	t.Helper()
	c := &http.Client{Transport: NewRoundTripper(&http.Transport{}, inj)}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// isReset reports whether err is what a client sees of a connection reset
// in the middle of a response.
func isReset(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "connection reset") || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET))
}

func get(ctx context.Context, t *testing.T, c *http.Client, url string) (*http.Response, string, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, string(b), err
}

func TestRoundTripperPassThrough(t *testing.T) {
	srv, hits := backend(t)
	for _, inj := range []*Injector{nil, newInjector(t, Config{}), newInjector(t, Config{Disabled: true, Fault: Fault{Error: ErrorFault{Probability: 1}}})} {
		resp, body, err := get(context.Background(), t, chaosClient(t, inj), srv.URL)
		if err != nil || resp.StatusCode != 200 || body != backendBody {
			t.Fatalf("pass-through: %v %v %q", err, resp, body)
		}
	}
	if hits.Load() != 3 {
		t.Fatalf("backend hits %d, want 3", hits.Load())
	}
}

func TestRoundTripperError(t *testing.T) {
	srv, hits := backend(t)
	inj := newInjector(t, Config{Fault: Fault{Seed: 1, Error: ErrorFault{Probability: 1, Message: "dial tcp: connection refused"}}})
	_, _, err := get(context.Background(), t, chaosClient(t, inj), srv.URL)
	if !errors.Is(err, ErrInjected) || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("error %v", err)
	}
	if hits.Load() != 0 {
		t.Fatal("the request reached the backend")
	}
}

func TestRoundTripperStatus(t *testing.T) {
	srv, hits := backend(t)
	inj := newInjector(t, Config{Fault: Fault{Seed: 1, Status: StatusFault{Probability: 1, Code: 503, Body: "maintenance"}}})
	resp, body, err := get(context.Background(), t, chaosClient(t, inj), srv.URL)
	if err != nil || resp.StatusCode != 503 || body != "maintenance" || resp.Header.Get(FaultHeader) != "status" ||
		resp.Status != "503 Service Unavailable" {
		t.Fatalf("%v %+v %q", err, resp, body)
	}
	// The default code and body.
	_ = inj.Set(Fault{Seed: 1, Status: StatusFault{Probability: 1}})
	resp, body, err = get(context.Background(), t, chaosClient(t, inj), srv.URL)
	if err != nil || resp.StatusCode != 500 || body != "Internal Server Error\n" {
		t.Fatalf("%v %+v %q", err, resp, body)
	}
	if hits.Load() != 0 {
		t.Fatal("the request reached the backend")
	}
}

func TestRoundTripperLatency(t *testing.T) {
	srv, hits := backend(t)
	clk := clock.NewFake(time.Time{})
	inj := newInjector(t, Config{Clock: clk, Fault: Fault{Seed: 1, Latency: LatencyFault{Probability: 1, Duration: 2 * time.Second}}})
	c := chaosClient(t, inj)
	type result struct {
		body string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		_, body, err := get(context.Background(), t, c, srv.URL)
		done <- result{body, err}
	}()
	testwait.Timers(t, clk, 1, "the injected latency's timer")
	if hits.Load() != 0 {
		t.Fatal("sent before the latency passed")
	}
	clk.Advance(2 * time.Second)
	if r := <-done; r.err != nil || r.body != backendBody || hits.Load() != 1 {
		t.Fatalf("%+v, hits %d", r, hits.Load())
	}
	// The request's context ends the wait.
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		_, _, err := get(ctx, t, c, srv.URL)
		done <- result{err: err}
	}()
	testwait.Timers(t, clk, 1, "the injected latency's timer")
	cancel()
	if r := <-done; !errors.Is(r.err, context.Canceled) || hits.Load() != 1 {
		t.Fatalf("%+v, hits %d", r, hits.Load())
	}
}

func TestRoundTripperReset(t *testing.T) {
	srv, hits := backend(t)
	for _, after := range []int{0, 10, len(backendBody) + 5} {
		inj := newInjector(t, Config{Fault: Fault{Seed: 1, Reset: ResetFault{Probability: 1, AfterBytes: after}}})
		resp, body, err := get(context.Background(), t, chaosClient(t, inj), srv.URL)
		if resp == nil || resp.StatusCode != 200 {
			t.Fatalf("AfterBytes %d: response %v, %v", after, resp, err)
		}
		if !errors.Is(err, syscall.ECONNRESET) || !strings.Contains(err.Error(), "connection reset by peer") {
			t.Fatalf("AfterBytes %d: body error %v", after, err)
		}
		if want := backendBody[:min(after, len(backendBody))]; body != want {
			t.Fatalf("AfterBytes %d: body %q, want %q", after, body, want)
		}
	}
	if hits.Load() != 3 {
		t.Fatalf("backend hits %d, want 3 (a reset request is sent)", hits.Load())
	}
}

// getWithin sends a GET to url through c under a timeout of d and returns
// how long it took and its error. The clock starts before the deadline is
// armed, so a request held until its context ends takes at least d however
// late this goroutine runs on a loaded machine (measured from after the
// deadline was set, it took 19.6ms of a 20ms timeout once); the upper bound
// is testwait.Limit, past which the test fails as a request that outlived
// its context.
func getWithin(t *testing.T, c *http.Client, url string, d time.Duration) (time.Duration, error) {
	t.Helper()
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		took time.Duration
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := c.Do(req)
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		done <- result{time.Since(start), err}
	}()
	r := testwait.Recv(t, done, fmt.Sprintf("a request under a %v timeout to end", d))
	return r.took, r.err
}

func TestRoundTripperBlackhole(t *testing.T) {
	srv, hits := backend(t)
	inj := newInjector(t, Config{Fault: Fault{Seed: 1, Blackhole: BlackholeFault{Probability: 1}}})
	took, err := getWithin(t, chaosClient(t, inj), srv.URL, 20*time.Millisecond)
	if !errors.Is(err, context.DeadlineExceeded) || took < 20*time.Millisecond {
		t.Fatalf("error %v after %v, want context.DeadlineExceeded after at least the 20ms timeout", err, took)
	}
	if hits.Load() != 0 || inj.Snapshot().Blackholes != 1 {
		t.Fatal("the request reached the backend")
	}
}

type closeRecorder struct {
	io.Reader
	closed atomic.Bool
}

func (c *closeRecorder) Close() error { c.closed.Store(true); return nil }

func TestRoundTripperClosesBodyItDoesNotSend(t *testing.T) {
	srv, _ := backend(t)
	for _, f := range []Fault{
		{Seed: 1, Error: ErrorFault{Probability: 1}},
		{Seed: 1, Status: StatusFault{Probability: 1}},
	} {
		inj := newInjector(t, Config{Fault: f})
		body := &closeRecorder{Reader: strings.NewReader("payload")}
		req, _ := http.NewRequest(http.MethodPost, srv.URL, body)
		resp, err := NewRoundTripper(nil, inj).RoundTrip(req)
		if resp != nil {
			resp.Body.Close()
		}
		_ = err
		if !body.closed.Load() {
			t.Fatalf("%+v: request body not closed", f)
		}
	}
}

type idleCloser struct {
	http.RoundTripper
	closed bool
}

func (c *idleCloser) CloseIdleConnections() { c.closed = true }

func TestRoundTripperCloseIdleConnections(t *testing.T) {
	base := &idleCloser{}
	c := &http.Client{Transport: NewRoundTripper(base, nil)}
	c.CloseIdleConnections()
	if !base.closed {
		t.Fatal("CloseIdleConnections did not reach the base transport")
	}
}

// hello is a handler that answers 200 with backendBody and counts.
func hello(hits *atomic.Int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		_, _ = io.WriteString(w, backendBody)
	})
}

func TestMiddlewareWithRecorder(t *testing.T) {
	clk := clock.NewFake(time.Time{})
	for _, tc := range []struct {
		name   string
		f      Fault
		code   int
		body   string
		header string
		ran    bool
	}{
		{"none", Fault{}, 200, backendBody, "", true},
		{"error", Fault{Error: ErrorFault{Probability: 1, Message: "boom"}}, 500, "boom\n", "error", false},
		{"status", Fault{Status: StatusFault{Probability: 1, Code: 429, Body: "slow down"}}, 429, "slow down", "status", false},
		{"status default", Fault{Status: StatusFault{Probability: 1}}, 500, "Internal Server Error\n", "status", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.f.Seed = 1
			var hits atomic.Int64
			h := Middleware(newInjector(t, Config{Clock: clk, Fault: tc.f}))(hello(&hits))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
			if rec.Code != tc.code || rec.Body.String() != tc.body || rec.Header().Get(FaultHeader) != tc.header || (hits.Load() == 1) != tc.ran {
				t.Fatalf("got %d %q header %q ran %v", rec.Code, rec.Body.String(), rec.Header().Get(FaultHeader), hits.Load() == 1)
			}
		})
	}
}

func TestMiddlewareLatency(t *testing.T) {
	clk := clock.NewFake(time.Time{})
	var hits atomic.Int64
	inj := newInjector(t, Config{Clock: clk, Fault: Fault{Seed: 1, Latency: LatencyFault{Probability: 1, Duration: time.Second}}})
	h := Middleware(inj)(hello(&hits))
	rec := httptest.NewRecorder()
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	}()
	testwait.Timers(t, clk, 1, "the injected latency's timer")
	if hits.Load() != 0 {
		t.Fatal("handler ran before the latency passed")
	}
	clk.Advance(time.Second)
	<-done
	if rec.Code != 200 || hits.Load() != 1 {
		t.Fatalf("code %d hits %d", rec.Code, hits.Load())
	}
	// A client that leaves during the latency gets nothing, and the
	// handler does not run.
	ctx, cancel := context.WithCancel(context.Background())
	rec = httptest.NewRecorder()
	done = make(chan struct{})
	go func() {
		defer close(done)
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil).WithContext(ctx))
	}()
	testwait.Timers(t, clk, 1, "the injected latency's timer")
	cancel()
	<-done
	if hits.Load() != 1 || rec.Body.Len() != 0 {
		t.Fatalf("hits %d body %q", hits.Load(), rec.Body.String())
	}
}

func TestMiddlewareBlackhole(t *testing.T) {
	var hits atomic.Int64
	inj := newInjector(t, Config{Fault: Fault{Seed: 1, Blackhole: BlackholeFault{Probability: 1}}})
	srv := httptest.NewServer(Middleware(inj)(hello(&hits)))
	defer srv.Close()
	c := &http.Client{Transport: &http.Transport{}}
	defer c.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, _, err := get(ctx, t, c, srv.URL)
	if !errors.Is(err, context.DeadlineExceeded) || hits.Load() != 0 {
		t.Fatalf("error %v hits %d", err, hits.Load())
	}
	// srv.Close waits for the blackholed handler: it returns because the
	// client's leaving ended the request's context.
}

func TestMiddlewareReset(t *testing.T) {
	long := strings.Repeat("x", 64<<10)
	for _, tc := range []struct {
		name    string
		after   int
		handler http.HandlerFunc
		// cut says whether the cut comes while the handler writes (its
		// later writes fail) or only once it returns.
		cut bool
	}{
		{"mid body", 100, func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, long) }, true},
		{"after headers", 0, func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, long) }, true},
		{"short body with content length", 1000, func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Length", "9")
			_, _ = io.WriteString(w, "hello")
		}, false},
		{"handler writes nothing", 10, func(http.ResponseWriter, *http.Request) {}, false},
		// The flush sends the header: the reset's, without the
		// Content-Length that would let the body arrive whole.
		{"flush before a body as long as its content length", 1000, func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Length", "5")
			w.(http.Flusher).Flush()
			_, _ = io.WriteString(w, "hello")
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inj := newInjector(t, Config{Fault: Fault{Seed: 1, Reset: ResetFault{Probability: 1, AfterBytes: tc.after}}})
			var writeErr atomic.Value
			handled := make(chan struct{})
			srv := httptest.NewServer(Middleware(inj)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				defer close(handled)
				tc.handler(w, r)
				if _, err := io.WriteString(w, "more"); err != nil {
					writeErr.Store(err)
				}
			})))
			defer srv.Close()
			c := &http.Client{Transport: &http.Transport{}}
			defer c.CloseIdleConnections()
			resp, body, err := get(context.Background(), t, c, srv.URL)
			if !isReset(err) {
				t.Fatalf("response %v, body %d bytes, error %v; want a connection reset", resp, len(body), err)
			}
			if len(body) > tc.after {
				t.Fatalf("got %d body bytes, more than AfterBytes %d", len(body), tc.after)
			}
			<-handled // httptest.Server.Close does not wait for hijacked connections
			if failed := writeErr.Load() != nil; failed != tc.cut {
				t.Fatalf("the handler's late write failed: %v, want %v", failed, tc.cut)
			}
		})
	}
}

func TestMiddlewareResetWithoutHijackAborts(t *testing.T) {
	inj := newInjector(t, Config{Fault: Fault{Seed: 1, Reset: ResetFault{Probability: 1, AfterBytes: 3}}})
	var hits atomic.Int64
	h := Middleware(inj)(hello(&hits))
	rec := httptest.NewRecorder() // cannot be hijacked
	defer func() {
		if p := recover(); p != http.ErrAbortHandler {
			t.Fatalf("recovered %v, want http.ErrAbortHandler", p)
		}
		if rec.Body.String() != backendBody[:3] {
			t.Fatalf("body %q before the abort", rec.Body.String())
		}
	}()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
}
