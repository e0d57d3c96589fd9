package fuseboxprom_test

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/fusebox-go/fusebox/bulkhead"
	"github.com/fusebox-go/fusebox/clock"
	"github.com/fusebox-go/fusebox/fallback"
	"github.com/fusebox-go/fusebox/fuseboxprom"
	"github.com/fusebox-go/fusebox/hedge"
	"github.com/fusebox-go/fusebox/ratelimit"
	"github.com/fusebox-go/fusebox/retry"
	"github.com/fusebox-go/fusebox/timeout"
)

// everyKind returns a collector exporting one policy of every kind it
// knows, each used once; what they hold is released at the test's end.
func everyKind(t *testing.T) *fuseboxprom.Collector {
	t.Helper()
	fc := clock.NewFake(time.Time{})
	col := newCollector(t, fuseboxprom.Config{Clock: fc})
	ctx := context.Background()
	must := func(p any, err error) any {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return p
	}

	mustAdd(t, col, "breaker", openBreaker(t, "breaker"))

	bh := must(bulkhead.New(bulkhead.Config{MaxConcurrent: 1, Clock: fc})).(*bulkhead.Bulkhead)
	_ = bh.Execute(ctx, ok)
	mustAdd(t, col, "bulkhead", bh)

	pool := must(bulkhead.NewPool(bulkhead.PoolConfig{Workers: 1, Clock: fc}, func(_ context.Context, n int) (int, error) { return n, nil })).(*bulkhead.Pool[int, int])
	t.Cleanup(func() { _ = pool.Close() })
	_, _ = pool.Submit(ctx, 1)
	mustAdd(t, col, "pool", pool)

	bucket := must(ratelimit.New(ratelimit.Config{Rate: 1, Burst: 2, Clock: fc})).(*ratelimit.Bucket)
	bucket.Allow()
	mustAdd(t, col, "bucket", bucket)
	win := must(ratelimit.NewWindow(ratelimit.WindowConfig{Limit: 5, Window: time.Second, Clock: fc})).(*ratelimit.Window)
	win.Allow()
	mustAdd(t, col, "window", win)
	keyed := must(ratelimit.NewKeyed(ratelimit.KeyedConfig{Rate: 1, Clock: fc})).(*ratelimit.Keyed)
	keyed.Allow("tenant")
	mustAdd(t, col, "keyed", keyed)

	budget := must(retry.NewBudget(retry.BudgetConfig{Clock: fc})).(*retry.Budget)
	budget.Deposit()
	mustAdd(t, col, "budget", budget)
	r := must(retry.New(retry.Config{Budget: budget, Clock: fc})).(*retry.Policy)
	_ = r.Execute(ctx, ok)
	mustAdd(t, col, "retry", r)

	h := must(hedge.New(hedge.Config{Delay: time.Second, Clock: fc})).(*hedge.Policy)
	_ = h.Execute(ctx, ok)
	mustAdd(t, col, "hedge", h)

	to := must(timeout.New(timeout.Config{Timeout: time.Second, Clock: fc})).(*timeout.Policy)
	_ = to.Execute(ctx, ok)
	mustAdd(t, col, "timeout", to)

	fb := must(fallback.New(fallback.Config{Func: fallback.Static(nil), Clock: fc})).(*fallback.Policy)
	_ = fb.Execute(ctx, fail)
	mustAdd(t, col, "fallback", fb)
	cache := must(fallback.NewCache[string, int](fallback.CacheConfig{Clock: fc})).(*fallback.Cache[string, int])
	t.Cleanup(cache.Close)
	_, _ = cache.Get(ctx, "k", func(context.Context) (int, error) { return 1, nil })
	_, _ = cache.Get(ctx, "k", func(context.Context) (int, error) { return 1, nil })
	mustAdd(t, col, "cache", cache)

	_ = col.NewLatencyPolicy("latency").Execute(ctx, ok)
	return col
}

// exposition returns what a scrape of col reads, in the text format.
func exposition(t *testing.T, col prometheus.Collector) []byte {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(col); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

// TestEveryKind checks that every kind of policy exports its families,
// and that the exposition passes promtool's lint. A missing promtool skips
// that last step, or fails it under CI (see needTool).
func TestEveryKind(t *testing.T) {
	col := everyKind(t)
	text := exposition(t, col)
	for _, family := range []string{
		"fusebox_breaker_state", "fusebox_bulkhead_in_flight", "fusebox_bulkhead_pool_completed_total",
		"fusebox_ratelimit_tokens", "fusebox_ratelimit_window_calls", "fusebox_ratelimit_keys",
		"fusebox_retry_budget_refusals_total", "fusebox_retry_attempts_total", "fusebox_hedge_calls_total",
		"fusebox_timeout_calls_total", "fusebox_fallback_runs_total", "fusebox_fallback_cache_hits_total",
		"fusebox_call_duration_seconds",
	} {
		if !bytes.Contains(text, []byte("\n"+family)) {
			t.Errorf("no %s in the exposition", family)
		}
	}
	for _, line := range []string{
		`fusebox_bulkhead_pool_completed_total{key="",name="pool"} 1`,
		`fusebox_ratelimit_allowed_total{key="",name="keyed"} 1`,
		`fusebox_ratelimit_tokens{key="",name="bucket"} 1`,
		`fusebox_fallback_runs_total{key="",name="fallback"} 1`,
		`fusebox_fallback_cache_hits_total{key="",name="cache"} 1`,
		`fusebox_call_duration_seconds_count{key="",name="latency"} 1`,
	} {
		if !bytes.Contains(text, []byte("\n"+line+"\n")) {
			t.Errorf("no line %q in the exposition", line)
		}
	}

	promtool := needTool(t, "promtool")
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(text)
	out, err := cmd.CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) != 0 {
		t.Fatalf("promtool check metrics: %v\n%s\nexposition:\n%s", err, out, text)
	}
}

// TestPromtoolCatchesProblems makes sure the promtool check above can
// fail: a counter without the _total suffix is reported.
func TestPromtoolCatchesProblems(t *testing.T) {
	promtool := needTool(t, "promtool")
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader("# HELP fusebox_bad A counter.\n# TYPE fusebox_bad counter\nfusebox_bad 1\n")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "_total") {
		t.Fatalf("promtool accepted a counter without _total: %v\n%s", err, out)
	}
}
