package chaos

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/clock"
)

// Config configures an Injector.
type Config struct {
	// Fault is the faults injected from the start; the zero Fault injects
	// nothing until Set says otherwise.
	Fault Fault `json:"fault" yaml:"fault"`
	// Disabled starts the injector disabled (see Injector.Disable).
	Disabled bool `json:"disabled" yaml:"disabled"`
	// Clock times the injected latency: nil means clock.Real().
	Clock clock.Clock `json:"-" yaml:"-"`
}

// Injector injects the faults of a Fault into calls, in three forms: a
// fusebox.Policy (Run, Execute), an http.RoundTripper (NewRoundTripper) and
// HTTP middleware (Middleware). The faults can be switched at run time with
// Set, Disable and Enable, from any goroutine, while calls go on.
//
// Decisions are deterministic: call number n after a Set (counted across
// every form sharing the injector) gets the same decision for the same
// Seed, whichever goroutine makes it. A call that no fault hits costs one
// atomic add and a few multiplications, and allocates nothing.
type Injector struct {
	cur atomic.Pointer[plan]
	off atomic.Bool
	clk clock.Clock

	calls, delayed, errors, statuses, resets, blackholes atomic.Uint64
}

// Snapshot is an Injector's state and counters. Counters only grow; they
// count faults decided, across every Set.
type Snapshot struct {
	// Enabled reports whether faults are injected (see Disable).
	Enabled bool `json:"enabled"`
	// Fault is the current Fault.
	Fault Fault `json:"fault"`
	// Seed is the effective seed of the random decisions: Fault.Seed, or
	// the one drawn at random when Fault.Seed is 0.
	Seed uint64 `json:"seed"`
	// Calls counts calls that met the injector while it was enabled.
	Calls uint64 `json:"calls"`
	// Delayed counts calls given a latency (LatencyFault).
	Delayed uint64 `json:"delayed"`
	// Errors counts calls failed with an error (ErrorFault).
	Errors uint64 `json:"errors"`
	// Statuses counts calls answered with an injected status (StatusFault).
	Statuses uint64 `json:"statuses"`
	// Resets counts calls whose connection was reset (ResetFault).
	Resets uint64 `json:"resets"`
	// Blackholes counts calls held unanswered until they ended
	// (BlackholeFault).
	Blackholes uint64 `json:"blackholes"`
}

// New returns an injector configured by c, or an error naming the first
// field of c.Fault that is out of range.
func New(c Config) (*Injector, error) {
	p, err := newPlan(c.Fault)
	if err != nil {
		return nil, err
	}
	inj := &Injector{clk: c.Clock}
	if inj.clk == nil {
		inj.clk = clock.Real()
	}
	inj.cur.Store(p)
	inj.off.Store(c.Disabled)
	return inj, nil
}

// Set replaces the faults with f, atomically: each call sees the old faults
// or the new ones, never a mix. The decisions start over: calls after Set
// get the decisions a new injector made with f would make. Set returns an
// error naming the first field of f that is out of range, and then changes
// nothing.
func (inj *Injector) Set(f Fault) error {
	p, err := newPlan(f)
	if err != nil {
		return err
	}
	inj.cur.Store(p)
	return nil
}

// Fault returns the current faults.
func (inj *Injector) Fault() Fault { return inj.cur.Load().fault }

// Disable stops injecting faults, without forgetting them: calls pass
// through untouched, and draw no decisions, until Enable.
func (inj *Injector) Disable() { inj.off.Store(true) }

// Enable injects faults again after Disable.
func (inj *Injector) Enable() { inj.off.Store(false) }

// Enabled reports whether faults are injected.
func (inj *Injector) Enabled() bool { return !inj.off.Load() }

// Snapshot returns the injector's state and counters.
func (inj *Injector) Snapshot() Snapshot {
	p := inj.cur.Load()
	return Snapshot{
		Enabled:    inj.Enabled(),
		Fault:      p.fault,
		Seed:       p.seed,
		Calls:      inj.calls.Load(),
		Delayed:    inj.delayed.Load(),
		Errors:     inj.errors.Load(),
		Statuses:   inj.statuses.Load(),
		Resets:     inj.resets.Load(),
		Blackholes: inj.blackholes.Load(),
	}
}

// decide draws the next call's decision, and the plan it came from; ok is
// false when the injector is disabled or injects nothing.
func (inj *Injector) decide(httpForm bool) (d decision, p *plan, ok bool) {
	if inj == nil || inj.off.Load() {
		return decision{}, nil, false
	}
	p = inj.cur.Load()
	inj.calls.Add(1)
	if !p.active {
		return decision{}, p, false
	}
	d = p.decide(p.n.Add(1)-1, httpForm)
	if d.delay > 0 {
		inj.delayed.Add(1)
	}
	switch d.act {
	case actError:
		inj.errors.Add(1)
	case actStatus:
		inj.statuses.Add(1)
	case actReset:
		inj.resets.Add(1)
	case actBlackhole:
		inj.blackholes.Add(1)
	}
	return d, p, true
}

// Run makes Injector a fusebox.Policy. Before it runs next it may, as the
// faults decide, hang until ctx ends (Blackhole) and return ctx's error,
// wait (Latency; if ctx ends first, it returns ctx's error), and return the
// ErrorFault's error instead of running next. Status and Reset do not apply
// to this form. Put it innermost in a pipeline to fake a failing
// dependency, or outermost to fake a failing caller.
func (inj *Injector) Run(ctx context.Context, next fusebox.Next) error {
	d, p, ok := inj.decide(false)
	if !ok {
		return next.Run(ctx)
	}
	if d.act == actBlackhole {
		<-ctx.Done()
		return ctx.Err()
	}
	if err := sleep(ctx, inj.clk, d.delay); err != nil {
		return err
	}
	if d.act == actError {
		return p.err
	}
	return next.Run(ctx)
}

// Execute runs fn under the injector: Run with fusebox.NextFunc(fn).
func (inj *Injector) Execute(ctx context.Context, fn func(context.Context) error) error {
	return inj.Run(ctx, fusebox.NextFunc(fn))
}

// sleep waits d on clk, or until ctx ends, whose error it then returns.
func sleep(ctx context.Context, clk clock.Clock, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	t := clk.NewTimer(d)
	select {
	case <-t.C():
		return nil
	case <-ctx.Done():
		t.Stop()
		return ctx.Err()
	}
}
