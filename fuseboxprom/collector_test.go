package fuseboxprom_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/breaker"
	"github.com/fusebox-go/fusebox/bulkhead"
	"github.com/fusebox-go/fusebox/clock"
	"github.com/fusebox-go/fusebox/fuseboxprom"
	"github.com/fusebox-go/fusebox/internal/testwait"
	"github.com/fusebox-go/fusebox/registry"
	"github.com/fusebox-go/fusebox/retry"
	"github.com/fusebox-go/fusebox/timeout"
)

var errBoom = errors.New("boom")

func ok(context.Context) error   { return nil }
func fail(context.Context) error { return errBoom }

func newCollector(t testing.TB, c fuseboxprom.Config) *fuseboxprom.Collector {
	t.Helper()
	col, err := fuseboxprom.New(c)
	if err != nil {
		t.Fatalf("New(%+v): %v", c, err)
	}
	return col
}

func mustAdd(t testing.TB, col *fuseboxprom.Collector, name string, p any) {
	t.Helper()
	if err := col.Add(name, p); err != nil {
		t.Fatalf("Add(%q, %T): %v", name, p, err)
	}
}

// openBreaker returns a breaker driven open on a fake clock: one success,
// one ignored call, three failures in a row, then two rejections.
func openBreaker(t testing.TB, name string) *breaker.Breaker {
	t.Helper()
	b, err := breaker.New(breaker.Config{Name: name, ConsecutiveFailures: 3, OpenDuration: time.Hour, Clock: clock.NewFake(time.Time{})})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	_ = b.Execute(ctx, ok)
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	_ = b.Execute(canceled, func(ctx context.Context) error { return ctx.Err() })
	for range 3 {
		_ = b.Execute(ctx, fail)
	}
	for range 2 {
		if err := b.Execute(ctx, ok); !errors.Is(err, breaker.ErrOpen) {
			t.Fatalf("breaker admitted a call: %v", err)
		}
	}
	return b
}

const breakerText = `
# HELP fusebox_breaker_calls_total Calls whose outcome a circuit breaker recorded, by outcome (success, failure, ignored).
# TYPE fusebox_breaker_calls_total counter
fusebox_breaker_calls_total{key="",name="payments",outcome="failure"} 3
fusebox_breaker_calls_total{key="",name="payments",outcome="ignored"} 1
fusebox_breaker_calls_total{key="",name="payments",outcome="success"} 1
# HELP fusebox_breaker_failure_ratio Failures per call in a circuit breaker's current window (0 to 1).
# TYPE fusebox_breaker_failure_ratio gauge
fusebox_breaker_failure_ratio{key="",name="payments"} 0.75
# HELP fusebox_breaker_late_outcomes_total Outcomes a circuit breaker dropped because they belonged to an earlier state.
# TYPE fusebox_breaker_late_outcomes_total counter
fusebox_breaker_late_outcomes_total{key="",name="payments"} 0
# HELP fusebox_breaker_rejections_total Calls a circuit breaker rejected (open, forced open, or half-open with every probe slot taken).
# TYPE fusebox_breaker_rejections_total counter
fusebox_breaker_rejections_total{key="",name="payments"} 2
# HELP fusebox_breaker_slow_call_ratio Slow calls per call in a circuit breaker's current window (0 to 1).
# TYPE fusebox_breaker_slow_call_ratio gauge
fusebox_breaker_slow_call_ratio{key="",name="payments"} 0
# HELP fusebox_breaker_slow_calls_total Calls a circuit breaker recorded as slow (successes and failures alike).
# TYPE fusebox_breaker_slow_calls_total counter
fusebox_breaker_slow_calls_total{key="",name="payments"} 0
# HELP fusebox_breaker_state Circuit breaker state: 1 for the current state, 0 for the others.
# TYPE fusebox_breaker_state gauge
fusebox_breaker_state{key="",name="payments",state="closed"} 0
fusebox_breaker_state{key="",name="payments",state="disabled"} 0
fusebox_breaker_state{key="",name="payments",state="forced-open"} 0
fusebox_breaker_state{key="",name="payments",state="half-open"} 0
fusebox_breaker_state{key="",name="payments",state="metrics-only"} 0
fusebox_breaker_state{key="",name="payments",state="open"} 1
# HELP fusebox_breaker_transitions_total State transitions of a circuit breaker.
# TYPE fusebox_breaker_transitions_total counter
fusebox_breaker_transitions_total{key="",name="payments"} 1
`

func TestBreakerOpen(t *testing.T) {
	col := newCollector(t, fuseboxprom.Config{})
	mustAdd(t, col, "payments", openBreaker(t, "payments"))
	if err := testutil.CollectAndCompare(col, strings.NewReader(breakerText)); err != nil {
		t.Fatal(err)
	}
}

func TestBulkhead(t *testing.T) {
	b, err := bulkhead.New(bulkhead.Config{Name: "db", MaxConcurrent: 2, MaxQueue: 0})
	if err != nil {
		t.Fatal(err)
	}
	col := newCollector(t, fuseboxprom.Config{})
	mustAdd(t, col, "db", b)
	ctx := context.Background()
	_ = b.Execute(ctx, ok)
	p, err := b.Acquire(ctx) // one call in flight while we scrape
	if err != nil {
		t.Fatal(err)
	}
	defer p.Release()
	_, _ = b.Acquire(ctx)
	if err := b.Execute(ctx, ok); !errors.Is(err, bulkhead.ErrBulkheadFull) {
		t.Fatalf("third call: %v, want ErrBulkheadFull", err)
	}
	const want = `
# HELP fusebox_bulkhead_admitted_total Calls a bulkhead admitted, at once or after queueing.
# TYPE fusebox_bulkhead_admitted_total counter
fusebox_bulkhead_admitted_total{key="",name="db"} 3
# HELP fusebox_bulkhead_canceled_total Queued calls whose caller's context ended before a slot came free.
# TYPE fusebox_bulkhead_canceled_total counter
fusebox_bulkhead_canceled_total{key="",name="db"} 0
# HELP fusebox_bulkhead_in_flight Calls holding a bulkhead slot.
# TYPE fusebox_bulkhead_in_flight gauge
fusebox_bulkhead_in_flight{key="",name="db"} 2
# HELP fusebox_bulkhead_max_concurrent A bulkhead's slots: the most calls in flight at once.
# TYPE fusebox_bulkhead_max_concurrent gauge
fusebox_bulkhead_max_concurrent{key="",name="db"} 2
# HELP fusebox_bulkhead_max_queue A bulkhead's queue places.
# TYPE fusebox_bulkhead_max_queue gauge
fusebox_bulkhead_max_queue{key="",name="db"} 0
# HELP fusebox_bulkhead_queue_timeouts_total Calls a bulkhead rejected after they waited the longest wait in its queue.
# TYPE fusebox_bulkhead_queue_timeouts_total counter
fusebox_bulkhead_queue_timeouts_total{key="",name="db"} 0
# HELP fusebox_bulkhead_queue_wait_seconds_total Time calls spent in a bulkhead's queue, in seconds.
# TYPE fusebox_bulkhead_queue_wait_seconds_total counter
fusebox_bulkhead_queue_wait_seconds_total{key="",name="db"} 0
# HELP fusebox_bulkhead_queued Calls waiting in a bulkhead's queue.
# TYPE fusebox_bulkhead_queued gauge
fusebox_bulkhead_queued{key="",name="db"} 0
# HELP fusebox_bulkhead_rejections_total Calls a bulkhead rejected at once, every slot and queue place being taken.
# TYPE fusebox_bulkhead_rejections_total counter
fusebox_bulkhead_rejections_total{key="",name="db"} 1
`
	if err := testutil.CollectAndCompare(col, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
}

func TestRetry(t *testing.T) {
	fc := clock.NewFake(time.Time{})
	r, err := retry.New(retry.Config{Name: "pricing", MaxAttempts: 3, Backoff: retry.BackoffConstant, Jitter: retry.JitterNone,
		InitialInterval: time.Second, Retryable: func(error) bool { return true }, Clock: fc})
	if err != nil {
		t.Fatal(err)
	}
	col := newCollector(t, fuseboxprom.Config{Namespace: "shop"})
	mustAdd(t, col, "pricing", r)

	// run makes one call whose attempts fail until the attempt number
	// succeedOn (0: never), advancing the fake clock through its waits.
	run := func(succeedOn, waits int) error {
		n := 0
		done := make(chan error, 1)
		go func() {
			done <- r.Execute(context.Background(), func(context.Context) error {
				n++
				if n == succeedOn {
					return nil
				}
				return errBoom
			})
		}()
		for range waits {
			testwait.Timers(t, fc, 1, "the retry's wait")
			fc.Advance(time.Second)
		}
		return <-done
	}
	if err := run(0, 2); !errors.Is(err, fusebox.ErrRetriesExhausted) {
		t.Fatalf("first call: %v, want ErrRetriesExhausted", err)
	}
	if err := run(2, 1); err != nil {
		t.Fatalf("second call: %v", err)
	}
	const want = `
# HELP shop_retry_attempts_total Attempts made by a retry policy, first attempts included.
# TYPE shop_retry_attempts_total counter
shop_retry_attempts_total{key="",name="pricing"} 5
# HELP shop_retry_budget_rejections_total Calls that ended because the retry budget refused a retry.
# TYPE shop_retry_budget_rejections_total counter
shop_retry_budget_rejections_total{key="",name="pricing"} 0
# HELP shop_retry_calls_total Calls run by a retry policy.
# TYPE shop_retry_calls_total counter
shop_retry_calls_total{key="",name="pricing"} 2
# HELP shop_retry_exhausted_total Calls that failed after the last attempt a retry policy allows.
# TYPE shop_retry_exhausted_total counter
shop_retry_exhausted_total{key="",name="pricing"} 1
# HELP shop_retry_retries_by_attempt_total Retries by attempt number (2 for the first retry); bounded by the policy's MaxAttempts, at most 16 values, the last counting every later attempt too.
# TYPE shop_retry_retries_by_attempt_total counter
shop_retry_retries_by_attempt_total{attempt="2",key="",name="pricing"} 2
shop_retry_retries_by_attempt_total{attempt="3",key="",name="pricing"} 1
# HELP shop_retry_retries_total Attempts after the first made by a retry policy.
# TYPE shop_retry_retries_total counter
shop_retry_retries_total{key="",name="pricing"} 3
# HELP shop_retry_successes_after_retry_total Calls that succeeded on a retry.
# TYPE shop_retry_successes_after_retry_total counter
shop_retry_successes_after_retry_total{key="",name="pricing"} 1
`
	if err := testutil.CollectAndCompare(col, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
}

// TestPipeline checks that a pipeline exports each policy and, of two
// policies of one kind, only the outermost.
func TestPipeline(t *testing.T) {
	fc := clock.NewFake(time.Time{})
	deadline, err := timeout.New(timeout.Config{Timeout: 2 * time.Second, Clock: fc})
	if err != nil {
		t.Fatal(err)
	}
	perAttempt, err := timeout.New(timeout.Config{Timeout: 500 * time.Millisecond, Clock: fc})
	if err != nil {
		t.Fatal(err)
	}
	p, err := fusebox.New(deadline, openBreaker(t, "x"), perAttempt)
	if err != nil {
		t.Fatal(err)
	}
	col := newCollector(t, fuseboxprom.Config{})
	mustAdd(t, col, "payments", p)
	_ = p.Run(context.Background(), ok) // rejected by the breaker
	want := breakerText + `
# HELP fusebox_timeout_calls_total Calls run by a timeout policy.
# TYPE fusebox_timeout_calls_total counter
fusebox_timeout_calls_total{key="",name="payments"} 1
# HELP fusebox_timeout_limit_seconds A timeout policy's timeout, in seconds.
# TYPE fusebox_timeout_limit_seconds gauge
fusebox_timeout_limit_seconds{key="",name="payments"} 2
# HELP fusebox_timeout_timeouts_total Calls a timeout policy ended with its own timeout.
# TYPE fusebox_timeout_timeouts_total counter
fusebox_timeout_timeouts_total{key="",name="payments"} 0
`
	want = strings.Replace(want, `fusebox_breaker_rejections_total{key="",name="payments"} 2`, `fusebox_breaker_rejections_total{key="",name="payments"} 3`, 1)
	if err := testutil.CollectAndCompare(col, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
}

// TestRegistry checks that each member of a registry is one key, and that
// an evicted member disappears.
func TestRegistry(t *testing.T) {
	fc := clock.NewFake(time.Time{})
	reg, err := registry.New(registry.Config[*breaker.Breaker]{
		New: func(key string) (*breaker.Breaker, error) {
			return breaker.New(breaker.Config{Name: key, ConsecutiveFailures: 1, Clock: fc})
		},
		IdleTimeout: time.Minute,
		Clock:       fc,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	col := newCollector(t, fuseboxprom.Config{})
	if err := col.AddRegistry("hosts", reg); err != nil {
		t.Fatal(err)
	}
	a, _ := reg.Get("a.example")
	b, _ := reg.Get("b.example")
	_ = a.Execute(context.Background(), fail)
	_ = b.Execute(context.Background(), ok)
	const want = `
# HELP fusebox_breaker_transitions_total State transitions of a circuit breaker.
# TYPE fusebox_breaker_transitions_total counter
fusebox_breaker_transitions_total{key="a.example",name="hosts"} 1
fusebox_breaker_transitions_total{key="b.example",name="hosts"} 0
`
	if err := testutil.CollectAndCompare(col, strings.NewReader(want), "fusebox_breaker_transitions_total"); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(col, "fusebox_breaker_state"); n != 12 {
		t.Errorf("%d state series, want 12 (6 per key)", n)
	}
	// b is closed and idle: evicted by a sweep; a is open and kept.
	fc.Advance(2 * time.Minute)
	reg.Sweep()
	const after = `
# HELP fusebox_breaker_transitions_total State transitions of a circuit breaker.
# TYPE fusebox_breaker_transitions_total counter
fusebox_breaker_transitions_total{key="a.example",name="hosts"} 1
`
	if err := testutil.CollectAndCompare(col, strings.NewReader(after), "fusebox_breaker_transitions_total"); err != nil {
		t.Fatal(err)
	}
}

// TestRegistryOfPipelines checks a registry whose members are pipelines.
func TestRegistryOfPipelines(t *testing.T) {
	fc := clock.NewFake(time.Time{})
	reg, err := registry.New(registry.Config[*fusebox.Pipeline]{
		New: func(key string) (*fusebox.Pipeline, error) {
			to1, _ := timeout.New(timeout.Config{Timeout: time.Second, Clock: fc})
			to2, _ := timeout.New(timeout.Config{Timeout: time.Millisecond, Clock: fc})
			return fusebox.New(to1, to2)
		},
		Clock: fc,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	col := newCollector(t, fuseboxprom.Config{})
	if err := col.AddRegistry("routes", reg); err != nil {
		t.Fatal(err)
	}
	_, _ = reg.Get("/a")
	const want = `
# HELP fusebox_timeout_limit_seconds A timeout policy's timeout, in seconds.
# TYPE fusebox_timeout_limit_seconds gauge
fusebox_timeout_limit_seconds{key="/a",name="routes"} 1
`
	if err := testutil.CollectAndCompare(col, strings.NewReader(want), "fusebox_timeout_limit_seconds"); err != nil {
		t.Fatal(err)
	}
}

// snapshotter is a user type that reports a known snapshot.
type snapshotter struct{}

func (snapshotter) Snapshot() any { return retry.Snapshot{Calls: 7} }

// opaque reports a snapshot this package does not know.
type opaque struct{}

func (opaque) Snapshot() any { return struct{ N int }{1} }

func TestSnapshotter(t *testing.T) {
	col := newCollector(t, fuseboxprom.Config{})
	mustAdd(t, col, "mine", snapshotter{})
	mustAdd(t, col, "opaque", opaque{})
	if got := testutil.ToFloat64(onlyMetric(t, col, "fusebox_retry_calls_total")); got != 7 {
		t.Fatalf("retry calls %v, want 7", got)
	}
	if n := testutil.CollectAndCount(col); n != 6 {
		t.Fatalf("%d series, want the 6 of the retry snapshot only", n)
	}
}

// layers is a user type whose Snapshot reports its layers the way a
// registry reports a pipeline member: a []any of snapshots, outermost
// first.
type layers struct{}

func (layers) Snapshot() any {
	return []any{
		breaker.Snapshot{Name: "outer", State: breaker.Open},
		breaker.Snapshot{Name: "inner", State: breaker.Closed},
	}
}

// TestSnapshotterOfLayersDoesNotBreakScrape: a Snapshotter returning a
// []any with two breakers exported both under the same labels, so Gather
// failed for every metric of the registry and promhttp answered 500. Now
// the outermost policy of each kind is exported, as for a pipeline.
func TestSnapshotterOfLayersDoesNotBreakScrape(t *testing.T) {
	col := newCollector(t, fuseboxprom.Config{})
	mustAdd(t, col, "mine", layers{})
	mustAdd(t, col, "other", snapshotter{})
	reg := prometheus.NewRegistry()
	if err := col.Register(reg); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body := rec.Body.String()
	if rec.Code != http.StatusOK {
		t.Fatalf("scrape answered %d:\n%s", rec.Code, body)
	}
	for _, want := range []string{
		`fusebox_breaker_state{key="",name="mine",state="open"} 1`, // the outer breaker's
		`fusebox_breaker_state{key="",name="mine",state="closed"} 0`,
		`fusebox_retry_calls_total{key="",name="other"} 7`, // other sources unharmed
	} {
		if !strings.Contains(body, want) {
			t.Errorf("scrape lacks %s:\n%s", want, body)
		}
	}
}

// onlyMetric returns a collector of the one series of name that col exports.
func onlyMetric(t *testing.T, col prometheus.Collector, name string) prometheus.Collector {
	t.Helper()
	ch := make(chan prometheus.Metric, 1000)
	col.Collect(ch)
	close(ch)
	var found []prometheus.Metric
	for m := range ch {
		if strings.Contains(m.Desc().String(), `"`+name+`"`) {
			found = append(found, m)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d series of %s, want 1", len(found), name)
	}
	return metricCollector{found[0]}
}

type metricCollector struct{ m prometheus.Metric }

func (c metricCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.m.Desc() }
func (c metricCollector) Collect(ch chan<- prometheus.Metric) { ch <- c.m }

func TestAddErrors(t *testing.T) {
	col := newCollector(t, fuseboxprom.Config{})
	b := openBreaker(t, "b")
	mustAdd(t, col, "b", b)
	var nilBreaker *breaker.Breaker
	var nilPipeline *fusebox.Pipeline
	tests := []struct {
		name   string
		policy any
		want   string
	}{
		{"x", nil, `fuseboxprom: Add "x": policy is nil`},
		{"x", nilBreaker, `fuseboxprom: Add "x": policy is nil`},
		{"x", nilPipeline, `fuseboxprom: Add "x": policy is nil`},
		{"x", 42, `fuseboxprom: Add "x": unsupported policy type int: want a Fusebox policy, a pipeline or a registry.Snapshotter`},
		{"", b, `fuseboxprom: empty name: want the policy's name, for the label name`},
		{"b", b, `fuseboxprom: name "b" already added`},
	}
	for _, tt := range tests {
		if err := col.Add(tt.name, tt.policy); err == nil || err.Error() != tt.want {
			t.Errorf("Add(%q, %T) = %v, want %q", tt.name, tt.policy, err, tt.want)
		}
	}
	var nilReg *registry.Registry[*breaker.Breaker]
	if err := col.AddRegistry("r", nilReg); err == nil || err.Error() != `fuseboxprom: AddRegistry "r": registry is nil` {
		t.Errorf("AddRegistry(nil) = %v", err)
	}
	if err := col.AddRegistry("b", &registry.Registry[*breaker.Breaker]{}); err == nil || err.Error() != `fuseboxprom: name "b" already added` {
		t.Errorf("AddRegistry(taken name) = %v", err)
	}
	if err := col.Register(nil); err == nil {
		t.Error("Register(nil) succeeded")
	}
	if !col.Remove("b") || col.Remove("b") {
		t.Error("Remove did not report removing b exactly once")
	}
	if n := testutil.CollectAndCount(col); n != 0 {
		t.Errorf("%d series after Remove, want 0", n)
	}
	mustAdd(t, col, "b", b) // the name is free again
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		c    fuseboxprom.Config
		want string
	}{
		{fuseboxprom.Config{Namespace: "9lives"}, `fuseboxprom: Namespace "9lives" invalid: want letters, digits and underscores, not starting with a digit (default "fusebox")`},
		{fuseboxprom.Config{Namespace: "a-b"}, `fuseboxprom: Namespace "a-b" invalid: want letters, digits and underscores, not starting with a digit (default "fusebox")`},
		{fuseboxprom.Config{LatencyBuckets: []float64{0.1, 0.1}}, `fuseboxprom: LatencyBuckets[1] 0.1 out of range: want positive bounds in strictly increasing order (nil means prometheus.DefBuckets)`},
		{fuseboxprom.Config{LatencyBuckets: []float64{-1}}, `fuseboxprom: LatencyBuckets[0] -1 out of range: want positive bounds in strictly increasing order (nil means prometheus.DefBuckets)`},
	}
	for _, tt := range tests {
		if _, err := fuseboxprom.New(tt.c); err == nil || err.Error() != tt.want {
			t.Errorf("New(%+v) = %v, want %q", tt.c, err, tt.want)
		}
	}
	for _, ns := range []string{"", "_x", "Shop2"} {
		if _, err := fuseboxprom.New(fuseboxprom.Config{Namespace: ns}); err != nil {
			t.Errorf("New(Namespace %q): %v", ns, err)
		}
	}
}

// TestRegister checks Register and that the collector is consistent with
// what it describes on a pedantic registry, scraped while policies run.
func TestRegister(t *testing.T) {
	col := newCollector(t, fuseboxprom.Config{})
	mustAdd(t, col, "payments", openBreaker(t, "payments"))
	reg := prometheus.NewPedanticRegistry()
	if err := col.Register(reg); err != nil {
		t.Fatal(err)
	}
	if err := col.Register(reg); err == nil {
		t.Fatal("registering twice succeeded")
	}
	if _, err := reg.Gather(); err != nil {
		t.Fatal(err)
	}
	if n, err := testutil.GatherAndCount(reg, "fusebox_breaker_state"); err != nil || n != 6 {
		t.Fatalf("GatherAndCount = %d, %v; want 6", n, err)
	}
}

// TestConcurrentScrape scrapes while policies run and policies are added
// and removed, for the race detector.
func TestConcurrentScrape(t *testing.T) {
	col := newCollector(t, fuseboxprom.Config{})
	b, err := breaker.New(breaker.Config{Name: "b", Clock: clock.NewFake(time.Time{})})
	if err != nil {
		t.Fatal(err)
	}
	mustAdd(t, col, "b", b)
	lat := col.NewLatencyPolicy("b")
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
					_ = lat.Execute(context.Background(), func(ctx context.Context) error { return b.Execute(ctx, ok) })
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			default:
				name := "extra" + strconv.Itoa(i%3)
				_ = col.Add(name, b)
				col.Remove(name)
			}
		}
	}()
	for range 20 {
		if n := testutil.CollectAndCount(col, "fusebox_breaker_state"); n < 6 {
			t.Errorf("%d state series, want at least 6", n)
		}
	}
	close(done)
	wg.Wait()
	if err := testutil.CollectAndCompare(col, strings.NewReader(`
# HELP fusebox_breaker_calls_total Calls whose outcome a circuit breaker recorded, by outcome (success, failure, ignored).
# TYPE fusebox_breaker_calls_total counter
fusebox_breaker_calls_total{key="",name="b",outcome="failure"} 0
fusebox_breaker_calls_total{key="",name="b",outcome="ignored"} 0
fusebox_breaker_calls_total{key="",name="b",outcome="success"} `+strconv.FormatUint(b.Snapshot().TotalCalls, 10)+`
`), "fusebox_breaker_calls_total"); err != nil {
		t.Fatal(err)
	}
}
