package fuseboxhttp_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fusebox-go/fusebox/bulkhead"
	"github.com/fusebox-go/fusebox/clock"
	"github.com/fusebox-go/fusebox/fuseboxhttp"
	"github.com/fusebox-go/fusebox/internal/testwait"
	"github.com/fusebox-go/fusebox/ratelimit"
)

// must returns a function that fails the test on a constructor's error:
// must(t)(fuseboxhttp.Recover(cfg)).
func must(t testing.TB) func(fuseboxhttp.Middleware, error) fuseboxhttp.Middleware {
	return func(m fuseboxhttp.Middleware, err error) fuseboxhttp.Middleware {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
}

// serve starts a loopback server running m around h, and a client for it.
func serve(t testing.TB, m fuseboxhttp.Middleware, h http.HandlerFunc) (*testServer, *http.Client) {
	t.Helper()
	wrapped := m(h)
	ts := newTestServer(t, wrapped.ServeHTTP)
	return ts, newClient(t, newBase(t))
}

func TestChainOrder(t *testing.T) {
	var order counter
	mark := func(name string) fuseboxhttp.Middleware {
		return func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				order.add(name)
				next.ServeHTTP(w, r)
			})
		}
	}
	h := fuseboxhttp.Chain(mark("a"), nil, mark("b"), mark("c"))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { order.add("h") }))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	if got := order.get(); fmt.Sprint(got) != "[a b c h]" {
		t.Fatalf("order %v, want [a b c h]: the first middleware outermost", got)
	}
	h = fuseboxhttp.Chain()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if rec.Code != 204 {
		t.Fatalf("empty chain: %d, want the handler's 204", rec.Code)
	}
}

func TestLoadShedder(t *testing.T) {
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	bh, err := bulkhead.New(bulkhead.Config{MaxConcurrent: 1})
	if err != nil {
		t.Fatal(err)
	}
	m := must(t)(fuseboxhttp.LoadShedder(fuseboxhttp.LoadShedderConfig{Bulkhead: bh, RetryAfter: 1500 * time.Millisecond}))
	ts, c := serve(t, m, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/block" {
			entered <- struct{}{}
			<-release
		}
		io.WriteString(w, "done")
	})

	blocked := make(chan error, 1)
	go func() {
		_, _, err := get(t, c, ts.URL+"/block")
		blocked <- err
	}()
	testwait.Recv(t, entered, "the blocking request")

	resp, body, err := get(t, c, ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "2" || !strings.Contains(body, "overloaded") {
		t.Fatalf("request over the limit: %d, Retry-After %q, body %q; want 503, 2 (1.5s rounded up), a short body", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	if s := bh.Snapshot(); s.Rejected != 1 || s.InFlight != 1 {
		t.Fatalf("bulkhead %+v, want 1 rejected, 1 in flight", s)
	}
	close(release)
	if err := testwait.Recv(t, blocked, "the blocking request's end"); err != nil {
		t.Fatal(err)
	}
	resp, body, err = get(t, c, ts.URL)
	if err != nil || resp.StatusCode != 200 || body != "done" {
		t.Fatalf("request after the slot was freed: %v %q %v", resp, body, err)
	}
}

// The slot of a panicking handler is released; Recover answers 500.
func TestLoadShedderReleasesSlotOnPanic(t *testing.T) {
	var panics atomic.Int64
	m := fuseboxhttp.Chain(
		must(t)(fuseboxhttp.Recover(fuseboxhttp.RecoverConfig{OnPanic: func(any, []byte) { panics.Add(1) }})),
		must(t)(fuseboxhttp.LoadShedder(fuseboxhttp.LoadShedderConfig{MaxConcurrent: 1})),
	)
	ts, c := serve(t, m, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/panic" {
			panic("boom")
		}
	})
	for i := 0; i < 3; i++ {
		resp, _, err := get(t, c, ts.URL+"/panic")
		if err != nil || resp.StatusCode != 500 {
			t.Fatalf("panicking request %d: %v %v, want 500", i, resp, err)
		}
		resp, _, err = get(t, c, ts.URL+"/ok")
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("request after panic %d: %v %v, want 200 (slot released)", i, resp, err)
		}
	}
	if panics.Load() != 3 {
		t.Fatalf("OnPanic called %d times, want 3", panics.Load())
	}
}

// A queued request whose MaxWait passes is shed with 503.
func TestLoadShedderQueue(t *testing.T) {
	fake := clock.NewFake(time.Time{})
	entered := make(chan struct{}, 2)
	release := make(chan struct{})
	m := must(t)(fuseboxhttp.LoadShedder(fuseboxhttp.LoadShedderConfig{MaxConcurrent: 1, MaxQueue: 1, MaxWait: time.Second, Clock: fake}))
	ts, c := serve(t, m, func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
	})
	first := make(chan int, 1)
	go func() {
		resp, _, err := get(t, c, ts.URL)
		if err != nil {
			t.Error(err)
		}
		first <- resp.StatusCode
	}()
	testwait.Recv(t, entered, "the first request")
	second := make(chan int, 1)
	go func() {
		resp, _, err := get(t, c, ts.URL)
		if err != nil {
			t.Error(err)
		}
		second <- resp.StatusCode
	}()
	testwait.Timers(t, fake, 1, "the queued request's timer")
	fake.Advance(time.Second)
	if code := testwait.Recv(t, second, "the queued request"); code != 503 {
		t.Fatalf("queued request after MaxWait: %d, want 503", code)
	}
	close(release)
	if code := testwait.Recv(t, first, "the first request"); code != 200 {
		t.Fatalf("first request: %d, want 200", code)
	}
}

func TestLoadShedderConfigErrors(t *testing.T) {
	bh, _ := bulkhead.New(bulkhead.Config{})
	tests := []struct {
		name string
		c    fuseboxhttp.LoadShedderConfig
		want string
	}{
		{"negative concurrency", fuseboxhttp.LoadShedderConfig{MaxConcurrent: -1}, "MaxConcurrent -1 out of range"},
		{"negative queue", fuseboxhttp.LoadShedderConfig{MaxQueue: -1}, "MaxQueue -1 out of range"},
		{"negative wait", fuseboxhttp.LoadShedderConfig{MaxWait: -1}, "MaxWait -1ns out of range"},
		{"negative retry-after", fuseboxhttp.LoadShedderConfig{RetryAfter: -time.Second}, "RetryAfter -1s out of range: want 0 (default 1s) or more"},
		{"bulkhead and limits", fuseboxhttp.LoadShedderConfig{Bulkhead: bh, MaxConcurrent: 3}, "Bulkhead set together with"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := fuseboxhttp.LoadShedder(tt.c)
			if err == nil || m != nil {
				t.Fatalf("LoadShedder(%+v) = %v, %v; want an error", tt.c, m, err)
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "fuseboxhttp: ") {
				t.Fatalf("error %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestRateLimiter(t *testing.T) {
	fake := clock.NewFake(time.Time{})
	m := must(t)(fuseboxhttp.RateLimiter(fuseboxhttp.RateLimiterConfig{Rate: 0.5, Burst: 2, Clock: fake}))
	ts, c := serve(t, m, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	codes := func(n int) string {
		var s []string
		for i := 0; i < n; i++ {
			resp, body, err := get(t, c, ts.URL)
			if err != nil {
				t.Fatal(err)
			}
			s = append(s, fmt.Sprint(resp.StatusCode))
			if resp.StatusCode == 429 {
				if ra := resp.Header.Get("Retry-After"); ra != "2" || !strings.Contains(body, "too many") {
					t.Fatalf("429 with Retry-After %q and body %q; want 2 (1/Rate) and a short body", ra, body)
				}
			}
		}
		return strings.Join(s, " ")
	}
	if got := codes(3); got != "200 200 429" {
		t.Fatalf("burst of 3 with Burst 2: %s", got)
	}
	fake.Advance(2 * time.Second)
	if got := codes(2); got != "200 429" {
		t.Fatalf("after one token's time: %s, want one more", got)
	}
	if n := ts.requests.Load(); n != 5 {
		t.Fatalf("%d requests reached the server's middleware, want 5", n)
	}
}

// Keys are per client: by a KeyFunc, or by X-Forwarded-For only with
// trusted proxies.
func TestRateLimiterKeys(t *testing.T) {
	fake := clock.NewFake(time.Time{})
	send := func(t *testing.T, cfg fuseboxhttp.RateLimiterConfig, headers ...string) string {
		cfg.Rate, cfg.Burst, cfg.Clock = 1, 1, fake
		m := must(t)(fuseboxhttp.RateLimiter(cfg))
		ts, c := serve(t, m, func(w http.ResponseWriter, r *http.Request) {})
		var s []string
		for _, h := range headers {
			req, _ := http.NewRequest(http.MethodGet, ts.URL, nil)
			if h != "" {
				k, v, _ := strings.Cut(h, ": ")
				req.Header.Add(k, v)
			}
			resp, _, err := do(t, c, req)
			if err != nil {
				t.Fatal(err)
			}
			s = append(s, fmt.Sprint(resp.StatusCode))
		}
		return strings.Join(s, " ")
	}
	t.Run("remote address ignores X-Forwarded-For", func(t *testing.T) {
		got := send(t, fuseboxhttp.RateLimiterConfig{}, "X-Forwarded-For: 10.0.0.1", "X-Forwarded-For: 10.0.0.2")
		if got != "200 429" {
			t.Fatalf("%s: a spoofed X-Forwarded-For must not get a fresh bucket", got)
		}
	})
	t.Run("trusted proxy", func(t *testing.T) {
		got := send(t, fuseboxhttp.RateLimiterConfig{TrustedProxies: 1}, "X-Forwarded-For: 10.0.0.1", "X-Forwarded-For: 10.0.0.2", "X-Forwarded-For: 9.9.9.9, 10.0.0.1")
		if got != "200 200 429" {
			t.Fatalf("%s, want a bucket per forwarded client", got)
		}
	})
	t.Run("key func", func(t *testing.T) {
		got := send(t, fuseboxhttp.RateLimiterConfig{KeyFunc: func(r *http.Request) string { return r.Header.Get("X-Api-Key") }},
			"X-Api-Key: a", "X-Api-Key: b", "X-Api-Key: a")
		if got != "200 200 429" {
			t.Fatalf("%s, want a bucket per API key", got)
		}
	})
}

func TestClientIP(t *testing.T) {
	tests := []struct {
		remote  string
		xff     []string
		proxies int
		want    string
	}{
		{"192.0.2.1:1234", nil, 0, "192.0.2.1"},
		{"[2001:db8::1]:1234", nil, 0, "2001:db8::1"},
		{"192.0.2.1:1234", []string{"10.0.0.1"}, 0, "192.0.2.1"},
		{"192.0.2.1:1234", []string{"10.0.0.1"}, 1, "10.0.0.1"},
		{"192.0.2.1:1234", []string{"spoofed, 10.0.0.1"}, 1, "10.0.0.1"},
		{"192.0.2.1:1234", []string{"10.0.0.9, 10.0.0.1"}, 2, "10.0.0.9"},
		{"192.0.2.1:1234", []string{"10.0.0.9", "10.0.0.1"}, 2, "10.0.0.9"},
		{"192.0.2.1:1234", []string{"10.0.0.1"}, 2, "192.0.2.1"},
		{"192.0.2.1:1234", []string{"not-an-ip"}, 1, "192.0.2.1"},
		{"192.0.2.1:1234", []string{" 2001:db8::7 "}, 1, "2001:db8::7"},
		{"pipe", nil, 0, "pipe"},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = tt.remote
		for _, v := range tt.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := fuseboxhttp.ClientIP(r, tt.proxies); got != tt.want {
			t.Errorf("ClientIP(%s, %q, %d) = %q, want %q", tt.remote, tt.xff, tt.proxies, got, tt.want)
		}
	}
}

func TestRateLimiterConfigErrors(t *testing.T) {
	k, _ := ratelimit.NewKeyed(ratelimit.KeyedConfig{Rate: 1})
	keyFunc := func(*http.Request) string { return "" }
	tests := []struct {
		name string
		c    fuseboxhttp.RateLimiterConfig
		want string
	}{
		{"no rate", fuseboxhttp.RateLimiterConfig{}, "Rate 0 out of range"},
		{"negative burst", fuseboxhttp.RateLimiterConfig{Rate: 1, Burst: -1}, "Burst -1 out of range"},
		{"negative proxies", fuseboxhttp.RateLimiterConfig{Rate: 1, TrustedProxies: -1}, "TrustedProxies -1 out of range"},
		{"proxies and key func", fuseboxhttp.RateLimiterConfig{Rate: 1, TrustedProxies: 1, KeyFunc: keyFunc}, "TrustedProxies set together with KeyFunc"},
		{"negative retry-after", fuseboxhttp.RateLimiterConfig{Rate: 1, RetryAfter: -1}, "RetryAfter -1ns out of range"},
		{"limiter and rate", fuseboxhttp.RateLimiterConfig{Limiter: k, Rate: 1}, "Limiter set together with"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := fuseboxhttp.RateLimiter(tt.c)
			if err == nil || m != nil {
				t.Fatalf("RateLimiter(%+v) = %v, %v; want an error", tt.c, m, err)
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "fuseboxhttp: ") {
				t.Fatalf("error %q, want it to contain %q", err, tt.want)
			}
		})
	}
	if _, err := fuseboxhttp.RateLimiter(fuseboxhttp.RateLimiterConfig{Limiter: k}); err != nil {
		t.Fatalf("RateLimiter with a shared Limiter: %v", err)
	}
}

// deadlineProbe is a handler that reports the time left before its
// context's deadline, or "none".
func deadlineProbe(w http.ResponseWriter, r *http.Request) {
	dl, ok := r.Context().Deadline()
	if !ok {
		io.WriteString(w, "none")
		return
	}
	fmt.Fprint(w, time.Until(dl).Milliseconds())
	if r.Context().Err() != nil {
		io.WriteString(w, " expired")
	}
}

func TestDeadline(t *testing.T) {
	tests := []struct {
		name   string
		cfg    fuseboxhttp.DeadlineConfig
		header string // value of the default header, "" for none
		lo, hi int64  // the ms left must be in (lo, hi]; lo -1 for "none"
	}{
		{"header", fuseboxhttp.DeadlineConfig{}, "5000", 4000, 5000},
		{"no header", fuseboxhttp.DeadlineConfig{}, "", -1, 0},
		{"malformed", fuseboxhttp.DeadlineConfig{}, "soon", -1, 0},
		{"negative", fuseboxhttp.DeadlineConfig{}, "-100", -1, 0},
		{"capped", fuseboxhttp.DeadlineConfig{Max: 2 * time.Second}, "60000", 1000, 2000},
		{"under the cap", fuseboxhttp.DeadlineConfig{Max: 20 * time.Second}, "5000", 4000, 5000},
		{"no header, max", fuseboxhttp.DeadlineConfig{Max: 3 * time.Second}, "", 2000, 3000},
		{"malformed, max", fuseboxhttp.DeadlineConfig{Max: 3 * time.Second}, "x", 2000, 3000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := must(t)(fuseboxhttp.Deadline(tt.cfg))
			ts, c := serve(t, m, deadlineProbe)
			req, _ := http.NewRequest(http.MethodGet, ts.URL, nil)
			if tt.header != "" {
				req.Header.Set(fuseboxhttp.DefaultDeadlineHeader, tt.header)
			}
			resp, body, err := do(t, c, req)
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("%v %v, want 200", resp, err)
			}
			if tt.lo < 0 {
				if body != "none" {
					t.Fatalf("handler saw a deadline %sms away, want none", body)
				}
				return
			}
			var ms int64
			if _, err := fmt.Sscan(body, &ms); err != nil || ms <= tt.lo || ms > tt.hi {
				t.Fatalf("handler saw %q ms left, want in (%d, %d]", body, tt.lo, tt.hi)
			}
		})
	}
}

// A zero budget: the client has no time left, the handler's context has
// ended already.
func TestDeadlineZeroBudget(t *testing.T) {
	m := must(t)(fuseboxhttp.Deadline(fuseboxhttp.DeadlineConfig{Header: "x-budget"}))
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("X-Budget", "0")
	m(http.HandlerFunc(deadlineProbe)).ServeHTTP(rec, req)
	if !strings.HasSuffix(rec.Body.String(), "expired") {
		t.Fatalf("handler with a 0 budget: %q, want an expired context", rec.Body.String())
	}
}

// On a fake clock: the handler's context ends exactly when the budget is
// spent, with DeadlineExceeded, and not before.
func TestDeadlineFakeClock(t *testing.T) {
	fake := clock.NewFake(time.Time{})
	m := must(t)(fuseboxhttp.Deadline(fuseboxhttp.DeadlineConfig{Clock: fake}))
	handlerCtx := make(chan context.Context)
	h := m(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		done := r.Context().Done() // arms the deadline's timer
		handlerCtx <- r.Context()
		<-done
	}))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set(fuseboxhttp.DefaultDeadlineHeader, "250")
	served := make(chan struct{})
	go func() {
		defer close(served)
		h.ServeHTTP(httptest.NewRecorder(), req)
	}()
	ctx := <-handlerCtx
	fake.Advance(249 * time.Millisecond)
	if err := ctx.Err(); err != nil {
		t.Fatalf("handler's context ended (%v) before its 250ms budget", err)
	}
	fake.Advance(time.Millisecond)
	<-served // the handler returned: Done closed at the deadline
	if err := ctx.Err(); err != context.DeadlineExceeded {
		t.Fatalf("handler's context ended with %v, want DeadlineExceeded", err)
	}
}

// End to end: the client's deadline crosses the wire through the
// RoundTripper's header and bounds the server's handler.
func TestDeadlinePropagation(t *testing.T) {
	m := must(t)(fuseboxhttp.Deadline(fuseboxhttp.DeadlineConfig{}))
	ts, _ := serve(t, m, deadlineProbe)
	c := newClient(t, mustRT(t, ts.Client().Transport))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ts.URL, nil)
	_, body, err := do(t, c, req)
	if err != nil {
		t.Fatal(err)
	}
	var ms int64
	if _, err := fmt.Sscan(body, &ms); err != nil || ms <= 2000 || ms > 3000 {
		t.Fatalf("server handler saw %q ms left, want just under the client's 3000", body)
	}
}

func TestDeadlineConfigErrors(t *testing.T) {
	if m, err := fuseboxhttp.Deadline(fuseboxhttp.DeadlineConfig{Max: -time.Second}); err == nil || m != nil || !strings.Contains(err.Error(), "Max -1s out of range") {
		t.Fatalf("negative Max: %v", err)
	}
	if m, err := fuseboxhttp.Deadline(fuseboxhttp.DeadlineConfig{Header: "bad header"}); err == nil || m != nil || !strings.Contains(err.Error(), "not a valid header name") {
		t.Fatalf("bad header: %v", err)
	}
}

func TestRecover(t *testing.T) {
	type report struct {
		v     any
		stack string
	}
	reports := make(chan report, 10)
	m := must(t)(fuseboxhttp.Recover(fuseboxhttp.RecoverConfig{OnPanic: func(v any, stack []byte) { reports <- report{v, string(stack)} }}))
	ts, c := serve(t, m, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/before":
			w.Header().Set("Content-Type", "application/json")
			panic("before the headers")
		case "/after":
			w.WriteHeader(200)
			io.WriteString(w, "partial")
			w.(http.Flusher).Flush()
			panic("after the headers")
		case "/abort":
			panic(http.ErrAbortHandler)
		}
		io.WriteString(w, "fine")
	})

	resp, body, err := get(t, c, ts.URL+"/before")
	if err != nil || resp.StatusCode != 500 || strings.TrimSpace(body) != "Internal Server Error" || resp.Header.Get("Content-Type") == "application/json" {
		t.Fatalf("panic before the headers: %v %q %v, want a plain 500", resp, body, err)
	}
	r := testwait.Recv(t, reports, "the panic report")
	if r.v != "before the headers" || !strings.Contains(r.stack, "goroutine") {
		t.Fatalf("OnPanic(%v, stack %.40q), want the panic value and a stack", r.v, r.stack)
	}

	// After the headers the response is aborted: the client sees an error,
	// not a truncated body that looks whole.
	resp, err = c.Get(ts.URL + "/after")
	if err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if err == nil {
		t.Fatal("panic after the headers: the client read a whole response, want an error")
	}
	if r := testwait.Recv(t, reports, "the second panic report"); r.v != "after the headers" {
		t.Fatalf("OnPanic(%v), want the second panic", r.v)
	}

	// http.ErrAbortHandler passes through untouched and unreported.
	if resp, err := c.Get(ts.URL + "/abort"); err == nil {
		resp.Body.Close()
		t.Fatalf("ErrAbortHandler: status %d, want the connection aborted", resp.StatusCode)
	}

	// The server keeps serving.
	for i := 0; i < 3; i++ {
		resp, body, err := get(t, c, ts.URL+"/ok")
		if err != nil || resp.StatusCode != 200 || body != "fine" {
			t.Fatalf("request after the panics: %v %q %v", resp, body, err)
		}
	}
	select {
	case r := <-reports:
		t.Fatalf("unexpected OnPanic(%v)", r.v)
	default:
	}
}

// The wrapper keeps http.ResponseController working.
func TestRecoverKeepsResponseController(t *testing.T) {
	m := must(t)(fuseboxhttp.Recover(fuseboxhttp.RecoverConfig{OnPanic: func(any, []byte) {}}))
	ts, c := serve(t, m, func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		if err := rc.SetWriteDeadline(time.Now().Add(time.Minute)); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		io.Copy(w, strings.NewReader("copied"))
	})
	resp, body, err := get(t, c, ts.URL)
	if err != nil || resp.StatusCode != 200 || body != "copied" {
		t.Fatalf("%v %q %v", resp, body, err)
	}
}

var errSentinel = errors.New("sentinel")

// Recover does not swallow what is not a panic: a nil handler return and
// a handler error response pass through.
func TestRecoverPassesThrough(t *testing.T) {
	m := must(t)(fuseboxhttp.Recover(fuseboxhttp.RecoverConfig{}))
	rec := httptest.NewRecorder()
	m(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, errSentinel.Error(), http.StatusTeapot)
	})).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if rec.Code != http.StatusTeapot || strings.TrimSpace(rec.Body.String()) != "sentinel" {
		t.Fatalf("%d %q", rec.Code, rec.Body.String())
	}
}

// Admitting a request through LoadShedder or RateLimiter (for a known key)
// allocates nothing.
func TestMiddlewareAdmitAllocatesNothing(t *testing.T) {
	shed := must(t)(fuseboxhttp.LoadShedder(fuseboxhttp.LoadShedderConfig{}))
	rl := must(t)(fuseboxhttp.RateLimiter(fuseboxhttp.RateLimiterConfig{Rate: 1e9, Burst: 1 << 30, KeyFunc: func(*http.Request) string { return "k" }}))
	var n int
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { n++ })
	w := &discardWriter{h: http.Header{}}
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	for name, m := range map[string]fuseboxhttp.Middleware{"LoadShedder": shed, "RateLimiter": rl} {
		wrapped := m(h)
		wrapped.ServeHTTP(w, req)
		if a := testing.AllocsPerRun(100, func() { wrapped.ServeHTTP(w, req) }); a != 0 {
			t.Errorf("%s allocates %v times per admitted request, want 0", name, a)
		}
	}
	if n < 200 {
		t.Fatalf("handler ran %d times, want every request admitted", n)
	}
}
