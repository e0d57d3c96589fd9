package registry

import (
	"cmp"
	"fmt"
	"hash/maphash"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fusebox-go/fusebox/clock"
)

// Defaults of a Config.
const (
	// DefaultIdleTimeout is the IdleTimeout of a Config that leaves it zero.
	DefaultIdleTimeout = 10 * time.Minute
	// DefaultMaxKeys is the MaxKeys of a Config that leaves it zero.
	DefaultMaxKeys = 10000
)

// numShards is how many shards the keys are spread over, so that Gets of
// different keys rarely meet on a lock.
const numShards = 32

// evictBackoff is how long cap eviction rests after a full pass found no
// evictable member, so that a registry full of open breakers does not scan
// every member on every new key.
const evictBackoff = time.Second

// Config configures a Registry of members of type T. Only New is required.
type Config[T any] struct {
	// New builds the member of a key. Required. It runs outside any lock
	// of the registry, once per key at a time; an error is returned to
	// every caller waiting for the key and is not remembered.
	New func(key string) (T, error) `json:"-" yaml:"-"`
	// Overrides holds per-key factories, consulted before New: the member
	// of a key listed here is built by its own function. nil means none;
	// a nil function is an error. The map is copied by NewRegistry.
	Overrides map[string]func(key string) (T, error) `json:"-" yaml:"-"`
	// IdleTimeout is how long a member may go without a Get before it may
	// be evicted: 0 means DefaultIdleTimeout (10m); negative is an error.
	IdleTimeout time.Duration `json:"idleTimeout" yaml:"idleTimeout"`
	// SweepInterval is how often idle members are looked for, lazily by
	// Gets that create a key and by the background sweeper of Start:
	// 0 means IdleTimeout/2; negative is an error.
	SweepInterval time.Duration `json:"sweepInterval" yaml:"sweepInterval"`
	// MaxKeys caps the number of members: 0 means DefaultMaxKeys (10000);
	// negative is an error. When a new key finds the registry full, the
	// least recently used member that Keep lets go is evicted; when there
	// is none, the new member is created anyway and counted in
	// Stats.OverCap.
	MaxKeys int `json:"maxKeys" yaml:"maxKeys"`
	// Keep reports whether a member holds state that must survive
	// eviction; such a member is never evicted, however idle. nil means
	// DefaultKeep. It runs outside any lock of the registry.
	Keep func(m T) bool `json:"-" yaml:"-"`
	// Clock measures idleness and paces the background sweeper: nil means
	// clock.Default().
	Clock clock.Clock `json:"-" yaml:"-"`
}

// Registry holds one member of type T per key, created lazily. It is safe
// for concurrent use; create one with New.
type Registry[T any] struct {
	// Read-only after New.
	factory   func(string) (T, error)
	overrides map[string]func(string) (T, error)
	keep      func(T) bool
	clk       clock.Clock
	coarse    *clock.Coarse // clk when it is a coarse clock: no interface call
	idle      int64
	interval  int64
	maxKeys   int
	seed      maphash.Seed
	shards    [numShards]shard[T]

	n         atomic.Int64 // entries in the maps, pending ones included
	lastSweep atomic.Int64 // Nanotime of the last sweep's start

	created, evicted, deleted, factoryErrors, overCap atomic.Uint64

	// Cap eviction: candidates in least-recently-used order, consumed from
	// the front and rebuilt by a scan when used up. Requires evictMu.
	evictMu   sync.Mutex
	lru       []candidate[T]
	noEvictTo int64 // Nanotime before which cap eviction does not look

	// The background sweeper; requires runMu.
	runMu sync.Mutex
	stop  chan struct{}
	done  chan struct{}
}

type shard[T any] struct {
	mu sync.RWMutex
	m  map[string]*entry[T] // requires mu
	_  [32]byte             // keep neighbouring shards' locks off one cache line
}

// entry is one key's member. val is written once, before done is set (or
// ready is closed with err nil), and read only after.
type entry[T any] struct {
	key   string
	val   T
	err   error
	done  atomic.Bool   // the member is built and val is valid
	ready chan struct{} // closed when the factory returned
	last  atomic.Int64  // Nanotime of the last Get
	// waiters counts callers waiting for the factory (for tests).
	waiters atomic.Int32
}

type candidate[T any] struct {
	e    *entry[T]
	last int64
}

// Member is one key of a Registry as Snapshot reports it.
type Member struct {
	Key string `json:"key"`
	// Value is the member's snapshot, as SnapshotFunc reads it: what its
	// Snapshot method returns for the policies of this module (a
	// breaker.Snapshot, a bulkhead.Snapshot, ...) and for a Snapshotter;
	// a []any of its policies' snapshots for a *fusebox.Pipeline; nil
	// otherwise.
	Value any `json:"value"`
	// LastUsed is when Get last returned the member.
	LastUsed time.Time `json:"lastUsed"`
	// Kept reports whether the Keep rule holds the member now.
	Kept bool `json:"kept"`
}

// Stats are a registry's counters. Counters only grow.
type Stats struct {
	// Keys is the number of members, those being built included.
	Keys int `json:"keys"`
	// MaxKeys and IdleTimeout are the effective limits.
	MaxKeys     int           `json:"maxKeys"`
	IdleTimeout time.Duration `json:"idleTimeout"`
	// Created counts members built; FactoryErrors factory calls that
	// failed (or panicked).
	Created       uint64 `json:"created"`
	FactoryErrors uint64 `json:"factoryErrors"`
	// Evicted counts members evicted for idleness or to make room;
	// Deleted those removed by Delete.
	Evicted uint64 `json:"evicted"`
	Deleted uint64 `json:"deleted"`
	// OverCap counts members created while the registry was full and no
	// member could be evicted: the registry then holds more than MaxKeys.
	OverCap uint64 `json:"overCap"`
}

// New returns an empty registry configured by c, or an error naming the
// first invalid field of c.
func New[T any](c Config[T]) (*Registry[T], error) {
	if c.New == nil {
		return nil, fmt.Errorf("registry: New is nil: want a function that builds a key's member")
	}
	for k, f := range c.Overrides {
		if f == nil {
			return nil, fmt.Errorf("registry: Overrides[%q] is nil: want a function that builds the key's member", k)
		}
	}
	if c.IdleTimeout < 0 {
		return nil, fmt.Errorf("registry: IdleTimeout %v out of range: want 0 (default %v) or more", c.IdleTimeout, DefaultIdleTimeout)
	}
	if c.SweepInterval < 0 {
		return nil, fmt.Errorf("registry: SweepInterval %v out of range: want 0 (default IdleTimeout/2) or more", c.SweepInterval)
	}
	if c.MaxKeys < 0 {
		return nil, fmt.Errorf("registry: MaxKeys %d out of range: want 0 (default %d) or more", c.MaxKeys, DefaultMaxKeys)
	}
	r := &Registry[T]{factory: c.New, keep: c.Keep, clk: c.Clock, maxKeys: c.MaxKeys, seed: maphash.MakeSeed()}
	if len(c.Overrides) > 0 {
		r.overrides = make(map[string]func(string) (T, error), len(c.Overrides))
		for k, f := range c.Overrides {
			r.overrides[k] = f
		}
	}
	if r.keep == nil {
		r.keep = func(m T) bool { return DefaultKeep(m) }
	}
	if r.clk == nil {
		r.clk = clock.Default()
	}
	r.coarse, _ = r.clk.(*clock.Coarse)
	idle := c.IdleTimeout
	if idle == 0 {
		idle = DefaultIdleTimeout
	}
	r.idle = int64(idle)
	r.interval = int64(c.SweepInterval)
	if r.interval == 0 {
		r.interval = max(r.idle/2, 1)
	}
	if r.maxKeys == 0 {
		r.maxKeys = DefaultMaxKeys
	}
	for i := range r.shards {
		r.shards[i].m = make(map[string]*entry[T])
	}
	r.lastSweep.Store(r.now())
	return r, nil
}

func (r *Registry[T]) now() int64 {
	if r.coarse != nil {
		return r.coarse.Nanotime()
	}
	return r.clk.Nanotime()
}

func (r *Registry[T]) shard(key string) *shard[T] {
	return &r.shards[maphash.String(r.seed, key)%numShards]
}

// touch marks e used now. It writes only when the reading moved, so that
// goroutines hammering one key do not fight over its cache line more than
// once per clock tick.
func (r *Registry[T]) touch(e *entry[T]) {
	if now := r.now(); e.last.Load() != now {
		e.last.Store(now)
	}
}

// Get returns key's member, building it first if the key has none. Get of
// an existing key takes a read lock and allocates nothing. Concurrent Gets
// of a new key run the factory once and all return its result; a factory
// error is returned (wrapped with the key) to all of them and not
// remembered.
func (r *Registry[T]) Get(key string) (T, error) {
	sh := r.shard(key)
	sh.mu.RLock()
	e := sh.m[key]
	sh.mu.RUnlock()
	if e != nil && e.done.Load() {
		r.touch(e)
		return e.val, nil
	}
	return r.getSlow(key, sh, e)
}

// getSlow waits for a member being built, or builds it.
func (r *Registry[T]) getSlow(key string, sh *shard[T], e *entry[T]) (T, error) {
	if e == nil {
		fresh := &entry[T]{key: key, ready: make(chan struct{})}
		fresh.last.Store(r.now())
		sh.mu.Lock()
		e = sh.m[key]
		if e == nil {
			e = fresh
			sh.m[key] = e
			r.n.Add(1)
			sh.mu.Unlock()
			return r.build(e, sh)
		}
		sh.mu.Unlock()
	}
	if !e.done.Load() {
		e.waiters.Add(1)
		<-e.ready
		e.waiters.Add(-1)
		if e.err != nil {
			var zero T
			return zero, e.err
		}
	}
	r.touch(e)
	return e.val, nil
}

// build runs the factory for the new pending entry e, then makes room and
// sweeps if due. A panicking factory still wakes the waiters, with an
// error, and its panic goes on.
func (r *Registry[T]) build(e *entry[T], sh *shard[T]) (T, error) {
	finished := false
	defer func() {
		if !finished {
			r.fail(e, sh, fmt.Errorf("registry: factory for key %q panicked", e.key))
		}
	}()
	f := r.factory
	if o, ok := r.overrides[e.key]; ok {
		f = o
	}
	v, err := f(e.key)
	finished = true
	if err != nil {
		err = fmt.Errorf("registry: key %q: %w", e.key, err)
		r.fail(e, sh, err)
		var zero T
		return zero, err
	}
	e.val = v
	e.done.Store(true)
	close(e.ready)
	r.created.Add(1)
	if r.n.Load() > int64(r.maxKeys) {
		r.makeRoom(e)
	}
	if now, last := r.now(), r.lastSweep.Load(); now-last >= r.interval && r.lastSweep.CompareAndSwap(last, now) {
		r.sweep(now)
	}
	return v, nil
}

// fail removes the pending entry e and wakes its waiters with err.
func (r *Registry[T]) fail(e *entry[T], sh *shard[T], err error) {
	r.factoryErrors.Add(1)
	sh.mu.Lock()
	if sh.m[e.key] == e {
		delete(sh.m, e.key)
		r.n.Add(-1)
	}
	sh.mu.Unlock()
	e.err = err
	close(e.ready)
}

// remove deletes e from its shard if it is still there and, when last is
// not -1, still unused since last. It reports whether it did.
func (r *Registry[T]) remove(e *entry[T], last int64) bool {
	sh := r.shard(e.key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.m[e.key] != e || (last != -1 && e.last.Load() != last) {
		return false
	}
	delete(sh.m, e.key)
	r.n.Add(-1)
	return true
}

// makeRoom evicts least recently used members that Keep lets go until the
// registry is within MaxKeys again, never the new entry fresh. When none
// can go, it counts the overflow.
func (r *Registry[T]) makeRoom(fresh *entry[T]) {
	for r.n.Load() > int64(r.maxKeys) {
		if !r.evictOne(fresh) {
			r.overCap.Add(1)
			return
		}
	}
}

// maxScans bounds how many times one eviction rescans the members when
// every candidate of a scan was used (or removed) before it could be judged.
const maxScans = 3

// evictOne evicts the least recently used evictable member other than
// fresh and reports whether it found one. Candidates are taken under
// evictMu and judged by Keep outside it.
func (r *Registry[T]) evictOne(fresh *entry[T]) bool {
	scans, stale := 0, false
	for {
		r.evictMu.Lock()
		if len(r.lru) == 0 {
			now := r.now()
			if scans > 0 && !stale {
				// A whole pass, and every member was kept: rest a while
				// rather than scan again for every new key.
				r.noEvictTo = now + int64(evictBackoff)
			}
			if scans == maxScans || now < r.noEvictTo {
				r.evictMu.Unlock()
				return false
			}
			r.lru = r.collect(r.lru[:0], func(e *entry[T], _ int64) bool { return e != fresh })
			slices.SortFunc(r.lru, func(a, b candidate[T]) int { return cmp.Compare(a.last, b.last) })
			scans, stale = scans+1, false
			if len(r.lru) == 0 {
				r.evictMu.Unlock()
				return false
			}
		}
		c := r.lru[0]
		r.lru[0] = candidate[T]{}
		r.lru = r.lru[1:]
		r.evictMu.Unlock()
		// A candidate used since the scan is no longer among the least
		// recently used: skip it; the next scan places it anew.
		if c.e.last.Load() != c.last {
			stale = true
			continue
		}
		if r.keep(c.e.val) {
			continue
		}
		if r.remove(c.e, c.last) {
			r.evicted.Add(1)
			return true
		}
		stale = true
	}
}

// collect appends to dst every built entry for which pick holds, with its
// last use. It takes each shard's read lock in turn and calls nothing of
// the user's.
func (r *Registry[T]) collect(dst []candidate[T], pick func(e *entry[T], last int64) bool) []candidate[T] {
	for i := range r.shards {
		sh := &r.shards[i]
		sh.mu.RLock()
		for _, e := range sh.m {
			if !e.done.Load() {
				continue
			}
			if last := e.last.Load(); pick(e, last) {
				dst = append(dst, candidate[T]{e: e, last: last})
			}
		}
		sh.mu.RUnlock()
	}
	return dst
}

// Sweep evicts every member unused for IdleTimeout that Keep lets go, and
// returns how many it evicted. Gets call it lazily, and the background
// sweeper of Start periodically; call it yourself to reclaim memory at a
// time of your choosing.
func (r *Registry[T]) Sweep() int {
	now := r.now()
	r.lastSweep.Store(now)
	return r.sweep(now)
}

// sweep is Sweep at the Nanotime reading now.
func (r *Registry[T]) sweep(now int64) int {
	idle := r.collect(nil, func(_ *entry[T], last int64) bool { return now-last >= r.idle })
	n := 0
	for _, c := range idle {
		if r.keep(c.e.val) {
			continue
		}
		if r.remove(c.e, c.last) {
			n++
		}
	}
	r.evicted.Add(uint64(n))
	return n
}

// Delete removes key's member, whatever Keep says, and reports whether
// there was one. A Get of the key that is waiting for the member still
// gets it.
func (r *Registry[T]) Delete(key string) bool {
	sh := r.shard(key)
	sh.mu.Lock()
	e := sh.m[key]
	if e != nil {
		delete(sh.m, key)
		r.n.Add(-1)
	}
	sh.mu.Unlock()
	if e == nil {
		return false
	}
	r.deleted.Add(1)
	return true
}

// Len returns the number of members, those being built included.
func (r *Registry[T]) Len() int { return int(r.n.Load()) }

// Range calls fn for each member, in no particular order, until fn returns
// false. It sees the members present when it started (those built since may
// be missed) and calls fn outside any lock, so fn may use the registry.
// Range does not count as a use of the members.
func (r *Registry[T]) Range(fn func(key string, m T) bool) {
	for _, c := range r.collect(nil, func(*entry[T], int64) bool { return true }) {
		if !fn(c.e.key, c.e.val) {
			return
		}
	}
}

// Snapshot returns every member, sorted by key, with its snapshot (see
// Member) and when it was last used.
func (r *Registry[T]) Snapshot() []Member {
	cands := r.collect(nil, func(*entry[T], int64) bool { return true })
	now, wall := r.now(), r.clk.Now()
	out := make([]Member, len(cands))
	for i, c := range cands {
		out[i] = Member{
			Key:      c.e.key,
			Value:    snapshotOf(c.e.val),
			LastUsed: wall.Add(-time.Duration(now - c.last)),
			Kept:     r.keep(c.e.val),
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// Stats returns the registry's counters.
func (r *Registry[T]) Stats() Stats {
	return Stats{
		Keys:          r.Len(),
		MaxKeys:       r.maxKeys,
		IdleTimeout:   time.Duration(r.idle),
		Created:       r.created.Load(),
		FactoryErrors: r.factoryErrors.Load(),
		Evicted:       r.evicted.Load(),
		Deleted:       r.deleted.Load(),
		OverCap:       r.overCap.Load(),
	}
}

// Start starts a background goroutine that calls Sweep every
// SweepInterval, until Close. It does nothing if the sweeper runs already.
// Without Start a registry runs no goroutine; idle members are then swept
// only by Gets that create keys and by explicit calls to Sweep.
func (r *Registry[T]) Start() {
	r.runMu.Lock()
	defer r.runMu.Unlock()
	if r.stop != nil {
		return
	}
	r.stop, r.done = make(chan struct{}), make(chan struct{})
	go r.sweeper(r.stop, r.done)
}

func (r *Registry[T]) sweeper(stop, done chan struct{}) {
	defer close(done)
	t := r.clk.NewTimer(time.Duration(r.interval))
	defer t.Stop()
	for {
		select {
		case <-t.C():
			r.Sweep()
			t.Reset(time.Duration(r.interval))
		case <-stop:
			return
		}
	}
}

// Close stops the background sweeper started by Start and waits for it to
// end. The registry stays usable; Start may start the sweeper again. Close
// is idempotent.
func (r *Registry[T]) Close() {
	r.runMu.Lock()
	stop, done := r.stop, r.done
	r.stop, r.done = nil, nil
	r.runMu.Unlock()
	if stop != nil {
		close(stop)
		<-done
	}
}
