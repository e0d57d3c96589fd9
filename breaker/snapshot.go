package breaker

import (
	"time"
)

// Snapshot is a consistent-enough picture of a breaker for metrics,
// dashboards and logs. Window counts cover the current window; Total counts
// cover the breaker's life. Durations are time.Duration values: in JSON,
// whole nanoseconds.
type Snapshot struct {
	// Name is the breaker's Config.Name.
	Name string `json:"name"`
	// State is the breaker's state now.
	State State `json:"state"`
	// Generation counts transitions since New, and Resets of a closed
	// breaker, which start a new generation without a transition; an
	// outcome reported under an older generation is late.
	Generation uint64 `json:"generation"`
	// TimeInState is how long the breaker has been in State, 0 or more.
	TimeInState time.Duration `json:"timeInState"`
	// RetryAfter is, while Open, the time until the next probe may go, 0
	// or more; 0 in every other state.
	RetryAfter time.Duration `json:"retryAfter"`
	// OpenDuration is the length of the latest opening, backoff and
	// jitter applied; 0 before the first.
	OpenDuration time.Duration `json:"openDuration"`
	// Reason says why the latest transition happened.
	Reason string `json:"reason"`

	// Calls is how many calls the current window judges: those of the
	// last WindowDuration (time window) or the last WindowSize calls at
	// most (count window), successes and failures; ignored calls and
	// half-open probes are not in it. It can decrease as the window
	// slides.
	Calls uint64 `json:"calls"`
	// Failures is how many of Calls failed, 0 to Calls.
	Failures uint64 `json:"failures"`
	// SlowCalls is how many of Calls took SlowCallDuration or longer,
	// failed or not, 0 to Calls; always 0 unless SlowCallRate is set.
	SlowCalls uint64 `json:"slowCalls"`
	// Ignored is how many calls the window saw Ignored (the caller gave
	// up, another policy rejected the call): they count in no rate. A
	// count window keeps them apart from its calls: for it, those since
	// the window was last emptied.
	Ignored uint64 `json:"ignored"`
	// FailureRate is Failures/Calls, 0 to 1; 0 with no calls.
	FailureRate float64 `json:"failureRate"`
	// SlowCallRate is SlowCalls/Calls, 0 to 1; 0 with no calls.
	SlowCallRate float64 `json:"slowCallRate"`

	// ConsecutiveFailures is how many calls failed in a row since the
	// latest success or the window was last emptied (a state change);
	// ignored calls neither count nor reset it.
	ConsecutiveFailures uint64 `json:"consecutiveFailures"`
	// ConsecutiveOpens counts openings since the breaker last closed; it
	// drives the open-duration backoff.
	ConsecutiveOpens int `json:"consecutiveOpens"`
	// ProbeSuccesses counts successful probes in the current half-open
	// state, 0 to HalfOpenSuccesses; 0 in every other state.
	ProbeSuccesses int `json:"probeSuccesses"`
	// ProbesInFlight is how many probe slots are taken now, 0 to
	// HalfOpenProbes; 0 unless HalfOpen.
	ProbesInFlight int `json:"probesInFlight"`

	// TotalCalls counts the calls judged over the breaker's life,
	// half-open probes included, ignored calls not. Like every Total
	// count, it never decreases: export it as a counter.
	TotalCalls uint64 `json:"totalCalls"`
	// TotalFailures counts the failed calls among TotalCalls.
	TotalFailures uint64 `json:"totalFailures"`
	// TotalSlowCalls counts the slow calls among TotalCalls (see
	// SlowCalls).
	TotalSlowCalls uint64 `json:"totalSlowCalls"`
	// TotalIgnored counts the calls judged Ignored over the breaker's
	// life.
	TotalIgnored uint64 `json:"totalIgnored"`
	// Rejections counts calls refused while open, forced open or
	// half-open with every slot taken.
	Rejections uint64 `json:"rejections"`
	// LateOutcomes counts outcomes dropped because they belonged to an
	// earlier state, or to a probe slot reclaimed after HalfOpenMaxWait.
	LateOutcomes uint64 `json:"lateOutcomes"`
	// FailedProbes counts probes that re-opened the breaker.
	FailedProbes uint64 `json:"failedProbes"`
	// ReclaimedProbes counts probe slots taken over from a probe that held
	// them past HalfOpenMaxWait.
	ReclaimedProbes uint64 `json:"reclaimedProbes"`
	// Transitions counts state changes since New; it never decreases.
	Transitions uint64 `json:"transitions"`
	// ListenerPanics counts calls of OnStateChange listeners that
	// panicked; each panic was recovered.
	ListenerPanics uint64 `json:"listenerPanics"`
}

// Snapshot returns the breaker's current counters and state.
func (b *Breaker) Snapshot() Snapshot {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.snapshotLocked(b.now())
}

// snapshotLocked requires b.mu.
func (b *Breaker) snapshotLocked(now int64) Snapshot {
	w := b.word.Load()
	c := b.counts(now)
	tot := b.totalsLocked()
	s := Snapshot{
		Name:                b.s.name,
		State:               stateOf(w),
		Generation:          w >> stateBits,
		TimeInState:         time.Duration(now - b.since),
		OpenDuration:        time.Duration(b.lastOpenNanos),
		Reason:              b.lastReason.String(),
		Calls:               c.Calls,
		Failures:            c.Failures,
		SlowCalls:           c.Slow,
		Ignored:             c.Ignored,
		FailureRate:         c.FailureRate(),
		SlowCallRate:        c.SlowRate(),
		ConsecutiveFailures: b.consecutive.Load(),
		ConsecutiveOpens:    int(b.reopens),
		TotalCalls:          tot.Calls,
		TotalFailures:       tot.Failures,
		TotalSlowCalls:      tot.Slow,
		TotalIgnored:        tot.Ignored,
		Rejections:          b.rejections.Load(),
		LateOutcomes:        b.late.Load(),
		FailedProbes:        b.probeFail,
		ReclaimedProbes:     b.reclaimed,
		Transitions:         b.transitions,
		ListenerPanics:      b.notify.panicCount(),
	}
	if s.TimeInState < 0 {
		s.TimeInState = 0
	}
	if s.State == Open {
		s.RetryAfter = time.Duration(remaining(b.openUntil.Load(), now))
	}
	if s.State == HalfOpen {
		s.ProbeSuccesses = int(b.probeOK)
		for i := range b.probes {
			if b.probes[i].ticket.Load()&1 != 0 {
				s.ProbesInFlight++
			}
		}
	}
	return s
}
