package ratelimit

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/clock"
)

// Config configures a Bucket. Rate has no default: the zero Config is
// rejected by New.
type Config struct {
	// Name identifies the limiter in events.
	Name string `json:"name" yaml:"name"`
	// Rate is how many tokens the bucket gains per second. Required:
	// from about 2.2e-10 (one token per 146 years) to MaxRate (1e9).
	// Tokens are spaced by 1e9/Rate nanoseconds rounded up to a whole
	// nanosecond, so the bucket never grants more than Rate×period+Burst
	// but, at high rates, somewhat less: 1e9/ceil(1e9/Rate) tokens per
	// second. That is exact when 1e9/Rate is a whole number (1e9, 5e8,
	// 1e8, 1e6, ...) and otherwise below Rate by less than 0.1% up to
	// 1e6, 1% up to 1e7 and 9.1% up to 1e8. Above 1e8 the steps are
	// coarse: 2.9e8 gets 2.5e8 (14% less), and every Rate above 5e8
	// and below 1e9 gets 5e8 (25% less than 6.7e8, 49.5% less than 9.9e8).
	Rate float64 `json:"rate" yaml:"rate"`
	// Burst is how many tokens the bucket holds when full: the largest
	// burst of calls it admits at once. Zero means ceil(Rate), one second's
	// worth (at least 1). Negative values are an error.
	Burst int `json:"burst" yaml:"burst"`
	// Wait makes Run wait for a token instead of rejecting the call at
	// once when the bucket is empty. A waiting call is rejected at once,
	// without waiting, when its token would come after MaxWait or after
	// the context's deadline. False (the default): Run never waits.
	Wait bool `json:"wait" yaml:"wait"`
	// MaxWait bounds how long Run waits for a token when Wait is set. Zero
	// means no bound of the limiter's own (the context's deadline still
	// applies). Setting it without Wait, or negative, is an error.
	MaxWait time.Duration `json:"maxWait" yaml:"maxWait"`
	// Clock supplies the time and Wait's timers; nil means clock.Default().
	Clock clock.Clock `json:"-" yaml:"-"`
	// Events, when set, receives an EventRejected (Policy "ratelimit",
	// Reason "rate limited", Err the error returned) for every call
	// refused tokens: by Allow, AllowN, Wait, WaitN or Run. nil means no
	// events.
	Events *fusebox.Events `json:"-" yaml:"-"`
}

// Bucket is a token bucket rate limiter: Rate tokens per second, at most
// Burst saved up, one token per call. It starts full. It is safe for
// concurrent use; the zero value is not usable, create one with New.
//
// The bucket's whole state is one word, in the form of the generic cell
// rate algorithm (GCRA): the instant at which the bucket will be full again.
// Every method decides with one compare-and-swap on it, so calls never block
// each other and never allocate; a rejected call writes nothing.
//
// Most callers use Allow (or the Bucket as a fusebox.Policy); use Wait to
// wait for a token, and Reserve to learn how long to wait without waiting.
type Bucket struct {
	// Read-only after New.
	g       gcra
	wait    bool
	maxWait time.Duration
	clk     clock.Clock
	name    string
	events  *fusebox.Events

	_ [64]byte // keep the hot word off the read-only fields' cache line

	tat     atomic.Int64
	allowed atomic.Uint64 // beside tat: an allowed call has the line already

	_ [48]byte

	rejected atomic.Uint64
}

// New returns a Bucket configured by c, full, or an error naming the first
// field that is out of range.
func New(c Config) (*Bucket, error) {
	g, err := newGCRA(c.Rate, c.Burst)
	if err != nil {
		return nil, err
	}
	if c.MaxWait < 0 {
		return nil, fmt.Errorf("ratelimit: MaxWait %v out of range: want 0 (no limit) or more", c.MaxWait)
	}
	if c.MaxWait > 0 && !c.Wait {
		return nil, fmt.Errorf("ratelimit: MaxWait %v set without Wait: want Wait true, or MaxWait 0", c.MaxWait)
	}
	b := &Bucket{g: g, wait: c.Wait, maxWait: c.MaxWait, clk: c.Clock, name: c.Name, events: c.Events}
	if b.clk == nil {
		b.clk = clock.Default()
	}
	b.tat.Store(b.clk.Nanotime())
	return b, nil
}

// Rate returns the configured rate in tokens per second.
func (b *Bucket) Rate() float64 { return b.g.rate }

// Burst returns the bucket's capacity in tokens.
func (b *Bucket) Burst() int { return b.g.burst }

// Allow takes a token if one is there and reports whether it did.
func (b *Bucket) Allow() bool {
	return b.allowAt(b.clk.Nanotime(), 1)
}

// AllowN takes n tokens if all n are there and reports whether it did. It
// takes nothing and returns false when fewer are there, and always when n
// exceeds Burst. AllowN(0) is true; a negative n is false.
func (b *Bucket) AllowN(n int) bool {
	return b.allowAt(b.clk.Nanotime(), n)
}

// allowAt is AllowN at the given Nanotime reading.
func (b *Bucket) allowAt(now int64, n int) bool {
	if n <= 0 || n > b.g.burst {
		if n != 0 {
			b.reject(ErrRateLimited)
		}
		return n == 0
	}
	cost := int64(n) * b.g.interval
	for {
		tat := b.tat.Load()
		next, ok := b.g.take(tat, now, cost)
		if !ok {
			b.reject(ErrRateLimited)
			return false
		}
		if b.tat.CompareAndSwap(tat, next) {
			b.allowed.Add(1)
			return true
		}
	}
}

// reject counts a refused call and publishes it when someone listens.
func (b *Bucket) reject(err error) {
	b.rejected.Add(1)
	if b.events.Enabled() {
		publishRejected(b.events, b.name, b.clk, reasonRateLimited, err)
	}
}

// reasonRateLimited is the Reason of a rate limiter's EventRejected.
const reasonRateLimited = "rate limited"

// publishRejected publishes an EventRejected of a rate limiter; callers
// check events.Enabled first, so that nothing is built when nobody listens.
func publishRejected(events *fusebox.Events, name string, clk clock.Clock, reason string, err error) {
	events.Publish(fusebox.Event{Kind: fusebox.EventRejected, Policy: "ratelimit", Name: name, At: clk.Now(), Reason: reason, Err: err})
}

// Tokens returns how many tokens the bucket holds now. It is negative when
// reservations have taken tokens that have not arrived yet.
func (b *Bucket) Tokens() float64 {
	return b.g.tokens(b.tat.Load(), b.clk.Nanotime())
}

// Reservation is a claim on tokens made by Reserve: the caller may act after
// Delay. Call Cancel if it will not act after all.
type Reservation struct {
	// OK is false when the tokens could not be reserved: more were asked
	// for than Burst, or the wait would have been too long.
	OK bool
	// Delay is how long the caller must wait before acting; zero when the
	// tokens were there at once.
	Delay time.Duration

	b    *Bucket
	cost int64 // tokens × interval
	next int64 // the bucket's tat right after this reservation
	act  int64 // Nanotime at which the caller may act
}

// Reserve reserves a token, taking it from the future if the bucket is
// empty, and returns how long the caller must wait before acting. Unlike
// Allow it always succeeds; the caller must wait Delay (or Cancel). Most
// callers want Wait, which does the waiting.
func (b *Bucket) Reserve() Reservation {
	return b.reserveAt(b.clk.Nanotime(), 1, -1)
}

// ReserveN is Reserve for n tokens. The Reservation is not OK when n exceeds
// Burst or is negative.
func (b *Bucket) ReserveN(n int) Reservation {
	return b.reserveAt(b.clk.Nanotime(), n, -1)
}

// reserveAt reserves n tokens at now if the caller need not wait more than
// maxDelay nanoseconds for them (no limit when maxDelay is negative).
func (b *Bucket) reserveAt(now int64, n int, maxDelay int64) Reservation {
	if n < 0 || n > b.g.burst {
		return Reservation{}
	}
	cost := int64(n) * b.g.interval
	for {
		tat := b.tat.Load()
		next := max(tat, now) + cost
		delay := max(next-b.g.tau-now, 0)
		if maxDelay >= 0 && delay > maxDelay {
			return Reservation{Delay: time.Duration(delay)}
		}
		if b.tat.CompareAndSwap(tat, next) {
			return Reservation{OK: true, Delay: time.Duration(delay), b: b, cost: cost, next: next, act: now + delay}
		}
	}
}

// Cancel gives the reserved tokens back, as far as still possible: it does
// nothing once the reservation's time to act has passed, and gives back
// fewer tokens when others have reserved tokens after it (their delays were
// computed with this reservation in place, and stay as they are). Cancel
// sets the Reservation to the zero Reservation, so a second call does
// nothing.
func (r *Reservation) Cancel() {
	if r.b != nil {
		r.cancelAt(r.b.clk.Nanotime())
	}
}

// cancelAt is Cancel at the given Nanotime reading.
func (r *Reservation) cancelAt(now int64) {
	b, cost, next, act := r.b, r.cost, r.next, r.act
	*r = Reservation{}
	if b == nil || now > act {
		return
	}
	for {
		// tat - next is what was taken after this reservation. Those
		// tokens were taken as if this reservation would act; giving
		// them back too would let the callers who took them act at the
		// same time as newcomers, beyond Burst.
		tat := b.tat.Load()
		back := cost - max(tat-next, 0)
		if back <= 0 || b.tat.CompareAndSwap(tat, tat-back) {
			return
		}
	}
}

// Wait waits for a token and takes it. It returns nil once it has the
// token; ErrRateLimited at once, without waiting, when the token would come
// after ctx's deadline; and ctx's error when ctx ends while it waits (the
// token is then given back). Wait uses the clock's timers.
func (b *Bucket) Wait(ctx context.Context) error {
	return b.waitN(ctx, 1, 0)
}

// WaitN is Wait for n tokens. It returns an error matching ErrRateLimited at
// once when n exceeds Burst.
func (b *Bucket) WaitN(ctx context.Context, n int) error {
	return b.waitN(ctx, n, 0)
}

// errExceedsBurst is returned for a wait that can never succeed.
var errExceedsBurst = fmt.Errorf("ratelimit: more tokens asked for than Burst: %w", ErrRateLimited)

// waitN waits for n tokens, at most maxWait (no limit of its own if zero)
// and never past ctx's deadline.
func (b *Bucket) waitN(ctx context.Context, n int, maxWait time.Duration) error {
	if n > b.g.burst || n < 0 {
		b.reject(errExceedsBurst)
		return errExceedsBurst
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	limit := int64(-1)
	if maxWait > 0 {
		limit = int64(maxWait)
	}
	if dl, ok := ctx.Deadline(); ok {
		// A token arriving as the context ends is of no use: the wait
		// must end strictly before the deadline.
		left := max(int64(dl.Sub(b.clk.Now()))-1, 0)
		if limit < 0 || left < limit {
			limit = left
		}
	}
	r := b.reserveAt(b.clk.Nanotime(), n, limit)
	if !r.OK {
		b.reject(ErrRateLimited)
		return ErrRateLimited
	}
	if r.Delay > 0 {
		t := b.clk.NewTimer(r.Delay)
		select {
		case <-t.C():
		case <-ctx.Done():
			t.Stop()
			r.cancelAt(b.clk.Nanotime())
			return ctx.Err()
		}
	}
	b.allowed.Add(1)
	return nil
}

// Run runs next if the bucket has a token for it, and returns
// ErrRateLimited without running it otherwise. With Config.Wait, Run waits
// for the token instead, as Wait does, within Config.MaxWait.
func (b *Bucket) Run(ctx context.Context, next fusebox.Next) error {
	if b.wait {
		if err := b.waitN(ctx, 1, b.maxWait); err != nil {
			return err
		}
	} else if !b.allowAt(b.clk.Nanotime(), 1) {
		return ErrRateLimited
	}
	return next.Run(ctx)
}

// Execute runs fn under the limiter: Run with fusebox.NextFunc(fn).
func (b *Bucket) Execute(ctx context.Context, fn func(context.Context) error) error {
	return b.Run(ctx, fusebox.NextFunc(fn))
}

// Snapshot is a point-in-time view of a Bucket. Counters only grow.
type Snapshot struct {
	// Rate is the configured Rate, in tokens per second.
	Rate float64 `json:"rate" yaml:"rate"`
	// Burst is the effective capacity of the bucket, in tokens (the
	// configured Burst, or its default), 1 or more.
	Burst int `json:"burst" yaml:"burst"`
	// Tokens is the number of tokens in the bucket (see Bucket.Tokens).
	Tokens float64 `json:"tokens" yaml:"tokens"`
	// Allowed counts calls that got their tokens (Allow, AllowN, Wait,
	// Run). Reservations are not counted.
	Allowed uint64 `json:"allowed" yaml:"allowed"`
	// Rejected counts calls refused their tokens, each with
	// ErrRateLimited (or false from Allow).
	Rejected uint64 `json:"rejected" yaml:"rejected"`
}

// Snapshot returns the bucket's current state and counters.
func (b *Bucket) Snapshot() Snapshot {
	return Snapshot{
		Rate:     b.g.rate,
		Burst:    b.g.burst,
		Tokens:   b.Tokens(),
		Allowed:  b.allowed.Load(),
		Rejected: b.rejected.Load(),
	}
}
