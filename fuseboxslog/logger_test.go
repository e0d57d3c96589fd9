package fuseboxslog_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/breaker"
	"github.com/fusebox-go/fusebox/clock"
	"github.com/fusebox-go/fusebox/fuseboxslog"
	"github.com/fusebox-go/fusebox/internal/testwait"
	"github.com/fusebox-go/fusebox/retry"
)

var errBoom = errors.New("boom")

// sink is a JSON slog logger writing to a buffer, and the lines it wrote.
type sink struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *sink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func newSink(level slog.Level) (*sink, *slog.Logger) {
	s := &sink{}
	return s, slog.New(slog.NewJSONHandler(s, &slog.HandlerOptions{Level: level}))
}

// lines decodes every line written so far.
func (s *sink) lines(t *testing.T) []map[string]any {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(s.buf.String()), "\n") {
		if l == "" {
			continue
		}
		m := map[string]any{}
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %q is not JSON: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

// msgs returns the msg of each line.
func msgs(ls []map[string]any) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i], _ = l["msg"].(string)
	}
	return out
}

// wantAttrs fails the test unless line holds every attribute of want, with
// the value JSON gives it.
func wantAttrs(t *testing.T, line map[string]any, want map[string]any) {
	t.Helper()
	for k, v := range want {
		got, ok := line[k]
		if !ok {
			t.Errorf("line %v has no attribute %q, want %v", line, k, v)
			continue
		}
		if fmt.Sprint(got) != fmt.Sprint(v) {
			t.Errorf("attribute %q = %v (%T), want %v", k, got, got, v)
		}
	}
}

func mustNew(t *testing.T, logger *slog.Logger, c fuseboxslog.Config) (*fuseboxslog.Logger, *clock.Fake) {
	t.Helper()
	fc, _ := c.Clock.(*clock.Fake)
	if c.Clock == nil {
		fc = clock.NewFake(time.Time{})
		c.Clock = fc
	}
	l, err := fuseboxslog.New(logger, c)
	if err != nil {
		t.Fatalf("New(%+v): %v", c, err)
	}
	return l, fc
}

func rejected(name string) fusebox.Event {
	return fusebox.Event{Kind: fusebox.EventRejected, Policy: "breaker", Name: name, Reason: "open", Err: breaker.ErrOpen}
}

// TestBreakerTransitionLine drives a real breaker open and checks the
// state-change and rejection lines it produces through a bus.
func TestBreakerTransitionLine(t *testing.T) {
	s, logger := newSink(slog.LevelInfo)
	fc := clock.NewFake(time.Time{})
	bus := fusebox.NewEvents()
	sub, err := fuseboxslog.Subscribe(bus, logger, fuseboxslog.Config{Clock: fc})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	b, err := breaker.New(breaker.Config{Name: "payments", ConsecutiveFailures: 3, Clock: fc, Events: bus})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	_ = b.Execute(ctx, func(context.Context) error { return nil })
	for range 3 {
		_ = b.Execute(ctx, func(context.Context) error { return errBoom })
	}
	if err := b.Execute(ctx, func(context.Context) error { return nil }); !errors.Is(err, breaker.ErrOpen) {
		t.Fatalf("breaker did not open: %v", err)
	}
	bus.Close() // delivers what is buffered, then ends the subscription

	ls := s.lines(t)
	if got, want := msgs(ls), []string{"fusebox state change", "fusebox rejected"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("messages %q, want %q", got, want)
	}
	wantAttrs(t, ls[0], map[string]any{
		"level": "WARN", "time": "2026-01-01T00:00:00Z",
		"policy": "breaker", "name": "payments", "event": "state-change",
		"from": "closed", "to": "open", "reason": "consecutive failures",
		"failureRate": 0.75, "calls": 4, "failures": 3, "rejections": 0, "openDuration": 5e9,
	})
	if _, ok := ls[0]["slowCalls"]; ok {
		t.Errorf("state change without slow calls has slowCalls: %v", ls[0])
	}
	wantAttrs(t, ls[1], map[string]any{
		"level": "WARN", "policy": "breaker", "name": "payments", "event": "rejected",
		"reason": "open", "error": "breaker payments: open",
	})
}

// TestRetryInPipeline checks the retry line of a retry policy inside a
// pipeline, with a debug-level handler.
func TestRetryInPipeline(t *testing.T) {
	s, logger := newSink(slog.LevelDebug)
	fc := clock.NewFake(time.Time{})
	bus := fusebox.NewEvents()
	l, _ := mustNew(t, logger, fuseboxslog.Config{Clock: fc})
	sub := l.Subscribe(bus, 0)
	defer sub.Close()
	r, err := retry.New(retry.Config{Name: "pricing", MaxAttempts: 2, Backoff: retry.BackoffConstant, InitialInterval: time.Second,
		Jitter: retry.JitterNone, Retryable: func(error) bool { return true }, Clock: fc, Events: bus})
	if err != nil {
		t.Fatal(err)
	}
	p, err := fusebox.New(r)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.Run(context.Background(), func(context.Context) error { return errBoom }) }()
	testwait.Timers(t, fc, 1, "the retry's wait")
	fc.Advance(time.Second)
	if err := <-done; !errors.Is(err, fusebox.ErrRetriesExhausted) {
		t.Fatalf("Run = %v, want ErrRetriesExhausted", err)
	}
	bus.Close()
	ls := s.lines(t)
	if len(ls) != 1 {
		t.Fatalf("got %d lines %q, want 1 retry line", len(ls), msgs(ls))
	}
	wantAttrs(t, ls[0], map[string]any{
		"level": "DEBUG", "msg": "fusebox retry", "policy": "retry", "name": "pricing", "event": "retry",
		"attempt": 2, "delay": 1e9, "error": "boom",
	})
}

// TestRateLimit checks that only MaxPerInterval lines of a key are written
// per interval, and the summary line that reports the others.
func TestRateLimit(t *testing.T) {
	s, logger := newSink(slog.LevelInfo)
	l, fc := mustNew(t, logger, fuseboxslog.Config{Interval: 10 * time.Second, MaxPerInterval: 3})
	for range 10 {
		l.Log(rejected("payments"))
	}
	if n := len(s.lines(t)); n != 3 {
		t.Fatalf("%d lines in the first interval, want 3", n)
	}
	fc.Advance(9 * time.Second)
	l.Log(rejected("payments"))
	if n := len(s.lines(t)); n != 3 {
		t.Fatalf("%d lines before the interval ended, want 3", n)
	}
	fc.Advance(time.Second)
	l.Log(rejected("payments"))
	ls := s.lines(t)
	if got, want := msgs(ls[3:]), []string{"fusebox suppressed 8 rejections", "fusebox rejected"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after the interval: %q, want %q", got, want)
	}
	wantAttrs(t, ls[3], map[string]any{
		"level": "WARN", "time": "2026-01-01T00:00:10Z", "policy": "breaker", "name": "payments", "event": "rejected",
		"suppressed": 8, "interval": 10e9,
	})
	// The new interval started with that line: two more fit, then none.
	for range 5 {
		l.Log(rejected("payments"))
	}
	if n := len(s.lines(t)); n != 7 {
		t.Fatalf("%d lines, want 7 (3 + summary + 3)", n)
	}
	// An interval with nothing suppressed ends without a summary.
	l.Flush()
	fc.Advance(10 * time.Second)
	l.Log(rejected("payments"))
	l.Flush()
	if got := msgs(s.lines(t)[7:]); fmt.Sprint(got) != fmt.Sprint([]string{"fusebox suppressed 3 rejections", "fusebox rejected"}) {
		t.Fatalf("after Flush and a new interval: %q", got)
	}
}

// TestRateLimitKeys checks that keys are limited independently and that
// the event of another key writes the summary of an interval that ended.
func TestRateLimitKeys(t *testing.T) {
	s, logger := newSink(slog.LevelDebug)
	l, fc := mustNew(t, logger, fuseboxslog.Config{MaxPerInterval: 1})
	l.Log(rejected("a"))
	l.Log(rejected("a"))
	l.Log(rejected("b"))
	l.Log(rejected("b"))
	l.Log(rejected("b"))
	retryEv := fusebox.Event{Kind: fusebox.EventRetry, Policy: "retry", Name: "a", Attempt: 2}
	l.Log(retryEv)
	l.Log(retryEv)
	if got := msgs(s.lines(t)); len(got) != 3 {
		t.Fatalf("lines %q, want one per key", got)
	}
	fc.Advance(fuseboxslog.DefaultInterval)
	l.Log(fusebox.Event{Kind: fusebox.EventTimeout, Policy: "timeout", Name: "c"})
	ls := s.lines(t)[3:]
	got := map[string]bool{}
	for _, m := range msgs(ls) {
		got[m] = true
	}
	for _, want := range []string{"fusebox suppressed 1 rejections", "fusebox suppressed 2 rejections", "fusebox suppressed 1 retries", "fusebox timeout"} {
		if !got[want] {
			t.Errorf("no line %q in %q", want, msgs(ls))
		}
	}
	if len(ls) != 4 {
		t.Errorf("%d lines after the interval, want 4: %q", len(ls), msgs(ls))
	}
	if m := msgs(ls)[3]; m != "fusebox timeout" {
		t.Errorf("last line %q, want the timeout after the summaries", m)
	}
}

// TestSummaryNotLateAfterUnrelatedSweep checks the promise of the package
// doc: the summary of an interval is written by the first event, of any
// key, after the interval ended. Key a's interval runs from 1s to 11s; an
// unrelated event at 10s swept (nothing was due yet), and the sweep used to
// run only once per Interval after that, so a's summary waited until 20s
// instead of being written by the event at 12s.
func TestSummaryNotLateAfterUnrelatedSweep(t *testing.T) {
	s, logger := newSink(slog.LevelInfo)
	l, fc := mustNew(t, logger, fuseboxslog.Config{Interval: 10 * time.Second, MaxPerInterval: 1})
	timeout := func(name string) fusebox.Event {
		return fusebox.Event{Kind: fusebox.EventTimeout, Policy: "timeout", Name: name}
	}
	fc.Advance(time.Second)
	l.Log(rejected("a")) // 1s: written, a's interval starts
	l.Log(rejected("a")) // suppressed
	fc.Advance(9 * time.Second)
	l.Log(timeout("c")) // 10s: a sweep, a's interval has not ended yet
	fc.Advance(2 * time.Second)
	l.Log(timeout("d")) // 12s: a's interval ended at 11s
	want := []string{"fusebox rejected", "fusebox timeout", "fusebox suppressed 1 rejections", "fusebox timeout"}
	ls := s.lines(t)
	if got := msgs(ls); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("lines\n%q\nwant\n%q (a's summary before the first event after its interval ended)", got, want)
	}
	wantAttrs(t, ls[2], map[string]any{"name": "a", "time": "2026-01-01T00:00:12Z", "suppressed": 1})
}

// TestStateChangeFlushes checks that a state change writes the policy's
// pending summaries first, is never limited, and starts a fresh interval.
func TestStateChangeFlushes(t *testing.T) {
	s, logger := newSink(slog.LevelInfo)
	l, _ := mustNew(t, logger, fuseboxslog.Config{MaxPerInterval: 1})
	change := func(from, to string) fusebox.Event {
		return fusebox.Event{Kind: fusebox.EventStateChange, Policy: "breaker", Name: "a", From: from, To: to, Reason: "x"}
	}
	l.Log(change("closed", "open"))
	for range 4 {
		l.Log(rejected("a"))
		l.Log(rejected("other"))
	}
	l.Log(change("open", "half-open"))
	l.Log(change("half-open", "open"))
	l.Log(rejected("a"))
	want := []string{
		"fusebox state change", "fusebox rejected", "fusebox rejected",
		"fusebox suppressed 3 rejections", "fusebox state change", "fusebox state change",
		"fusebox rejected",
	}
	ls := s.lines(t)
	if got := msgs(ls); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("lines\n%q\nwant\n%q", got, want)
	}
	wantAttrs(t, ls[3], map[string]any{"name": "a"})
	wantAttrs(t, ls[4], map[string]any{"level": "INFO", "from": "open", "to": "half-open"})
	wantAttrs(t, ls[5], map[string]any{"level": "WARN", "to": "open"})
	l.Flush()
	if got := msgs(s.lines(t)[7:]); fmt.Sprint(got) != fmt.Sprint([]string{"fusebox suppressed 3 rejections"}) {
		t.Fatalf("Flush wrote %q, want the other breaker's summary", got)
	}
	wantAttrs(t, s.lines(t)[7], map[string]any{"name": "other"})
}

// TestNoLimit checks MaxPerInterval -1.
func TestNoLimit(t *testing.T) {
	s, logger := newSink(slog.LevelInfo)
	l, _ := mustNew(t, logger, fuseboxslog.Config{MaxPerInterval: -1})
	for range 100 {
		l.Log(rejected("a"))
	}
	l.Flush()
	if n := len(s.lines(t)); n != 100 {
		t.Fatalf("%d lines, want 100", n)
	}
}

// TestDisabledLevel checks that an event the handler does not enable is
// not written and does not use up the rate limit.
func TestDisabledLevel(t *testing.T) {
	s, logger := newSink(slog.LevelInfo)
	level := slog.LevelDebug
	l, _ := mustNew(t, logger, fuseboxslog.Config{MaxPerInterval: 2, Level: func(fusebox.Event) slog.Level { return level }})
	for range 10 {
		l.Log(rejected("a"))
	}
	l.Flush()
	if n := len(s.lines(t)); n != 0 {
		t.Fatalf("%d lines at a disabled level, want 0", n)
	}
	level = slog.LevelError
	for range 3 {
		l.Log(rejected("a"))
	}
	ls := s.lines(t)
	if len(ls) != 2 {
		t.Fatalf("%d lines, want 2: the disabled events must not count", len(ls))
	}
	wantAttrs(t, ls[0], map[string]any{"level": "ERROR"})
}

func TestDefaultLevel(t *testing.T) {
	tests := []struct {
		ev   fusebox.Event
		want slog.Level
	}{
		{fusebox.Event{Kind: fusebox.EventStateChange, To: "open"}, slog.LevelWarn},
		{fusebox.Event{Kind: fusebox.EventStateChange, To: "forced-open"}, slog.LevelWarn},
		{fusebox.Event{Kind: fusebox.EventStateChange, To: "half-open"}, slog.LevelInfo},
		{fusebox.Event{Kind: fusebox.EventStateChange, To: "closed"}, slog.LevelInfo},
		{fusebox.Event{Kind: fusebox.EventRejected}, slog.LevelWarn},
		{fusebox.Event{Kind: fusebox.EventFallback}, slog.LevelInfo},
		{fusebox.Event{Kind: fusebox.EventTimeout}, slog.LevelInfo},
		{fusebox.Event{Kind: fusebox.EventRetry}, slog.LevelDebug},
		{fusebox.Event{Kind: fusebox.EventHedge}, slog.LevelDebug},
		{fusebox.Event{Kind: fusebox.EventQueueWait}, slog.LevelDebug},
		{fusebox.Event{Kind: fusebox.EventLateOutcome}, slog.LevelDebug},
		{fusebox.Event{Kind: 99}, slog.LevelInfo},
	}
	for _, tt := range tests {
		if got := fuseboxslog.DefaultLevel(tt.ev); got != tt.want {
			t.Errorf("DefaultLevel(%v to %q) = %v, want %v", tt.ev.Kind, tt.ev.To, got, tt.want)
		}
	}
}

// TestEventLines checks the message and attributes of each kind.
func TestEventLines(t *testing.T) {
	at := time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC)
	tests := []struct {
		ev      fusebox.Event
		msg     string
		want    map[string]any
		missing []string
	}{
		{
			ev:      fusebox.Event{Kind: fusebox.EventFallback, Policy: "fallback", Name: "f", At: at, Reason: "failure", Err: errBoom},
			msg:     "fusebox fallback",
			want:    map[string]any{"level": "INFO", "time": "2026-02-03T04:05:06Z", "reason": "failure", "error": "boom", "event": "fallback"},
			missing: []string{"attempt", "delay", "from", "to", "calls"},
		},
		{
			ev:      fusebox.Event{Kind: fusebox.EventTimeout, Policy: "timeout", Name: "t", At: at, Delay: 250 * time.Millisecond, Err: fusebox.ErrTimeout},
			msg:     "fusebox timeout",
			want:    map[string]any{"level": "INFO", "delay": 250e6, "error": fusebox.ErrTimeout.Error()},
			missing: []string{"reason"},
		},
		{
			ev:   fusebox.Event{Kind: fusebox.EventHedge, Policy: "hedge", Name: "h", At: at, Attempt: 1, Delay: time.Millisecond},
			msg:  "fusebox hedge",
			want: map[string]any{"level": "DEBUG", "attempt": 1, "delay": 1e6},
		},
		{
			ev:   fusebox.Event{Kind: fusebox.EventQueueWait, Policy: "bulkhead", Name: "b", At: at, Delay: time.Second},
			msg:  "fusebox queue wait",
			want: map[string]any{"level": "DEBUG", "delay": 1e9},
		},
		{
			ev:   fusebox.Event{Kind: fusebox.EventLateOutcome, Policy: "breaker", Name: "x", At: at},
			msg:  "fusebox late outcome",
			want: map[string]any{"level": "DEBUG", "event": "late-outcome"},
		},
		{
			ev: fusebox.Event{Kind: fusebox.EventStateChange, Policy: "breaker", Name: "s", At: at, From: "closed", To: "open", Reason: "slow-call rate",
				Snapshot: breaker.Snapshot{State: breaker.Open, Calls: 10, Failures: 1, FailureRate: 0.1, SlowCalls: 6, SlowCallRate: 0.6, Rejections: 42, OpenDuration: 30 * time.Second}},
			msg: "fusebox state change",
			want: map[string]any{"level": "WARN", "from": "closed", "to": "open", "reason": "slow-call rate", "calls": 10, "failures": 1,
				"failureRate": 0.1, "slowCalls": 6, "slowCallRate": 0.6, "rejections": 42, "openDuration": 30e9},
		},
		{
			ev:      fusebox.Event{Kind: fusebox.EventStateChange, Policy: "breaker", Name: "s", At: at, From: "open", To: "half-open", Reason: "open duration ended", Snapshot: breaker.Snapshot{State: breaker.HalfOpen, OpenDuration: time.Second}},
			msg:     "fusebox state change",
			want:    map[string]any{"level": "INFO", "to": "half-open", "calls": 0},
			missing: []string{"openDuration", "slowCalls"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.msg, func(t *testing.T) {
			s, logger := newSink(slog.LevelDebug)
			l, _ := mustNew(t, logger, fuseboxslog.Config{})
			l.Log(tt.ev)
			ls := s.lines(t)
			if len(ls) != 1 {
				t.Fatalf("%d lines, want 1", len(ls))
			}
			tt.want["msg"] = tt.msg
			tt.want["policy"] = tt.ev.Policy
			tt.want["name"] = tt.ev.Name
			wantAttrs(t, ls[0], tt.want)
			for _, k := range tt.missing {
				if _, ok := ls[0][k]; ok {
					t.Errorf("line has %q: %v", k, ls[0])
				}
			}
		})
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	tests := []struct {
		c    fuseboxslog.Config
		want string
	}{
		{fuseboxslog.Config{Interval: -1}, "fuseboxslog: Interval -1ns out of range: want 0 (default 10s) or more"},
		{fuseboxslog.Config{MaxPerInterval: -2}, "fuseboxslog: MaxPerInterval -2 out of range: want -1 (no limit), 0 (default 5) or more"},
		{fuseboxslog.Config{Buffer: -1}, "fuseboxslog: Buffer -1 out of range: want 0 (default 1024) or more"},
	}
	for _, tt := range tests {
		if _, err := fuseboxslog.New(nil, tt.c); err == nil || err.Error() != tt.want {
			t.Errorf("New(%+v) = %v, want %q", tt.c, err, tt.want)
		}
		if _, err := fuseboxslog.Subscribe(fusebox.NewEvents(), nil, tt.c); err == nil {
			t.Errorf("Subscribe(%+v) succeeded", tt.c)
		}
	}
	if _, err := fuseboxslog.Subscribe(nil, nil, fuseboxslog.Config{}); err == nil || err.Error() != "fuseboxslog: Subscribe: nil bus" {
		t.Errorf("Subscribe(nil bus) = %v", err)
	}
	if l, err := fuseboxslog.New(nil, fuseboxslog.Config{}); err != nil || l == nil {
		t.Fatalf("New(nil logger, zero Config) = %v, %v", l, err)
	}
}

// TestConcurrent logs from many goroutines: every event is either written
// or counted in a summary.
func TestConcurrent(t *testing.T) {
	s, logger := newSink(slog.LevelInfo)
	l, _ := mustNew(t, logger, fuseboxslog.Config{MaxPerInterval: 7})
	const goroutines, each = 8, 200
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				l.Log(rejected(fmt.Sprint("b", g%2)))
			}
		}()
	}
	wg.Wait()
	l.Flush()
	total := 0
	for _, line := range s.lines(t) {
		if n, ok := line["suppressed"].(float64); ok {
			total += int(n)
		} else {
			total++
		}
	}
	if total != goroutines*each {
		t.Fatalf("written + suppressed = %d, want %d", total, goroutines*each)
	}
}

// TestEventTime checks that intervals are measured by the events' own
// time, not the time they are delivered, and that time going backwards
// ends an interval instead of stalling it.
func TestEventTime(t *testing.T) {
	s, logger := newSink(slog.LevelInfo)
	l, _ := mustNew(t, logger, fuseboxslog.Config{MaxPerInterval: 1, Interval: time.Minute})
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(d time.Duration) fusebox.Event {
		ev := rejected("a")
		ev.At = t0.Add(d)
		return ev
	}
	l.Log(at(0))
	l.Log(at(59 * time.Second))
	l.Log(at(time.Minute)) // the Logger's clock has not moved
	l.Log(at(61 * time.Second))
	l.Log(at(-time.Hour)) // backwards: a fresh interval
	want := []string{"fusebox rejected", "fusebox suppressed 1 rejections", "fusebox rejected", "fusebox suppressed 1 rejections", "fusebox rejected"}
	ls := s.lines(t)
	if got := msgs(ls); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("lines %q, want %q", got, want)
	}
	wantAttrs(t, ls[1], map[string]any{"time": "2030-01-01T00:01:00Z"})
	wantAttrs(t, ls[4], map[string]any{"time": "2029-12-31T23:00:00Z"})
}

// BenchmarkLog measures the cost of an event: written to a discarding
// handler, or held back by the rate limit.
func BenchmarkLog(b *testing.B) {
	logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
	ev := rejected("payments")
	for _, bm := range []struct {
		name string
		max  int
	}{{"written", -1}, {"suppressed", 1}} {
		b.Run(bm.name, func(b *testing.B) {
			l, err := fuseboxslog.New(logger, fuseboxslog.Config{MaxPerInterval: bm.max, Interval: time.Hour, Clock: clock.NewFake(time.Time{})})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				l.Log(ev)
			}
		})
		b.Run(bm.name+"/parallel", func(b *testing.B) {
			l, err := fuseboxslog.New(logger, fuseboxslog.Config{MaxPerInterval: bm.max, Interval: time.Hour, Clock: clock.NewFake(time.Time{})})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					l.Log(ev)
				}
			})
		})
	}
}
