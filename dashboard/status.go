package dashboard

import (
	"time"
)

// Status is what /status.json serves and the event stream pushes: every
// policy's state and rates, and the timeline of state changes.
//
// Units in JSON: durations (Interval, RetryAfter, latency percentiles) are
// numbers of nanoseconds, as encoding/json writes a time.Duration, so that
// programs read them without parsing; instants are RFC 3339 strings,
// except Point.T, in Unix milliseconds; rates are per second; fractions
// are 0 to 1.
type Status struct {
	// Title is the page's title (Config.Title).
	Title string `json:"title"`
	// Time is when the status was made, by the dashboard's Clock.
	Time time.Time `json:"time"`
	// Interval is the sample period (Config.Interval), in nanoseconds in
	// JSON.
	Interval time.Duration `json:"interval"`
	// Seq counts the samples taken.
	Seq uint64 `json:"seq"`
	// HistorySize is how many samples a policy's history holds at most.
	HistorySize int `json:"historySize"`
	// Actions reports whether operator actions are enabled.
	Actions bool `json:"actions"`
	// Full is false in the event stream's updates, whose policies hold
	// only the samples taken since the previous message in History, and
	// whose Timeline holds only the changes since then. The policies are
	// always all there: one missing from an update is gone.
	Full bool `json:"full"`
	// Policies holds one row per policy: those given to Add, in the
	// order they were added, then each source's members, in the order of
	// its Snapshot (a registry's: by key).
	Policies []PolicyStatus `json:"policies"`
	// Timeline holds the latest state changes, oldest first.
	Timeline []Change `json:"timeline"`
	// EventsDropped counts the events of Config.Events (of any kind) that
	// the dashboard lost because its subscription's buffer was full: when
	// it is not 0, the timeline may miss state changes. It is always 0
	// without Config.Events.
	EventsDropped uint64 `json:"eventsDropped"`
	// Streams is how many event streams are open, 0 to
	// Config.MaxStreams.
	Streams int `json:"streams"`
	// StreamsRefused counts the event streams refused (503) because
	// Config.MaxStreams were open; it never decreases.
	StreamsRefused uint64 `json:"streamsRefused"`
}

// PolicyStatus is one row of the dashboard: one policy.
type PolicyStatus struct {
	// Name is the policy's dashboard name: the name given to Add, a
	// registry key, or "name/kind" for a pipeline's layer.
	Name string `json:"name"`
	// Kind is "breaker", "bulkhead", "pool", "ratelimit", "retry",
	// "budget", "timeout", "fallback", "cache", "hedge", "latency" or
	// "other" (see the Kind constants).
	Kind string `json:"kind"`
	// State is a breaker's state ("closed", "open", "half-open",
	// "forced-open", "disabled", "metrics-only"); for other kinds one of
	// the State constants ("ok", "busy", "full", "limiting", "closed");
	// empty for "other".
	State string `json:"state"`
	// Reason is why a breaker made its latest transition.
	Reason string `json:"reason,omitempty"`
	// Since is when a breaker made its latest transition; nil for other
	// kinds.
	Since *time.Time `json:"since,omitempty"`
	// RetryAfter is, while a breaker is open, how long until it probes:
	// in JSON, nanoseconds; absent otherwise.
	RetryAfter time.Duration `json:"retryAfter,omitempty"`

	// Rate is calls per second, 0 or more. Rate, ErrorRate, SlowRate and
	// RejectRate cover the samples of the last 10 seconds, and are 0
	// until there are two samples.
	Rate float64 `json:"rate"`
	// ErrorRate is the fraction of those calls that failed, 0 to 1 (a
	// breaker's FailureRate, over the dashboard's span).
	ErrorRate float64 `json:"errorRate"`
	// SlowRate is the fraction of those calls that were slow, 0 to 1.
	SlowRate float64 `json:"slowRate"`
	// RejectRate is rejections per second, 0 or more.
	RejectRate float64 `json:"rejectRate"`
	// RejectedFraction is rejections / (calls + rejections) over the same
	// span.
	RejectedFraction float64 `json:"rejectedFraction"`
	// Calls is the policy's life-time count of calls, as its snapshot
	// reports it (a breaker's TotalCalls, say); it never decreases.
	Calls uint64 `json:"calls"`
	// Failures is the life-time count of failed calls.
	Failures uint64 `json:"failures"`
	// SlowCalls is the life-time count of slow calls.
	SlowCalls uint64 `json:"slowCalls"`
	// Rejections is the life-time count of calls the policy rejected.
	Rejections uint64 `json:"rejections"`
	// Latency holds percentiles over the last 10 seconds from the
	// policy's Latency, when it has one.
	Latency *LatencyStatus `json:"latency,omitempty"`
	// Detail sums up what else the snapshot says, for people.
	Detail string `json:"detail,omitempty"`
	// Actions lists the operator actions the policy takes, when actions
	// are enabled.
	Actions []string `json:"actions,omitempty"`
	// Snapshot is the policy's snapshot as its package defines it.
	Snapshot any `json:"snapshot,omitempty"`
	// History holds the latest samples, oldest first.
	History []Point `json:"history,omitempty"`
}

// LatencyStatus is a latency summary.
type LatencyStatus struct {
	// Calls is how many calls the percentiles cover.
	Calls uint64 `json:"calls"`
	// P50 is the median duration of those calls, to within 7%: in JSON,
	// nanoseconds.
	P50 time.Duration `json:"p50"`
	// P90 is their 90th percentile duration.
	P90 time.Duration `json:"p90"`
	// P99 is their 99th percentile duration.
	P99 time.Duration `json:"p99"`
}

// Point is one sample of a policy: what happened between the previous
// sample and this one. Short JSON names keep the event stream small.
type Point struct {
	// T is when the sample was taken, in Unix milliseconds.
	T int64 `json:"t"`
	// Rate is calls per second over the interval, 0 or more.
	Rate float64 `json:"rate"`
	// Err is the fraction of those calls that failed, 0 to 1.
	Err float64 `json:"err"`
	// Slow is the fraction of those calls that were slow, 0 to 1.
	Slow float64 `json:"slow"`
	// Rej is rejections per second over the interval, 0 or more.
	Rej float64 `json:"rej"`
	// P50 is the median duration of the interval's calls, when the
	// policy has a Latency (absent otherwise): in JSON, nanoseconds.
	P50 time.Duration `json:"p50,omitempty"`
	// P99 is the 99th percentile duration of the interval's calls.
	P99 time.Duration `json:"p99,omitempty"`
}

// Change is one entry of the timeline: a state change.
type Change struct {
	// ID numbers changes from 1, in the order the dashboard learnt them.
	ID uint64 `json:"id"`
	// At is when the change happened.
	At time.Time `json:"at"`
	// Policy is the dashboard name of the policy (or, for an event of a
	// breaker the dashboard does not show, the breaker's own name).
	Policy string `json:"policy"`
	// Kind is the policy's kind: KindBreaker, or for an event of the
	// Events bus its Policy field.
	Kind string `json:"kind"`
	// From is the state left ("closed", "open", ...).
	From string `json:"from"`
	// To is the state entered.
	To string `json:"to"`
	// Reason says why, when the policy said.
	Reason string `json:"reason,omitempty"`
}

// Actions on breakers, as PolicyStatus.Actions and POST /actions name
// them.
const (
	ActionForceOpen = "force-open"
	ActionReset     = "reset"
	ActionDisable   = "disable"
)

var breakerActions = []string{ActionForceOpen, ActionReset, ActionDisable}
