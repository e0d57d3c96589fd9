package fuseboxotel_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/breaker"
	"github.com/fusebox-go/fusebox/bulkhead"
	"github.com/fusebox-go/fusebox/clock"
	"github.com/fusebox-go/fusebox/fallback"
	"github.com/fusebox-go/fusebox/fuseboxotel"
	"github.com/fusebox-go/fusebox/hedge"
	"github.com/fusebox-go/fusebox/internal/testwait"
	"github.com/fusebox-go/fusebox/ratelimit"
	"github.com/fusebox-go/fusebox/registry"
	"github.com/fusebox-go/fusebox/retry"
	"github.com/fusebox-go/fusebox/timeout"
)

var (
	errBoom = errors.New("boom")
	bg      = context.Background()
)

func ok(context.Context) error   { return nil }
func fail(context.Context) error { return errBoom }

func name(n string) attribute.KeyValue { return fuseboxotel.AttrPolicyName.String(n) }

func mustMetrics(t *testing.T, meterT func() (m *fuseboxotel.Metrics, err error)) *fuseboxotel.Metrics {
	t.Helper()
	m, err := meterT()
	if err != nil {
		t.Fatalf("NewMetrics: %v", err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return m
}

// TestBreakerMetrics drives a breaker open with a fake clock and reads its
// state and counters through the SDK.
func TestBreakerMetrics(t *testing.T) {
	meter, reader := newMeter(t)
	fake := clock.NewFake(time.Time{})
	b, err := breaker.New(breaker.Config{Name: "payments", ConsecutiveFailures: 3, Clock: fake})
	if err != nil {
		t.Fatal(err)
	}
	mustMetrics(t, func() (*fuseboxotel.Metrics, error) {
		return fuseboxotel.NewMetrics(meter, fuseboxotel.Watch("", b)) // "" = the breaker's name
	})

	c := collect(t, reader)
	if got := c.int("fusebox.breaker.state", name("payments"), fuseboxotel.AttrState.String("closed")); got != 1 {
		t.Fatalf("state closed = %d before any call, want 1", got)
	}

	for range 2 {
		_ = b.Execute(bg, ok)
	}
	canceled, cancel := context.WithCancel(bg)
	cancel()
	_ = b.Execute(canceled, fail) // the caller gave up: ignored
	for range 3 {
		_ = b.Execute(bg, fail)
	}
	for range 2 {
		if err := b.Execute(bg, ok); !errors.Is(err, fusebox.ErrOpen) {
			t.Fatalf("call after 3 failures: %v, want ErrOpen", err)
		}
	}

	c = collect(t, reader)
	for _, st := range breaker.States {
		want := int64(0)
		if st == breaker.Open {
			want = 1
		}
		if got := c.int("fusebox.breaker.state", name("payments"), fuseboxotel.AttrState.String(st.String())); got != want {
			t.Errorf("state %s = %d, want %d", st, got, want)
		}
	}
	if n := len(c.ints("fusebox.breaker.state")); n != len(breaker.States) {
		t.Errorf("%d state series, want one per state (%d)", n, len(breaker.States))
	}
	for outcome, want := range map[string]int64{"success": 2, "failure": 3, "ignored": 1} {
		if got := c.int("fusebox.breaker.calls", fuseboxotel.AttrOutcome.String(outcome)); got != want {
			t.Errorf("calls{outcome=%s} = %d, want %d", outcome, got, want)
		}
	}
	if got := c.int("fusebox.breaker.rejections"); got != 2 {
		t.Errorf("rejections = %d, want 2", got)
	}
	if got := c.int("fusebox.breaker.transitions"); got != 1 {
		t.Errorf("transitions = %d, want 1", got)
	}

	// Units, kinds and the exact attribute set of a counter.
	m, _ := c.metric("fusebox.breaker.calls")
	if m.Unit != "{call}" {
		t.Errorf("fusebox.breaker.calls unit %q, want {call}", m.Unit)
	}
	sum, isSum := m.Data.(metricdata.Sum[int64])
	if !isSum || !sum.IsMonotonic || sum.Temporality != metricdata.CumulativeTemporality {
		t.Errorf("fusebox.breaker.calls is %T (monotonic %v), want a cumulative monotonic sum", m.Data, sum.IsMonotonic)
	}
	wantSet := attribute.NewSet(name("payments"), fuseboxotel.AttrOutcome.String("failure"))
	found := false
	for _, p := range sum.DataPoints {
		found = found || p.Attributes.Equals(&wantSet)
	}
	if !found {
		t.Errorf("no fusebox.breaker.calls point with exactly %v", wantSet.ToSlice())
	}
	if g, _ := c.metric("fusebox.breaker.state"); g.Unit != "1" {
		t.Errorf("fusebox.breaker.state unit %q, want 1", g.Unit)
	}

	b.Reset()
	c = collect(t, reader)
	if got := c.int("fusebox.breaker.state", fuseboxotel.AttrState.String("closed")); got != 1 {
		t.Errorf("state closed = %d after Reset, want 1", got)
	}
	if got := c.int("fusebox.breaker.transitions"); got != 2 {
		t.Errorf("transitions = %d after Reset, want 2", got)
	}
}

// TestPolicyMetrics reads the counters of every other policy kind.
func TestPolicyMetrics(t *testing.T) {
	meter, reader := newMeter(t)
	fake := clock.NewFake(time.Time{})

	bh, err := bulkhead.New(bulkhead.Config{MaxConcurrent: 1, Clock: fake})
	if err != nil {
		t.Fatal(err)
	}
	bucket, err := ratelimit.New(ratelimit.Config{Rate: 1, Burst: 2, Clock: fake})
	if err != nil {
		t.Fatal(err)
	}
	rp, err := retry.New(retry.Config{MaxAttempts: 3, Backoff: retry.BackoffConstant, InitialInterval: retryWait, Retryable: func(error) bool { return true }, Clock: fake})
	if err != nil {
		t.Fatal(err)
	}
	tp, err := timeout.New(timeout.Config{Timeout: time.Second, Clock: fake})
	if err != nil {
		t.Fatal(err)
	}
	fb, err := fallback.New(fallback.Config{Func: fallback.Static(nil), Clock: fake})
	if err != nil {
		t.Fatal(err)
	}
	hp, err := hedge.New(hedge.Config{Delay: time.Second, Clock: fake})
	if err != nil {
		t.Fatal(err)
	}
	mustMetrics(t, func() (*fuseboxotel.Metrics, error) {
		return fuseboxotel.NewMetrics(meter,
			fuseboxotel.Watch("bh", bh),
			fuseboxotel.Watch("rl", bucket),
			fuseboxotel.Watch("rt", rp),
			fuseboxotel.Watch("to", tp),
			fuseboxotel.Watch("fb", fb),
			fuseboxotel.Watch("hg", hp),
		)
	})

	// Bulkhead: one call holds the only slot, a second is turned away.
	entered, release, done := make(chan struct{}), make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		_ = bh.Execute(bg, func(context.Context) error { close(entered); <-release; return nil })
	}()
	<-entered
	if err := bh.Execute(bg, ok); !errors.Is(err, fusebox.ErrBulkheadFull) {
		t.Fatalf("second bulkhead call: %v, want ErrBulkheadFull", err)
	}

	// Retry: three failing attempts, the waits passed on the fake clock one
	// at a time (see retryWait).
	retried := make(chan error, 1)
	go func() { retried <- rp.Execute(bg, func(context.Context) error { return errBoom }) }()
	for i := range 2 {
		testwait.Timers(t, fake, 1, fmt.Sprintf("the retry's wait %d of 2", i+1))
		fake.Advance(retryWait)
	}
	if err := testwait.Recv(t, retried, "the retried call"); !errors.Is(err, fusebox.ErrRetriesExhausted) {
		t.Fatalf("retry: %v, want ErrRetriesExhausted", err)
	}

	// Rate limiter (after the retry moved the clock): a burst of 2, then a rejection.
	for range 3 {
		_ = bucket.Execute(bg, ok)
	}

	_ = tp.Execute(bg, ok)
	_ = fb.Execute(bg, fail)

	c := collect(t, reader)
	checks := []struct {
		metric string
		attrs  []attribute.KeyValue
		want   int64
	}{
		{"fusebox.bulkhead.in_flight", []attribute.KeyValue{name("bh")}, 1},
		{"fusebox.bulkhead.queued", []attribute.KeyValue{name("bh")}, 0},
		{"fusebox.bulkhead.limit", []attribute.KeyValue{name("bh")}, 1},
		{"fusebox.bulkhead.admitted", []attribute.KeyValue{name("bh")}, 1},
		{"fusebox.bulkhead.rejections", []attribute.KeyValue{name("bh"), fuseboxotel.AttrReason.String("full")}, 1},
		{"fusebox.bulkhead.rejections", []attribute.KeyValue{name("bh"), fuseboxotel.AttrReason.String("queue_timeout")}, 0},
		{"fusebox.ratelimit.allowed", []attribute.KeyValue{name("rl")}, 2},
		{"fusebox.ratelimit.rejections", []attribute.KeyValue{name("rl")}, 1},
		{"fusebox.retry.calls", []attribute.KeyValue{name("rt")}, 1},
		{"fusebox.retry.attempts", []attribute.KeyValue{name("rt")}, 3},
		{"fusebox.retry.exhausted", []attribute.KeyValue{name("rt")}, 1},
		{"fusebox.retry.recovered", []attribute.KeyValue{name("rt")}, 0},
		{"fusebox.timeout.calls", []attribute.KeyValue{name("to")}, 1},
		{"fusebox.timeout.timeouts", []attribute.KeyValue{name("to")}, 0},
		{"fusebox.fallback.calls", []attribute.KeyValue{name("fb")}, 1},
		{"fusebox.fallback.served", []attribute.KeyValue{name("fb")}, 1},
		{"fusebox.hedge.calls", []attribute.KeyValue{name("hg")}, 0},
	}
	for _, ck := range checks {
		if got := c.int(ck.metric, ck.attrs...); got != ck.want {
			t.Errorf("%s%v = %d, want %d", ck.metric, ck.attrs, got, ck.want)
		}
	}
	if got := c.float("fusebox.ratelimit.tokens", name("rl")); got != 0 {
		t.Errorf("tokens = %v after the burst, want 0", got)
	}
	if got := c.float("fusebox.hedge.delay", name("hg")); got != 1 {
		t.Errorf("hedge delay = %v s, want 1", got)
	}
	fake.Advance(time.Second)
	if got := collect(t, reader).float("fusebox.ratelimit.tokens", name("rl")); got != 1 {
		t.Errorf("tokens = %v a second later at 1/s, want 1", got)
	}

	close(release)
	<-done
	if got := collect(t, reader).int("fusebox.bulkhead.in_flight", name("bh")); got != 0 {
		t.Errorf("in_flight = %d after the call ended, want 0", got)
	}
}

// TestPipelineSource observes a pipeline's layers with their positions and
// skips the layers it does not know.
func TestPipelineSource(t *testing.T) {
	meter, reader := newMeter(t)
	tracer, _ := newTracer(t)
	fake := clock.NewFake(time.Time{})
	bh, _ := bulkhead.New(bulkhead.Config{MaxConcurrent: 7, Clock: fake})
	b, _ := breaker.New(breaker.Config{Name: "inner", Clock: fake})
	tp, _ := fuseboxotel.NewTracingPolicy(tracer, "tr")
	p, err := fusebox.New(tp, bh, b)
	if err != nil {
		t.Fatal(err)
	}
	mustMetrics(t, func() (*fuseboxotel.Metrics, error) {
		return fuseboxotel.NewMetrics(meter, fuseboxotel.Watch("api", p))
	})
	b.ForceOpen()
	_ = p.Run(bg, ok)

	c := collect(t, reader)
	layer := fuseboxotel.AttrPolicyLayer.Int
	if got := c.int("fusebox.bulkhead.limit", name("api"), layer(1)); got != 7 {
		t.Errorf("bulkhead limit at layer 1 = %d, want 7", got)
	}
	if got := c.int("fusebox.breaker.state", name("api"), layer(2), fuseboxotel.AttrState.String("forced-open")); got != 1 {
		t.Errorf("breaker forced-open at layer 2 = %d, want 1", got)
	}
	if got := c.int("fusebox.breaker.rejections", name("api"), layer(2)); got != 1 {
		t.Errorf("breaker rejections = %d, want 1", got)
	}
	if ps := c.ints("fusebox.bulkhead.limit", layer(0)); len(ps) != 0 {
		t.Errorf("layer 0 (a TracingPolicy) observed: %+v", ps)
	}
}

// TestRegistrySource observes each member of a registry with its key.
func TestRegistrySource(t *testing.T) {
	meter, reader := newMeter(t)
	fake := clock.NewFake(time.Time{})
	reg, err := registry.New(registry.Config[*breaker.Breaker]{
		New:   func(key string) (*breaker.Breaker, error) { return breaker.New(breaker.Config{Name: key, Clock: fake}) },
		Clock: fake,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	mustMetrics(t, func() (*fuseboxotel.Metrics, error) {
		return fuseboxotel.NewMetrics(meter, fuseboxotel.WatchRegistry("hosts", reg))
	})
	a, _ := reg.Get("a.example")
	_, _ = reg.Get("b.example")
	a.Trip()

	c := collect(t, reader)
	key := fuseboxotel.AttrPolicyKey.String
	if got := c.int("fusebox.breaker.state", name("hosts"), key("a.example"), fuseboxotel.AttrState.String("open")); got != 1 {
		t.Errorf("a.example open = %d, want 1", got)
	}
	if got := c.int("fusebox.breaker.state", name("hosts"), key("b.example"), fuseboxotel.AttrState.String("closed")); got != 1 {
		t.Errorf("b.example closed = %d, want 1", got)
	}
	if got := c.int("fusebox.registry.keys", name("hosts")); got != 2 {
		t.Errorf("registry keys = %d, want 2", got)
	}
	if got := c.int("fusebox.registry.created", name("hosts")); got != 2 {
		t.Errorf("registry created = %d, want 2", got)
	}
}

// snapshotter is a user type with a snapshot this package knows.
type snapshotter struct{ s bulkhead.Snapshot }

func (s snapshotter) Snapshot() any { return s.s }

// TestOtherSources covers pools and Snapshotters.
func TestOtherSources(t *testing.T) {
	meter, reader := newMeter(t)
	fake := clock.NewFake(time.Time{})
	pool, err := bulkhead.NewPool(bulkhead.PoolConfig{Workers: 3, QueueSize: 5, Clock: fake}, func(context.Context, int) (int, error) { return 0, nil })
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	mustMetrics(t, func() (*fuseboxotel.Metrics, error) {
		return fuseboxotel.NewMetrics(meter,
			fuseboxotel.Watch("pool", pool),
			fuseboxotel.Watch("mine", snapshotter{bulkhead.Snapshot{MaxConcurrent: 9, InFlight: 4}}),
		)
	})
	c := collect(t, reader)
	if got := c.int("fusebox.bulkhead.limit", name("pool")); got != 3 {
		t.Errorf("pool limit = %d, want 3 workers", got)
	}
	if got := c.int("fusebox.bulkhead.queue.limit", name("pool")); got != 5 {
		t.Errorf("pool queue limit = %d, want 5", got)
	}
	if got := c.int("fusebox.bulkhead.in_flight", name("mine")); got != 4 {
		t.Errorf("snapshotter in_flight = %d, want 4", got)
	}
}

func TestNewMetricsErrors(t *testing.T) {
	meter, _ := newMeter(t)
	bh, _ := bulkhead.New(bulkhead.Config{})
	tests := []struct {
		name    string
		sources []fuseboxotel.Source
		want    string
	}{
		{"nil policy", []fuseboxotel.Source{fuseboxotel.Watch("x", nil)}, "sources[0]"},
		{"nil breaker", []fuseboxotel.Source{fuseboxotel.Watch("x", (*breaker.Breaker)(nil))}, "nil"},
		{"unsupported", []fuseboxotel.Source{fuseboxotel.Watch("ok", bh), fuseboxotel.Watch("x", 42)}, "sources[1]"},
		{"empty name", []fuseboxotel.Source{fuseboxotel.Watch("", bh)}, "empty name"},
		{"zero source", []fuseboxotel.Source{{}}, "Watch"},
		{"nil registry", []fuseboxotel.Source{fuseboxotel.WatchRegistry[*breaker.Breaker]("r", nil)}, "registry is nil"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := fuseboxotel.NewMetrics(meter, tt.sources...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("NewMetrics: %v, want an error containing %q", err, tt.want)
			}
		})
	}
	if _, err := fuseboxotel.NewMetrics(nil); err == nil {
		t.Fatal("NewMetrics(nil meter): no error")
	}
}

// TestMetricsClose stops the observations; Close is idempotent.
func TestMetricsClose(t *testing.T) {
	meter, reader := newMeter(t)
	b, _ := breaker.New(breaker.Config{Name: "b", Clock: clock.NewFake(time.Time{})})
	m, err := fuseboxotel.NewMetrics(meter, fuseboxotel.Watch("", b))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := collect(t, reader).metric("fusebox.breaker.state"); !ok {
		t.Fatal("no state before Close")
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, ok := collect(t, reader).metric("fusebox.breaker.state"); ok {
		t.Fatal("state still observed after Close")
	}
}

// TestConcurrentCollect collects while calls run, for the race detector.
func TestConcurrentCollect(t *testing.T) {
	meter, reader := newMeter(t)
	b, _ := breaker.New(breaker.Config{Name: "b", Clock: clock.NewFake(time.Time{})})
	mustMetrics(t, func() (*fuseboxotel.Metrics, error) { return fuseboxotel.NewMetrics(meter, fuseboxotel.Watch("", b)) })
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 200 {
				_ = b.Execute(bg, ok)
			}
		})
	}
	for range 20 {
		collect(t, reader)
	}
	wg.Wait()
	if got := collect(t, reader).int("fusebox.breaker.calls", fuseboxotel.AttrOutcome.String("success")); got != 800 {
		t.Fatalf("successes = %d, want 800", got)
	}
}
