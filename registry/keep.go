package registry

import (
	"time"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/breaker"
	"github.com/fusebox-go/fusebox/bulkhead"
	"github.com/fusebox-go/fusebox/ratelimit"
)

// Snapshotter is implemented by members of a type this package does not
// know that want their state in Registry.Snapshot.
type Snapshotter interface {
	// Snapshot returns the member's state, for Member.Value.
	Snapshot() any
}

// policies is what a *fusebox.Pipeline, or a user type wrapping policies,
// offers: its layers.
type policies interface {
	Policies() []fusebox.Policy
}

// DefaultKeep is the Keep rule of a Config that sets none. It reports
// whether m holds state that evicting it would lose:
//
//   - a *breaker.Breaker that is Open, HalfOpen or ForcedOpen (a breaker
//     that is Closed, Disabled or MetricsOnly may go: a new one starts
//     closed and judges the dependency afresh);
//   - a *bulkhead.Bulkhead with calls in flight or queued;
//   - a *ratelimit.Bucket whose bucket has not refilled (a new bucket
//     starts full and would grant a fresh burst);
//   - a *fusebox.Pipeline, or anything with a Policies() []fusebox.Policy
//     method, one of whose policies DefaultKeep keeps.
//
// Anything else, nil included, may go. The idle sweep never evicts a member
// DefaultKeep keeps; the cap evicts one only when every member is kept
// (see Config.MaxKeys and Config.Hold).
func DefaultKeep(m any) bool {
	switch v := m.(type) {
	case *breaker.Breaker:
		if v == nil {
			return false
		}
		switch v.State() {
		case breaker.Open, breaker.HalfOpen, breaker.ForcedOpen:
			return true
		}
		return false
	case *bulkhead.Bulkhead:
		if v == nil {
			return false
		}
		s := v.Snapshot()
		return s.InFlight > 0 || s.Queued > 0
	case *ratelimit.Bucket:
		if v == nil {
			return false
		}
		s := v.Snapshot()
		return s.Tokens < float64(s.Burst)
	case *fusebox.Pipeline:
		if v == nil {
			return false
		}
		return keepAny(v.Policies())
	case policies:
		return keepAny(v.Policies())
	}
	return false
}

func keepAny(ps []fusebox.Policy) bool {
	for _, p := range ps {
		if DefaultKeep(p) {
			return true
		}
	}
	return false
}

// DefaultHold is the Hold rule of a Config that sets none. It reports for
// how much longer m rejects every call:
//
//   - for a *breaker.Breaker that is Open, the rest of its open period
//     (its Snapshot's RetryAfter; 0 once the period has ended, though the
//     breaker reads Open until its next call);
//   - HoldForever for a *breaker.Breaker that is ForcedOpen;
//   - for a *fusebox.Pipeline, or anything with a Policies() []fusebox.Policy
//     method, the longest of its policies';
//   - 0 for anything else: a half-open breaker (which admits probes), a
//     bulkhead, a token bucket, nil.
func DefaultHold(m any) time.Duration {
	switch v := m.(type) {
	case *breaker.Breaker:
		if v == nil {
			return 0
		}
		switch v.State() {
		case breaker.ForcedOpen:
			return HoldForever
		case breaker.Open:
			return v.Snapshot().RetryAfter
		}
		return 0
	case *fusebox.Pipeline:
		if v == nil {
			return 0
		}
		return holdAny(v.Policies())
	case policies:
		return holdAny(v.Policies())
	}
	return 0
}

func holdAny(ps []fusebox.Policy) time.Duration {
	var d time.Duration
	for _, p := range ps {
		d = max(d, DefaultHold(p))
	}
	return d
}
