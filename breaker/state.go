package breaker

import (
	"encoding/json"
	"strconv"
)

// State is the state of a breaker.
type State uint8

const (
	// Closed admits every call and judges the outcomes.
	Closed State = iota
	// Open rejects every call with ErrOpen until its open duration ends.
	Open
	// HalfOpen admits a fixed number of probe calls at a time; their
	// outcomes close the breaker or open it again.
	HalfOpen
	// ForcedOpen rejects every call until an operator resets the breaker.
	// Like Disabled and MetricsOnly, it is an operator state: it lasts
	// until Reset or another operator command (ForceOpen, Disable,
	// MetricsOnly), and Trip leaves it alone.
	ForcedOpen
	// Disabled admits every call and records nothing. An operator state
	// (see ForcedOpen).
	Disabled
	// MetricsOnly admits every call and records outcomes, but never trips.
	// An operator state (see ForcedOpen).
	MetricsOnly
)

var stateNames = [...]string{"closed", "open", "half-open", "forced-open", "disabled", "metrics-only"}

// States lists every state, in the order of their values.
var States = []State{Closed, Open, HalfOpen, ForcedOpen, Disabled, MetricsOnly}

// String returns the state's name: "closed", "open", "half-open",
// "forced-open", "disabled" or "metrics-only".
func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "state(" + strconv.Itoa(int(s)) + ")"
}

// MarshalText encodes the state as its name.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText decodes a state name.
func (s *State) UnmarshalText(b []byte) error {
	for i, n := range stateNames {
		if n == string(b) {
			*s = State(i)
			return nil
		}
	}
	return &json.UnsupportedValueError{Str: "breaker: unknown state " + string(b)}
}

// The state word packs the state into its low bits and a generation number,
// bumped by every transition and by a Reset of a closed breaker, into the
// rest. A permit carries the word it
// was issued under; an outcome whose word no longer matches belongs to an
// earlier state and is dropped as late.
const (
	stateBits = 3
	stateMask = 1<<stateBits - 1
)

func stateOf(word uint64) State { return State(word & stateMask) }

// cause says why a transition happened; its String is the Reason of
// Transition and Snapshot. A code instead of a string keeps the breaker
// small.
type cause uint8

const (
	reasonNone cause = iota
	reasonConsecutive
	reasonFailureRate
	reasonSlowRate
	reasonProbeFailed
	reasonProbeSlow
	reasonProbesOK
	reasonOpenEnded
	reasonTripped
	reasonReset
	reasonForced
	reasonDisabled
	reasonMetricsOnly
)

var reasonNames = [...]string{"", "consecutive failures", "failure rate", "slow-call rate", "probe failed", "probe slow",
	"probes succeeded", "open duration ended", "tripped by operator", "reset by operator", "forced open by operator",
	"disabled by operator", "metrics-only by operator"}

func (r cause) String() string { return reasonNames[r] }
