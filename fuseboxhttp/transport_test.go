package fuseboxhttp_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/breaker"
	"github.com/fusebox-go/fusebox/clock"
	"github.com/fusebox-go/fusebox/fallback"
	"github.com/fusebox-go/fusebox/fuseboxhttp"
	"github.com/fusebox-go/fusebox/internal/testwait"
	"github.com/fusebox-go/fusebox/retry"
)

// mustRT builds a RoundTripper or fails the test.
func mustRT(t testing.TB, base http.RoundTripper, opts ...fuseboxhttp.Option) http.RoundTripper {
	t.Helper()
	rt, err := fuseboxhttp.NewRoundTripper(base, opts...)
	if err != nil {
		t.Fatalf("NewRoundTripper: %v", err)
	}
	return rt
}

// fixed is a pipeline factory that hands every key the same pipeline.
func fixed(t testing.TB, policies ...fusebox.Policy) fuseboxhttp.Option {
	t.Helper()
	p, err := fusebox.New(policies...)
	if err != nil {
		t.Fatal(err)
	}
	return fuseboxhttp.WithPipeline(func(string) (*fusebox.Pipeline, error) { return p, nil })
}

// quickRetry retries up to attempts times with a nanosecond of backoff: no
// real waiting.
func quickRetry(t testing.TB, attempts int) *retry.Policy {
	t.Helper()
	r, err := retry.New(retry.Config{MaxAttempts: attempts, Backoff: retry.BackoffConstant, InitialInterval: time.Nanosecond, Clock: clock.Real()})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func newBreaker(t testing.TB, c breaker.Config) *breaker.Breaker {
	t.Helper()
	if c.Clock == nil {
		c.Clock = clock.NewFake(time.Time{})
	}
	b, err := breaker.New(c)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// do sends req with c and returns the response and its whole body.
func do(t testing.TB, c *http.Client, req *http.Request) (*http.Response, string, error) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the body of %s %s: %v", req.Method, req.URL, err)
	}
	return resp, string(body), nil
}

func get(t testing.TB, c *http.Client, url string) (*http.Response, string, error) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return do(t, c, req)
}

// A 5xx is a failure for the breaker, yet the caller gets the server's
// response, body intact; once the breaker opens, calls are rejected with
// ErrOpen and never reach the server.
func TestRoundTripperFailureStatusReachesCallerAndOpensBreaker(t *testing.T) {
	ts := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Server", "yes")
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, "maintenance until noon")
	})
	b := newBreaker(t, breaker.Config{Name: "api", ConsecutiveFailures: 3})
	c := newClient(t, mustRT(t, ts.Client().Transport, fixed(t, b)))

	for i := 1; i <= 3; i++ {
		resp, body, err := get(t, c, ts.URL)
		if err != nil {
			t.Fatalf("call %d: %v, want the 503 response", i, err)
		}
		if resp.StatusCode != 503 || body != "maintenance until noon" || resp.Header.Get("X-Server") != "yes" {
			t.Fatalf("call %d: %d %q (X-Server %q), want the server's 503 intact", i, resp.StatusCode, body, resp.Header.Get("X-Server"))
		}
	}
	if s := b.Snapshot(); s.State != breaker.Open || s.TotalFailures != 3 {
		t.Fatalf("breaker after three 503s: state %v, %d failures; want open after 3", s.State, s.TotalFailures)
	}

	resp, _, err := get(t, c, ts.URL)
	if resp != nil {
		t.Fatalf("rejected call returned a response %d", resp.StatusCode)
	}
	if !errors.Is(err, fusebox.ErrOpen) || !errors.Is(err, breaker.ErrOpen) {
		t.Fatalf("call to an open breaker: %v, want ErrOpen", err)
	}
	var oe *breaker.OpenError
	if !errors.As(err, &oe) || oe.RetryAfter() <= 0 {
		t.Fatalf("error %v: want an *breaker.OpenError with a RetryAfter", err)
	}
	if n := ts.requests.Load(); n != 3 {
		t.Fatalf("server saw %d requests, want 3: none while the breaker is open", n)
	}
}

// Successes and statuses outside the failure set are successes for the
// breaker.
func TestRoundTripperSuccessStatuses(t *testing.T) {
	var status atomic.Int64
	ts := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(int(status.Load()))
	})
	b := newBreaker(t, breaker.Config{ConsecutiveFailures: 1})
	c := newClient(t, mustRT(t, ts.Client().Transport, fixed(t, b)))
	for _, code := range []int{200, 204, 301, 400, 401, 404, 409, 501} {
		status.Store(int64(code))
		resp, _, err := get(t, c, ts.URL)
		if err != nil || resp.StatusCode != code {
			t.Fatalf("status %d: %v, %v", code, resp, err)
		}
		if b.State() != breaker.Closed {
			t.Fatalf("status %d opened the breaker, want it counted as a success", code)
		}
	}
	if s := b.Snapshot(); s.TotalFailures != 0 {
		t.Fatalf("breaker counted %d failures, want 0", s.TotalFailures)
	}
}

// 408 and 429 are failures by default; WithFailureStatuses can make them
// successes, or add other codes.
func TestRoundTripperFailureStatuses(t *testing.T) {
	tests := []struct {
		name    string
		opts    []fuseboxhttp.Option
		code    int
		failure bool
		retried bool // retry.DefaultRetryable retries it
	}{
		{"429 default", nil, 429, true, true},
		{"408 default", nil, 408, true, true},
		{"500 default", nil, 500, true, true},
		{"502 default", nil, 502, true, true},
		{"504 default", nil, 504, true, true},
		{"501 default", nil, 501, false, false},
		{"429 excluded", []fuseboxhttp.Option{fuseboxhttp.WithFailureStatuses(500, 502, 503, 504)}, 429, false, false},
		{"408 excluded", []fuseboxhttp.Option{fuseboxhttp.WithFailureStatuses(500, 502, 503, 504)}, 408, false, false},
		{"503 still", []fuseboxhttp.Option{fuseboxhttp.WithFailureStatuses(500, 502, 503, 504)}, 503, true, true},
		{"404 added", []fuseboxhttp.Option{fuseboxhttp.WithFailureStatuses(404)}, 404, true, false},
		{"none", []fuseboxhttp.Option{fuseboxhttp.WithFailureStatuses()}, 503, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.code)
				io.WriteString(w, "body")
			})
			b := newBreaker(t, breaker.Config{ConsecutiveFailures: 1})
			c := newClient(t, mustRT(t, ts.Client().Transport, append(tt.opts, fixed(t, b, quickRetry(t, 3)))...))
			resp, body, err := get(t, c, ts.URL)
			if err != nil || resp.StatusCode != tt.code || body != "body" {
				t.Fatalf("GET: %v, %q, %v; want the %d response", resp, body, err, tt.code)
			}
			wantRequests, wantState := int64(1), breaker.Closed
			if tt.failure {
				wantState = breaker.Open
			}
			if tt.retried {
				wantRequests = 3
			}
			if n := ts.requests.Load(); n != wantRequests {
				t.Errorf("server saw %d requests, want %d", n, wantRequests)
			}
			if s := b.State(); s != wantState {
				t.Errorf("breaker %v, want %v", s, wantState)
			}
		})
	}
}

// bodyServer fails the first `failures` requests with 503 and answers 200
// after; every request's body is recorded.
type bodyServer struct {
	*testServer
	mu     sync.Mutex
	bodies []string
}

func newBodyServer(t *testing.T, failures int64) *bodyServer {
	bs := &bodyServer{}
	bs.testServer = newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		bs.mu.Lock()
		bs.bodies = append(bs.bodies, string(b))
		n := int64(len(bs.bodies))
		bs.mu.Unlock()
		if n <= failures {
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, "try again")
			return
		}
		io.WriteString(w, "done")
	})
	return bs
}

func (bs *bodyServer) got() []string {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	return append([]string(nil), bs.bodies...)
}

// opaqueReader hides its type, so http.NewRequest cannot set GetBody.
type opaqueReader struct{ io.Reader }

func TestRoundTripperRetriesOnlyIdempotentRequests(t *testing.T) {
	tests := []struct {
		name     string
		method   string
		body     io.Reader
		header   string // a header to set, "name: value"
		opts     []fuseboxhttp.Option
		requests int
		status   int
	}{
		{"GET", http.MethodGet, nil, "", nil, 3, 200},
		{"HEAD", http.MethodHead, nil, "", nil, 3, 200},
		{"OPTIONS", http.MethodOptions, nil, "", nil, 3, 200},
		{"DELETE", http.MethodDelete, nil, "", nil, 3, 200},
		{"PUT with body", http.MethodPut, strings.NewReader("payload"), "", nil, 3, 200},
		{"POST", http.MethodPost, strings.NewReader("payload"), "", nil, 1, 503},
		{"PATCH", http.MethodPatch, strings.NewReader("payload"), "", nil, 1, 503},
		{"POST with Idempotency-Key", http.MethodPost, strings.NewReader("payload"), "Idempotency-Key: k1", nil, 3, 200},
		{"POST with Idempotency-Key, empty", http.MethodPost, strings.NewReader("payload"), "Idempotency-Key: ", nil, 3, 200},
		{"POST with Idempotency-Key, no GetBody", http.MethodPost, opaqueReader{strings.NewReader("payload")}, "Idempotency-Key: k1", nil, 1, 503},
		{"PUT, no GetBody", http.MethodPut, opaqueReader{strings.NewReader("payload")}, "", nil, 1, 503},
		{"POST with custom header", http.MethodPost, strings.NewReader("payload"), "X-Request-Id: 7", []fuseboxhttp.Option{fuseboxhttp.WithIdempotencyHeader("x-request-id")}, 3, 200},
		{"POST, default header disabled", http.MethodPost, strings.NewReader("payload"), "Idempotency-Key: k1", []fuseboxhttp.Option{fuseboxhttp.WithIdempotencyHeader("")}, 1, 503},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bs := newBodyServer(t, 2)
			b := newBreaker(t, breaker.Config{})
			c := newClient(t, mustRT(t, bs.Client().Transport, append(tt.opts, fixed(t, b, quickRetry(t, 3)))...))
			req, err := http.NewRequest(tt.method, bs.URL, tt.body)
			if err != nil {
				t.Fatal(err)
			}
			if tt.header != "" {
				k, v, _ := strings.Cut(tt.header, ": ")
				req.Header[http.CanonicalHeaderKey(k)] = []string{v}
			}
			resp, _, err := do(t, c, req)
			if err != nil {
				t.Fatalf("%s: %v, want a response", tt.method, err)
			}
			if resp.StatusCode != tt.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.status)
			}
			bodies := bs.got()
			if len(bodies) != tt.requests {
				t.Fatalf("server saw %d requests, want %d", len(bodies), tt.requests)
			}
			if tt.body != nil {
				for i, got := range bodies {
					if got != "payload" {
						t.Errorf("attempt %d sent body %q, want the body replayed: %q", i+1, got, "payload")
					}
				}
			}
			// One call for the breaker, retried or not.
			if s := b.Snapshot(); s.TotalCalls != 1 {
				t.Errorf("breaker saw %d calls, want 1", s.TotalCalls)
			}
		})
	}
}

// The retry waits as long as the server's Retry-After says, on the retry
// policy's clock.
func TestRoundTripperHonorsRetryAfter(t *testing.T) {
	var n atomic.Int64
	ts := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		io.WriteString(w, "ok")
	})
	fake := clock.NewFake(time.Time{})
	rp, err := retry.New(retry.Config{MaxAttempts: 2, Backoff: retry.BackoffConstant, InitialInterval: time.Millisecond, Clock: fake})
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, mustRT(t, ts.Client().Transport, fixed(t, rp)))

	type result struct {
		resp *http.Response
		body string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, body, err := get(t, c, ts.URL)
		done <- result{resp, body, err}
	}()
	testwait.Timers(t, fake, 1, "the retry's wait")
	fake.Advance(6 * time.Second)
	select {
	case r := <-done:
		t.Fatalf("the retry went after 6s: %v %v, want it to wait the 7s of Retry-After", r.resp, r.err)
	default:
	}
	if fake.Timers() != 1 || n.Load() != 1 {
		t.Fatalf("after 6s: %d timers, %d requests; want 1 timer still pending, 1 request", fake.Timers(), n.Load())
	}
	fake.Advance(time.Second)
	r := testwait.Recv(t, done, "the retried call")
	if r.err != nil || r.resp.StatusCode != 200 || r.body != "ok" {
		t.Fatalf("retried call: %v %q %v, want 200 ok", r.resp, r.body, r.err)
	}
	if n.Load() != 2 {
		t.Fatalf("server saw %d requests, want 2", n.Load())
	}
}

// Failed attempts release their connections, so retries and later calls
// reuse one connection; the caller still reads the last failure's body in
// full, also when it is larger than what is read ahead.
func TestRoundTripperReusesConnectionsOfFailedAttempts(t *testing.T) {
	for _, size := range []int{0, 10 << 10, 100 << 10} {
		t.Run(fmt.Sprintf("body %d", size), func(t *testing.T) {
			payload := bytes.Repeat([]byte("x"), size)
			ts := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", strconv.Itoa(size))
				w.WriteHeader(http.StatusBadGateway)
				w.Write(payload)
			})
			c := newClient(t, mustRT(t, ts.Client().Transport, fixed(t, quickRetry(t, 3))))
			for i := 0; i < 3; i++ {
				resp, body, err := get(t, c, ts.URL)
				if err != nil || resp.StatusCode != 502 {
					t.Fatalf("call %d: %v %v, want the 502", i, resp, err)
				}
				if body != string(payload) {
					t.Fatalf("call %d: body of %d bytes, want the %d bytes the server sent", i, len(body), size)
				}
			}
			if n := ts.requests.Load(); n != 9 {
				t.Fatalf("server saw %d requests, want 9 (3 calls × 3 attempts)", n)
			}
			if n := ts.conns.Load(); n != 1 {
				t.Fatalf("%d connections for 9 sequential requests, want 1: failed attempts must release theirs", n)
			}
		})
	}
}

// Without a Content-Length (chunked) too, and with concurrent callers the
// pool is not exhausted by failed attempts.
func TestRoundTripperFailedAttemptsDoNotLeakConnections(t *testing.T) {
	ts := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		for i := 0; i < 4; i++ {
			w.Write(bytes.Repeat([]byte("y"), 1000))
			w.(http.Flusher).Flush()
		}
	})
	base := newBase(t)
	base.MaxConnsPerHost = 4
	c := newClient(t, mustRT(t, base, fixed(t, quickRetry(t, 4))))
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Go(func() {
			for i := 0; i < 5; i++ {
				resp, body, err := get(t, c, ts.URL)
				if err != nil || resp.StatusCode != 503 || len(body) != 4000 {
					t.Errorf("GET: %v %v (%d bytes)", resp, err, len(body))
					return
				}
			}
		})
	}
	testwait.Within(t, "40 calls over 4 connections", wg.Wait)
	if n := ts.conns.Load(); n > 4 {
		t.Fatalf("%d connections, want at most 4", n)
	}
}

func TestRoundTripperDeadlineHeader(t *testing.T) {
	var mu sync.Mutex
	var got []string
	ts := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, strings.Join(r.Header.Values(fuseboxhttp.DefaultDeadlineHeader), ",")+"|"+strings.Join(r.Header.Values("X-Budget"), ","))
		mu.Unlock()
	})
	last := func() string {
		mu.Lock()
		defer mu.Unlock()
		return got[len(got)-1]
	}

	c := newClient(t, mustRT(t, ts.Client().Transport))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ts.URL, nil)
	req.Header.Set("X-Caller", "kept")
	if _, _, err := do(t, c, req); err != nil {
		t.Fatal(err)
	}
	v, _, _ := strings.Cut(last(), "|")
	ms, err := strconv.ParseInt(v, 10, 64)
	if err != nil || ms <= 4000 || ms > 5000 {
		t.Fatalf("deadline header %q, want the milliseconds left of a 5s deadline", v)
	}
	if len(req.Header.Values(fuseboxhttp.DefaultDeadlineHeader)) != 0 {
		t.Fatal("the caller's request was modified: it has the deadline header now")
	}

	// No deadline, no header.
	if _, _, err := get(t, c, ts.URL); err != nil {
		t.Fatal(err)
	}
	if l := last(); l != "|" {
		t.Fatalf("headers without a deadline: %q, want none", l)
	}

	// A header of another name, or none.
	for _, tc := range []struct {
		header, want string
	}{{"X-Budget", "|budget"}, {"", "|"}} {
		c := newClient(t, mustRT(t, ts.Client().Transport, fuseboxhttp.WithDeadlineHeader(tc.header)))
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ts.URL, nil)
		if _, _, err := do(t, c, req); err != nil {
			t.Fatal(err)
		}
		l := last()
		if tc.want == "|budget" {
			if !strings.HasPrefix(l, "|") || len(l) < 2 {
				t.Fatalf("WithDeadlineHeader(%q): headers %q, want the budget in X-Budget only", tc.header, l)
			}
		} else if l != tc.want {
			t.Fatalf("WithDeadlineHeader(%q): headers %q, want %q", tc.header, l, tc.want)
		}
	}
}

// A transport error is a failure, retried for an idempotent request.
func TestRoundTripperTransportError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	ln.Close() // connections are now refused

	var attempts atomic.Int64
	rp, err := retry.New(retry.Config{MaxAttempts: 3, Backoff: retry.BackoffConstant, InitialInterval: time.Nanosecond, Clock: clock.Real(),
		OnRetry: func(retry.Attempt) { attempts.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	b := newBreaker(t, breaker.Config{ConsecutiveFailures: 1})
	c := newClient(t, mustRT(t, newBase(t), fixed(t, b, rp)))
	resp, _, err := get(t, c, url)
	if resp != nil || err == nil {
		t.Fatalf("GET of a closed port: %v, %v; want an error", resp, err)
	}
	if !errors.Is(err, fusebox.ErrRetriesExhausted) {
		t.Errorf("error %v, want ErrRetriesExhausted", err)
	}
	if attempts.Load() != 2 {
		t.Errorf("%d retries, want 2", attempts.Load())
	}
	if b.State() != breaker.Open {
		t.Errorf("breaker %v after a transport error, want open", b.State())
	}
	resp, _, err = get(t, c, url)
	if resp != nil || !errors.Is(err, fusebox.ErrOpen) {
		t.Errorf("second GET: %v, %v; want ErrOpen", resp, err)
	}
}

// The caller's cancellation is not a failure of the dependency.
func TestRoundTripperCallerCancellationIsIgnored(t *testing.T) {
	entered := make(chan struct{}, 1)
	ts := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-r.Context().Done()
	})
	b := newBreaker(t, breaker.Config{ConsecutiveFailures: 1})
	c := newClient(t, mustRT(t, ts.Client().Transport, fixed(t, b, quickRetry(t, 3))))
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ts.URL, nil)
	go func() {
		testwait.Recv(t, entered, "the request")
		cancel()
	}()
	resp, _, err := do(t, c, req)
	if resp != nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled call: %v, %v; want context.Canceled", resp, err)
	}
	s := b.Snapshot()
	if s.State != breaker.Closed || s.TotalFailures != 0 || s.TotalIgnored != 1 {
		t.Fatalf("breaker after a canceled call: %v, %d failures, %d ignored; want closed, 0, 1", s.State, s.TotalFailures, s.TotalIgnored)
	}
	if n := ts.requests.Load(); n != 1 {
		t.Fatalf("server saw %d requests, want 1: no retry after the caller canceled", n)
	}
}

// trackingBody records whether it was closed.
type trackingBody struct {
	io.Reader
	closed atomic.Bool
}

func (b *trackingBody) Close() error {
	b.closed.Store(true)
	return nil
}

// A rejected call never hands the body to a transport, so the RoundTripper
// closes it, as the RoundTripper contract requires.
func TestRoundTripperClosesBodyOfRejectedRequest(t *testing.T) {
	ts := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {})
	b := newBreaker(t, breaker.Config{})
	b.ForceOpen()
	c := newClient(t, mustRT(t, ts.Client().Transport, fixed(t, b)))
	body := &trackingBody{Reader: strings.NewReader("payload")}
	req, _ := http.NewRequest(http.MethodPost, ts.URL, body)
	resp, _, err := do(t, c, req)
	if resp != nil || !errors.Is(err, fusebox.ErrOpen) {
		t.Fatalf("POST to a forced-open breaker: %v, %v; want ErrOpen", resp, err)
	}
	if !body.closed.Load() {
		t.Fatal("request body not closed after the rejection")
	}
	if ts.requests.Load() != 0 {
		t.Fatal("the server saw the rejected request")
	}
}

// A fallback policy can answer with a response of its own; the failed
// response is released.
func TestRoundTripperFallbackResponse(t *testing.T) {
	ts := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		io.WriteString(w, "broken")
	})
	fb, err := fallback.New(fallback.Config{Func: func(ctx context.Context, err error) (any, error) {
		return &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(strings.NewReader("cached"))}, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, mustRT(t, ts.Client().Transport, fixed(t, fb, quickRetry(t, 2))))
	for i := 0; i < 3; i++ {
		resp, body, err := get(t, c, ts.URL)
		if err != nil || resp.StatusCode != 200 || body != "cached" {
			t.Fatalf("call %d: %v %q %v, want the fallback's 200 cached", i, resp, body, err)
		}
	}
	if n := ts.conns.Load(); n != 1 {
		t.Fatalf("%d connections, want 1: the failed responses must be released", n)
	}

	// A fallback answering something else than a response is refused: the
	// caller gets the server's answer, or, with no answer (a refused
	// connection), an error naming the type.
	fbString, _ := fallback.New(fallback.Config{Func: fallback.Static("cached")})
	c = newClient(t, mustRT(t, ts.Client().Transport, fixed(t, fbString)))
	if resp, body, err := get(t, c, ts.URL); err != nil || resp.StatusCode != 500 || body != "broken" {
		t.Fatalf("fallback answering a string: %v %q %v, want the server's 500 broken", resp, body, err)
	}
	down := newTestServer(t, func(http.ResponseWriter, *http.Request) {})
	down.Close()
	if resp, _, err := get(t, c, down.URL); resp != nil || err == nil || !strings.Contains(err.Error(), "*http.Response") {
		t.Fatalf("fallback answering a string, no answer: %v, %v; want an error naming *http.Response", resp, err)
	}

	// A fallback answering nil is an error, not a nil response.
	fbNil, _ := fallback.New(fallback.Config{Func: fallback.Static(nil)})
	c = newClient(t, mustRT(t, ts.Client().Transport, fixed(t, fbNil)))
	if resp, _, err := get(t, c, ts.URL); resp != nil || err == nil {
		t.Fatalf("fallback answering nil: %v, %v; want an error", resp, err)
	}
}

// Each key gets its pipeline from one call of the factory, also when many
// first requests race; keys are scheme and host by default.
func TestRoundTripperOnePipelinePerKey(t *testing.T) {
	a := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {})
	b := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {})
	var mu sync.Mutex
	calls := map[string]int{}
	factory := func(key string) (*fusebox.Pipeline, error) {
		mu.Lock()
		calls[key]++
		mu.Unlock()
		time.Sleep(time.Millisecond) // widen the race window
		return fusebox.New()
	}
	c := newClient(t, mustRT(t, newBase(t), fuseboxhttp.WithPipeline(factory)))
	var wg sync.WaitGroup
	for i := 0; i < 32; i++ {
		url := a.URL
		if i%2 == 1 {
			url = b.URL + "/some/path?q=1"
		}
		wg.Go(func() {
			if _, _, err := get(t, c, url); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	want := map[string]int{a.URL: 1, b.URL: 1}
	if fmt.Sprint(calls) != fmt.Sprint(want) {
		t.Fatalf("factory calls by key %v, want %v", calls, want)
	}
}

func TestRoundTripperRouteKey(t *testing.T) {
	ts := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {})
	var keys counter
	factory := func(key string) (*fusebox.Pipeline, error) {
		keys.add(key)
		return fusebox.New()
	}
	c := newClient(t, mustRT(t, ts.Client().Transport, fuseboxhttp.WithPipeline(factory),
		fuseboxhttp.WithRouteKey("/users/{id}", "/users/{id}/orders/{order}", "/static/{path...}")))
	for _, p := range []string{"/users/1", "/users/2", "/users/2/orders/9", "/static/css/site.css", "/static/", "/other", "/users/"} {
		if _, _, err := get(t, c, ts.URL+p); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{ts.URL + "/users/{id}", ts.URL + "/users/{id}/orders/{order}", ts.URL + "/static/{path...}", ts.URL}
	if got := keys.get(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("keys %v, want %v", got, want)
	}
}

func TestRoundTripperKeyFunc(t *testing.T) {
	ts := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {})
	var keys counter
	c := newClient(t, mustRT(t, ts.Client().Transport,
		fuseboxhttp.WithPipeline(func(key string) (*fusebox.Pipeline, error) { keys.add(key); return fusebox.New() }),
		fuseboxhttp.WithKeyFunc(func(r *http.Request) string { return r.Header.Get("X-Tenant") })))
	for _, tenant := range []string{"a", "b", "a"} {
		req, _ := http.NewRequest(http.MethodGet, ts.URL, nil)
		req.Header.Set("X-Tenant", tenant)
		if _, _, err := do(t, c, req); err != nil {
			t.Fatal(err)
		}
	}
	if got := keys.get(); fmt.Sprint(got) != "[a b]" {
		t.Fatalf("keys %v, want [a b]", got)
	}
}

// A factory error fails the request; the next request for the key tries
// the factory again.
func TestRoundTripperFactoryError(t *testing.T) {
	ts := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {})
	errConfig := errors.New("no config for this host")
	var n atomic.Int64
	c := newClient(t, mustRT(t, ts.Client().Transport, fuseboxhttp.WithPipeline(func(key string) (*fusebox.Pipeline, error) {
		switch n.Add(1) {
		case 1:
			return nil, errConfig
		case 2:
			return nil, nil
		}
		return fusebox.New()
	})))
	body := &trackingBody{Reader: strings.NewReader("x")}
	req, _ := http.NewRequest(http.MethodPut, ts.URL, body)
	if _, _, err := do(t, c, req); !errors.Is(err, errConfig) {
		t.Fatalf("first request: %v, want the factory's error", err)
	}
	if !body.closed.Load() {
		t.Error("request body not closed after the factory failed")
	}
	if _, _, err := get(t, c, ts.URL); err == nil || !strings.Contains(err.Error(), "nil pipeline") {
		t.Fatalf("second request: %v, want a nil-pipeline error", err)
	}
	for i := 0; i < 2; i++ {
		if _, _, err := get(t, c, ts.URL); err != nil {
			t.Fatalf("request after the factory recovered: %v", err)
		}
	}
	if n.Load() != 3 {
		t.Fatalf("factory called %d times, want 3", n.Load())
	}
	if ts.requests.Load() != 2 {
		t.Fatalf("server saw %d requests, want 2", ts.requests.Load())
	}
}

func TestNewRoundTripperOptionErrors(t *testing.T) {
	tests := []struct {
		name string
		opts []fuseboxhttp.Option
		want string
	}{
		{"key func and route", []fuseboxhttp.Option{fuseboxhttp.WithKeyFunc(func(*http.Request) string { return "" }), fuseboxhttp.WithRouteKey("/a")}, "both set"},
		{"nil factory", []fuseboxhttp.Option{fuseboxhttp.WithPipeline(nil)}, "WithPipeline(nil)"},
		{"nil key func", []fuseboxhttp.Option{fuseboxhttp.WithKeyFunc(nil)}, "WithKeyFunc(nil)"},
		{"no templates", []fuseboxhttp.Option{fuseboxhttp.WithRouteKey()}, "no templates"},
		{"relative template", []fuseboxhttp.Option{fuseboxhttp.WithRouteKey("users/{id}")}, "does not start with"},
		{"broken wildcard", []fuseboxhttp.Option{fuseboxhttp.WithRouteKey("/users/{id")}, "neither literal nor a wildcard"},
		{"empty wildcard", []fuseboxhttp.Option{fuseboxhttp.WithRouteKey("/users/{}")}, "neither literal nor a wildcard"},
		{"inner rest", []fuseboxhttp.Option{fuseboxhttp.WithRouteKey("/files/{p...}/x")}, "must be the last segment"},
		{"duplicate", []fuseboxhttp.Option{fuseboxhttp.WithRouteKey("/a", "/a")}, "given twice"},
		{"status 99", []fuseboxhttp.Option{fuseboxhttp.WithFailureStatuses(500, 99)}, "status 99 out of range: want 100 to 599"},
		{"status 600", []fuseboxhttp.Option{fuseboxhttp.WithFailureStatuses(600)}, "status 600 out of range"},
		{"idempotency header", []fuseboxhttp.Option{fuseboxhttp.WithIdempotencyHeader("Bad Header")}, "WithIdempotencyHeader(\"Bad Header\")"},
		{"deadline header", []fuseboxhttp.Option{fuseboxhttp.WithDeadlineHeader("X:Y")}, "WithDeadlineHeader(\"X:Y\")"},
		{"nil clock", []fuseboxhttp.Option{fuseboxhttp.WithClock(nil)}, "WithClock(nil)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt, err := fuseboxhttp.NewRoundTripper(nil, tt.opts...)
			if err == nil {
				t.Fatalf("NewRoundTripper = %v, nil; want an error containing %q", rt, tt.want)
			}
			if rt != nil {
				t.Errorf("NewRoundTripper returned a RoundTripper with the error %v", err)
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "fuseboxhttp: ") {
				t.Errorf("error %q, want it to start with \"fuseboxhttp: \" and contain %q", err, tt.want)
			}
		})
	}
	// A later WithFailureStatuses replaces an invalid earlier one.
	if _, err := fuseboxhttp.NewRoundTripper(nil, fuseboxhttp.WithFailureStatuses(99), fuseboxhttp.WithFailureStatuses(503)); err != nil {
		t.Errorf("valid final WithFailureStatuses: %v", err)
	}
}

// The RoundTripper forwards CloseIdleConnections to its base.
func TestRoundTripperCloseIdleConnections(t *testing.T) {
	ts := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {})
	c := newClient(t, mustRT(t, ts.Client().Transport))
	for i := 0; i < 2; i++ {
		if _, _, err := get(t, c, ts.URL); err != nil {
			t.Fatal(err)
		}
		c.CloseIdleConnections()
	}
	if n := ts.conns.Load(); n != 2 {
		t.Fatalf("%d connections, want 2: CloseIdleConnections must reach the base transport", n)
	}
}

// A breaker inside the retry opens on the first failure; the retry's next
// attempt is rejected, and the caller gets the rejection, not the stale
// 503, whose connection is released.
func TestRoundTripperRejectionAfterFailedAttempt(t *testing.T) {
	ts := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, "down")
	})
	b := newBreaker(t, breaker.Config{ConsecutiveFailures: 1})
	c := newClient(t, mustRT(t, ts.Client().Transport, fixed(t, quickRetry(t, 3), b)))
	resp, _, err := get(t, c, ts.URL)
	if resp != nil || !errors.Is(err, fusebox.ErrOpen) {
		t.Fatalf("GET: %v, %v; want nil and ErrOpen", resp, err)
	}
	b.Reset()
	b.Disable()
	resp, body, err := get(t, c, ts.URL)
	if err != nil || resp.StatusCode != 503 || body != "down" {
		t.Fatalf("GET with the breaker disabled: %v %q %v", resp, body, err)
	}
	if n := ts.conns.Load(); n != 1 {
		t.Fatalf("%d connections, want 1: the rejected call's 503 must be released", n)
	}
}

// A factory that panics panics the request; the key's next request calls
// it again.
func TestRoundTripperFactoryPanics(t *testing.T) {
	ts := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {})
	var n atomic.Int64
	rt := mustRT(t, ts.Client().Transport, fuseboxhttp.WithPipeline(func(string) (*fusebox.Pipeline, error) {
		if n.Add(1) == 1 {
			panic("bad config")
		}
		return fusebox.New()
	}))
	c := newClient(t, rt)
	func() {
		defer func() {
			if v := recover(); v != "bad config" {
				t.Fatalf("recovered %v, want the factory's panic", v)
			}
		}()
		req, _ := http.NewRequest(http.MethodGet, ts.URL, nil)
		rt.RoundTrip(req)
	}()
	if _, _, err := get(t, c, ts.URL); err != nil {
		t.Fatalf("request after the factory panicked: %v", err)
	}
	if n.Load() != 2 {
		t.Fatalf("factory called %d times, want 2", n.Load())
	}
}
