package dashboard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/breaker"
	"github.com/fusebox-go/fusebox/bulkhead"
	"github.com/fusebox-go/fusebox/clock"
	"github.com/fusebox-go/fusebox/internal/testwait"
	"github.com/fusebox-go/fusebox/ratelimit"
	"github.com/fusebox-go/fusebox/registry"
	"github.com/fusebox-go/fusebox/retry"
)

var errDown = errors.New("dependency down")

func ok(context.Context) error   { return nil }
func fail(context.Context) error { return errDown }

// newDashboard returns a dashboard closed at the end of the test.
func newDashboard(t testing.TB, cfg Config) *Dashboard {
	t.Helper()
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

func newBreaker(t testing.TB, cfg breaker.Config) *breaker.Breaker {
	t.Helper()
	b, err := breaker.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// getStatus fetches /status.json through the handler.
func getStatus(t *testing.T, h http.Handler) Status {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/status.json", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /status.json: %d %s", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q", ct)
	}
	var s Status
	if err := json.Unmarshal(rec.Body.Bytes(), &s); err != nil {
		t.Fatalf("decoding /status.json: %v\n%s", err, rec.Body)
	}
	return s
}

func policy(t *testing.T, s Status, name string) PolicyStatus {
	t.Helper()
	for _, p := range s.Policies {
		if p.Name == name {
			return p
		}
	}
	var names []string
	for _, p := range s.Policies {
		names = append(names, p.Name)
	}
	t.Fatalf("no policy %q in status; have %q", name, names)
	return PolicyStatus{}
}

func TestConfigValidation(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{Interval: time.Millisecond}, "Interval 1ms out of range"},
		{Config{Interval: -time.Second}, "Interval -1s out of range"},
		{Config{History: 1}, "History 1 out of range"},
		{Config{History: -1}, "History -1 out of range"},
		{Config{Timeline: -1}, "Timeline -1 out of range"},
		{Config{Heartbeat: time.Millisecond}, "Heartbeat 1ms out of range"},
		{Config{MaxStreams: -1}, "MaxStreams -1 out of range: want 0 (default 64) or 1 to 10000"},
		{Config{MaxStreams: MaxMaxStreams + 1}, "MaxStreams 10001 out of range"},
		{Config{Actions: true}, "Token of 0 bytes out of range"},
		{Config{Actions: true, Token: "short"}, "Token of 5 bytes out of range"},
		{Config{Token: "0123456789abcdef"}, "Token set with Actions false"},
		{Config{ReadToken: "short"}, "ReadToken of 5 bytes out of range: want 0 (reading open) or 16 bytes or more"},
		{Config{Sources: []Source{nil}}, "Sources[0] is nil"},
	} {
		_, err := New(c.cfg)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("New(%+v) = %v, want an error containing %q", c.cfg, err, c.want)
		}
	}
	d := newDashboard(t, Config{})
	if d.cfg.Interval != DefaultInterval || d.cfg.History != DefaultHistory || d.cfg.Timeline != DefaultTimeline ||
		d.cfg.Heartbeat != DefaultHeartbeat || d.cfg.Title != DefaultTitle || d.cfg.MaxStreams != DefaultMaxStreams {
		t.Errorf("defaults not applied: %+v", d.cfg)
	}
}

func TestAdd(t *testing.T) {
	d := newDashboard(t, Config{Clock: clock.NewFake(time.Time{})})
	b := newBreaker(t, breaker.Config{Name: "b"})
	if err := d.Add("", b); err == nil {
		t.Error("Add with an empty name succeeded")
	}
	if err := d.Add("x", 42); err == nil || !strings.Contains(err.Error(), "cannot read a int") {
		t.Errorf("Add(int) = %v", err)
	}
	if err := d.Add("x", nil); err == nil {
		t.Error("Add(nil) succeeded")
	}
	if err := d.Add("b", b); err != nil {
		t.Fatal(err)
	}
	if err := d.Add("b", b); err == nil || !strings.Contains(err.Error(), "taken") {
		t.Errorf("Add of a taken name = %v", err)
	}
	if !d.Remove("b") || d.Remove("b") {
		t.Error("Remove did not report the policy once")
	}
	if n := len(d.Status().Policies); n != 0 {
		t.Errorf("%d policies after Remove, want 0", n)
	}
}

// TestStatusRates drives a breaker, a bulkhead, a rate limiter, a retry
// and a latency policy through two samples one second apart and checks
// the rates /status.json reports.
func TestStatusRates(t *testing.T) {
	clk := clock.NewFake(time.Unix(1700000000, 0))
	d := newDashboard(t, Config{Clock: clk, Title: "Shop"})
	br := newBreaker(t, breaker.Config{Name: "payments", Clock: clk, SlowCallRate: 0.9, SlowCallDuration: 50 * time.Millisecond, MinimumCalls: 1000})
	bh, err := bulkhead.New(bulkhead.Config{Name: "pool", MaxConcurrent: 2, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	rl, err := ratelimit.New(ratelimit.Config{Name: "rl", Rate: 1, Burst: 5, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	rt, err := retry.New(retry.Config{Name: "rt", MaxAttempts: 2, Retryable: func(error) bool { return true }, InitialInterval: 100 * time.Millisecond, MaxInterval: 100 * time.Millisecond, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	for name, p := range map[string]any{"payments": br, "pool": bh, "rl": rl, "rt": rt} {
		if err := d.Add(name, p); err != nil {
			t.Fatal(err)
		}
	}
	lat := d.LatencyPolicy("payments")
	pipe, err := fusebox.New(br, lat)
	if err != nil {
		t.Fatal(err)
	}

	s := getStatus(t, d) // the first sample: totals, no rates yet
	if s.Title != "Shop" || s.Seq != 1 || s.Full != true || s.HistorySize != DefaultHistory {
		t.Fatalf("status header = %+v", s)
	}
	if p := policy(t, s, "payments"); p.Kind != KindBreaker || p.State != "closed" || p.Rate != 0 || len(p.History) != 0 {
		t.Fatalf("payments before traffic: %+v", p)
	}

	ctx := context.Background()
	// 20 calls: 5 fail, 2 are slow (100ms), the rest take 10ms.
	for i := range 20 {
		_ = pipe.Run(ctx, func(context.Context) error {
			if i < 2 {
				clk.Advance(100 * time.Millisecond)
			} else {
				clk.Advance(10 * time.Millisecond)
			}
			if i%4 == 0 {
				return errDown
			}
			return nil
		})
	}
	for range 3 {
		_ = bh.Execute(ctx, ok)
	}
	for range 8 {
		_ = rl.Execute(ctx, ok) // 5 allowed, 3 rejected
	}
	retried := make(chan error)
	go func() { retried <- rt.Execute(ctx, fail) }()
	for done := false; !done; {
		select {
		case err := <-retried:
			if !errors.Is(err, retry.ErrRetriesExhausted) {
				t.Fatalf("retry: %v", err)
			}
			done = true
		case <-time.After(time.Millisecond):
			if clk.Timers() > 0 {
				clk.Advance(100 * time.Millisecond) // the retry waits for its backoff
			}
		}
	}
	_ = rt.Execute(ctx, ok)
	clk.Set(time.Unix(1700000002, 0)) // 2s after the first sample

	s = getStatus(t, d)
	if s.Seq != 2 {
		t.Fatalf("Seq = %d, want 2", s.Seq)
	}
	p := policy(t, s, "payments")
	if p.Rate != 10 || p.ErrorRate != 0.25 || p.SlowRate != 0.1 || p.RejectRate != 0 {
		t.Errorf("payments rates = %v/s, %v errors, %v slow, %v rej/s; want 10/s, 0.25, 0.1, 0", p.Rate, p.ErrorRate, p.SlowRate, p.RejectRate)
	}
	if p.Calls != 20 || p.Failures != 5 || p.SlowCalls != 2 {
		t.Errorf("payments totals = %d calls, %d failures, %d slow", p.Calls, p.Failures, p.SlowCalls)
	}
	if len(p.History) != 1 || p.History[0].Rate != 10 || p.History[0].Err != 0.25 || p.History[0].T != time.Unix(1700000002, 0).UnixMilli() {
		t.Errorf("payments history = %+v", p.History)
	}
	if p.Latency == nil || p.Latency.Calls != 20 || p.Latency.P50 < 9*time.Millisecond || p.Latency.P50 > 11*time.Millisecond ||
		p.Latency.P99 < 90*time.Millisecond || p.Latency.P99 > 110*time.Millisecond {
		t.Errorf("payments latency = %+v, want 20 calls, p50 ≈ 10ms, p99 ≈ 100ms", p.Latency)
	}
	if p.Since == nil || p.Reason != "" && p.State != "closed" {
		t.Errorf("payments since/reason = %v %q", p.Since, p.Reason)
	}
	if _, ok := p.Snapshot.(map[string]any); !ok {
		t.Errorf("payments snapshot = %T, want the breaker's snapshot object", p.Snapshot)
	}
	if p := policy(t, s, "pool"); p.Kind != KindBulkhead || p.State != StateOK || p.Rate != 1.5 || !strings.Contains(p.Detail, "0/2 in flight") {
		t.Errorf("pool = %+v", p)
	}
	if p := policy(t, s, "rl"); p.Kind != KindRateLimit || p.State != StateLimiting || p.Rate != 2.5 || p.RejectRate != 1.5 || p.RejectedFraction != 0.375 {
		t.Errorf("rl = %+v", p)
	}
	if p := policy(t, s, "rt"); p.Kind != KindRetry || p.Rate != 1 || p.ErrorRate != 0.5 {
		t.Errorf("rt = %+v", p)
	}
	if p.Actions != nil {
		t.Errorf("actions offered with Actions off: %v", p.Actions)
	}

	// Quiet second: the counts stay, the rates fall over the 10s span.
	clk.Advance(2 * time.Second)
	s = getStatus(t, d)
	if p := policy(t, s, "payments"); p.Rate != 5 || len(p.History) != 2 || p.History[1].Rate != 0 {
		t.Errorf("payments after a quiet 2s: rate %v, history %+v; want 5/s over the last 4s", p.Rate, p.History)
	}
}

func TestHistoryRing(t *testing.T) {
	clk := clock.NewFake(time.Time{})
	d := newDashboard(t, Config{Clock: clk, History: 3})
	b := newBreaker(t, breaker.Config{Name: "b", Clock: clk})
	if err := d.Add("b", b); err != nil {
		t.Fatal(err)
	}
	for i := range 6 {
		for range i {
			_ = b.Execute(context.Background(), ok)
		}
		d.Status()
		clk.Advance(time.Second)
	}
	h := policy(t, d.Status(), "b").History
	if len(h) != 3 || h[0].Rate != 4 || h[1].Rate != 5 || h[2].Rate != 0 {
		t.Fatalf("history = %+v, want the last 3 samples: 4, 5, 0", h)
	}
}

func TestTimelineFromSnapshots(t *testing.T) {
	clk := clock.NewFake(time.Unix(1700000000, 0))
	d := newDashboard(t, Config{Clock: clk})
	b := newBreaker(t, breaker.Config{Name: "svc", Clock: clk, ConsecutiveFailures: 2})
	if err := d.Add("api", b); err != nil {
		t.Fatal(err)
	}
	d.Status()
	clk.Advance(time.Second)
	_ = b.Execute(context.Background(), fail)
	_ = b.Execute(context.Background(), fail) // trips
	clk.Advance(time.Second)
	s := d.Status()
	if len(s.Timeline) != 1 {
		t.Fatalf("timeline = %+v, want one change", s.Timeline)
	}
	c := s.Timeline[0]
	if c.ID != 1 || c.Policy != "api" || c.Kind != KindBreaker || c.From != "closed" || c.To != "open" || c.Reason != "consecutive failures" {
		t.Errorf("change = %+v", c)
	}
	if want := time.Unix(1700000001, 0); !c.At.Equal(want) {
		t.Errorf("change at %v, want %v (when the breaker tripped)", c.At, want)
	}
	if p := policy(t, s, "api"); p.State != "open" || p.RetryAfter <= 0 || p.Reason != "consecutive failures" {
		t.Errorf("api = %+v", p)
	}
	// Two changes between samples show as one, counted.
	b.ForceOpen()
	b.Reset()
	s = d.Status()
	if len(s.Timeline) != 2 || !strings.Contains(s.Timeline[1].Reason, "1 changes in between not seen") || s.Timeline[1].To != "closed" {
		t.Errorf("timeline = %+v", s.Timeline)
	}
}

func TestTimelineRing(t *testing.T) {
	clk := clock.NewFake(time.Time{})
	d := newDashboard(t, Config{Clock: clk, Timeline: 2})
	b := newBreaker(t, breaker.Config{Name: "b", Clock: clk})
	if err := d.Add("b", b); err != nil {
		t.Fatal(err)
	}
	d.Status()
	for _, f := range []func(){b.ForceOpen, b.Reset, b.Disable} {
		f()
		d.Status()
	}
	tl := d.Status().Timeline
	if len(tl) != 2 || tl[0].ID != 2 || tl[1].ID != 3 || tl[1].To != "disabled" {
		t.Fatalf("timeline = %+v, want changes 2 and 3", tl)
	}
}

func TestTimelineFromEvents(t *testing.T) {
	clk := clock.NewFake(time.Unix(1700000000, 0))
	bus := fusebox.NewEvents()
	defer bus.Close()
	d := newDashboard(t, Config{Clock: clk, Events: bus})
	b := newBreaker(t, breaker.Config{Name: "svc", Clock: clk, Events: bus})
	other := newBreaker(t, breaker.Config{Name: "unlisted", Clock: clk, Events: bus})
	if err := d.Add("api", b); err != nil {
		t.Fatal(err)
	}
	d.Status() // learns that breaker "svc" is row "api"
	b.Trip()
	other.ForceOpen()
	tl := waitTimeline(t, d, 2)
	if c := tl[0]; c.Policy != "api" || c.From != "closed" || c.To != "open" || c.Reason != "tripped by operator" || !c.At.Equal(clk.Now()) {
		t.Errorf("first change = %+v", c)
	}
	if c := tl[1]; c.Policy != "unlisted" || c.To != "forced-open" {
		t.Errorf("second change = %+v", c)
	}
	// With a bus, sampling adds no changes of its own.
	if n := len(d.Status().Timeline); n != 2 {
		t.Errorf("timeline has %d changes after a sample, want 2", n)
	}
}

// The change of a breaker the dashboard no longer shows goes on the
// timeline under the breaker's own name (Change.Policy), not under the row
// it had: Remove forgets the row at once.
func TestTimelineFromEventsAfterRemove(t *testing.T) {
	clk := clock.NewFake(time.Unix(1700000000, 0))
	bus := fusebox.NewEvents()
	defer bus.Close()
	d := newDashboard(t, Config{Clock: clk, Events: bus})
	b := newBreaker(t, breaker.Config{Name: "svc", Clock: clk, Events: bus})
	if err := d.Add("api", b); err != nil {
		t.Fatal(err)
	}
	d.Status() // row "api" shows breaker "svc"
	if !d.Remove("api") {
		t.Fatal("Remove(api) = false")
	}
	b.Trip() // no sample in between
	tl := waitTimeline(t, d, 1)
	if tl[0].Policy != "svc" {
		t.Errorf("change of the removed breaker is on row %q, want its own name %q", tl[0].Policy, "svc")
	}
	if st := d.Status(); len(st.Policies) != 0 {
		t.Errorf("after Remove the status still shows %d policies", len(st.Policies))
	}
}

// Events name breakers by their Config.Name: the change of a breaker whose
// name several rows share goes under that name, not on one of the rows.
func TestTimelineFromEventsSharedBreakerName(t *testing.T) {
	clk := clock.NewFake(time.Unix(1700000000, 0))
	bus := fusebox.NewEvents()
	defer bus.Close()
	d := newDashboard(t, Config{Clock: clk, Events: bus})
	first := newBreaker(t, breaker.Config{Name: "svc", Clock: clk, Events: bus})
	second := newBreaker(t, breaker.Config{Name: "svc", Clock: clk, Events: bus})
	own := newBreaker(t, breaker.Config{Name: "own", Clock: clk, Events: bus})
	for name, b := range map[string]*breaker.Breaker{"a": first, "b": second, "c": own} {
		if err := d.Add(name, b); err != nil {
			t.Fatal(err)
		}
	}
	d.Status()
	first.Trip()
	own.Trip()
	tl := waitTimeline(t, d, 2)
	if tl[0].Policy != "svc" || tl[1].Policy != "c" {
		t.Errorf("changes on %q and %q, want %q (rows a and b share it) and %q", tl[0].Policy, tl[1].Policy, "svc", "c")
	}
}

// churnSource is a registry whose members come and go: each Snapshot shows
// one breaker, a new key each time, as a registry keyed by something that
// changes (hosts, tenants) and evicting idle members does.
type churnSource struct{ n int }

func (c *churnSource) Snapshot() []registry.Member {
	c.n++
	key := fmt.Sprintf("host-%d", c.n)
	return []registry.Member{{Key: key, Value: breaker.Snapshot{Name: key, State: breaker.Closed}}}
}

// The dashboard's memory does not grow with members that are gone: the
// rows and the index of breaker names hold only live ones.
func TestBreakerIndexBoundedUnderChurn(t *testing.T) {
	d := newDashboard(t, Config{Clock: clock.NewFake(time.Unix(1700000000, 0)), Sources: []Source{&churnSource{}}})
	for range 100 {
		d.Status()
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.tracks) != 1 || len(d.byBreaker) != 1 || d.byBreaker["host-100"] != "host-100" {
		t.Errorf("%d rows, breaker index %v; want 1 row and only host-100 in the index", len(d.tracks), d.byBreaker)
	}
}

// gatedPolicy is a policy whose Snapshot blocks, once, until released.
type gatedPolicy struct {
	once             sync.Once
	entered, release chan struct{}
}

func (g *gatedPolicy) Snapshot() any {
	g.once.Do(func() {
		close(g.entered)
		<-g.release
	})
	return map[string]int{"widgets": 1}
}

// A sample that read a policy before Remove does not show it again after.
func TestRemoveDuringSample(t *testing.T) {
	d := newDashboard(t, Config{Clock: clock.NewFake(time.Unix(1700000000, 0))})
	g := &gatedPolicy{entered: make(chan struct{}), release: make(chan struct{})}
	if err := d.Add("gated", g); err != nil {
		t.Fatal(err)
	}
	d.LatencyPolicy("own-row")
	sampled := make(chan Status)
	go func() { sampled <- d.Status() }()
	testwait.Recv(t, g.entered, "the sample to read the policy")
	d.Remove("gated")
	d.Remove("own-row")
	close(g.release)
	if st := testwait.Recv(t, sampled, "the sample"); len(st.Policies) != 0 {
		t.Errorf("the sample shows %+v, removed while it was taken", st.Policies)
	}
}

// The events the dashboard's subscription loses show in the status.
func TestStatusCountsDroppedEvents(t *testing.T) {
	bus := fusebox.NewEvents()
	defer bus.Close()
	d := newDashboard(t, Config{Clock: clock.NewFake(time.Unix(1700000000, 0)), Events: bus})
	if n := getStatus(t, d).EventsDropped; n != 0 {
		t.Fatalf("EventsDropped = %d before any event", n)
	}
	// Hold the lock the subscriber takes: it blocks on the first state
	// change, and its buffer fills up.
	const published = fusebox.DefaultEventBuffer + 100
	d.mu.Lock()
	for range published {
		bus.Publish(fusebox.Event{Kind: fusebox.EventStateChange, Policy: KindBreaker, Name: "svc", From: "closed", To: "open"})
	}
	d.mu.Unlock()
	// One event in the subscriber's hands (or not yet), a full buffer.
	lost := getStatus(t, d).EventsDropped
	if lost < published-fusebox.DefaultEventBuffer-1 || lost > published-fusebox.DefaultEventBuffer {
		t.Errorf("EventsDropped = %d, want %d or %d", lost, published-fusebox.DefaultEventBuffer-1, published-fusebox.DefaultEventBuffer)
	}
	page := httptest.NewRecorder()
	d.ServeHTTP(page, httptest.NewRequest("GET", "/", nil))
	if !strings.Contains(page.Body.String(), `id="timeline-lost"`) {
		t.Error("the page has no place for the lost events")
	}
}

func TestPipelineLayers(t *testing.T) {
	clk := clock.NewFake(time.Time{})
	d := newDashboard(t, Config{Clock: clk, Actions: true, Token: "0123456789abcdef"})
	bh, _ := bulkhead.New(bulkhead.Config{MaxConcurrent: 1, Clock: clk})
	b1 := newBreaker(t, breaker.Config{Name: "one", Clock: clk})
	b2 := newBreaker(t, breaker.Config{Name: "two", Clock: clk})
	lat := d.LatencyPolicy("checkout/breaker")
	p, err := fusebox.New(bh, b1, b2, lat)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Add("checkout", p); err != nil {
		t.Fatal(err)
	}
	_ = p.Run(context.Background(), ok)
	s := d.Status()
	var names []string
	for _, p := range s.Policies {
		names = append(names, p.Name+":"+p.Kind)
	}
	if got := strings.Join(names, " "); got != "checkout/bulkhead:bulkhead checkout/breaker:breaker checkout/breaker#2:breaker" {
		t.Fatalf("rows = %s", got)
	}
	if p := policy(t, s, "checkout/breaker"); p.Latency == nil || len(p.Actions) != 3 {
		t.Errorf("checkout/breaker = %+v, want the latency and the actions", p)
	}
	br, _, err := d.findBreaker("checkout/breaker#2")
	if err != nil || br != b2 {
		t.Errorf("findBreaker = %v, %v; want the second breaker", br, err)
	}
}

func TestRegistrySource(t *testing.T) {
	clk := clock.NewFake(time.Time{})
	hosts, err := registry.New(registry.Config[*breaker.Breaker]{
		New: func(host string) (*breaker.Breaker, error) {
			return breaker.New(breaker.Config{Name: host, Clock: clk})
		},
		Clock: clk,
	})
	if err != nil {
		t.Fatal(err)
	}
	routes, err := registry.New(registry.Config[*fusebox.Pipeline]{
		New: func(string) (*fusebox.Pipeline, error) {
			b, err := breaker.New(breaker.Config{Clock: clk})
			if err != nil {
				return nil, err
			}
			return fusebox.New(b, plainPolicy{}) // a layer the registry cannot read
		},
		Clock: clk,
	})
	if err != nil {
		t.Fatal(err)
	}
	d := newDashboard(t, Config{Clock: clk, Sources: []Source{hosts, routes}, Actions: true, Token: "0123456789abcdef"})
	d.LatencyPolicy("unused")
	for _, h := range []string{"b.example", "a.example"} {
		if _, err := hosts.Get(h); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := routes.Get("/cart"); err != nil {
		t.Fatal(err)
	}
	if err := d.Add("a.example", newBreaker(t, breaker.Config{Clock: clk})); err != nil {
		t.Fatal(err)
	}
	s := d.Status()
	var names []string
	for _, p := range s.Policies {
		names = append(names, p.Name)
	}
	if got := strings.Join(names, ","); got != "a.example,a.example (2),b.example,/cart/breaker,unused" {
		t.Fatalf("rows = %s", got)
	}
	if p := policy(t, s, "b.example"); len(p.Actions) != 3 || p.State != "closed" {
		t.Errorf("b.example = %+v", p)
	}
	if p := policy(t, s, "unused"); p.Kind != KindLatency {
		t.Errorf("a Latency with no row of its name: %+v", p)
	}
	// Actions reach registry members, pipeline layers included.
	for _, name := range []string{"b.example", "/cart/breaker"} {
		b, _, err := d.findBreaker(name)
		if err != nil {
			t.Fatalf("findBreaker(%q): %v", name, err)
		}
		b.ForceOpen()
	}
	hb, _ := hosts.Get("b.example")
	if hb.State() != breaker.ForcedOpen {
		t.Errorf("registry breaker state %v, want forced-open", hb.State())
	}
	s = d.Status()
	if p := policy(t, s, "/cart/breaker"); p.State != "forced-open" {
		t.Errorf("/cart/breaker = %s, want forced-open", p.State)
	}
	// A member gone from the registry leaves the dashboard; actions do not
	// reach it even before the next sample.
	hosts.Delete("b.example")
	if _, code, err := d.findBreaker("b.example"); code != http.StatusNotFound {
		t.Errorf("findBreaker of a deleted member = %d %v, want 404", code, err)
	}
	for _, p := range d.Status().Policies {
		if p.Name == "b.example" {
			t.Error("a deleted registry member is still shown")
		}
	}
}

// plainPolicy is a policy with no snapshot.
type plainPolicy struct{}

func (plainPolicy) Run(ctx context.Context, next fusebox.Next) error { return next.Run(ctx) }

// opaque is a member the registry cannot read.
type opaque struct{}

// custom is a user type with a snapshot of its own.
type custom struct{}

func (custom) Snapshot() any { return map[string]int{"widgets": 3} }

func TestOtherKinds(t *testing.T) {
	clk := clock.NewFake(time.Time{})
	reg, err := registry.New(registry.Config[any]{New: func(k string) (any, error) {
		if k == "opaque" {
			return opaque{}, nil
		}
		return custom{}, nil
	}, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	_, _ = reg.Get("opaque")
	_, _ = reg.Get("custom")
	d := newDashboard(t, Config{Clock: clk, Sources: []Source{reg}})
	s := d.Status()
	if p := policy(t, s, "opaque"); p.Kind != KindOther || p.State != "" || p.Snapshot != nil {
		t.Errorf("opaque = %+v", p)
	}
	if p := policy(t, s, "custom"); p.Kind != KindOther || p.Snapshot == nil {
		t.Errorf("custom = %+v", p)
	}
	if err := d.Add("mine", custom{}); err != nil {
		t.Errorf("Add of a Snapshotter: %v", err)
	}
}

func TestPageAndAssets(t *testing.T) {
	d := newDashboard(t, Config{Clock: clock.NewFake(time.Time{}), Title: `<Shop & "Co">`})
	for _, c := range []struct {
		path, ctype, contains string
	}{
		{"/", "text/html; charset=utf-8", "&lt;Shop &amp; &#34;Co&#34;&gt;"},
		{"/app.js", "text/javascript; charset=utf-8", "EventSource"},
		{"/app.css", "text/css; charset=utf-8", "--forced-open"},
		{"/favicon.svg", "image/svg+xml", "<svg"},
	} {
		rec := httptest.NewRecorder()
		d.ServeHTTP(rec, httptest.NewRequest("GET", c.path, nil))
		if rec.Code != 200 || rec.Header().Get("Content-Type") != c.ctype || !strings.Contains(rec.Body.String(), c.contains) {
			t.Errorf("GET %s: %d %q, body has %q: %v", c.path, rec.Code, rec.Header().Get("Content-Type"), c.contains, strings.Contains(rec.Body.String(), c.contains))
		}
		if rec.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: no nosniff header", c.path)
		}
	}
	rec := httptest.NewRecorder()
	d.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	csp := rec.Header().Get("Content-Security-Policy")
	if !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "connect-src 'self'") {
		t.Errorf("CSP = %q", csp)
	}
	// The page pulls in nothing from elsewhere.
	for _, path := range []string{"/", "/app.js", "/app.css"} {
		rec := httptest.NewRecorder()
		d.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		body := rec.Body.String()
		for _, bad := range []string{"http://", "https://", "//cdn", "@import", "fonts.g"} {
			if strings.Contains(strings.ReplaceAll(body, "http://www.w3.org/2000/svg", ""), bad) {
				t.Errorf("%s refers to %q", path, bad)
			}
		}
	}
	for _, c := range []struct {
		method, path string
		code         int
	}{
		{"GET", "/nope", 404},
		{"POST", "/status.json", 405},
		{"POST", "/actions", 404}, // actions off
		{"GET", "/actions", 404},
	} {
		rec := httptest.NewRecorder()
		d.ServeHTTP(rec, httptest.NewRequest(c.method, c.path, nil))
		if rec.Code != c.code {
			t.Errorf("%s %s = %d, want %d", c.method, c.path, rec.Code, c.code)
		}
	}
}

func TestMountedUnderPrefix(t *testing.T) {
	d := newDashboard(t, Config{Clock: clock.NewFake(time.Time{})})
	mux := http.NewServeMux()
	mux.Handle("/debug/fusebox/", http.StripPrefix("/debug/fusebox", d))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	c := srv.Client()
	for _, path := range []string{"/debug/fusebox", "/debug/fusebox/", "/debug/fusebox/status.json", "/debug/fusebox/app.js"} {
		resp, err := c.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("GET %s = %d", path, resp.StatusCode)
		}
	}
}

func TestStartClose(t *testing.T) {
	clk := clock.NewFake(time.Time{})
	d := newDashboard(t, Config{Clock: clk, Interval: time.Second})
	b := newBreaker(t, breaker.Config{Name: "b", Clock: clk})
	if err := d.Add("b", b); err != nil {
		t.Fatal(err)
	}
	d.Start()
	d.Start() // no second sampler
	testwait.Timers(t, clk, 1, "the sampler's timer")
	for i := range 3 {
		_ = b.Execute(context.Background(), ok)
		clk.Advance(time.Second)
		testwait.Eventually(t, "a sample", func() bool {
			d.mu.Lock()
			defer d.mu.Unlock()
			return d.seq >= uint64(i+2)
		})
		testwait.Timers(t, clk, 1, "the sampler's re-armed timer")
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	d.Start() // no-op after Close
	if d.running {
		t.Error("Start after Close started the sampler")
	}
	if n := len(d.Status().Policies); n != 1 {
		t.Errorf("status after Close: %d policies, want 1", n)
	}
}

func TestFractionNeverExceedsOne(t *testing.T) {
	if got := fraction(16, 1); got != 1 {
		t.Fatalf("fraction(16, 1) = %v, want 1", got)
	}
	if got := fraction(1, 4); got != 0.25 {
		t.Fatalf("fraction(1, 4) = %v, want 0.25", got)
	}
}

// waitTimeline waits until d's timeline holds n changes and returns them.
func waitTimeline(t *testing.T, d *Dashboard, n int) []Change {
	t.Helper()
	var tl []Change
	testwait.Eventually(t, fmt.Sprintf("%d changes on the timeline", n), func() bool {
		d.mu.Lock()
		defer d.mu.Unlock()
		tl = append([]Change(nil), d.changes...)
		return len(tl) == n
	})
	return tl
}
