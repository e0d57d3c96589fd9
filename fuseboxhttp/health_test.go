package fuseboxhttp_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fusebox-go/fusebox/breaker"
	"github.com/fusebox-go/fusebox/clock"
	"github.com/fusebox-go/fusebox/fuseboxhttp"
	"github.com/fusebox-go/fusebox/internal/testwait"
)

func newHealth(t testing.TB, c fuseboxhttp.HealthConfig) (*fuseboxhttp.Health, *clock.Fake) {
	t.Helper()
	fake := clock.NewFake(time.Time{})
	if c.Clock == nil {
		c.Clock = fake
	}
	h, err := fuseboxhttp.NewHealth(c)
	if err != nil {
		t.Fatal(err)
	}
	return h, fake
}

func mustAdd(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// probe GETs path from the health handler and decodes the report.
func probe(t testing.TB, h http.Handler, path string) (int, fuseboxhttp.Report) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("GET %s: Content-Type %q, want application/json", path, ct)
	}
	var r fuseboxhttp.Report
	if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
		t.Fatalf("GET %s: body %q: %v", path, rec.Body.String(), err)
	}
	return rec.Code, r
}

// countingCheck returns a check that fails with err (nil: passes) and
// counts its runs.
func countingCheck(err error) (func(context.Context) error, *atomic.Int64) {
	var n atomic.Int64
	return func(context.Context) error {
		n.Add(1)
		return err
	}, &n
}

func TestHealthProbes(t *testing.T) {
	h, _ := newHealth(t, fuseboxhttp.HealthConfig{})
	live, liveRuns := countingCheck(nil)
	db, dbRuns := countingCheck(errors.New("connection refused"))
	cache, _ := countingCheck(nil)
	mustAdd(t, h.AddLiveness("goroutines", live))
	mustAdd(t, h.AddReadiness("db", db))
	mustAdd(t, h.AddReadiness("cache", cache))
	handler := h.Handler()

	code, r := probe(t, handler, "/livez")
	if code != 200 || r.Status != "ok" || len(r.Checks) != 1 || r.Checks["goroutines"].Status != "ok" {
		t.Fatalf("/livez: %d %+v, want 200 with the liveness check only", code, r)
	}
	if dbRuns.Load() != 0 {
		t.Fatal("/livez ran a readiness (dependency) check")
	}

	code, r = probe(t, handler, "/readyz")
	if code != 503 || r.Status != "fail" {
		t.Fatalf("/readyz with a failing check: %d %+v, want 503 fail", code, r)
	}
	if c := r.Checks["db"]; c.Status != "fail" || c.Error != "connection refused" {
		t.Fatalf("db check %+v, want fail with its error", c)
	}
	if c := r.Checks["cache"]; c.Status != "ok" || c.Error != "" {
		t.Fatalf("cache check %+v, want ok", c)
	}
	if _, ok := r.Checks["goroutines"]; ok || liveRuns.Load() != 1 {
		t.Fatalf("/readyz ran the liveness check (checks %v, %d runs)", r.Checks, liveRuns.Load())
	}

	code, r = probe(t, handler, "/startupz")
	if code != 200 || r.Status != "ok" || len(r.Checks) != 0 {
		t.Fatalf("/startupz without checks: %d %+v, want 200", code, r)
	}

	// The JSON shape.
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	var raw map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &raw); err != nil {
		t.Fatal(err)
	}
	checks, _ := raw["checks"].(map[string]any)
	dbJSON, _ := checks["db"].(map[string]any)
	if raw["status"] != "fail" || dbJSON["status"] != "fail" || dbJSON["error"] != "connection refused" || dbJSON["durationMs"] == nil {
		t.Fatalf("JSON %s, want {status, checks: {name: {status, error, durationMs}}}", rec.Body.String())
	}
	if rec.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", rec.Header().Get("Cache-Control"))
	}

	// Only GET and HEAD; unknown paths are 404.
	for _, tc := range []struct {
		method, path string
		code         int
	}{{http.MethodPost, "/readyz", 405}, {http.MethodHead, "/livez", 200}, {http.MethodGet, "/healthz", 404}} {
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
		if rec.Code != tc.code {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, rec.Code, tc.code)
		}
	}
}

func TestHealthCachesResults(t *testing.T) {
	h, fake := newHealth(t, fuseboxhttp.HealthConfig{CacheTTL: 5 * time.Second})
	db, runs := countingCheck(nil)
	quick, quickRuns := countingCheck(nil)
	mustAdd(t, h.AddReadiness("db", db))
	mustAdd(t, h.AddReadiness("quick", quick, fuseboxhttp.CheckTTL(time.Second)))
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if r := h.Readiness(ctx); !r.OK() {
			t.Fatalf("readiness %+v", r)
		}
	}
	if runs.Load() != 1 || quickRuns.Load() != 1 {
		t.Fatalf("checks ran %d and %d times for 3 probes within the TTL, want 1 and 1", runs.Load(), quickRuns.Load())
	}
	fake.Advance(time.Second)
	h.Readiness(ctx)
	if runs.Load() != 1 || quickRuns.Load() != 2 {
		t.Fatalf("after 1s: %d and %d runs, want 1 and 2 (own TTL of 1s)", runs.Load(), quickRuns.Load())
	}
	fake.Advance(4 * time.Second)
	h.Readiness(ctx)
	if runs.Load() != 2 {
		t.Fatalf("after 5s: %d runs, want 2", runs.Load())
	}
}

// Checks run concurrently: two slow checks take as long as one.
func TestHealthRunsChecksConcurrently(t *testing.T) {
	h, _ := newHealth(t, fuseboxhttp.HealthConfig{})
	var running atomic.Int64
	both := make(chan struct{})
	var once sync.Once
	slow := func(ctx context.Context) error {
		if running.Add(1) == 2 {
			once.Do(func() { close(both) })
		}
		select {
		case <-both:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Second):
			return errors.New("the other check never ran alongside")
		}
	}
	mustAdd(t, h.AddReadiness("a", slow))
	mustAdd(t, h.AddReadiness("b", slow))
	var r fuseboxhttp.Report
	testwait.Within(t, "two concurrent checks", func() { r = h.Readiness(context.Background()) })
	if !r.OK() {
		t.Fatalf("%+v, want both checks to run at once and pass", r)
	}
}

// A check that outlives its timeout fails.
func TestHealthCheckTimeout(t *testing.T) {
	h, fake := newHealth(t, fuseboxhttp.HealthConfig{CheckTimeout: 2 * time.Second})
	mustAdd(t, h.AddReadiness("slow", func(ctx context.Context) error {
		<-ctx.Done()
		return context.Cause(ctx)
	}))
	done := make(chan fuseboxhttp.Report, 1)
	go func() { done <- h.Readiness(context.Background()) }()
	testwait.Timers(t, fake, 1, "the check's timer")
	fake.Advance(2 * time.Second)
	r := testwait.Recv(t, done, "the probe")
	if c := r.Checks["slow"]; r.OK() || c.Status != "fail" || !strings.Contains(c.Error, "timed out after 2s") || c.DurationMs != 2000 {
		t.Fatalf("%+v, want a timeout after 2s", r)
	}
}

// A check that ignores its context does not hold the probe past its
// timeout, and is not started again while it still runs.
func TestHealthStuckCheck(t *testing.T) {
	h, fake := newHealth(t, fuseboxhttp.HealthConfig{CacheTTL: time.Second})
	unblock := make(chan struct{})
	started := make(chan struct{}, 2)
	var runs atomic.Int64
	mustAdd(t, h.AddReadiness("rude", func(ctx context.Context) error {
		runs.Add(1)
		started <- struct{}{}
		<-unblock // ignores its context
		return nil
	}, fuseboxhttp.CheckTimeout(3*time.Second)))

	done := make(chan fuseboxhttp.Report, 1)
	go func() { done <- h.Readiness(context.Background()) }()
	testwait.Recv(t, started, "the check to start")
	testwait.Timers(t, fake, 1, "the check's timer")
	fake.Advance(3 * time.Second)
	r := testwait.Recv(t, done, "the probe")
	if c := r.Checks["rude"]; c.Status != "fail" || !strings.Contains(c.Error, "timed out after 3s") {
		t.Fatalf("%+v, want a timeout after 3s", r)
	}

	fake.Advance(time.Second)
	r = h.Readiness(context.Background())
	if c := r.Checks["rude"]; c.Status != "fail" || !strings.Contains(c.Error, "still running") || runs.Load() != 1 {
		t.Fatalf("while stuck: %+v after %d runs, want a failure and no second run", c, runs.Load())
	}
	close(unblock)
	testwait.Eventually(t, "the check to run again once released", func() bool {
		fake.Advance(time.Second)
		return h.Readiness(context.Background()).OK()
	})
	if runs.Load() != 2 {
		t.Fatalf("%d runs, want 2", runs.Load())
	}
}

// A panicking check fails; the process lives on.
func TestHealthCheckPanics(t *testing.T) {
	h, _ := newHealth(t, fuseboxhttp.HealthConfig{})
	mustAdd(t, h.AddLiveness("bad", func(context.Context) error { panic("oops") }))
	r := h.Liveness(context.Background())
	if c := r.Checks["bad"]; c.Status != "fail" || c.Error != "panic: oops" {
		t.Fatalf("%+v, want the panic as the check's error", c)
	}
}

func TestHealthReadyAndShutdown(t *testing.T) {
	h, _ := newHealth(t, fuseboxhttp.HealthConfig{})
	db, runs := countingCheck(nil)
	mustAdd(t, h.AddReadiness("db", db, fuseboxhttp.CheckTTL(time.Nanosecond)))
	handler := h.Handler()

	if code, _ := probe(t, handler, "/readyz"); code != 200 {
		t.Fatalf("a new Health: /readyz %d, want 200", code)
	}
	h.SetReady(false)
	code, r := probe(t, handler, "/readyz")
	if code != 503 || r.Error != "not ready" || len(r.Checks) != 0 {
		t.Fatalf("not ready: %d %+v", code, r)
	}
	h.SetReady(true)
	if code, _ := probe(t, handler, "/readyz"); code != 200 {
		t.Fatalf("ready again: %d", code)
	}
	before := runs.Load()
	if h.ShuttingDown() {
		t.Fatal("ShuttingDown before Shutdown")
	}
	h.Shutdown()
	h.SetReady(true)
	code, r = probe(t, handler, "/readyz")
	if code != 503 || r.Error != "shutting down" || !h.ShuttingDown() {
		t.Fatalf("after Shutdown: %d %+v, want 503 shutting down", code, r)
	}
	if runs.Load() != before {
		t.Fatal("readiness checks ran while shutting down")
	}
	if code, _ := probe(t, handler, "/livez"); code != 200 {
		t.Fatalf("/livez while shutting down: %d, want 200: the process is alive", code)
	}
}

func TestHealthStartupLatches(t *testing.T) {
	h, fake := newHealth(t, fuseboxhttp.HealthConfig{})
	var warm atomic.Bool
	var runs atomic.Int64
	mustAdd(t, h.AddStartup("cache warmed", func(context.Context) error {
		runs.Add(1)
		if !warm.Load() {
			return errors.New("still loading")
		}
		return nil
	}))
	handler := h.Handler()
	if code, r := probe(t, handler, "/startupz"); code != 503 || r.Checks["cache warmed"].Error != "still loading" {
		t.Fatalf("before warm-up: %d %+v", code, r)
	}
	warm.Store(true)
	fake.Advance(time.Second)
	if code, _ := probe(t, handler, "/startupz"); code != 200 {
		t.Fatalf("after warm-up: %d, want 200", code)
	}
	warm.Store(false)
	fake.Advance(time.Hour)
	if code, _ := probe(t, handler, "/startupz"); code != 200 || runs.Load() != 2 {
		t.Fatalf("once started: %d after %d runs, want 200 without running the check again", code, runs.Load())
	}
}

func TestHealthBreakerReadiness(t *testing.T) {
	h, _ := newHealth(t, fuseboxhttp.HealthConfig{})
	b := newBreaker(t, breaker.Config{Name: "payments"})
	anon := newBreaker(t, breaker.Config{})
	mustAdd(t, h.AddBreakerReadiness(b))
	mustAdd(t, h.AddBreakerReadiness(anon))
	ctx := context.Background()
	if r := h.Readiness(ctx); !r.OK() || len(r.Checks) != 2 {
		t.Fatalf("closed breakers: %+v", r)
	}
	for _, tc := range []struct {
		op   func()
		ok   bool
		name string
	}{
		{b.Trip, false, "open"},
		{b.Reset, true, "closed"},
		{b.ForceOpen, false, "forced-open"},
		{b.Disable, true, "disabled"},
	} {
		tc.op()
		r := h.Readiness(ctx)
		if r.OK() != tc.ok {
			t.Fatalf("breaker %s: readiness %+v, want ok=%v", tc.name, r, tc.ok)
		}
		if c := r.Checks["breaker:payments"]; !tc.ok && !strings.Contains(c.Error, `"payments" is `+tc.name) {
			t.Fatalf("breaker %s: check %+v", tc.name, c)
		}
	}
	if _, ok := h.Readiness(ctx).Checks["breaker"]; !ok {
		t.Fatal("an unnamed breaker's check is not named \"breaker\"")
	}
	if err := h.AddBreakerReadiness(b); err == nil {
		t.Fatal("adding the same breaker twice: no error")
	}
	if err := h.AddBreakerReadiness(nil); err == nil {
		t.Fatal("AddBreakerReadiness(nil): no error")
	}
}

func TestHealthErrors(t *testing.T) {
	if _, err := fuseboxhttp.NewHealth(fuseboxhttp.HealthConfig{CheckTimeout: -1}); err == nil || !strings.Contains(err.Error(), "CheckTimeout -1ns out of range: want 0 (default 1s) or more") {
		t.Errorf("negative CheckTimeout: %v", err)
	}
	if _, err := fuseboxhttp.NewHealth(fuseboxhttp.HealthConfig{CacheTTL: -1}); err == nil || !strings.Contains(err.Error(), "CacheTTL -1ns out of range") {
		t.Errorf("negative CacheTTL: %v", err)
	}
	h, _ := newHealth(t, fuseboxhttp.HealthConfig{})
	ok := func(context.Context) error { return nil }
	mustAdd(t, h.AddReadiness("db", ok))
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"empty name", h.AddLiveness("", ok), "AddLiveness: empty name"},
		{"nil check", h.AddStartup("x", nil), `AddStartup("x"): nil check function`},
		{"duplicate", h.AddReadiness("db", ok), `AddReadiness("db"): a readiness check of that name exists`},
		{"zero timeout", h.AddReadiness("t", ok, fuseboxhttp.CheckTimeout(0)), "CheckTimeout 0s out of range: want more than 0"},
		{"negative ttl", h.AddReadiness("t", ok, fuseboxhttp.CheckTTL(-time.Second)), "CheckTTL -1s out of range"},
	}
	for _, tt := range tests {
		if tt.err == nil || !strings.Contains(tt.err.Error(), tt.want) || !strings.HasPrefix(tt.err.Error(), "fuseboxhttp: ") {
			t.Errorf("%s: %v, want an error containing %q", tt.name, tt.err, tt.want)
		}
	}
	// The same name in another probe is fine.
	mustAdd(t, h.AddLiveness("db", ok))
}

// Probes through a real server, concurrently: the check runs once per TTL
// however many probes arrive.
func TestHealthConcurrentProbes(t *testing.T) {
	h, _ := newHealth(t, fuseboxhttp.HealthConfig{})
	release := make(chan struct{})
	var runs atomic.Int64
	mustAdd(t, h.AddReadiness("db", func(context.Context) error {
		runs.Add(1)
		<-release
		return nil
	}))
	ts := newTestServer(t, h.Handler().ServeHTTP)
	c := newClient(t, newBase(t))
	var wg sync.WaitGroup
	for i := 0; i < 10; i++ {
		wg.Go(func() {
			resp, err := c.Get(ts.URL + "/readyz")
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Errorf("probe: %d", resp.StatusCode)
			}
		})
	}
	testwait.Eventually(t, "the probes to arrive", func() bool { return ts.requests.Load() == 10 })
	close(release)
	wg.Wait()
	if runs.Load() != 1 {
		t.Fatalf("check ran %d times for 10 concurrent probes, want 1", runs.Load())
	}
}
