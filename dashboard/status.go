package dashboard

import (
	"time"
)

// Status is what /status.json serves and the event stream pushes: every
// policy's state and rates, and the timeline of state changes.
type Status struct {
	Title string    `json:"title"`
	Time  time.Time `json:"time"`
	// Interval is the sample period.
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
	Full     bool           `json:"full"`
	Policies []PolicyStatus `json:"policies"`
	// Timeline holds the latest state changes, oldest first.
	Timeline []Change `json:"timeline"`
	// EventsDropped counts the events of Config.Events (of any kind) that
	// the dashboard lost because its subscription's buffer was full: when
	// it is not 0, the timeline may miss state changes. It is always 0
	// without Config.Events.
	EventsDropped uint64 `json:"eventsDropped"`
	// Streams is how many event streams are open; StreamsRefused how many
	// were refused because Config.MaxStreams were open.
	Streams        int    `json:"streams"`
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
	// Reason is why a breaker made its latest transition; Since when it
	// did; RetryAfter, while it is open, how long until it probes.
	Reason     string        `json:"reason,omitempty"`
	Since      *time.Time    `json:"since,omitempty"`
	RetryAfter time.Duration `json:"retryAfter,omitempty"`

	// Rate is calls per second; ErrorRate and SlowRate the fractions of
	// those calls that failed and that were slow; RejectRate rejections
	// per second. They cover the samples of the last 10 seconds, and are
	// 0 until there are two samples.
	Rate       float64 `json:"rate"`
	ErrorRate  float64 `json:"errorRate"`
	SlowRate   float64 `json:"slowRate"`
	RejectRate float64 `json:"rejectRate"`
	// RejectedFraction is rejections / (calls + rejections) over the same
	// span.
	RejectedFraction float64 `json:"rejectedFraction"`
	// Calls, Failures, SlowCalls and Rejections are the policy's
	// life-time totals, as its snapshot reports them.
	Calls      uint64 `json:"calls"`
	Failures   uint64 `json:"failures"`
	SlowCalls  uint64 `json:"slowCalls"`
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
	Calls uint64        `json:"calls"`
	P50   time.Duration `json:"p50"`
	P90   time.Duration `json:"p90"`
	P99   time.Duration `json:"p99"`
}

// Point is one sample of a policy: what happened between the previous
// sample and this one. Short JSON names keep the event stream small.
type Point struct {
	// T is when the sample was taken, in Unix milliseconds.
	T int64 `json:"t"`
	// Rate is calls per second; Err and Slow the fractions of them that
	// failed and that were slow; Rej rejections per second.
	Rate float64 `json:"rate"`
	Err  float64 `json:"err"`
	Slow float64 `json:"slow"`
	Rej  float64 `json:"rej"`
	// P50 and P99 are latency percentiles of the calls of the interval,
	// when the policy has a Latency (0 otherwise).
	P50 time.Duration `json:"p50,omitempty"`
	P99 time.Duration `json:"p99,omitempty"`
}

// Change is one entry of the timeline: a state change.
type Change struct {
	// ID numbers changes from 1, in the order the dashboard learnt them.
	ID uint64    `json:"id"`
	At time.Time `json:"at"`
	// Policy is the dashboard name of the policy (or, for an event of a
	// breaker the dashboard does not show, the breaker's own name).
	Policy string `json:"policy"`
	Kind   string `json:"kind"`
	From   string `json:"from"`
	To     string `json:"to"`
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
