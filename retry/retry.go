package retry

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/clock"
)

// maxTrackedAttempts bounds Snapshot.RetriesByAttempt.
const maxTrackedAttempts = 16

// DefaultMaxAttempts is the number of attempts a zero Config.MaxAttempts
// means: the first and two retries.
const DefaultMaxAttempts = 3

// Config configures a Policy. The zero Config is usable: three attempts,
// exponential backoff from 100ms doubling up to 10s with full jitter,
// DefaultRetryable, Retry-After honored up to 30s, no budget.
type Config struct {
	// Name identifies the policy in events.
	Name string `json:"name" yaml:"name"`
	// MaxAttempts is the most attempts a call makes, the first included: 1
	// means no retries. 0 means DefaultMaxAttempts (3).
	MaxAttempts int `json:"maxAttempts" yaml:"maxAttempts"`
	// MaxElapsed bounds the time from the start of the first attempt to the
	// start of the last: a retry that could not start within it is not
	// made, and the policy gives up at once with ErrRetriesExhausted.
	// 0 means no limit other than the context's deadline.
	MaxElapsed time.Duration `json:"maxElapsed" yaml:"maxElapsed"`

	// Backoff is the strategy of the delays between attempts. "" means
	// BackoffExponential.
	Backoff Backoff `json:"backoff" yaml:"backoff"`
	// Jitter is how much randomness is taken off each delay. "" means
	// JitterFull, except with BackoffConstant, where it means JitterNone.
	// With BackoffDecorrelated, which jitters by itself, it must be "".
	Jitter Jitter `json:"jitter" yaml:"jitter"`
	// JitterFactor scales the jitter, from 0 (none) to 1 (all of it; see
	// Jitter and BackoffDecorrelated). 0 means 1; values outside [0, 1] are
	// rejected.
	JitterFactor float64 `json:"jitterFactor" yaml:"jitterFactor"`
	// InitialInterval is the delay before the first retry (the constant
	// delay with BackoffConstant, the lowest delay with BackoffDecorrelated),
	// before jitter. 0 means DefaultInitialInterval (100ms).
	InitialInterval time.Duration `json:"initialInterval" yaml:"initialInterval"`
	// Multiplier is the growth factor of the delay from one retry to the
	// next. 0 means DefaultMultiplier (2), or DefaultDecorrelatedMultiplier
	// (3) with BackoffDecorrelated; otherwise at least 1. Unused by
	// BackoffConstant.
	Multiplier float64 `json:"multiplier" yaml:"multiplier"`
	// MaxInterval caps each delay, before jitter. 0 means
	// DefaultMaxInterval (10s), or InitialInterval when that is longer;
	// otherwise at least InitialInterval.
	MaxInterval time.Duration `json:"maxInterval" yaml:"maxInterval"`

	// MaxRetryAfter caps the delay a failed attempt's error may ask for:
	// when an error in the chain has a RetryAfter() time.Duration method (as
	// *StatusError has) and asks for longer than the backoff, the policy
	// waits min(RetryAfter, MaxRetryAfter) instead. 0 means
	// DefaultMaxRetryAfter (30s).
	MaxRetryAfter time.Duration `json:"maxRetryAfter" yaml:"maxRetryAfter"`
	// IgnoreRetryAfter makes the policy use its backoff alone, whatever the
	// errors ask for.
	IgnoreRetryAfter bool `json:"ignoreRetryAfter" yaml:"ignoreRetryAfter"`

	// Seed, when not 0, seeds the policy's jitter source (a PCG generator)
	// so that a policy draws the same sequence of random numbers in every
	// run: for tests and simulations. 0 means a source seeded at random.
	Seed uint64 `json:"seed" yaml:"seed"`

	// Retryable decides whether a failed attempt's error is worth another
	// attempt. nil means DefaultRetryable. It is not consulted for errors
	// marked with Permanent, nor once the caller's context has ended. It
	// must be safe for concurrent use.
	Retryable func(error) bool `json:"-" yaml:"-"`
	// OnRetry, when not nil, is called before each wait for a retry, in the
	// goroutine of the call and with no lock held. It must not block for
	// long: the wait starts when it returns.
	OnRetry func(Attempt) `json:"-" yaml:"-"`
	// Budget, when not nil, limits retries to a share of requests; share it
	// among all the policies that call the same dependency. nil means no
	// budget.
	Budget *Budget `json:"-" yaml:"-"`
	// Clock is the source of time and timers; nil means clock.Default().
	Clock clock.Clock `json:"-" yaml:"-"`
	// Events, when set, receives an EventRetry before each wait and an
	// EventRejected when the budget refuses a retry.
	Events *fusebox.Events `json:"-" yaml:"-"`
}

// Attempt describes a failed attempt that is about to be retried; it is
// what Config.OnRetry receives.
type Attempt struct {
	// Number is the number of the attempt that failed, 1 for the first.
	Number int
	// Delay is how long the policy waits before attempt Number+1.
	Delay time.Duration
	// Err is the error of the attempt that failed.
	Err error
}

// Snapshot holds a policy's counters since it was made.
type Snapshot struct {
	// Calls counts calls to Run and Execute.
	Calls int64 `json:"calls" yaml:"calls"`
	// Attempts counts attempts: Calls + Retries.
	Attempts int64 `json:"attempts" yaml:"attempts"`
	// Retries counts attempts after the first (a retry given up while
	// waiting for it is not counted).
	Retries int64 `json:"retries" yaml:"retries"`
	// SuccessesAfterRetry counts calls that succeeded on a retry.
	SuccessesAfterRetry int64 `json:"successesAfterRetry" yaml:"successesAfterRetry"`
	// Exhausted counts calls that returned ErrRetriesExhausted.
	Exhausted int64 `json:"exhausted" yaml:"exhausted"`
	// BudgetRejections counts calls that returned ErrBudgetExhausted.
	BudgetRejections int64 `json:"budgetRejections" yaml:"budgetRejections"`
	// RetriesByAttempt breaks Retries down by attempt number:
	// RetriesByAttempt[0] counts second attempts, [1] third attempts, and
	// so on. Its length is MaxAttempts-1, at most 16; with more attempts
	// the last entry counts every attempt from the 17th on.
	RetriesByAttempt []int64 `json:"retriesByAttempt" yaml:"retriesByAttempt"`
}

// Policy is a retry policy. Make one with New, once, and share it: it is
// safe for concurrent use.
type Policy struct {
	maxAttempts int
	maxElapsed  time.Duration
	backoff     backoff
	maxRA       time.Duration
	ignoreRA    bool
	retryable   func(error) bool
	onRetry     func(Attempt)
	name        string
	events      *fusebox.Events
	budget      *Budget
	clock       clock.Clock

	// rng is the seeded jitter source, nil when Seed is 0 (the runtime's
	// lock-free generator is used then). Only retries draw from it.
	rngMu sync.Mutex
	rng   *rand.Rand

	calls   atomic.Int64
	retries atomic.Int64
	// byAttempt[i] counts the attempts numbered i+2: the retries by
	// their attempt number (bounded by MaxAttempts).
	byAttempt           []atomic.Int64
	successesAfterRetry atomic.Int64
	exhausted           atomic.Int64
	budgetRejections    atomic.Int64
}

var _ fusebox.Policy = (*Policy)(nil)

// New returns a policy configured by c, or an error naming the first field
// out of range.
func New(c Config) (*Policy, error) {
	p := &Policy{
		maxAttempts: c.MaxAttempts,
		maxElapsed:  c.MaxElapsed,
		maxRA:       c.MaxRetryAfter,
		ignoreRA:    c.IgnoreRetryAfter,
		retryable:   c.Retryable,
		onRetry:     c.OnRetry,
		name:        c.Name,
		events:      c.Events,
		budget:      c.Budget,
		clock:       c.Clock,
	}
	switch {
	case c.MaxAttempts < 0:
		return nil, fmt.Errorf("retry: MaxAttempts %d out of range: want 0 (default %d) or more", c.MaxAttempts, DefaultMaxAttempts)
	case c.MaxAttempts == 0:
		p.maxAttempts = DefaultMaxAttempts
	}
	if c.MaxElapsed < 0 {
		return nil, fmt.Errorf("retry: MaxElapsed %v out of range: want 0 (no limit) or more", c.MaxElapsed)
	}
	b, err := newBackoff(c)
	if err != nil {
		return nil, err
	}
	p.backoff = b
	p.byAttempt = make([]atomic.Int64, min(p.maxAttempts-1, maxTrackedAttempts))
	switch {
	case c.MaxRetryAfter < 0:
		return nil, fmt.Errorf("retry: MaxRetryAfter %v out of range: want 0 (default %v) or more", c.MaxRetryAfter, DefaultMaxRetryAfter)
	case c.MaxRetryAfter == 0:
		p.maxRA = DefaultMaxRetryAfter
	}
	if p.clock == nil {
		p.clock = clock.Default()
	}
	if c.Seed != 0 {
		p.rng = rand.New(rand.NewPCG(c.Seed, c.Seed^0x9e3779b97f4a7c15))
	}
	return p, nil
}

// newBackoff validates and resolves the backoff fields of c.
func newBackoff(c Config) (backoff, error) {
	b := backoff{
		kind:       c.Backoff,
		jitter:     c.Jitter,
		factor:     c.JitterFactor,
		initial:    c.InitialInterval,
		multiplier: c.Multiplier,
		max:        c.MaxInterval,
	}
	switch b.kind {
	case "":
		b.kind = BackoffExponential
	case BackoffExponential, BackoffConstant, BackoffDecorrelated:
	default:
		return b, fmt.Errorf("retry: Backoff %q unknown: want %q (default %q), %q, %q or %q", c.Backoff, "", BackoffExponential, BackoffExponential, BackoffConstant, BackoffDecorrelated)
	}
	switch {
	case b.jitter == "" && b.kind == BackoffConstant:
		b.jitter = JitterNone
	case b.jitter == "":
		b.jitter = JitterFull
	case b.kind == BackoffDecorrelated:
		return b, fmt.Errorf("retry: Jitter %q not allowed with Backoff %q, which jitters by itself: want %q (scale it with JitterFactor)", c.Jitter, BackoffDecorrelated, "")
	case b.jitter != JitterNone && b.jitter != JitterFull && b.jitter != JitterEqual:
		return b, fmt.Errorf("retry: Jitter %q unknown: want %q (default), %q, %q or %q", c.Jitter, "", JitterNone, JitterFull, JitterEqual)
	}
	switch {
	case math.IsNaN(b.factor) || b.factor < 0 || b.factor > 1:
		return b, fmt.Errorf("retry: JitterFactor %v out of range: want 0 (default 1) up to 1", c.JitterFactor)
	case b.factor == 0:
		b.factor = 1
	}
	switch {
	case b.initial < 0:
		return b, fmt.Errorf("retry: InitialInterval %v out of range: want 0 (default %v) or more", c.InitialInterval, DefaultInitialInterval)
	case b.initial == 0:
		b.initial = DefaultInitialInterval
	}
	switch {
	case math.IsNaN(b.multiplier) || math.IsInf(b.multiplier, 0) || (b.multiplier != 0 && b.multiplier < 1):
		return b, fmt.Errorf("retry: Multiplier %v out of range: want 0 (default %v, or %v when decorrelated) or a finite number of at least 1", c.Multiplier, DefaultMultiplier, DefaultDecorrelatedMultiplier)
	case b.multiplier == 0 && b.kind == BackoffDecorrelated:
		b.multiplier = DefaultDecorrelatedMultiplier
	case b.multiplier == 0:
		b.multiplier = DefaultMultiplier
	}
	switch {
	case b.max < 0:
		return b, fmt.Errorf("retry: MaxInterval %v out of range: want 0 (default %v) or at least InitialInterval (%v)", c.MaxInterval, DefaultMaxInterval, b.initial)
	case b.max == 0:
		b.max = max(DefaultMaxInterval, b.initial)
	case b.max < b.initial:
		return b, fmt.Errorf("retry: MaxInterval %v out of range: want 0 (default %v) or at least InitialInterval (%v)", c.MaxInterval, DefaultMaxInterval, b.initial)
	}
	return b, nil
}

// Execute runs fn under the policy: Run with fusebox.NextFunc(fn).
func (p *Policy) Execute(ctx context.Context, fn func(context.Context) error) error {
	return p.Run(ctx, fusebox.NextFunc(fn))
}

// Run runs next, and runs it again while its attempts fail with a
// retryable error and the limits allow. See the package documentation for
// what it returns. A panic in next is not recovered: it leaves Run at once,
// with no timer or other resource left behind.
func (p *Policy) Run(ctx context.Context, next fusebox.Next) error {
	// The first attempt touches only the counter, the budget's lock-free
	// deposit and, with MaxElapsed, one clock reading: no timer, no lock,
	// no random number, no allocation.
	p.calls.Add(1)
	if p.budget != nil {
		p.budget.Deposit()
	}
	var start int64
	if p.maxElapsed > 0 {
		start = p.clock.Nanotime()
	}
	err := next.Run(ctx)
	if err == nil {
		return nil
	}
	return p.retry(ctx, next, err, start)
}

// retry is Run after a failed first attempt: err is its error, start the
// clock reading when it started (only with MaxElapsed).
func (p *Policy) retry(ctx context.Context, next fusebox.Next, err error, start int64) error {
	prev := p.backoff.initial // the decorrelated strategy's previous delay
	for n := 1; ; n++ {
		// n attempts made; err is the n-th one's error.
		if ctx.Err() != nil || !p.isRetryable(err) {
			return err
		}
		if n >= p.maxAttempts {
			return p.giveUp(n, err)
		}
		delay := p.nextDelay(n, prev)
		prev = delay
		if ra, ok := retryAfterOf(err); ok && !p.ignoreRA {
			delay = max(delay, min(ra, p.maxRA))
		}
		// elapsed+delay > maxElapsed, written so that it cannot overflow:
		// delay may be as long as a time.Duration goes (a huge Retry-After
		// with MaxRetryAfter math.MaxInt64, or a huge MaxInterval).
		if p.maxElapsed > 0 && delay > p.maxElapsed-max(0, time.Duration(p.clock.Nanotime()-start)) {
			return p.giveUp(n, err)
		}
		// Never sleep past the caller's deadline: an attempt that could not
		// start before it is not worth waiting for. (time.Time.Add
		// saturates, so a huge delay cannot wrap into the past.)
		if dl, ok := ctx.Deadline(); ok && !p.clock.Now().Add(delay).Before(dl) {
			return p.giveUp(n, err)
		}
		if p.budget != nil && !p.budget.TryWithdraw() {
			p.budgetRejections.Add(1)
			if p.events.Enabled() {
				p.events.Publish(fusebox.Event{Kind: fusebox.EventRejected, Policy: "retry", Name: p.name, At: p.clock.Now(), Reason: "budget exhausted", Attempt: n + 1, Err: err})
			}
			return &Error{Attempts: n, Reason: ErrBudgetExhausted, Err: err}
		}
		if p.onRetry != nil {
			p.onRetry(Attempt{Number: n, Delay: delay, Err: err})
		}
		if p.events.Enabled() {
			p.events.Publish(fusebox.Event{Kind: fusebox.EventRetry, Policy: "retry", Name: p.name, At: p.clock.Now(), Attempt: n + 1, Delay: delay, Err: err})
		}
		if cerr := p.sleep(ctx, delay); cerr != nil {
			return &Error{Attempts: n, Reason: cerr, Err: err}
		}
		p.retries.Add(1)
		p.byAttempt[min(n, len(p.byAttempt))-1].Add(1) // attempt n+1 is starting
		if err = next.Run(ctx); err == nil {
			p.successesAfterRetry.Add(1)
			return nil
		}
	}
}

func (p *Policy) giveUp(attempts int, err error) error {
	p.exhausted.Add(1)
	return &Error{Attempts: attempts, Reason: ErrRetriesExhausted, Err: err}
}

// isRetryable applies Permanent, then the configured classifier.
// DefaultRetryable looks for Permanent itself, in its one walk of err.
func (p *Policy) isRetryable(err error) bool {
	if p.retryable == nil {
		return DefaultRetryable(err)
	}
	return !IsPermanent(err) && p.retryable(err)
}

// nextDelay returns the backoff delay before retry n.
func (p *Policy) nextDelay(n int, prev time.Duration) time.Duration {
	var u float64
	if p.backoff.jittered() {
		u = p.float64()
	}
	return p.backoff.delay(n, prev, u)
}

// float64 draws a uniform number in [0, 1) from the policy's source.
func (p *Policy) float64() float64 {
	if p.rng == nil {
		return rand.Float64()
	}
	p.rngMu.Lock()
	u := p.rng.Float64()
	p.rngMu.Unlock()
	return u
}

// sleep waits d on the policy's clock. It returns the context's error, at
// once, if the context ends first (or had ended when the wait was over).
func (p *Policy) sleep(ctx context.Context, d time.Duration) error {
	if d > 0 {
		t := p.clock.NewTimer(d)
		select {
		case <-t.C():
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
	return ctx.Err()
}

// Snapshot returns the policy's counters.
func (p *Policy) Snapshot() Snapshot {
	calls, retries := p.calls.Load(), p.retries.Load()
	by := make([]int64, len(p.byAttempt))
	for i := range p.byAttempt {
		by[i] = p.byAttempt[i].Load()
	}
	return Snapshot{
		Calls:               calls,
		Attempts:            calls + retries,
		Retries:             retries,
		RetriesByAttempt:    by,
		SuccessesAfterRetry: p.successesAfterRetry.Load(),
		Exhausted:           p.exhausted.Load(),
		BudgetRejections:    p.budgetRejections.Load(),
	}
}
