package fuseboxhttp_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/breaker"
	"github.com/fusebox-go/fusebox/chaos"
	"github.com/fusebox-go/fusebox/clock"
	"github.com/fusebox-go/fusebox/fuseboxhttp"
	"github.com/fusebox-go/fusebox/timeout"
)

// TestOutageLifecycle drives one client through a whole outage of a real
// server on loopback: 503s, then connections reset mid-response, then
// answers slower than the client's deadline, then recovery. The breaker
// opens, no request reaches the server while it is open, each half-open
// state lets exactly one probe through, and it closes once the server is
// well. The breaker's clock is fake, so the open duration passes on
// command; the per-attempt timeout runs on the real clock.
func TestOutageLifecycle(t *testing.T) {
	srv, err := chaos.NewServer(chaos.ServerConfig{Body: "ok"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()

	fake := clock.NewFake(time.Time{})
	b := newBreaker(t, breaker.Config{
		Name: "flaky", ConsecutiveFailures: 3, OpenDuration: 10 * time.Second,
		HalfOpenProbes: 1, HalfOpenSuccesses: 1, Clock: fake,
	})
	// One second per attempt: room for a loaded machine (a probe that could
	// not reach the server within 150 ms here failed a stress run), and
	// still far below the slow phase's latency.
	attempt, err := timeout.New(timeout.Config{Timeout: time.Second, Clock: clock.Real()})
	if err != nil {
		t.Fatal(err)
	}
	transport := &http.Transport{MaxIdleConnsPerHost: 4}
	defer transport.CloseIdleConnections()
	rt, err := fuseboxhttp.NewRoundTripper(transport, fuseboxhttp.WithPipeline(func(string) (*fusebox.Pipeline, error) {
		return fusebox.New(b, attempt)
	}), fuseboxhttp.WithBodyReadAhead(64<<10)) // the reset comes in a chunked body

	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: rt}

	// get makes one request and reports how it ended: the status, or the
	// error (a rejection, a reset, a timeout).
	get := func() (int, error) {
		t.Helper()
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, srv.URL(), nil)
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			return resp.StatusCode, err
		}
		return resp.StatusCode, nil
	}
	expectOpen := func(phase string) {
		t.Helper()
		if s := b.State(); s != breaker.Open {
			t.Fatalf("%s: breaker is %s, want open", phase, s)
		}
		before := srv.Requests()
		for i := 0; i < 20; i++ {
			if _, err := get(); !errors.Is(err, fusebox.ErrOpen) {
				t.Fatalf("%s: call %d while open: err = %v, want ErrOpen", phase, i, err)
			}
		}
		if n := srv.Requests() - before; n != 0 {
			t.Fatalf("%s: %d requests reached the server while the breaker was open", phase, n)
		}
	}
	// probe lets the open duration pass and makes one call, which must be
	// the only one to reach the server.
	probe := func(phase string) (int, error) {
		t.Helper()
		fake.Advance(10 * time.Second)
		before := srv.Requests()
		code, err := get()
		if n := srv.Requests() - before; n != 1 {
			t.Fatalf("%s: the probe made %d requests, want exactly 1", phase, n)
		}
		return code, err
	}

	// Healthy.
	for i := 0; i < 5; i++ {
		if code, err := get(); err != nil || code != 200 {
			t.Fatalf("healthy: %d, %v", code, err)
		}
	}

	// 503s: the caller still sees the real responses until the breaker
	// opens on the third failure in a row.
	if err := srv.SetStatus(http.StatusServiceUnavailable); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if code, err := get(); err != nil || code != 503 {
			t.Fatalf("503 phase, call %d: %d, %v; want the real 503", i, code, err)
		}
	}
	expectOpen("after 503s")

	// Connections reset mid-response: the probe fails, the breaker opens
	// again.
	if err := srv.SetStatus(0); err != nil {
		t.Fatal(err)
	}
	if err := srv.SetResetRate(1); err != nil {
		t.Fatal(err)
	}
	if _, err := probe("resets"); err == nil {
		t.Fatal("resets: the probe through a reset connection succeeded")
	}
	expectOpen("after a reset probe")

	// Answers slower than the deadline: the per-attempt timeout fails the
	// probe.
	if err := srv.SetResetRate(0); err != nil {
		t.Fatal(err)
	}
	if err := srv.SetLatency(time.Minute); err != nil { // ended by the client leaving
		t.Fatal(err)
	}
	if _, err := probe("slow"); !errors.Is(err, fusebox.ErrTimeout) {
		t.Fatalf("slow: probe err = %v, want ErrTimeout", err)
	}
	expectOpen("after a slow probe")

	// Recovery: one good probe closes the breaker and traffic flows.
	if err := srv.SetLatency(0); err != nil {
		t.Fatal(err)
	}
	if code, err := probe("recovered"); err != nil || code != 200 {
		t.Fatalf("recovered: probe %d, %v", code, err)
	}
	if s := b.State(); s != breaker.Closed {
		t.Fatalf("recovered: breaker is %s, want closed", s)
	}
	for i := 0; i < 5; i++ {
		if code, err := get(); err != nil || code != 200 {
			t.Fatalf("after recovery: %d, %v", code, err)
		}
	}
	s := b.Snapshot()
	if s.FailedProbes != 2 || s.Rejections != 60 {
		t.Fatalf("snapshot: %d failed probes, %d rejections; want 2 and 60", s.FailedProbes, s.Rejections)
	}
}

// A body that declares its length and breaks off early fails the attempt by
// default: the breaker counts it and the caller gets an error, not a
// truncated body.
func TestShortDeclaredBodyFailsTheAttempt(t *testing.T) {
	srv, err := chaos.NewServer(chaos.ServerConfig{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("only ten.."))
		w.(http.Flusher).Flush()
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
	})})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	b := newBreaker(t, breaker.Config{ConsecutiveFailures: 1})
	transport := &http.Transport{}
	defer transport.CloseIdleConnections()
	rt, err := fuseboxhttp.NewRoundTripper(transport, fuseboxhttp.WithPipeline(func(string) (*fusebox.Pipeline, error) {
		return fusebox.New(b)
	}))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := (&http.Client{Transport: rt}).Get(srv.URL())
	if err == nil {
		resp.Body.Close()
		t.Fatal("a body cut short of its Content-Length came back as a success")
	}
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("err = %v, want one matching io.ErrUnexpectedEOF", err)
	}
	if b.State() != breaker.Open {
		t.Fatalf("breaker is %s, want open: the broken body is a failure", b.State())
	}
}

func TestWithBodyReadAheadRejectsNegative(t *testing.T) {
	if _, err := fuseboxhttp.NewRoundTripper(http.DefaultTransport, fuseboxhttp.WithBodyReadAhead(-1)); err == nil {
		t.Fatal("WithBodyReadAhead(-1) accepted")
	}
}

// A timeout policy in the client's pipeline must not cut the body the
// caller reads after the attempt returned: the attempt's context is kept
// until the body is closed.
func TestTimeoutPolicyKeepsBodyReadable(t *testing.T) {
	big := strings.Repeat("x", 200<<10) // past any read-ahead, sent chunked
	srv, err := chaos.NewServer(chaos.ServerConfig{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i < len(big); i += 8 << 10 {
			_, _ = io.WriteString(w, big[i:i+8<<10])
			w.(http.Flusher).Flush()
		}
	})})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	attempt, err := timeout.New(timeout.Config{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	transport := &http.Transport{}
	defer transport.CloseIdleConnections()
	rt, err := fuseboxhttp.NewRoundTripper(transport, fuseboxhttp.WithPipeline(func(string) (*fusebox.Pipeline, error) {
		return fusebox.New(attempt)
	}))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		resp, err := (&http.Client{Transport: rt}).Get(srv.URL())
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || len(body) != len(big) {
			t.Fatalf("read %d of %d bytes: %v", len(body), len(big), err)
		}
	}
}
