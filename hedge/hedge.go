package hedge

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/clock"
)

// Defaults of a Config's zero fields, and the largest MaxHedges.
const (
	DefaultMaxHedges  = 1
	DefaultPercentile = 0.95
	DefaultMinDelay   = 10 * time.Millisecond
	DefaultBudget     = 0.1
	MaxMaxHedges      = 10
)

// Causes of the cancellation of the attempts still running when the race
// ends, as context.Cause reports them inside those attempts.
var (
	// ErrLost: another attempt won.
	ErrLost = errors.New("hedge: another attempt won")
	// errPanicked: another attempt panicked; the panic is re-raised.
	errPanicked = errors.New("hedge: another attempt panicked")
)

// Config configures a Policy. The zero value hedges once, after the 95th
// percentile of recent latencies (10ms until enough are known), for at most
// one call in ten, on the default clock, with no events.
type Config struct {
	// Name identifies the policy in events.
	Name string `json:"name" yaml:"name"`
	// Delay is a fixed delay before each hedge. Zero means adaptive: the
	// delay is the Percentile of the latencies of recent winning attempts.
	Delay time.Duration `json:"delay" yaml:"delay"`
	// Percentile is, for the adaptive delay, which percentile of recent
	// latencies to wait before hedging, in (0, 1). Zero means
	// DefaultPercentile (0.95). It is an error with a fixed Delay.
	Percentile float64 `json:"percentile" yaml:"percentile"`
	// MinDelay is, for the adaptive delay, its floor and its value until
	// 32 latencies have been seen. Zero means DefaultMinDelay (10ms). It
	// is an error with a fixed Delay.
	MinDelay time.Duration `json:"minDelay" yaml:"minDelay"`
	// MaxHedges is how many extra attempts a call may start, one delay
	// apart. Zero means DefaultMaxHedges (1); at most MaxMaxHedges (10).
	MaxHedges int `json:"maxHedges" yaml:"maxHedges"`
	// Budget is the largest share of calls that may be hedged, in hedges
	// per call: 0.1 allows one hedge per ten calls, and up to 10 unused
	// hedges are saved for a burst (the budget starts full). A Budget of
	// MaxHedges or more means no limit. Zero means DefaultBudget (0.1).
	Budget float64 `json:"budget" yaml:"budget"`
	// Classifier decides which results win the race: an attempt whose
	// outcome is fusebox.Success ends it. Nil means
	// fusebox.DefaultClassifier: only a nil error wins.
	Classifier fusebox.Classifier `json:"-" yaml:"-"`
	// OnHedge, if set, is called with the hedge's number (1 for the first
	// hedge) just before each hedge starts. It runs on the timer's
	// goroutine (inside Advance for a clock.Fake) and must not block.
	OnHedge func(attempt int) `json:"-" yaml:"-"`
	// Clock is the time source; nil means clock.Default(), whose readings
	// are up to a millisecond behind: latencies below that count as zero.
	Clock clock.Clock `json:"-" yaml:"-"`
	// Events, when set, receives (with Policy "hedge") an EventHedge just
	// before each hedge starts, with Attempt its attempt number (2 for the
	// first hedge, the call's first attempt being 1) and Delay the time
	// since the call started; and an EventRejected with Reason "hedge
	// budget exhausted" (Attempt the hedge's would-be number, Err
	// fusebox.ErrBudgetExhausted) when the budget refuses a hedge. nil
	// means no events.
	Events *fusebox.Events `json:"-" yaml:"-"`
}

// Policy hedges calls. It is safe for concurrent use; build it once with New
// and share it.
type Policy struct {
	clock      clock.Clock
	fixed      time.Duration // zero when adaptive
	tracker    *tracker      // nil when fixed
	maxHedges  int
	budget     budget
	classifier fusebox.Classifier
	onHedge    func(int)
	name       string
	events     *fusebox.Events

	calls, hedges, hedgeWins, denials atomic.Uint64
}

// New validates cfg and returns a Policy.
func New(cfg Config) (*Policy, error) {
	switch {
	case cfg.Delay < 0:
		return nil, fmt.Errorf("hedge: Delay %v out of range: want 0 (adaptive) or more", cfg.Delay)
	case math.IsNaN(cfg.Percentile) || cfg.Percentile < 0 || cfg.Percentile >= 1:
		return nil, fmt.Errorf("hedge: Percentile %v out of range: want 0 (default %v) or in (0, 1)", cfg.Percentile, DefaultPercentile)
	case cfg.MinDelay < 0:
		return nil, fmt.Errorf("hedge: MinDelay %v out of range: want 0 (default %v) or more", cfg.MinDelay, DefaultMinDelay)
	case cfg.Delay > 0 && cfg.Percentile != 0:
		return nil, fmt.Errorf("hedge: Percentile %v set with a fixed Delay %v: want one of them", cfg.Percentile, cfg.Delay)
	case cfg.Delay > 0 && cfg.MinDelay != 0:
		return nil, fmt.Errorf("hedge: MinDelay %v set with a fixed Delay %v: MinDelay applies only to the adaptive delay (Delay 0)", cfg.MinDelay, cfg.Delay)
	case cfg.MaxHedges < 0 || cfg.MaxHedges > MaxMaxHedges:
		return nil, fmt.Errorf("hedge: MaxHedges %d out of range: want 0 (default %d) to %d", cfg.MaxHedges, DefaultMaxHedges, MaxMaxHedges)
	case math.IsNaN(cfg.Budget) || math.IsInf(cfg.Budget, 0) || cfg.Budget < 0:
		return nil, fmt.Errorf("hedge: Budget %v out of range: want 0 (default %v) or more", cfg.Budget, DefaultBudget)
	}
	p := &Policy{
		clock:      cfg.Clock,
		fixed:      cfg.Delay,
		maxHedges:  cfg.MaxHedges,
		classifier: cfg.Classifier,
		onHedge:    cfg.OnHedge,
		name:       cfg.Name,
		events:     cfg.Events,
	}
	if p.clock == nil {
		p.clock = clock.Default()
	}
	if p.maxHedges == 0 {
		p.maxHedges = DefaultMaxHedges
	}
	if p.fixed == 0 {
		pct, minDelay := cfg.Percentile, cfg.MinDelay
		if pct == 0 {
			pct = DefaultPercentile
		}
		if minDelay == 0 {
			minDelay = DefaultMinDelay
		}
		p.tracker = newTracker(pct, minDelay)
	}
	ratio := cfg.Budget
	if ratio == 0 {
		ratio = DefaultBudget
	}
	p.budget.init(ratio, p.maxHedges)
	return p, nil
}

// Delay returns the delay the next call would wait before its first hedge.
func (p *Policy) Delay() time.Duration {
	if p.tracker == nil {
		return p.fixed
	}
	return time.Duration(p.tracker.delay.Load())
}

// Run runs next, and again in a new goroutine each time the delay passes
// without any attempt having finished successfully, up to MaxHedges more
// times and as far as the budget allows. Each attempt has its own context,
// derived from ctx. As soon as one attempt succeeds, the others' contexts
// are canceled (cause ErrLost); the winner's ends when Run returns, or,
// when the attempt held it with fusebox.Hold (a response body still to be
// read), when the hold is released. Run returns when every attempt has
// returned: the winning attempt's error (nil, or an error the Classifier
// calls a Success), or the error of the last attempt to finish when none
// won.
//
// No hedge starts once ctx has ended, once an attempt has won, or once every
// attempt started so far has failed: a hedge races a slow attempt, it does
// not retry a failed one.
//
// A panic in the first attempt, which runs in the caller's goroutine,
// cancels the hedges, waits for them, and goes on with its original stack. A
// panic in a hedge is recovered in its goroutine; the other attempts are
// canceled and waited for, and the panic is re-raised in the caller's
// goroutine as a *PanicError holding the value and the hedge's stack, even
// when another attempt had won.
func (p *Policy) Run(ctx context.Context, next fusebox.Next) error {
	p.calls.Add(1)
	p.budget.deposit()
	// The start is read even with a fixed delay, for the Delay of events:
	// a subscriber may come while the call runs.
	start := p.clock.Nanotime()
	r := &race{p: p, parent: ctx, next: next, running: 1, delay: p.Delay(), start: start}
	r.first.init(ctx)
	r.mu.Lock()
	r.timer = p.clock.AfterFunc(r.delay, r.fire)
	r.mu.Unlock()

	finished := false
	defer func() {
		if !finished {
			r.abort()
		}
	}()
	err := next.Run(&r.first)
	// The Classifier is user code too: a panic in it aborts the race
	// like a panic in the attempt.
	success := r.succeeded(err)
	finished = true

	r.finish(0, start, err, success)
	r.mu.Lock()
	idle := r.idle
	running := r.running
	r.mu.Unlock()
	if running > 0 {
		<-idle
	}
	r.timer.Stop()
	// Every attempt has returned: the fields below are no longer written.
	r.first.end()
	for _, a := range r.hedges {
		a.end()
	}
	if r.pe != nil {
		panic(r.pe)
	}
	return r.err
}

// Execute runs fn under the policy: Run with fusebox.NextFunc(fn).
func (p *Policy) Execute(ctx context.Context, fn func(context.Context) error) error {
	return p.Run(ctx, fusebox.NextFunc(fn))
}

// race is one call of Run: its attempts and their results.
type race struct {
	p      *Policy
	parent context.Context // the caller's context
	first  attempt         // the first attempt's context
	next   fusebox.Next
	delay  time.Duration
	start  int64 // Nanotime at which the call started

	mu    sync.Mutex
	timer clock.Timer
	// int32, at most MaxMaxHedges+1, keeps race in a smaller size class.
	running  int32 // attempts started and not yet returned
	launched int32 // hedges started
	stopped  bool  // no more hedges: the race is decided
	won      bool
	err      error         // the winner's error, or the last failure's
	pe       *PanicError   // the first hedge panic
	idle     chan struct{} // closed when running drops to 0; made with the first hedge
	hedges   []*attempt    // the hedges' contexts, in launch order
}

// attempt is the context of one attempt: a cancel context over the
// caller's, canceled when the attempt loses the race, when an attempt
// panics, or when Run returns, unless the attempt held it with
// fusebox.Hold, and then when the hold is released.
type attempt struct {
	context.Context
	cancel context.CancelCauseFunc
	outer  context.Context

	mu    sync.Mutex
	holds int
	ended bool // Run returned
}

func (a *attempt) init(parent context.Context) {
	a.Context, a.cancel = context.WithCancelCause(parent)
	a.outer = parent
}

// Value answers fusebox.HoldKey with the attempt itself.
func (a *attempt) Value(key any) any {
	if _, ok := key.(fusebox.HoldKey); ok {
		return a
	}
	return a.Context.Value(key)
}

// Hold implements fusebox.Holdable.
func (a *attempt) Hold() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.ended {
		return false
	}
	a.holds++
	return true
}

// Unhold implements fusebox.Holdable.
func (a *attempt) Unhold() {
	a.mu.Lock()
	a.holds--
	release := a.holds == 0 && a.ended
	a.mu.Unlock()
	if release {
		a.cancel(nil)
	}
}

// Outer implements fusebox.Holdable.
func (a *attempt) Outer() context.Context { return a.outer }

// end is Run returning: cancel the context unless it is held.
func (a *attempt) end() {
	a.mu.Lock()
	a.ended = true
	held := a.holds > 0
	a.mu.Unlock()
	if !held {
		a.cancel(nil)
	}
}

// cancelOthers cancels, with cause, every attempt's context but the one of
// attempt n (-1: all of them). The hedges that exist now are all there
// are: callers have stopped the race first. No lock is held while
// canceling, which runs the contexts' AfterFunc hooks.
func (r *race) cancelOthers(n int, cause error) {
	r.mu.Lock()
	hedges := r.hedges
	r.mu.Unlock()
	if n != 0 {
		r.first.cancel(cause)
	}
	for i, a := range hedges {
		if i+1 != n {
			a.cancel(cause)
		}
	}
}

// fire is the timer's callback: start a hedge if the race is still open.
func (r *race) fire() {
	r.mu.Lock()
	if r.stopped || r.parent.Err() != nil {
		r.mu.Unlock()
		return
	}
	if !r.p.budget.withdraw() {
		// No more hedges for this call: the timer is not reset.
		attempt := int(r.launched) + 2
		r.mu.Unlock()
		r.p.denials.Add(1)
		if r.p.events.Enabled() {
			r.publish(fusebox.EventRejected, "hedge budget exhausted", attempt, fusebox.ErrBudgetExhausted)
		}
		return
	}
	r.launched++
	n := int(r.launched)
	a := new(attempt)
	a.init(r.parent)
	r.hedges = append(r.hedges, a)
	r.running++
	if r.idle == nil {
		r.idle = make(chan struct{})
	}
	if n < r.p.maxHedges {
		r.timer.Reset(r.delay)
	}
	r.mu.Unlock()
	r.p.hedges.Add(1)
	// Deferred so that the hedge Run now counts on starts even if OnHedge
	// panics.
	defer func() { go r.hedge(n, a) }()
	if r.p.events.Enabled() {
		r.publish(fusebox.EventHedge, "", n+1, nil)
	}
	if r.p.onHedge != nil {
		r.p.onHedge(n)
	}
}

// publish sends an event of the race's policy, with Delay the time since the
// call started; callers check events.Enabled first.
func (r *race) publish(kind fusebox.EventKind, reason string, attempt int, err error) {
	p := r.p
	p.events.Publish(fusebox.Event{
		Kind: kind, Policy: "hedge", Name: p.name, At: p.clock.Now(),
		Reason: reason, Attempt: attempt, Delay: time.Duration(p.clock.Nanotime() - r.start), Err: err,
	})
}

// hedge runs attempt n (n >= 1), of context a, in its own goroutine.
func (r *race) hedge(n int, a *attempt) {
	var start int64
	if r.p.tracker != nil {
		start = r.p.clock.Nanotime()
	}
	pe, err, success := r.protected(a)
	if pe != nil {
		r.mu.Lock()
		if r.pe == nil {
			r.pe = pe
		}
		r.stopped = true
		r.mu.Unlock()
		r.cancelOthers(-1, errPanicked)
		err, success = pe, false
	}
	r.finish(n, start, err, success)
}

// protected runs a hedge's attempt and judges its error, recovering a
// panic in either.
func (r *race) protected(a *attempt) (pe *PanicError, err error, success bool) {
	defer func() {
		if v := recover(); v != nil {
			pe = &PanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	err = r.next.Run(a)
	return nil, err, r.succeeded(err)
}

// succeeded reports whether an attempt that returned err wins the race.
func (r *race) succeeded(err error) bool {
	if err == nil && r.p.classifier == nil {
		return true
	}
	return fusebox.Classify(r.parent, err, r.p.classifier) == fusebox.Success
}

// finish records that attempt n, started at start, returned err, judged a
// win when success. The bookkeeping is done before the attempt leaves the
// race, so that it is complete when Run returns.
func (r *race) finish(n int, start int64, err error, success bool) {
	var end int64
	if r.p.tracker != nil {
		end = r.p.clock.Nanotime()
	}
	r.mu.Lock()
	if !r.won {
		r.err = err
		if success {
			r.won, r.stopped = true, true
			if n > 0 {
				r.p.hedgeWins.Add(1)
			}
			if r.p.tracker != nil {
				r.p.tracker.record(end - start)
			}
			if r.running > 1 {
				r.mu.Unlock()
				r.cancelOthers(n, ErrLost)
				r.mu.Lock()
			}
		}
	}
	r.running--
	if r.running == 0 {
		r.stopped = true
		if r.idle != nil {
			close(r.idle)
		}
	}
	r.mu.Unlock()
}

// abort is the first attempt panicking: stop the race, cancel the hedges
// and wait for them; the panic then goes on.
func (r *race) abort() {
	r.mu.Lock()
	r.running--
	r.stopped = true
	running, idle := r.running, r.idle
	if running == 0 && idle != nil {
		close(idle)
	}
	r.mu.Unlock()
	r.timer.Stop()
	r.cancelOthers(-1, errPanicked)
	if running > 0 {
		<-idle
	}
}

// Snapshot is a point-in-time copy of a Policy's counters.
type Snapshot struct {
	// Calls is how many calls Run started.
	Calls uint64 `json:"calls"`
	// Hedges is how many hedges were started.
	Hedges uint64 `json:"hedges"`
	// HedgeWins is how many calls a hedge won.
	HedgeWins uint64 `json:"hedgeWins"`
	// BudgetDenials is how many hedges the budget refused.
	BudgetDenials uint64 `json:"budgetDenials"`
	// Delay is the current delay before a hedge.
	Delay time.Duration `json:"delay"`
}

// Snapshot returns the policy's counters, read one by one.
func (p *Policy) Snapshot() Snapshot {
	return Snapshot{
		Calls:         p.calls.Load(),
		Hedges:        p.hedges.Load(),
		HedgeWins:     p.hedgeWins.Load(),
		BudgetDenials: p.denials.Load(),
		Delay:         p.Delay(),
	}
}

// PanicError is a panic recovered from a hedge and re-raised in the
// caller's goroutine.
type PanicError struct {
	// Value is the value the hedge panicked with.
	Value any
	// Stack is the hedge goroutine's stack at the panic.
	Stack []byte
}

// Error returns the panic value and the stack.
func (e *PanicError) Error() string {
	return fmt.Sprintf("hedge: panic in a hedged attempt: %v\n\n%s", e.Value, e.Stack)
}

// Unwrap returns the panic value when it is an error, else nil.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}
