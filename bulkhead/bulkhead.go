package bulkhead

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/clock"
)

// Errors returned by this package; they are the root package's sentinels.
var (
	// ErrBulkheadFull: no free slot and no room in the queue, or MaxWait
	// passed while queued.
	ErrBulkheadFull = fusebox.ErrBulkheadFull
	// ErrClosed: the Pool was closed before the job ran.
	ErrClosed = fusebox.ErrClosed
)

// DefaultMaxConcurrent is the MaxConcurrent of a Config that leaves it zero.
// Like Resilience4j's default, it is meant to be tuned: a good value is the
// dependency's throughput times its latency (Little's law), with headroom.
const DefaultMaxConcurrent = 25

// MaxLimit is the largest MaxConcurrent and MaxQueue a Bulkhead accepts:
// both counts live in one 64-bit word.
const MaxLimit = 1<<31 - 1

// Config configures a Bulkhead. The zero Config is valid: 25 concurrent
// calls, no queue, the default clock, no events.
type Config struct {
	// Name identifies the bulkhead in events.
	Name string `json:"name" yaml:"name"`
	// MaxConcurrent is how many calls may run at once. Zero means
	// DefaultMaxConcurrent (25); allowed: 0 to MaxLimit.
	MaxConcurrent int `json:"maxConcurrent" yaml:"maxConcurrent"`
	// MaxQueue is how many callers may wait for a slot when all are taken.
	// Zero means no queue: a call that finds every slot taken is rejected
	// at once with ErrBulkheadFull. Allowed: 0 to MaxLimit.
	MaxQueue int `json:"maxQueue" yaml:"maxQueue"`
	// MaxWait is how long a caller may wait in the queue before it is
	// rejected with ErrBulkheadFull. Zero means no limit of the bulkhead's
	// own: a queued caller waits until a slot frees up or its context ends.
	// Negative values are an error.
	MaxWait time.Duration `json:"maxWait" yaml:"maxWait"`
	// Clock supplies queue-wait timers and timestamps; nil means
	// clock.Default(). The admit path without queueing never reads it.
	Clock clock.Clock `json:"-" yaml:"-"`
	// Events, when set, receives (with Policy "bulkhead"): an
	// EventRejected with Reason "bulkhead full" for a call turned away at
	// once, or "queue timeout" (and Delay, the time waited) for one that
	// waited MaxWait in vain; and an EventQueueWait with Delay, the time
	// waited, for each call that left the queue otherwise: admitted, or,
	// with Err set to its context's error, gone because its context ended.
	// nil means no events.
	Events *fusebox.Events `json:"-" yaml:"-"`
}

// Bulkhead is a semaphore that bounds the number of concurrent calls, with a
// bounded FIFO queue for the callers that find every slot taken. It is safe
// for concurrent use; the zero value is not usable, create one with New.
//
// Admission is lock-free when a slot is free and nobody is queued: one
// compare-and-swap on a word holding both the in-flight and the queued
// count, no allocation. The mutex guards only the queue. A released slot is
// handed directly to the oldest waiter, and while anyone waits no newcomer
// can take a slot, so the queue is strictly first come, first served.
type Bulkhead struct {
	// Read-only after New.
	max      int64
	maxQueue int64
	maxWait  time.Duration
	clk      clock.Clock
	name     string
	events   *fusebox.Events

	_ [64]byte // keep the hot word off the read-only fields' cache line

	// state holds the number of calls in flight in its low 32 bits and the
	// number of queued callers in its high 32 bits. The queued count is
	// changed only with mu held. Since a caller is queued only when every
	// slot is taken, and a slot released while anyone waits is handed over
	// rather than freed, state < max exactly when a slot is free and the
	// queue is empty: the fast path's single test.
	state atomic.Int64
	// admitted sits beside state: an admitted call has the line already.
	admitted atomic.Uint64

	_ [48]byte

	rejected      atomic.Uint64
	timeouts      atomic.Uint64
	canceled      atomic.Uint64
	fromQueue     atomic.Uint64
	queueWaitNano atomic.Int64

	mu         sync.Mutex
	head, tail *waiter // requires mu; head is the oldest
}

const queuedOne = int64(1) << 32

// waiter is one queued caller.
type waiter struct {
	// ready is closed when a slot is handed to the waiter.
	ready      chan struct{}
	prev, next *waiter // requires mu
	queued     bool    // requires mu
}

// New returns a Bulkhead configured by c, or an error naming the first
// field that is out of range.
func New(c Config) (*Bulkhead, error) {
	if c.MaxConcurrent < 0 || c.MaxConcurrent > MaxLimit {
		return nil, fmt.Errorf("bulkhead: MaxConcurrent %d out of range: want 0 (default %d) to %d", c.MaxConcurrent, DefaultMaxConcurrent, MaxLimit)
	}
	if c.MaxQueue < 0 || c.MaxQueue > MaxLimit {
		return nil, fmt.Errorf("bulkhead: MaxQueue %d out of range: want 0 (no queue) to %d", c.MaxQueue, MaxLimit)
	}
	if c.MaxWait < 0 {
		return nil, fmt.Errorf("bulkhead: MaxWait %v out of range: want 0 (no limit) or more", c.MaxWait)
	}
	b := &Bulkhead{
		max:      int64(c.MaxConcurrent),
		maxQueue: int64(c.MaxQueue),
		maxWait:  c.MaxWait,
		clk:      c.Clock,
		name:     c.Name,
		events:   c.Events,
	}
	if b.max == 0 {
		b.max = DefaultMaxConcurrent
	}
	if b.clk == nil {
		b.clk = clock.Default()
	}
	return b, nil
}

// Run runs next if a slot is free or frees up in time, and releases the slot
// when next returns or panics. It returns ErrBulkheadFull when the call is
// rejected, the context's error when ctx ends while the call is queued, and
// otherwise whatever next returns. Run does not judge next's outcome.
func (b *Bulkhead) Run(ctx context.Context, next fusebox.Next) error {
	if err := b.acquire(ctx); err != nil {
		return err
	}
	// A deferred release frees the slot also when next panics, and keeps
	// the panic's original stack.
	defer b.release()
	return next.Run(ctx)
}

// Execute runs fn under the bulkhead: Run with fusebox.NextFunc(fn).
func (b *Bulkhead) Execute(ctx context.Context, fn func(context.Context) error) error {
	return b.Run(ctx, fusebox.NextFunc(fn))
}

// Permit is a slot of a Bulkhead held by the caller of Acquire. Call Release
// exactly when the work is done, typically with defer. The zero Permit holds
// nothing.
type Permit struct {
	b *Bulkhead
}

// Release gives the slot back. It sets the Permit to the zero Permit, so
// calling it again on the same variable does nothing; do not copy a Permit
// and release both copies. Release is not safe for concurrent use on one
// variable.
func (p *Permit) Release() {
	if b := p.b; b != nil {
		p.b = nil
		b.release()
	}
}

// Acquire is the two-step form of Run, for work that cannot be wrapped in a
// function (a stream, a proxied connection): it waits for a slot like Run
// and returns a Permit that must be released. On error the Permit is zero.
func (b *Bulkhead) Acquire(ctx context.Context) (Permit, error) {
	if err := b.acquire(ctx); err != nil {
		return Permit{}, err
	}
	return Permit{b: b}, nil
}

// TryAcquire takes a slot only if one is free now and nobody is queued; it
// never waits. ok is false, with a zero Permit, when the call is rejected.
func (b *Bulkhead) TryAcquire() (p Permit, ok bool) {
	if b.tryAcquire() {
		b.admitted.Add(1)
		return Permit{b: b}, true
	}
	b.reject()
	return Permit{}, false
}

func (b *Bulkhead) acquire(ctx context.Context) error {
	if b.tryAcquire() {
		b.admitted.Add(1)
		return nil
	}
	return b.acquireSlow(ctx)
}

// tryAcquire is the lock-free fast path: it takes a slot if one is free and
// nobody is queued.
func (b *Bulkhead) tryAcquire() bool {
	for {
		s := b.state.Load()
		if s >= b.max {
			return false
		}
		if b.state.CompareAndSwap(s, s+1) {
			return true
		}
	}
}

// acquireSlow queues the caller, or rejects it when the queue is full.
func (b *Bulkhead) acquireSlow(ctx context.Context) error {
	// A full queue rejects without touching the mutex: the queued count
	// never exceeds maxQueue, and maxQueue == 0 means no queue at all.
	if b.state.Load()>>32 >= b.maxQueue {
		return b.reject()
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.Lock()
	for {
		s := b.state.Load()
		if s < b.max {
			// A slot freed up meanwhile, and nobody is queued.
			if b.state.CompareAndSwap(s, s+1) {
				b.mu.Unlock()
				b.admitted.Add(1)
				return nil
			}
			continue
		}
		if s>>32 >= b.maxQueue {
			b.mu.Unlock()
			return b.reject()
		}
		// The CAS fails if a release freed a slot since the load; then
		// the loop sees it and takes it instead of queueing.
		if b.state.CompareAndSwap(s, s+queuedOne) {
			break
		}
	}
	w := &waiter{ready: make(chan struct{}), queued: true}
	if b.tail == nil {
		b.head = w
	} else {
		b.tail.next = w
		w.prev = b.tail
	}
	b.tail = w
	b.mu.Unlock()

	start := b.clk.Nanotime()
	var timeout <-chan time.Time
	if b.maxWait > 0 {
		t := b.clk.NewTimer(b.maxWait)
		defer t.Stop()
		timeout = t.C()
	}
	var err error
	timedOut := false
	select {
	case <-w.ready:
		b.admittedFromQueue(start)
		return nil
	case <-ctx.Done():
		err = ctx.Err()
	case <-timeout:
		err, timedOut = ErrBulkheadFull, true
	}

	b.mu.Lock()
	if w.queued {
		b.unlink(w)
		b.state.Add(-queuedOne)
		b.mu.Unlock()
		waited := b.clk.Nanotime() - start
		b.queueWaitNano.Add(waited)
		if timedOut {
			b.timeouts.Add(1)
			if b.events.Enabled() {
				b.publish(fusebox.EventRejected, "queue timeout", waited, ErrBulkheadFull)
			}
		} else {
			b.canceled.Add(1)
			if b.events.Enabled() {
				b.publish(fusebox.EventQueueWait, "", waited, err)
			}
		}
		return err
	}
	b.mu.Unlock()
	// A slot was handed over just as the wait ended.
	if timedOut {
		// It arrived in time, as far as the caller can tell: keep it.
		b.admittedFromQueue(start)
		return nil
	}
	// The caller is gone: pass the slot on.
	waited := b.clk.Nanotime() - start
	b.queueWaitNano.Add(waited)
	b.canceled.Add(1)
	b.release()
	if b.events.Enabled() {
		b.publish(fusebox.EventQueueWait, "", waited, err)
	}
	return err
}

func (b *Bulkhead) admittedFromQueue(start int64) {
	waited := b.clk.Nanotime() - start
	b.queueWaitNano.Add(waited)
	b.fromQueue.Add(1)
	b.admitted.Add(1)
	if b.events.Enabled() {
		b.publish(fusebox.EventQueueWait, "", waited, nil)
	}
}

// reject counts a call turned away at once, publishes it when someone
// listens, and returns ErrBulkheadFull.
func (b *Bulkhead) reject() error {
	b.rejected.Add(1)
	if b.events.Enabled() {
		b.publish(fusebox.EventRejected, "bulkhead full", 0, ErrBulkheadFull)
	}
	return ErrBulkheadFull
}

// publish sends an event of the bulkhead's; callers check events.Enabled
// first, so that nothing is built when nobody listens.
func (b *Bulkhead) publish(kind fusebox.EventKind, reason string, waited int64, err error) {
	b.events.Publish(fusebox.Event{
		Kind: kind, Policy: "bulkhead", Name: b.name, At: b.clk.Now(),
		Reason: reason, Delay: time.Duration(waited), Err: err,
	})
}

// unlink removes w from the queue. Requires mu held and w queued.
func (b *Bulkhead) unlink(w *waiter) {
	if w.prev == nil {
		b.head = w.next
	} else {
		w.prev.next = w.next
	}
	if w.next == nil {
		b.tail = w.prev
	} else {
		w.next.prev = w.prev
	}
	w.prev, w.next, w.queued = nil, nil, false
}

// release frees a slot, or hands it to the oldest waiter.
func (b *Bulkhead) release() {
	for {
		s := b.state.Load()
		if s>>32 != 0 {
			b.releaseSlow()
			return
		}
		if b.state.CompareAndSwap(s, s-1) {
			return
		}
	}
}

// releaseSlow hands the slot to the oldest waiter: the in-flight count stays
// as it is and the queued count drops by one, in one atomic step, so no
// newcomer can take the slot in between.
func (b *Bulkhead) releaseSlow() {
	b.mu.Lock()
	w := b.head
	if w == nil {
		// Every waiter left between the caller's load and the lock.
		b.state.Add(-1)
		b.mu.Unlock()
		return
	}
	b.unlink(w)
	b.state.Add(-queuedOne)
	close(w.ready)
	b.mu.Unlock()
}

// Snapshot is a point-in-time view of a Bulkhead's state and counters.
// Counters only grow.
type Snapshot struct {
	// MaxConcurrent is the effective limit of calls in flight (the
	// configured one, or DefaultMaxConcurrent), 1 to MaxLimit.
	MaxConcurrent int `json:"maxConcurrent" yaml:"maxConcurrent"`
	// MaxQueue is the effective limit of calls waiting for a slot, 0
	// (no queue) or more.
	MaxQueue int `json:"maxQueue" yaml:"maxQueue"`
	// InFlight is how many calls hold a slot now, 0 to MaxConcurrent.
	InFlight int `json:"inFlight" yaml:"inFlight"`
	// Queued is how many calls wait for a slot now, 0 to MaxQueue.
	Queued int `json:"queued" yaml:"queued"`
	// Admitted counts calls that got a slot, at once or after queueing.
	Admitted uint64 `json:"admitted" yaml:"admitted"`
	// AdmittedFromQueue counts the calls among Admitted that queued
	// first.
	AdmittedFromQueue uint64 `json:"admittedFromQueue" yaml:"admittedFromQueue"`
	// Rejected counts calls turned away at once, with ErrBulkheadFull,
	// because every slot and every queue place was taken.
	Rejected uint64 `json:"rejected" yaml:"rejected"`
	// QueueTimeouts counts calls turned away, with ErrBulkheadFull, after
	// waiting MaxWait in the queue.
	QueueTimeouts uint64 `json:"queueTimeouts" yaml:"queueTimeouts"`
	// Canceled counts queued callers whose context ended first.
	Canceled uint64 `json:"canceled" yaml:"canceled"`
	// QueueWait is the total time callers spent in the queue, whatever
	// came of it; it never decreases. In JSON, whole nanoseconds.
	QueueWait time.Duration `json:"queueWait" yaml:"queueWait"`
}

// Snapshot returns the bulkhead's current state and counters. The fields
// are read one by one, without stopping the bulkhead, so under load they may
// not add up exactly.
func (b *Bulkhead) Snapshot() Snapshot {
	s := b.state.Load()
	return Snapshot{
		MaxConcurrent:     int(b.max),
		MaxQueue:          int(b.maxQueue),
		InFlight:          int(s & (queuedOne - 1)),
		Queued:            int(s >> 32),
		Admitted:          b.admitted.Load(),
		AdmittedFromQueue: b.fromQueue.Load(),
		Rejected:          b.rejected.Load(),
		QueueTimeouts:     b.timeouts.Load(),
		Canceled:          b.canceled.Load(),
		QueueWait:         time.Duration(b.queueWaitNano.Load()),
	}
}
