package breaker

import (
	"fmt"
	"math"
	"time"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/clock"
	"github.com/fusebox-go/fusebox/internal/window"
)

// WindowKind selects how the breaker remembers recent calls.
type WindowKind string

const (
	// TimeWindow judges the calls of the last WindowDuration, kept in
	// WindowBuckets buckets rotated by time. The default.
	TimeWindow WindowKind = "time"
	// CountWindow judges the last WindowSize calls, however old.
	CountWindow WindowKind = "count"
)

// Defaults, chosen for a typical HTTP dependency called a few times a second
// or more. Each is the value of the Config field of the same name when it
// is left zero.
const (
	// DefaultWindowDuration is Config.WindowDuration's default.
	DefaultWindowDuration = 10 * time.Second
	// DefaultWindowBuckets is Config.WindowBuckets' default.
	DefaultWindowBuckets = 10
	// DefaultWindowSize is Config.WindowSize's default.
	DefaultWindowSize = 100
	// DefaultMinimumCalls is Config.MinimumCalls' default.
	DefaultMinimumCalls = 20
	// DefaultFailureRate is Config.FailureRate when no trip condition is
	// set.
	DefaultFailureRate = 0.5
	// DefaultSlowCallDuration is Config.SlowCallDuration's default.
	DefaultSlowCallDuration = 5 * time.Second
	// DefaultOpenDuration is Config.OpenDuration's default.
	DefaultOpenDuration = 5 * time.Second
	// DefaultOpenBackoff is Config.OpenBackoff's default.
	DefaultOpenBackoff = 2.0
	// DefaultHalfOpenProbes is Config.HalfOpenProbes' default.
	DefaultHalfOpenProbes = 3
	// DefaultHalfOpenMaxWait is Config.HalfOpenMaxWait's default.
	DefaultHalfOpenMaxWait = 10 * time.Second
)

// DefaultSlowCallTime is the former name of DefaultSlowCallDuration.
//
// Deprecated: use DefaultSlowCallDuration, named after its field,
// Config.SlowCallDuration.
const DefaultSlowCallTime = DefaultSlowCallDuration

// Config configures a Breaker. The zero value is a working breaker that
// opens when at least half of at least 20 calls of the last 10 s failed,
// stays open 5 s, then lets 3 probes through and closes when all 3 succeed.
//
// Trip conditions combine: the breaker opens as soon as any enabled one
// holds, on the call that made it hold, a success included (one that brings
// the window up to MinimumCalls, or the first call of a new bucket, when
// older calls leave a time window); never between calls. If none of FailureRate, SlowCallRate and ConsecutiveFailures is set,
// FailureRate defaults to 0.5; a breaker that should never trip is put in
// metrics-only mode instead (Breaker.MetricsOnly).
type Config struct {
	// Name identifies the breaker in errors, snapshots and events.
	Name string `json:"name" yaml:"name"`

	// Window is TimeWindow (the default when empty) or CountWindow.
	Window WindowKind `json:"window" yaml:"window"`
	// WindowDuration is the span of a time window: 0 means 10s. It must be
	// a whole multiple of WindowBuckets nanoseconds.
	WindowDuration time.Duration `json:"windowDuration" yaml:"windowDuration"`
	// WindowBuckets is the number of buckets of a time window, 1 to 1000:
	// 0 means 10. More buckets slide more smoothly and cost more to read
	// when a failure is recorded.
	WindowBuckets int `json:"windowBuckets" yaml:"windowBuckets"`
	// WindowSize is the number of calls of a count window, 1 to 1048576:
	// 0 means 100.
	WindowSize int `json:"windowSize" yaml:"windowSize"`
	// MinimumCalls is how many calls the window must hold before a rate
	// (FailureRate, SlowCallRate) can trip the breaker, up to 4294967295:
	// 0 means 20 (or the window size of a smaller count window).
	MinimumCalls int `json:"minimumCalls" yaml:"minimumCalls"`

	// FailureRate trips the breaker when failures/calls in the window
	// reach it, in (0, 1]. 0 disables it (but see the type's doc).
	FailureRate float64 `json:"failureRate" yaml:"failureRate"`
	// SlowCallRate trips the breaker when slow calls/calls in the window
	// reach it, in (0, 1]. 0 disables it. A call is slow when it took at
	// least SlowCallDuration, whether it succeeded or failed.
	SlowCallRate float64 `json:"slowCallRate" yaml:"slowCallRate"`
	// SlowCallDuration is the slow-call threshold: 0 means 5s. It is used
	// only when SlowCallRate is set.
	SlowCallDuration time.Duration `json:"slowCallDuration" yaml:"slowCallDuration"`
	// ConsecutiveFailures trips the breaker after this many failures in a
	// row (a success resets the count; ignored calls do not), up to
	// 4294967295. 0 disables it.
	// It needs no MinimumCalls: the count is its own minimum.
	ConsecutiveFailures int `json:"consecutiveFailures" yaml:"consecutiveFailures"`

	// OpenDuration is how long the breaker stays open before probing:
	// 0 means 5s.
	OpenDuration time.Duration `json:"openDuration" yaml:"openDuration"`
	// MaxOpenDuration caps the open duration as it grows by OpenBackoff
	// with each re-open that follows a failed probe. 0 means OpenDuration:
	// a constant open duration. The growth resets when the breaker closes.
	// No open duration exceeds it, jitter included; values near the
	// largest time.Duration mean "no cap" and never overflow.
	MaxOpenDuration time.Duration `json:"maxOpenDuration" yaml:"maxOpenDuration"`
	// OpenBackoff multiplies the open duration on each consecutive re-open,
	// 1 to 100: 0 means 2. It matters only with MaxOpenDuration set.
	OpenBackoff float64 `json:"openBackoff" yaml:"openBackoff"`
	// OpenJitter shortens each open duration at random by up to this
	// fraction, in [0, 1], so a fleet of breakers does not probe in
	// lockstep: each opening lasts a uniform draw from [d×(1−OpenJitter), d],
	// where d is the backed-off duration already capped at MaxOpenDuration.
	// 0.2 turns 10s into 8s to 10s. Jitter never lengthens an opening, so
	// it is not lost to the cap. 0 means no jitter.
	OpenJitter float64 `json:"openJitter" yaml:"openJitter"`

	// HalfOpenProbes is how many probe calls may be in flight at once in
	// the half-open state: 0 means 3. Other calls are rejected with ErrOpen.
	HalfOpenProbes int `json:"halfOpenProbes" yaml:"halfOpenProbes"`
	// HalfOpenSuccesses is how many successful probes close the breaker,
	// up to 4294967295: 0 means HalfOpenProbes. A failed probe (or a slow one, when
	// SlowCallRate is set) re-opens it at once, so the successes are always
	// consecutive; ignored probes count neither way.
	HalfOpenSuccesses int `json:"halfOpenSuccesses" yaml:"halfOpenSuccesses"`
	// HalfOpenMaxWait is how long a probe may hold its slot before it no
	// longer blocks recovery: after it, the slot goes to the next caller and
	// the old probe's outcome is dropped as late. 0 means 10s.
	HalfOpenMaxWait time.Duration `json:"halfOpenMaxWait" yaml:"halfOpenMaxWait"`
	// AutoHalfOpen moves an open breaker to half-open by timer when its
	// open duration ends, so observers see the transition without traffic.
	// Without it the move happens on the first call after that time.
	AutoHalfOpen bool `json:"autoHalfOpen" yaml:"autoHalfOpen"`

	// Classifier maps a call's error to an outcome: nil means
	// fusebox.DefaultClassifier. Whatever it says, an error returned after
	// the caller's context ended is Ignored.
	Classifier fusebox.Classifier `json:"-" yaml:"-"`
	// Clock is the time source: nil means clock.Default(), the shared
	// coarse clock.
	Clock clock.Clock `json:"-" yaml:"-"`
	// OnStateChange, when set, is registered as the first state-change
	// listener (see Breaker.OnStateChange).
	OnStateChange func(Transition) `json:"-" yaml:"-"`
	// Events, when set, receives the breaker's events: state changes (in
	// order, with the snapshot at the transition), rejections and late
	// outcomes. A bus nobody subscribes to costs nothing.
	Events *fusebox.Events `json:"-" yaml:"-"`
}

// settings is a validated Config with every default applied, packed
// small: a breaker should cost well under a kibibyte.
type settings struct {
	name        string
	classifier  fusebox.Classifier
	clock       clock.Clock
	failureRate float64
	slowRate    float64
	backoff     float64
	jitter      float64
	slowNanos   int64 // 0 when slow calls are not tracked
	openNanos   int64
	maxOpen     int64
	maxWait     int64
	windowNanos int64
	buckets     uint32
	windowSize  uint32
	minCalls    uint32
	consecutive uint32
	probes      uint32
	successes   uint32
	countWindow bool
	autoHalf    bool
	rateTrips   bool
}

func newSettings(c Config) settings {
	return settings{
		name:        c.Name,
		classifier:  c.Classifier,
		clock:       c.Clock,
		failureRate: c.FailureRate,
		slowRate:    c.SlowCallRate,
		backoff:     c.OpenBackoff,
		jitter:      c.OpenJitter,
		slowNanos:   int64(c.SlowCallDuration),
		openNanos:   int64(c.OpenDuration),
		maxOpen:     int64(c.MaxOpenDuration),
		maxWait:     int64(c.HalfOpenMaxWait),
		windowNanos: int64(c.WindowDuration),
		buckets:     uint32(c.WindowBuckets),
		windowSize:  uint32(c.WindowSize),
		minCalls:    uint32(c.MinimumCalls),
		consecutive: uint32(c.ConsecutiveFailures),
		probes:      uint32(c.HalfOpenProbes),
		successes:   uint32(c.HalfOpenSuccesses),
		countWindow: c.Window == CountWindow,
		autoHalf:    c.AutoHalfOpen,
		rateTrips:   c.FailureRate > 0 || c.SlowCallRate > 0,
	}
}

// config turns settings back into the Config they came from, defaults
// applied. OnStateChange is not kept.
func (s *settings) config() Config {
	c := Config{
		Name:                s.name,
		Window:              TimeWindow,
		WindowDuration:      time.Duration(s.windowNanos),
		WindowBuckets:       int(s.buckets),
		WindowSize:          int(s.windowSize),
		MinimumCalls:        int(s.minCalls),
		FailureRate:         s.failureRate,
		SlowCallRate:        s.slowRate,
		SlowCallDuration:    time.Duration(s.slowNanos),
		ConsecutiveFailures: int(s.consecutive),
		OpenDuration:        time.Duration(s.openNanos),
		MaxOpenDuration:     time.Duration(s.maxOpen),
		OpenBackoff:         s.backoff,
		OpenJitter:          s.jitter,
		HalfOpenProbes:      int(s.probes),
		HalfOpenSuccesses:   int(s.successes),
		HalfOpenMaxWait:     time.Duration(s.maxWait),
		AutoHalfOpen:        s.autoHalf,
		Classifier:          s.classifier,
		Clock:               s.clock,
	}
	if s.countWindow {
		c.Window = CountWindow
	}
	return c
}

// maxCount is the largest value of the count fields settings keeps in 32
// bits (MinimumCalls, ConsecutiveFailures, HalfOpenSuccesses); validate
// rejects larger ones rather than let them wrap.
const maxCount int64 = math.MaxUint32

func rangeErr(field string, v any, want string) error {
	return fmt.Errorf("breaker: %s %v out of range: want %s", field, v, want)
}

// validate returns c with every default applied, or the first error.
func (c Config) validate() (Config, error) {
	s := c
	switch c.Window {
	case "":
		s.Window = TimeWindow
	case TimeWindow, CountWindow:
	default:
		return s, fmt.Errorf("breaker: Window %q is not a window kind: want %q or %q", string(c.Window), TimeWindow, CountWindow)
	}
	if c.WindowBuckets < 0 || c.WindowBuckets > window.MaxBuckets {
		return s, rangeErr("WindowBuckets", c.WindowBuckets, fmt.Sprintf("0 (default %d) to %d", DefaultWindowBuckets, window.MaxBuckets))
	}
	if s.WindowBuckets == 0 {
		s.WindowBuckets = DefaultWindowBuckets
	}
	if c.WindowDuration < 0 {
		return s, rangeErr("WindowDuration", c.WindowDuration, fmt.Sprintf("0 (default %v) or more", DefaultWindowDuration))
	}
	if s.WindowDuration == 0 {
		s.WindowDuration = DefaultWindowDuration
	}
	if s.Window == TimeWindow && s.WindowDuration%time.Duration(s.WindowBuckets) != 0 {
		return s, fmt.Errorf("breaker: WindowDuration %v is not a whole multiple of WindowBuckets %d nanoseconds", s.WindowDuration, s.WindowBuckets)
	}
	if c.WindowSize < 0 || c.WindowSize > window.MaxCountSize {
		return s, rangeErr("WindowSize", c.WindowSize, fmt.Sprintf("0 (default %d) to %d", DefaultWindowSize, window.MaxCountSize))
	}
	if s.WindowSize == 0 {
		s.WindowSize = DefaultWindowSize
	}
	if c.MinimumCalls < 0 || int64(c.MinimumCalls) > maxCount {
		return s, rangeErr("MinimumCalls", c.MinimumCalls, fmt.Sprintf("0 (default %d) to %d", DefaultMinimumCalls, maxCount))
	}
	if s.MinimumCalls == 0 {
		s.MinimumCalls = DefaultMinimumCalls
		if s.Window == CountWindow && s.WindowSize < s.MinimumCalls {
			s.MinimumCalls = s.WindowSize
		}
	}
	if s.Window == CountWindow && s.MinimumCalls > s.WindowSize {
		return s, fmt.Errorf("breaker: MinimumCalls %d exceeds WindowSize %d: a count window never holds that many calls", s.MinimumCalls, s.WindowSize)
	}
	if math.IsNaN(c.FailureRate) || c.FailureRate < 0 || c.FailureRate > 1 {
		return s, rangeErr("FailureRate", c.FailureRate, "0 (off) or a rate in (0, 1]")
	}
	if math.IsNaN(c.SlowCallRate) || c.SlowCallRate < 0 || c.SlowCallRate > 1 {
		return s, rangeErr("SlowCallRate", c.SlowCallRate, "0 (off) or a rate in (0, 1]")
	}
	if c.SlowCallDuration < 0 {
		return s, rangeErr("SlowCallDuration", c.SlowCallDuration, fmt.Sprintf("0 (default %v) or more", DefaultSlowCallDuration))
	}
	if c.ConsecutiveFailures < 0 || int64(c.ConsecutiveFailures) > maxCount {
		return s, rangeErr("ConsecutiveFailures", c.ConsecutiveFailures, fmt.Sprintf("0 (off) to %d", maxCount))
	}
	if c.FailureRate == 0 && c.SlowCallRate == 0 && c.ConsecutiveFailures == 0 {
		s.FailureRate = DefaultFailureRate
	}
	if s.SlowCallRate > 0 {
		if s.SlowCallDuration == 0 {
			s.SlowCallDuration = DefaultSlowCallDuration
		}
	} else {
		s.SlowCallDuration = 0
	}
	if c.OpenDuration < 0 {
		return s, rangeErr("OpenDuration", c.OpenDuration, fmt.Sprintf("0 (default %v) or more", DefaultOpenDuration))
	}
	if s.OpenDuration == 0 {
		s.OpenDuration = DefaultOpenDuration
	}
	if c.MaxOpenDuration < 0 || (c.MaxOpenDuration > 0 && c.MaxOpenDuration < s.OpenDuration) {
		return s, rangeErr("MaxOpenDuration", c.MaxOpenDuration, fmt.Sprintf("0 (constant open duration) or at least OpenDuration %v", s.OpenDuration))
	}
	if s.MaxOpenDuration == 0 {
		s.MaxOpenDuration = s.OpenDuration
	}
	if math.IsNaN(c.OpenBackoff) || c.OpenBackoff < 0 || (c.OpenBackoff > 0 && c.OpenBackoff < 1) || c.OpenBackoff > 100 {
		return s, rangeErr("OpenBackoff", c.OpenBackoff, fmt.Sprintf("0 (default %v) or 1 to 100", DefaultOpenBackoff))
	}
	if s.OpenBackoff == 0 {
		s.OpenBackoff = DefaultOpenBackoff
	}
	if math.IsNaN(c.OpenJitter) || c.OpenJitter < 0 || c.OpenJitter > 1 {
		return s, rangeErr("OpenJitter", c.OpenJitter, "0 to 1")
	}
	if c.HalfOpenProbes < 0 || c.HalfOpenProbes > 1000 {
		return s, rangeErr("HalfOpenProbes", c.HalfOpenProbes, fmt.Sprintf("0 (default %d) or 1 to 1000", DefaultHalfOpenProbes))
	}
	if s.HalfOpenProbes == 0 {
		s.HalfOpenProbes = DefaultHalfOpenProbes
	}
	if c.HalfOpenSuccesses < 0 || int64(c.HalfOpenSuccesses) > maxCount {
		return s, rangeErr("HalfOpenSuccesses", c.HalfOpenSuccesses, fmt.Sprintf("0 (default HalfOpenProbes) to %d", maxCount))
	}
	if s.HalfOpenSuccesses == 0 {
		s.HalfOpenSuccesses = s.HalfOpenProbes
	}
	if c.HalfOpenMaxWait < 0 {
		return s, rangeErr("HalfOpenMaxWait", c.HalfOpenMaxWait, fmt.Sprintf("0 (default %v) or more", DefaultHalfOpenMaxWait))
	}
	if s.HalfOpenMaxWait == 0 {
		s.HalfOpenMaxWait = DefaultHalfOpenMaxWait
	}
	if s.Clock == nil {
		s.Clock = clock.Default()
	}
	return s, nil
}

// Validate reports whether c is a valid configuration, with an error naming
// the first bad field and its allowed range.
func (c Config) Validate() error {
	_, err := c.validate()
	return err
}
