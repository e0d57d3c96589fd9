package bulkhead

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/clock"
)

// MaxWorkers is the largest PoolConfig.Workers: NewPool starts them all at
// once, and a fixed pool larger than this bounds nothing.
const MaxWorkers = 1 << 16

// PoolConfig configures a Pool. The zero PoolConfig is valid: one worker
// per GOMAXPROCS, no queue, no events.
type PoolConfig struct {
	// Name identifies the pool in events.
	Name string `json:"name" yaml:"name"`
	// Workers is the number of worker goroutines, fixed for the pool's
	// life and all started by NewPool. Zero means runtime.GOMAXPROCS(0) at
	// NewPool; allowed: 0 to MaxWorkers.
	Workers int `json:"workers" yaml:"workers"`
	// QueueSize is how many jobs may wait for a worker. Zero means no
	// queue: a job is accepted only when a worker is idle to take it.
	// Allowed: 0 to MaxLimit.
	QueueSize int `json:"queueSize" yaml:"queueSize"`
	// Clock supplies the timestamps of events; nil means clock.Default().
	// The pool reads it only to publish an event.
	Clock clock.Clock `json:"-" yaml:"-"`
	// Events, when set, receives an EventRejected (Policy "bulkhead") for
	// each job that gets no worker: Reason "pool full" for a job turned
	// away with ErrBulkheadFull, "closed" for one refused or dropped from
	// the queue with ErrClosed. nil means no events.
	Events *fusebox.Events `json:"-" yaml:"-"`
}

// Pool runs a handler on jobs of type J with a fixed number of worker
// goroutines, returning results of type R. Jobs wait in a bounded FIFO
// queue; a job that finds every worker busy and the queue full is rejected
// at once with ErrBulkheadFull. A Pool is safe for concurrent use. Its
// workers run until Close, which must be called to stop them.
type Pool[J, R any] struct {
	handler   func(context.Context, J) (R, error)
	workers   int
	queueSize int
	name      string
	events    *fusebox.Events
	clk       clock.Clock

	mu         sync.Mutex
	cond       sync.Cond      // signals workers; L is &mu
	head, tail *poolJob[J, R] // requires mu; the queue, oldest first
	queued     int            // requires mu
	running    int            // requires mu; jobs taken by a worker and not finished
	closed     bool           // requires mu
	wg         sync.WaitGroup // running workers
	free       sync.Pool      // of *poolJob[J, R], reused when no worker can hold it any more

	submitted atomic.Uint64
	completed atomic.Uint64
	rejected  atomic.Uint64
	withdrawn atomic.Uint64
	abandoned atomic.Uint64
	panics    atomic.Uint64
}

// A job's state; requires the pool's mu.
const (
	jobQueued uint8 = iota + 1
	jobTaken        // a worker took it: it runs, or ran
	jobClosed       // Close removed it from the queue
)

type poolJob[J, R any] struct {
	ctx        context.Context
	in         J
	out        R
	err        error
	done       chan struct{} // buffered; receives once the job is finished
	prev, next *poolJob[J, R]
	state      uint8
}

// PanicError is the error a Pool's Submit returns when the handler panicked
// on the job. The worker recovers and goes on with the next job.
type PanicError struct {
	// Value is the value the handler panicked with.
	Value any
	// Stack is the worker's stack at the time of the panic.
	Stack []byte
}

// Error describes the panic value.
func (e *PanicError) Error() string {
	return fmt.Sprintf("bulkhead: job handler panicked: %v", e.Value)
}

// Unwrap returns the panic value when it is an error, else nil.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

// errGoexit is reported to a job whose handler called runtime.Goexit.
var errGoexit = errors.New("bulkhead: job handler called runtime.Goexit")

// NewPool starts a pool of c.Workers goroutines running handler, or returns
// an error naming the first field that is out of range. The handler gets the
// submitting caller's context.
func NewPool[J, R any](c PoolConfig, handler func(context.Context, J) (R, error)) (*Pool[J, R], error) {
	if c.Workers < 0 || c.Workers > MaxWorkers {
		return nil, fmt.Errorf("bulkhead: Workers %d out of range: want 0 (default GOMAXPROCS) to %d", c.Workers, MaxWorkers)
	}
	if c.QueueSize < 0 || c.QueueSize > MaxLimit {
		return nil, fmt.Errorf("bulkhead: QueueSize %d out of range: want 0 (no queue) to %d", c.QueueSize, MaxLimit)
	}
	if handler == nil {
		return nil, errors.New("bulkhead: NewPool with a nil handler")
	}
	p := &Pool[J, R]{handler: handler, workers: c.Workers, queueSize: c.QueueSize, name: c.Name, events: c.Events, clk: c.Clock}
	if p.clk == nil {
		p.clk = clock.Default()
	}
	if p.workers == 0 {
		p.workers = runtime.GOMAXPROCS(0)
	}
	p.cond.L = &p.mu
	p.free.New = func() any { return &poolJob[J, R]{done: make(chan struct{}, 1)} }
	p.wg.Add(p.workers)
	for range p.workers {
		go p.work()
	}
	return p, nil
}

// Submit runs job on a worker and waits for its result. It returns
// ErrBulkheadFull at once when every worker is busy and the queue is full,
// ErrClosed when the pool is closed (also when Close removes the queued job
// before a worker took it), a *PanicError when the handler panicked, and
// the context's error when ctx ends first: a queued job is then withdrawn
// and never runs; a running job goes on (its handler sees ctx end) and its
// result is dropped.
func (p *Pool[J, R]) Submit(ctx context.Context, job J) (R, error) {
	var zero R
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	j := p.free.Get().(*poolJob[J, R])
	j.ctx, j.in = ctx, job

	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		p.recycle(j)
		p.reject("closed", ErrClosed)
		return zero, ErrClosed
	}
	// A job is accepted when a worker is free for it (idle, signalled but
	// not yet awake, or not yet started), or else when the queue has room.
	if p.queued >= p.workers-p.running+p.queueSize {
		p.mu.Unlock()
		p.recycle(j)
		p.rejected.Add(1)
		p.reject("pool full", ErrBulkheadFull)
		return zero, ErrBulkheadFull
	}
	j.state = jobQueued
	if p.tail == nil {
		p.head = j
	} else {
		p.tail.next = j
		j.prev = p.tail
	}
	p.tail = j
	p.queued++
	p.cond.Signal()
	p.mu.Unlock()
	p.submitted.Add(1)

	select {
	case <-j.done:
		return p.result(j)
	case <-ctx.Done():
	}
	p.mu.Lock()
	if j.state == jobQueued {
		p.unlink(j)
		p.mu.Unlock()
		p.withdrawn.Add(1)
		p.recycle(j)
		return zero, ctx.Err()
	}
	p.mu.Unlock()
	select {
	case <-j.done:
		// Finished as the context ended: the result is there, use it.
		return p.result(j)
	default:
	}
	// The worker still holds j; it is left to the garbage collector.
	p.abandoned.Add(1)
	return zero, ctx.Err()
}

// reject publishes the rejection of a job when someone listens.
func (p *Pool[J, R]) reject(reason string, err error) {
	if p.events.Enabled() {
		p.events.Publish(fusebox.Event{Kind: fusebox.EventRejected, Policy: "bulkhead", Name: p.name, At: p.clk.Now(), Reason: reason, Err: err})
	}
}

// result takes the finished job's result and recycles it.
func (p *Pool[J, R]) result(j *poolJob[J, R]) (R, error) {
	out, err := j.out, j.err
	p.recycle(j)
	return out, err
}

// recycle clears j, which nobody else holds, and keeps it for reuse.
func (p *Pool[J, R]) recycle(j *poolJob[J, R]) {
	var zj J
	var zr R
	j.ctx, j.in, j.out, j.err, j.state = nil, zj, zr, nil, 0
	p.free.Put(j)
}

// unlink removes j from the queue. Requires mu held and j queued.
func (p *Pool[J, R]) unlink(j *poolJob[J, R]) {
	if j.prev == nil {
		p.head = j.next
	} else {
		j.prev.next = j.next
	}
	if j.next == nil {
		p.tail = j.prev
	} else {
		j.next.prev = j.prev
	}
	j.prev, j.next = nil, nil
	p.queued--
}

// work is a worker goroutine's loop.
func (p *Pool[J, R]) work() {
	normal := false
	defer func() {
		if !normal {
			// The handler called runtime.Goexit (run has counted the
			// job finished): replace this worker (Add before Done keeps
			// Close waiting for the replacement).
			p.wg.Add(1)
			go p.work()
		}
		p.wg.Done()
	}()
	p.mu.Lock()
	for {
		for p.head == nil && !p.closed {
			p.cond.Wait()
		}
		if p.closed {
			// Close emptied the queue.
			p.mu.Unlock()
			normal = true
			return
		}
		j := p.head
		p.unlink(j)
		j.state = jobTaken
		p.running++
		p.mu.Unlock()
		p.run(j)
		p.mu.Lock()
	}
}

// run runs the handler on j and reports the result to j's caller.
func (p *Pool[J, R]) run(j *poolJob[J, R]) {
	finished := false
	defer func() {
		if !finished {
			// recover returns nil for runtime.Goexit, which goes on
			// unwinding the worker after this function.
			if v := recover(); v != nil {
				j.err = &PanicError{Value: v, Stack: debug.Stack()}
				p.panics.Add(1)
			} else {
				j.err = errGoexit
			}
			var zero R
			j.out = zero
		}
		p.completed.Add(1)
		// The worker counts as free before the caller hears of the
		// result, so that a caller who submits again at once finds it
		// free rather than being rejected by a pool with no queue.
		p.mu.Lock()
		p.running--
		p.mu.Unlock()
		j.done <- struct{}{}
	}()
	j.out, j.err = p.handler(j.ctx, j.in)
	finished = true
}

// Close stops the pool: it accepts no more jobs, fails the jobs still queued
// with ErrClosed, lets running jobs finish and waits for every worker to
// exit. Close is idempotent and always returns nil. It must not be called
// from a handler, which would wait for itself.
func (p *Pool[J, R]) Close() error {
	p.mu.Lock()
	var dropped *poolJob[J, R]
	if !p.closed {
		p.closed = true
		dropped = p.head
		for j := dropped; j != nil; j = j.next {
			j.state = jobClosed
		}
		p.head, p.tail, p.queued = nil, nil, 0
		p.cond.Broadcast()
	}
	p.mu.Unlock()
	for j := dropped; j != nil; {
		next := j.next
		j.prev, j.next = nil, nil
		var zero R
		j.out, j.err = zero, ErrClosed
		j.done <- struct{}{}
		j = next
		p.reject("closed", ErrClosed)
	}
	p.wg.Wait()
	return nil
}

// PoolSnapshot is a point-in-time view of a Pool's state and counters.
// Counters only grow.
type PoolSnapshot struct {
	// Workers is the effective number of workers, 1 or more.
	Workers int `json:"workers" yaml:"workers"`
	// QueueSize is the effective number of jobs that may wait for a
	// worker, 0 (none) or more.
	QueueSize int `json:"queueSize" yaml:"queueSize"`
	// Busy is how many workers run a job now, 0 to Workers.
	Busy int `json:"busy" yaml:"busy"`
	// Queued is how many jobs wait for a worker now, 0 to QueueSize.
	Queued int `json:"queued" yaml:"queued"`
	// Submitted counts accepted jobs.
	Submitted uint64 `json:"submitted" yaml:"submitted"`
	// Rejected counts jobs turned away with ErrBulkheadFull, every worker
	// busy and the queue full; jobs refused with ErrClosed are not
	// counted.
	Rejected uint64 `json:"rejected" yaml:"rejected"`
	// Completed counts jobs a worker finished, those that panicked
	// included.
	Completed uint64 `json:"completed" yaml:"completed"`
	// Withdrawn counts queued jobs whose caller's context ended, so they
	// never ran.
	Withdrawn uint64 `json:"withdrawn" yaml:"withdrawn"`
	// Abandoned counts running jobs whose caller's context ended: the
	// job ran on, its result unseen.
	Abandoned uint64 `json:"abandoned" yaml:"abandoned"`
	// Panics counts jobs whose handler panicked.
	Panics uint64 `json:"panics" yaml:"panics"`
	// Closed reports whether Close was called.
	Closed bool `json:"closed" yaml:"closed"`
}

// Snapshot returns the pool's current state and counters.
func (p *Pool[J, R]) Snapshot() PoolSnapshot {
	p.mu.Lock()
	queued, running, closed := p.queued, p.running, p.closed
	p.mu.Unlock()
	return PoolSnapshot{
		Workers:   p.workers,
		QueueSize: p.queueSize,
		Busy:      running,
		Queued:    queued,
		Submitted: p.submitted.Load(),
		Rejected:  p.rejected.Load(),
		Completed: p.completed.Load(),
		Withdrawn: p.withdrawn.Load(),
		Abandoned: p.abandoned.Load(),
		Panics:    p.panics.Load(),
		Closed:    closed,
	}
}
