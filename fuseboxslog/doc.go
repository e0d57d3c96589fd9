// Package fuseboxslog writes the events of Fusebox's policies to a
// log/slog logger: a circuit breaker opening or closing, calls rejected,
// retries, fallbacks, timeouts, hedges and queue waits, each as one
// structured line.
//
//	events := fusebox.NewEvents()
//	b, _ := breaker.New(breaker.Config{Name: "payments", Events: events})
//	sub, err := fuseboxslog.Subscribe(events, slog.Default(), fuseboxslog.Config{})
//	...
//	defer sub.Close()
//
// # Lines
//
// Every line carries the attributes policy ("breaker", "retry", ...), name
// (the policy's configured name) and event (the event kind, such as
// "state-change" or "rejected"), then those of the event's fields that are
// set: from, to, reason, attempt, delay and error. A breaker's state change
// also carries counts from the breaker's snapshot at the transition:
// failureRate, calls and failures (of the current window), slowCallRate and
// slowCalls (when the window holds slow calls), rejections (since the
// breaker was made) and, on opening, openDuration. The line's time is the
// event's time, not the time it was written.
//
// The messages are constant ("fusebox state change", "fusebox rejected",
// "fusebox retry", ...) so that lines of one kind are easy to find; the
// attributes say the rest.
//
// # Levels
//
// [DefaultLevel] chooses each line's level, unless Config.Level does:
//
//	state change to open or forced-open   Warn
//	other state changes                    Info
//	rejected                               Warn
//	fallback, timeout                      Info
//	retry, hedge, queue-wait, late-outcome Debug
//
// An event whose level the logger's handler does not enable costs a call to
// Enabled and nothing else, and does not count towards the rate limit.
//
// # Rate limiting
//
// An open breaker rejects every call, and a line per rejection would drown
// everything else. So every kind of event but state changes is rate limited
// per (policy, name, kind): at most Config.MaxPerInterval lines (5 by
// default) in each Config.Interval (10 s by default, starting with the first
// event of the key). Intervals are measured in event time (Event.At), so
// events delivered late are judged by when they happened. The events beyond
// the limit are counted, and when the interval has ended a summary line says
// how many were left out:
//
//	level=WARN msg="fusebox suppressed 1234 rejections" policy=breaker name=payments event=rejected suppressed=1234 interval=10s
//
// The summary is written by the first event, of any key, that arrives after
// the interval ended (so the latest when the breaker moves to half-open),
// by a state change of the same policy (before the state change's own line,
// which also starts a fresh interval for that policy's events), or by
// [Logger.Flush]. Memory is bounded by the keys that logged within the last
// interval.
//
// # Concurrency
//
// A Logger is safe for concurrent use. No handler is called while the
// Logger's lock is held.
package fuseboxslog
