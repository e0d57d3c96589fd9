package fallback

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fusebox-go/fusebox/clock"
)

// DefaultMaxEntries and DefaultTTL are the values of a CacheConfig's zero
// MaxEntries and TTL.
const (
	DefaultMaxEntries = 1024
	DefaultTTL        = time.Minute
)

// errNilFetch is returned by Get for a nil fetch function.
var errNilFetch = errors.New("fallback: Cache.Get with a nil fetch function")

// CacheConfig configures a Cache. The zero value is a cache of up to 1024
// entries fresh for a minute, that never serves a value past its TTL.
//
// An entry's age is the time since its value was fetched. Up to TTL it is
// fresh and served without a fetch. Past TTL:
//
//   - within StaleWhileRevalidate past TTL, it is served at once (Stale) and
//     refreshed in the background;
//   - otherwise Get fetches, and when the fetch fails an entry within
//     StaleTTL past TTL is served instead (Degraded, stale-if-error).
//
// An entry older than TTL plus the longer of the two is dropped.
type CacheConfig struct {
	// MaxEntries bounds the number of entries; the least recently used is
	// evicted first. Zero means DefaultMaxEntries (1024).
	MaxEntries int `json:"maxEntries" yaml:"maxEntries"`
	// TTL is how long a fetched value is fresh. Zero means DefaultTTL (1m).
	TTL time.Duration `json:"ttl" yaml:"ttl"`
	// StaleTTL is how long past TTL a value may still be served when a
	// fetch fails. Zero means never: a failed fetch is an error.
	StaleTTL time.Duration `json:"staleTTL" yaml:"staleTTL"`
	// StaleWhileRevalidate is how long past TTL a value is served at once
	// while one background fetch refreshes it. Zero means never: a value
	// past TTL is fetched before Get returns.
	StaleWhileRevalidate time.Duration `json:"staleWhileRevalidate" yaml:"staleWhileRevalidate"`
	// Clock is the time source; nil means clock.Default(), whose readings
	// are up to a millisecond behind.
	Clock clock.Clock `json:"-" yaml:"-"`
}

// Result is what Cache.Get answers.
type Result[V any] struct {
	// Value is the value: fetched by this Get (or by the fetch it shared),
	// or cached.
	Value V
	// Age is how long ago Value was fetched.
	Age time.Duration
	// Stale reports that Value is older than the TTL.
	Stale bool
	// Degraded reports that the fetch failed and Value is the cached value
	// served in its place (stale-if-error); Err holds the fetch's error.
	Degraded bool
	// Err is the fetch's error, for a Degraded result and alongside the
	// error Get returns.
	Err error
}

// Cache is a bounded LRU cache of the last good results of a fetch, for
// answering with a degraded result when the fetch fails. It is safe for
// concurrent use; Close it to wait for its background fetches.
//
// A Get that has to fetch shares the fetch with every concurrent Get of the
// same key (one fetch in flight per key). The fetch runs in its own
// goroutine with a context that keeps the values of the first caller's
// context but not its cancellation or deadline, so that one caller giving up
// does not fail the others: a caller whose context ends while it waits gets
// its context's error, and the fetch goes on for the others. It is canceled
// when no caller waits for it any more, or by Close. Background refreshes
// (StaleWhileRevalidate) run until they finish or Close: a fetch should bound
// its own duration, with a timeout policy for instance.
//
// A fetch that panics re-raises the panic, as a *PanicError carrying the
// original value and stack, in every Get waiting for it. A background refresh
// has no caller to raise it in: it counts in Snapshot.Panics and leaves the
// entry as it was, so the panic surfaces at the first fetch made in the
// foreground.
type Cache[K comparable, V any] struct {
	clock      clock.Clock
	maxEntries int
	ttl        int64
	swr        int64 // TTL + StaleWhileRevalidate, saturated
	stale      int64 // TTL + StaleTTL, saturated
	keep       int64 // max(swr, stale)
	wg         sync.WaitGroup

	mu      sync.Mutex
	closed  bool
	items   map[K]*entry[K, V]
	root    entry[K, V] // root.next is the most recently used entry
	flights map[K]*flight[V]

	hits, staleHits, misses, shared, fetches, fetchErrors,
	degraded, refreshes, evictions, panics atomic.Uint64
}

type entry[K comparable, V any] struct {
	key        K
	val        V
	at         int64 // clock.Nanotime of the fetch
	prev, next *entry[K, V]
}

// flight is one fetch in progress. waiters, finished and background are
// guarded by Cache.mu; val, err, pe and at are written before done is
// closed and read after.
type flight[V any] struct {
	done       chan struct{}
	cancel     context.CancelFunc
	waiters    int
	finished   bool
	background bool
	val        V
	err        error
	pe         *PanicError
	at         int64
}

// NewCache validates cfg and returns an empty Cache.
func NewCache[K comparable, V any](cfg CacheConfig) (*Cache[K, V], error) {
	switch {
	case cfg.MaxEntries < 0:
		return nil, fmt.Errorf("fallback: MaxEntries %d out of range: want 0 (default %d) or more", cfg.MaxEntries, DefaultMaxEntries)
	case cfg.TTL < 0:
		return nil, fmt.Errorf("fallback: TTL %v out of range: want 0 (default %v) or more", cfg.TTL, DefaultTTL)
	case cfg.StaleTTL < 0:
		return nil, fmt.Errorf("fallback: StaleTTL %v out of range: want 0 (never stale on error) or more", cfg.StaleTTL)
	case cfg.StaleWhileRevalidate < 0:
		return nil, fmt.Errorf("fallback: StaleWhileRevalidate %v out of range: want 0 (off) or more", cfg.StaleWhileRevalidate)
	}
	c := &Cache[K, V]{
		clock:      cfg.Clock,
		maxEntries: cfg.MaxEntries,
		ttl:        int64(cfg.TTL),
		items:      make(map[K]*entry[K, V]),
		flights:    make(map[K]*flight[V]),
	}
	if c.clock == nil {
		c.clock = clock.Default()
	}
	if c.maxEntries == 0 {
		c.maxEntries = DefaultMaxEntries
	}
	if c.ttl == 0 {
		c.ttl = int64(DefaultTTL)
	}
	c.swr = satAdd(c.ttl, int64(cfg.StaleWhileRevalidate))
	c.stale = satAdd(c.ttl, int64(cfg.StaleTTL))
	c.keep = max(c.swr, c.stale)
	c.root.next, c.root.prev = &c.root, &c.root
	return c, nil
}

func satAdd(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// Get returns the value for key: the cached one while it is fresh, or the
// one fetch returns. See CacheConfig for how an entry's age decides, and
// Cache for how fetches are shared.
//
// Get returns a nil error with a Degraded result when the fetch failed and a
// cached value within StaleTTL past its TTL was served instead; the fetch's
// error is then in Result.Err. It returns the fetch's error (also in
// Result.Err) when there was no such value; ctx's error when ctx ended while
// it waited; ErrClosed after Close.
//
// A fresh hit takes one mutex and allocates nothing.
func (c *Cache[K, V]) Get(ctx context.Context, key K, fetch func(context.Context) (V, error)) (Result[V], error) {
	if fetch == nil {
		return Result[V]{Err: errNilFetch}, errNilFetch
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return Result[V]{Err: ErrClosed}, ErrClosed
	}
	now := c.clock.Nanotime()
	if e := c.items[key]; e != nil {
		age := now - e.at
		switch {
		case age < c.ttl:
			c.moveToFront(e)
			r := Result[V]{Value: e.val, Age: time.Duration(age)}
			c.mu.Unlock()
			c.hits.Add(1)
			return r, nil
		case age < c.swr:
			c.moveToFront(e)
			r := Result[V]{Value: e.val, Age: time.Duration(age), Stale: true}
			if c.flights[key] == nil {
				c.startLocked(ctx, key, fetch, true)
				c.refreshes.Add(1)
			}
			c.mu.Unlock()
			c.staleHits.Add(1)
			return r, nil
		case age >= c.keep:
			c.removeLocked(e)
		}
	}
	fl := c.flights[key]
	if fl == nil {
		fl = c.startLocked(ctx, key, fetch, false)
	} else {
		c.shared.Add(1)
	}
	fl.waiters++
	c.mu.Unlock()
	c.misses.Add(1)

	select {
	case <-fl.done:
	case <-ctx.Done():
		select {
		case <-fl.done: // finished as well: take the result
		default:
			c.leave(key, fl)
			err := ctx.Err()
			return Result[V]{Err: err}, err
		}
	}
	if fl.pe != nil {
		panic(fl.pe)
	}
	if fl.err == nil {
		return Result[V]{Value: fl.val, Age: time.Duration(c.clock.Nanotime() - fl.at)}, nil
	}
	c.mu.Lock()
	now = c.clock.Nanotime()
	if e := c.items[key]; e != nil && now-e.at < c.stale {
		age := now - e.at
		r := Result[V]{Value: e.val, Age: time.Duration(age), Stale: age >= c.ttl, Degraded: true, Err: fl.err}
		c.mu.Unlock()
		c.degraded.Add(1)
		return r, nil
	}
	c.mu.Unlock()
	return Result[V]{Err: fl.err}, fl.err
}

// startLocked starts a fetch of key in its own goroutine. Requires c.mu held
// and the cache open.
func (c *Cache[K, V]) startLocked(ctx context.Context, key K, fetch func(context.Context) (V, error), background bool) *flight[V] {
	fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	fl := &flight[V]{done: make(chan struct{}), cancel: cancel, background: background}
	c.flights[key] = fl
	c.fetches.Add(1)
	c.wg.Add(1)
	go c.run(fctx, key, fl, fetch)
	return fl
}

// run is the goroutine of one fetch.
func (c *Cache[K, V]) run(ctx context.Context, key K, fl *flight[V], fetch func(context.Context) (V, error)) {
	defer c.wg.Done()
	v, pe, err := callFetch(ctx, fetch)
	fl.cancel()

	c.mu.Lock()
	now := c.clock.Nanotime()
	if c.flights[key] == fl {
		delete(c.flights, key)
	}
	if err == nil && pe == nil && !c.closed {
		c.storeLocked(key, v, now)
	}
	fl.finished = true
	unseen := fl.waiters == 0
	fl.val, fl.err, fl.pe, fl.at = v, err, pe, now
	c.mu.Unlock()

	if err != nil || pe != nil {
		c.fetchErrors.Add(1)
	}
	if pe != nil && unseen {
		c.panics.Add(1)
	}
	close(fl.done)
}

func callFetch[V any](ctx context.Context, fetch func(context.Context) (V, error)) (v V, pe *PanicError, err error) {
	defer func() {
		if r := recover(); r != nil {
			pe = &PanicError{Value: r, Stack: debug.Stack()}
		}
	}()
	v, err = fetch(ctx)
	return v, nil, err
}

// leave is a waiter giving up on fl. The last waiter of a foreground fetch
// cancels it and forgets it, so the next Get starts a new one.
func (c *Cache[K, V]) leave(key K, fl *flight[V]) {
	c.mu.Lock()
	fl.waiters--
	orphan := fl.waiters == 0 && !fl.background && !fl.finished
	if orphan && c.flights[key] == fl {
		delete(c.flights, key)
	}
	c.mu.Unlock()
	if orphan {
		fl.cancel()
	}
}

// storeLocked records a fetched value. Requires c.mu held.
func (c *Cache[K, V]) storeLocked(key K, v V, now int64) {
	if e := c.items[key]; e != nil {
		e.val, e.at = v, now
		c.moveToFront(e)
		return
	}
	e := &entry[K, V]{key: key, val: v, at: now}
	c.items[key] = e
	c.pushFront(e)
	for len(c.items) > c.maxEntries {
		c.removeLocked(c.root.prev)
		c.evictions.Add(1)
	}
}

// Delete removes key's entry, if any. A fetch of key in flight is not
// canceled and stores its value when it succeeds.
func (c *Cache[K, V]) Delete(key K) {
	c.mu.Lock()
	if e := c.items[key]; e != nil {
		c.removeLocked(e)
	}
	c.mu.Unlock()
}

// Close cancels the fetches in flight, waits for their goroutines to return,
// and makes every later Get return ErrClosed. Gets waiting for a canceled
// fetch receive its error (or a Degraded result). Close is idempotent.
func (c *Cache[K, V]) Close() {
	c.mu.Lock()
	c.closed = true
	cancels := make([]context.CancelFunc, 0, len(c.flights))
	for _, fl := range c.flights {
		cancels = append(cancels, fl.cancel)
	}
	c.mu.Unlock()
	for _, cancel := range cancels {
		cancel()
	}
	c.wg.Wait()
}

// moveToFront requires c.mu held.
func (c *Cache[K, V]) moveToFront(e *entry[K, V]) {
	if c.root.next == e {
		return
	}
	e.prev.next, e.next.prev = e.next, e.prev
	c.pushFront(e)
}

// pushFront requires c.mu held.
func (c *Cache[K, V]) pushFront(e *entry[K, V]) {
	e.prev, e.next = &c.root, c.root.next
	c.root.next.prev = e
	c.root.next = e
}

// removeLocked requires c.mu held.
func (c *Cache[K, V]) removeLocked(e *entry[K, V]) {
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
	delete(c.items, e.key)
}

// CacheSnapshot is a point-in-time copy of a Cache's counters.
type CacheSnapshot struct {
	// Entries is the number of entries held.
	Entries int `json:"entries"`
	// Hits is how many Gets were answered by a fresh entry.
	Hits uint64 `json:"hits"`
	// StaleHits is how many Gets were answered by a stale entry while it
	// was refreshed (StaleWhileRevalidate).
	StaleHits uint64 `json:"staleHits"`
	// Misses is how many Gets waited for a fetch.
	Misses uint64 `json:"misses"`
	// Shared is how many of them joined a fetch already in flight.
	Shared uint64 `json:"shared"`
	// Fetches is how many fetches were started, background ones included.
	Fetches uint64 `json:"fetches"`
	// FetchErrors is how many fetches failed or panicked.
	FetchErrors uint64 `json:"fetchErrors"`
	// Degraded is how many Gets were answered by a cached value because
	// the fetch failed (stale-if-error).
	Degraded uint64 `json:"degraded"`
	// Refreshes is how many background refreshes were started.
	Refreshes uint64 `json:"refreshes"`
	// Evictions is how many entries were evicted to respect MaxEntries.
	Evictions uint64 `json:"evictions"`
	// Panics is how many fetches panicked with no Get waiting to re-raise
	// the panic (background refreshes).
	Panics uint64 `json:"panics"`
}

// Snapshot returns the cache's counters, read one by one.
func (c *Cache[K, V]) Snapshot() CacheSnapshot {
	c.mu.Lock()
	n := len(c.items)
	c.mu.Unlock()
	return CacheSnapshot{
		Entries:     n,
		Hits:        c.hits.Load(),
		StaleHits:   c.staleHits.Load(),
		Misses:      c.misses.Load(),
		Shared:      c.shared.Load(),
		Fetches:     c.fetches.Load(),
		FetchErrors: c.fetchErrors.Load(),
		Degraded:    c.degraded.Load(),
		Refreshes:   c.refreshes.Load(),
		Evictions:   c.evictions.Load(),
		Panics:      c.panics.Load(),
	}
}
