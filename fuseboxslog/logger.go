package fuseboxslog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/breaker"
	"github.com/fusebox-go/fusebox/clock"
)

// Defaults of a zero Config.
const (
	// DefaultInterval is the rate-limit interval of a Config that sets
	// none.
	DefaultInterval = 10 * time.Second
	// DefaultMaxPerInterval is how many lines per (policy, name, kind) an
	// interval allows when Config sets no limit.
	DefaultMaxPerInterval = 5
)

// Config configures a Logger. The zero value is ready to use.
type Config struct {
	// Interval is the rate-limit interval: 0 means DefaultInterval (10s).
	// It must not be negative.
	Interval time.Duration `json:"interval" yaml:"interval"`
	// MaxPerInterval is how many lines of one (policy, name, kind) are
	// written per Interval; state changes are never limited. 0 means
	// DefaultMaxPerInterval (5); -1 means no limit.
	MaxPerInterval int `json:"maxPerInterval" yaml:"maxPerInterval"`
	// Buffer is the buffer, in events, of the subscription Subscribe makes:
	// 0 means fusebox.DefaultEventBuffer. It must not be negative.
	Buffer int `json:"buffer" yaml:"buffer"`
	// Level chooses the level of an event's line: nil means DefaultLevel.
	Level func(fusebox.Event) slog.Level `json:"-" yaml:"-"`
	// Clock gives the time of events that carry none (a zero At) and of
	// Flush: nil means clock.Real(). Rate-limit intervals are measured in
	// event time, so events delivered late are judged by when they
	// happened.
	Clock clock.Clock `json:"-" yaml:"-"`
}

// Logger writes fusebox events to a slog.Logger, rate limited. Make one
// with New and feed it with Log, usually from a subscription (Subscribe, or
// Logger.Subscribe). It is safe for concurrent use.
type Logger struct {
	logger   *slog.Logger
	level    func(fusebox.Event) slog.Level
	clk      clock.Clock
	interval time.Duration
	max      int

	mu      sync.Mutex
	windows map[key]*window // requires mu
	// lastSweep is when windows were last swept for ended intervals, so
	// that keys gone quiet are deleted at least once per interval; requires
	// mu.
	lastSweep time.Time
	// nextDue is the earliest end of an interval with suppressed events,
	// zero if none: the first event at or after it sweeps, so that the
	// summary is not late (it may be stale after a key's own event or a
	// state change wrote the summary; a sweep then finds nothing and
	// recomputes it); requires mu.
	nextDue time.Time
}

// key is what rate limiting counts by.
type key struct {
	policy, name string
	kind         fusebox.EventKind
}

// window is one key's current interval.
type window struct {
	start      time.Time // event time the interval began
	logged     int
	suppressed int
	level      slog.Level // of the latest suppressed event
}

// summary is a line that reports suppressed events.
type summary struct {
	key   key
	n     int
	level slog.Level
}

// New returns a Logger that writes to logger (nil means slog.Default()),
// or an error naming a Config field out of range.
func New(logger *slog.Logger, c Config) (*Logger, error) {
	if c.Interval < 0 {
		return nil, fmt.Errorf("fuseboxslog: Interval %v out of range: want 0 (default %v) or more", c.Interval, DefaultInterval)
	}
	if c.MaxPerInterval < -1 {
		return nil, fmt.Errorf("fuseboxslog: MaxPerInterval %d out of range: want -1 (no limit), 0 (default %d) or more", c.MaxPerInterval, DefaultMaxPerInterval)
	}
	if c.Buffer < 0 {
		return nil, fmt.Errorf("fuseboxslog: Buffer %d out of range: want 0 (default %d) or more", c.Buffer, fusebox.DefaultEventBuffer)
	}
	l := &Logger{logger: logger, level: c.Level, clk: c.Clock, interval: c.Interval, max: c.MaxPerInterval, windows: make(map[key]*window)}
	if l.logger == nil {
		l.logger = slog.Default()
	}
	if l.level == nil {
		l.level = DefaultLevel
	}
	if l.clk == nil {
		l.clk = clock.Real()
	}
	if l.interval == 0 {
		l.interval = DefaultInterval
	}
	if l.max == 0 {
		l.max = DefaultMaxPerInterval
	}
	l.lastSweep = l.clk.Now()
	return l, nil
}

// Subscribe makes a Logger with New and subscribes it to bus, with a
// buffer of c.Buffer events. Close the subscription to stop; summaries
// still pending then are not written (use New, Logger.Subscribe and
// Logger.Flush to write them).
func Subscribe(bus *fusebox.Events, logger *slog.Logger, c Config) (*fusebox.Subscription, error) {
	if bus == nil {
		return nil, errors.New("fuseboxslog: Subscribe: nil bus")
	}
	l, err := New(logger, c)
	if err != nil {
		return nil, err
	}
	return bus.Subscribe(l.Log, c.Buffer), nil
}

// Subscribe subscribes l to bus with a buffer of buffer events (0 means
// fusebox.DefaultEventBuffer).
func (l *Logger) Subscribe(bus *fusebox.Events, buffer int) *fusebox.Subscription {
	return bus.Subscribe(l.Log, buffer)
}

// DefaultLevel is the level of an event's line when Config.Level is nil:
// Warn for a state change to "open" or "forced-open" and for a rejection;
// Info for other state changes, fallbacks and timeouts; Debug for retries,
// hedges, queue waits and late outcomes; Info for kinds it does not know.
func DefaultLevel(ev fusebox.Event) slog.Level {
	switch ev.Kind {
	case fusebox.EventStateChange:
		if ev.To == breaker.Open.String() || ev.To == breaker.ForcedOpen.String() {
			return slog.LevelWarn
		}
		return slog.LevelInfo
	case fusebox.EventRejected:
		return slog.LevelWarn
	case fusebox.EventRetry, fusebox.EventHedge, fusebox.EventQueueWait, fusebox.EventLateOutcome:
		return slog.LevelDebug
	}
	return slog.LevelInfo
}

// Log writes ev's line, unless the logger does not enable its level or the
// rate limit holds it back, and any summary line that is due.
func (l *Logger) Log(ev fusebox.Event) {
	ctx := context.Background()
	level := l.level(ev)
	enabled := l.logger.Enabled(ctx, level)
	now := ev.At
	if now.IsZero() {
		now = l.clk.Now()
	}

	var due []summary
	write := enabled
	l.mu.Lock()
	if l.ended(l.lastSweep, now) || (!l.nextDue.IsZero() && !now.Before(l.nextDue)) {
		due = l.sweepLocked(due, func(_ key, w *window) bool { return l.ended(w.start, now) })
		l.lastSweep = now
	}
	if ev.Kind == fusebox.EventStateChange {
		// A new state: report what was held back under the old one first,
		// and give the policy's events a fresh interval.
		due = l.sweepLocked(due, func(k key, _ *window) bool { return k.policy == ev.Policy && k.name == ev.Name })
	} else if enabled && l.max > 0 {
		k := key{ev.Policy, ev.Name, ev.Kind}
		w := l.windows[k]
		if w != nil && l.ended(w.start, now) {
			if w.suppressed > 0 {
				due = append(due, summary{k, w.suppressed, w.level})
			}
			w = nil
		}
		if w == nil {
			w = &window{start: now}
			l.windows[k] = w
		}
		if w.logged < l.max {
			w.logged++
		} else {
			w.suppressed++
			w.level = level
			write = false
			if end := w.start.Add(l.interval); w.suppressed == 1 && (l.nextDue.IsZero() || end.Before(l.nextDue)) {
				l.nextDue = end
			}
		}
	}
	l.mu.Unlock()

	l.writeSummaries(ctx, now, due)
	if write {
		l.write(ctx, now, level, ev)
	}
}

// ended reports whether an interval that began at start has ended at now.
// A clock that went backwards (events of policies with different clocks,
// a wall clock set back) ends it too, so a window cannot stall.
func (l *Logger) ended(start, now time.Time) bool {
	d := now.Sub(start)
	return d >= l.interval || d < 0
}

// Flush writes a summary line for every key that has suppressed events and
// starts a fresh interval for every key. Call it before shutting down so
// the last counts are not lost.
func (l *Logger) Flush() {
	now := l.clk.Now()
	l.mu.Lock()
	due := l.sweepLocked(nil, func(key, *window) bool { return true })
	l.lastSweep = now
	l.mu.Unlock()
	l.writeSummaries(context.Background(), now, due)
}

// sweepLocked deletes the windows that match end, appending a summary to
// due for those that suppressed events, and recomputes nextDue from the
// windows left; requires l.mu.
func (l *Logger) sweepLocked(due []summary, end func(key, *window) bool) []summary {
	l.nextDue = time.Time{}
	for k, w := range l.windows {
		if !end(k, w) {
			if w.suppressed > 0 {
				if e := w.start.Add(l.interval); l.nextDue.IsZero() || e.Before(l.nextDue) {
					l.nextDue = e
				}
			}
			continue
		}
		if w.suppressed > 0 {
			due = append(due, summary{k, w.suppressed, w.level})
		}
		delete(l.windows, k)
	}
	return due
}

// write writes ev's line at level, stamped at; the caller has checked that
// the logger enables it.
func (l *Logger) write(ctx context.Context, at time.Time, level slog.Level, ev fusebox.Event) {
	r := slog.NewRecord(at, level, message(ev.Kind), 0)
	r.AddAttrs(
		slog.String("policy", ev.Policy),
		slog.String("name", ev.Name),
		slog.String("event", ev.Kind.String()),
	)
	if ev.Kind == fusebox.EventStateChange {
		r.AddAttrs(slog.String("from", ev.From), slog.String("to", ev.To), slog.String("reason", ev.Reason))
	} else if ev.Reason != "" {
		r.AddAttrs(slog.String("reason", ev.Reason))
	}
	if ev.Attempt != 0 {
		r.AddAttrs(slog.Int("attempt", ev.Attempt))
	}
	if ev.Delay != 0 {
		r.AddAttrs(slog.Duration("delay", ev.Delay))
	}
	if ev.Err != nil {
		r.AddAttrs(slog.Any("error", ev.Err))
	}
	if s, ok := ev.Snapshot.(breaker.Snapshot); ok {
		r.AddAttrs(
			slog.Float64("failureRate", s.FailureRate),
			slog.Uint64("calls", s.Calls),
			slog.Uint64("failures", s.Failures),
		)
		if s.SlowCalls > 0 {
			r.AddAttrs(slog.Float64("slowCallRate", s.SlowCallRate), slog.Uint64("slowCalls", s.SlowCalls))
		}
		r.AddAttrs(slog.Uint64("rejections", s.Rejections))
		if s.State == breaker.Open && s.OpenDuration > 0 {
			r.AddAttrs(slog.Duration("openDuration", s.OpenDuration))
		}
	}
	_ = l.logger.Handler().Handle(ctx, r)
}

// writeSummaries writes a "suppressed" line, stamped at, for each of due.
func (l *Logger) writeSummaries(ctx context.Context, at time.Time, due []summary) {
	for _, s := range due {
		if !l.logger.Enabled(ctx, s.level) {
			continue
		}
		r := slog.NewRecord(at, s.level, "fusebox suppressed "+strconv.Itoa(s.n)+" "+plural(s.key.kind), 0)
		r.AddAttrs(
			slog.String("policy", s.key.policy),
			slog.String("name", s.key.name),
			slog.String("event", s.key.kind.String()),
			slog.Int("suppressed", s.n),
			slog.Duration("interval", l.interval),
		)
		_ = l.logger.Handler().Handle(ctx, r)
	}
}

// message returns the constant message of a kind's lines.
func message(k fusebox.EventKind) string {
	switch k {
	case fusebox.EventStateChange:
		return "fusebox state change"
	case fusebox.EventRejected:
		return "fusebox rejected"
	case fusebox.EventRetry:
		return "fusebox retry"
	case fusebox.EventFallback:
		return "fusebox fallback"
	case fusebox.EventHedge:
		return "fusebox hedge"
	case fusebox.EventQueueWait:
		return "fusebox queue wait"
	case fusebox.EventLateOutcome:
		return "fusebox late outcome"
	case fusebox.EventTimeout:
		return "fusebox timeout"
	}
	return "fusebox " + k.String()
}

// plural names events of a kind in a summary line.
func plural(k fusebox.EventKind) string {
	switch k {
	case fusebox.EventRejected:
		return "rejections"
	case fusebox.EventRetry:
		return "retries"
	case fusebox.EventFallback:
		return "fallbacks"
	case fusebox.EventHedge:
		return "hedges"
	case fusebox.EventQueueWait:
		return "queue waits"
	case fusebox.EventLateOutcome:
		return "late outcomes"
	case fusebox.EventTimeout:
		return "timeouts"
	}
	return k.String() + " events"
}
