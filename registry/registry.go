package registry

import (
	"cmp"
	"fmt"
	"hash/maphash"
	"math"
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
	// DefaultRememberedPerKey is how many keys the registry remembers per
	// key of MaxKeys when MaxRemembered is left zero.
	DefaultRememberedPerKey = 4
)

// numShards is how many shards the keys are spread over, so that Gets of
// different keys rarely meet on a lock.
const numShards = 32

// evictBackoff is how long cap eviction goes on evicting, from the
// members judged by its last pass, members whose state Keep holds and
// Hold cannot remember, before it scans every member again: a registry
// full of such members then does not scan them all on every new key.
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
	// MaxKeys caps the number of members, whatever their state: 0 means
	// DefaultMaxKeys (10000); negative is an error. When a new key finds
	// the registry full, the least recently used member is evicted,
	// choosing first among the members Keep lets go, then among those
	// Hold says reject every call (whose keys are then remembered, see
	// MaxRemembered), and only then among the other members Keep holds,
	// whose state is lost. The bound is exceeded only while members are
	// being built: a new member is not refused when every other member is
	// itself still being built (counted in Stats.OverCap).
	MaxKeys int `json:"maxKeys" yaml:"maxKeys"`
	// Keep reports whether a member holds state that evicting it would
	// lose; the idle sweep never evicts such a member, and the cap does
	// only when every other member is held too (see MaxKeys). nil means
	// DefaultKeep. It runs outside any lock of the registry.
	Keep func(m T) bool `json:"-" yaml:"-"`
	// Hold reports, for a member Keep holds, for how much longer it
	// rejects every call: an open circuit breaker's remaining open
	// period, HoldForever for a breaker forced open, 0 for a member that
	// admits calls. nil means DefaultHold. It runs outside any lock of the
	// registry, when the cap must evict a member Keep holds.
	//
	// When the cap evicts a member that rejects every call, the registry
	// remembers the key and the instant the rejection ends, and until that
	// instant Get of the key returns a *HeldError (matching
	// fusebox.ErrOpen) instead of building a member: a host cut off by an
	// open breaker stays cut off for the rest of its open period, evicted
	// or not. After the instant Get builds a new member, as for a new key:
	// a new breaker starts closed, without the half-open probing and the
	// open-duration backoff of the evicted one.
	Hold func(m T) time.Duration `json:"-" yaml:"-"`
	// MaxRemembered caps the keys the registry remembers for Hold: 0
	// means DefaultRememberedPerKey (4) × MaxKeys; negative is an error.
	// The capacity is rounded up to a multiple of 256; each remembered
	// key costs 16 bytes (a 64-bit hash of the key, not the key, and the
	// instant), allocated in 32 parts as keys are first remembered. The
	// table is a set-associative cache: a key's hash picks a set of 8
	// records, and a full set gives up the record whose rejection ends
	// first (an ended rejection first of all, a forced-open one last),
	// counted in Stats.Forgotten when it had not ended. A forgotten key
	// gets a new member at its next Get. Two keys whose 64-bit hashes
	// (seeded at random per registry) are equal share a record.
	MaxRemembered int `json:"maxRemembered" yaml:"maxRemembered"`
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
	hold      func(T) time.Duration
	clk       clock.Clock
	nano      nanoClock // reads clk's Nanotime
	idle      int64
	interval  int64
	maxKeys   int
	memoSets  int // sets of the table of remembered keys, per shard
	seed      maphash.Seed
	shards    [numShards]shard[T]

	n         atomic.Int64 // entries in the maps, pending ones included
	lastSweep atomic.Int64 // Nanotime of the last sweep's start

	created, evicted, deleted, factoryErrors, overCap atomic.Uint64
	evictedKept, evictedHeld, forgotten, refused      atomic.Uint64

	// Cap eviction: the members of the last scan in least-recently-used
	// order, consumed from the front: lru not yet judged, held judged
	// kept and rejecting (evicted, remembered, once lru is used up), kept
	// judged kept and not rejecting (evicted last). Requires evictMu.
	evictMu  sync.Mutex
	lru      []candidate[T]
	held     []candidate[T]
	kept     []candidate[T]
	rescanAt int64 // Nanotime before which kept is used rather than a new scan

	// The background sweeper; requires runMu.
	runMu sync.Mutex
	stop  chan struct{}
	done  chan struct{}
}

type shard[T any] struct {
	mu   sync.RWMutex
	m    map[string]*entry[T] // requires mu
	memo []record             // remembered keys, memoSets×ways once used; requires mu
	_    [8]byte              // keep neighbouring shards' locks off one cache line
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
	// Key is the member's key, as given to Get.
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
	// MaxKeys is the effective cap on members, 1 or more.
	MaxKeys int `json:"maxKeys"`
	// IdleTimeout is the effective idle time before a member may be
	// evicted; in JSON, nanoseconds.
	IdleTimeout time.Duration `json:"idleTimeout"`
	// Created counts members built.
	Created uint64 `json:"created"`
	// FactoryErrors counts factory calls that failed (or panicked).
	FactoryErrors uint64 `json:"factoryErrors"`
	// Evicted counts members evicted for idleness or to make room.
	Evicted uint64 `json:"evicted"`
	// Deleted counts members removed by Delete.
	Deleted uint64 `json:"deleted"`
	// EvictedKept counts the members among Evicted that Keep held, which
	// the cap evicted because every member was held. Those not in
	// EvictedHeld lost their state.
	EvictedKept uint64 `json:"evictedKept"`
	// EvictedHeld counts the members among EvictedKept that rejected
	// every call (see Config.Hold), whose keys were remembered.
	EvictedHeld uint64 `json:"evictedHeld"`
	// Remembered is the number of remembered keys whose rejection has not
	// ended, 0 to MaxRemembered.
	Remembered int `json:"remembered"`
	// MaxRemembered is the capacity of the table of remembered keys (a
	// multiple of 256).
	MaxRemembered int `json:"maxRemembered"`
	// Forgotten counts remembered keys given up before their rejection
	// ended, to make room for others.
	Forgotten uint64 `json:"forgotten"`
	// Refused counts the Gets refused with a *HeldError.
	Refused uint64 `json:"refused"`
	// OverCap counts members created while the registry was full and no
	// other member could be evicted, every one being still built: the
	// registry then holds more than MaxKeys until they are.
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
	if c.MaxRemembered < 0 {
		return nil, fmt.Errorf("registry: MaxRemembered %d out of range: want 0 (default %d × MaxKeys) or more", c.MaxRemembered, DefaultRememberedPerKey)
	}
	r := &Registry[T]{factory: c.New, keep: c.Keep, hold: c.Hold, clk: c.Clock, maxKeys: c.MaxKeys, seed: maphash.MakeSeed()}
	if len(c.Overrides) > 0 {
		r.overrides = make(map[string]func(string) (T, error), len(c.Overrides))
		for k, f := range c.Overrides {
			r.overrides[k] = f
		}
	}
	if r.keep == nil {
		r.keep = func(m T) bool { return DefaultKeep(m) }
	}
	if r.hold == nil {
		r.hold = func(m T) time.Duration { return DefaultHold(m) }
	}
	if r.clk == nil {
		r.clk = clock.Default()
	}
	r.nano.clk = r.clk
	r.nano.coarse, _ = r.clk.(*clock.Coarse)
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
	remembered := c.MaxRemembered
	if remembered == 0 {
		remembered = DefaultRememberedPerKey * min(r.maxKeys, math.MaxInt/DefaultRememberedPerKey)
	}
	// Sets per shard: enough for remembered keys, capped so that no shard
	// could ask for more than a large table (2^22 records, 64 MiB) even
	// for a MaxKeys meant as "no limit".
	r.memoSets = max(1, min((remembered-1)/(numShards*ways)+1, maxRemembered/(numShards*ways)))
	for i := range r.shards {
		r.shards[i].m = make(map[string]*entry[T])
	}
	r.lastSweep.Store(r.now())
	return r, nil
}

func (r *Registry[T]) now() int64 { return r.nano.now() }

// hash returns key's hash, which picks its shard and its record.
func (r *Registry[T]) hash(key string) uint64 { return maphash.String(r.seed, key) }

func (r *Registry[T]) shardOf(h uint64) *shard[T] { return &r.shards[h%numShards] }

func (r *Registry[T]) shard(key string) *shard[T] { return r.shardOf(r.hash(key)) }

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
//
// Get of a key whose member the cap evicted while it rejected every call
// (see Config.Hold) returns a *HeldError, matching fusebox.ErrOpen, until
// that rejection ends, and builds nothing.
func (r *Registry[T]) Get(key string) (T, error) {
	h := r.hash(key)
	sh := r.shardOf(h)
	sh.mu.RLock()
	e := sh.m[key]
	sh.mu.RUnlock()
	if e != nil && e.done.Load() {
		r.touch(e)
		return e.val, nil
	}
	return r.getSlow(key, h, sh, e)
}

// getSlow waits for a member being built, or builds it, unless the key is
// remembered.
func (r *Registry[T]) getSlow(key string, h uint64, sh *shard[T], e *entry[T]) (T, error) {
	if e == nil {
		now := r.now()
		sh.mu.RLock()
		until := r.heldUntil(sh, h, now)
		sh.mu.RUnlock()
		if until != 0 {
			return r.refuse(key, until)
		}
		fresh := &entry[T]{key: key, ready: make(chan struct{})}
		fresh.last.Store(now)
		sh.mu.Lock()
		e = sh.m[key]
		if e == nil {
			// Again under the write lock: the key may have been
			// built, evicted and remembered since the look above.
			if until := r.heldUntil(sh, h, r.now()); until != 0 {
				sh.mu.Unlock()
				return r.refuse(key, until)
			}
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

// refuse is Get's answer for a key remembered until the Nanotime until.
func (r *Registry[T]) refuse(key string, until int64) (T, error) {
	r.refused.Add(1)
	var zero T
	return zero, &HeldError{Key: key, until: until, clk: &r.nano}
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
	return r.removeHeld(e, last, 0)
}

// removeHeld is remove that, when until is not 0, remembers e's key until
// the Nanotime until, in the same critical section: no Get finds the key
// with neither its member nor its record.
func (r *Registry[T]) removeHeld(e *entry[T], last, until int64) bool {
	h := r.hash(e.key)
	sh := r.shardOf(h)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.m[e.key] != e || (last != -1 && e.last.Load() != last) {
		return false
	}
	delete(sh.m, e.key)
	r.n.Add(-1)
	if until != 0 && r.remember(sh, h, until, r.now()) {
		r.forgotten.Add(1)
	}
	return true
}

// makeRoom evicts least recently used members (see Config.MaxKeys for
// which) until the registry is within MaxKeys again, never the new entry
// fresh. When none can go, every other member being still built, it
// counts the overflow.
//
// Then it adds fresh, the most recently used member, at the end of the
// candidates not yet judged, so that, while the registry stays full, the
// members built since the last scan are judged (and those Keep lets go
// evicted) before any held member, without scanning every member again.
// Each call adds one candidate and takes at least one, so the candidates
// never outnumber the members by much.
func (r *Registry[T]) makeRoom(fresh *entry[T]) {
	for r.n.Load() > int64(r.maxKeys) {
		if !r.evictOne(fresh) {
			r.overCap.Add(1)
			break
		}
	}
	r.evictMu.Lock()
	r.lru = append(r.lru, candidate[T]{e: fresh, last: fresh.last.Load()})
	r.evictMu.Unlock()
}

// maxScans bounds how many times one eviction rescans the members when
// every candidate of a scan was used (or removed) before it could be judged.
const maxScans = 3

// Eviction tiers: what is known of a candidate.
const (
	tierNew  = iota // from lru: not yet judged
	tierHeld        // from held: Keep holds it and it rejects every call
	tierKept        // from kept: Keep holds it and Hold has nothing to remember
)

// evictOne evicts one member other than fresh and reports whether it found
// one: the least recently used that Keep lets go; else the least recently
// used that rejects every call, whose key it remembers; else the least
// recently used of the others. Candidates are taken under evictMu and
// judged by Keep and Hold outside it; a candidate used since its scan is
// skipped (no longer among the least recently used), to be placed anew by
// the next scan.
func (r *Registry[T]) evictOne(fresh *entry[T]) bool {
	scans := 0
	for {
		r.evictMu.Lock()
		var c candidate[T]
		tier := tierNew
		switch now := r.now(); {
		case len(r.lru) > 0:
			c = r.lru[0]
			r.lru[0] = candidate[T]{}
			r.lru = r.lru[1:]
		case len(r.held) > 0:
			c, tier = r.held[0], tierHeld
			r.held[0] = candidate[T]{}
			r.held = r.held[1:]
		case len(r.kept) > 0 && (scans > 0 || now < r.rescanAt):
			// Every member judged by the last pass is held: evict from
			// the kept ones rather than scan every member again for
			// every new key (for evictBackoff after a scan).
			c, tier = r.kept[0], tierKept
			r.kept[0] = candidate[T]{}
			r.kept = r.kept[1:]
		case scans == maxScans:
			r.evictMu.Unlock()
			return false
		default:
			clear(r.kept)
			r.lru = r.collect(r.lru[:0], func(e *entry[T], _ int64) bool { return e != fresh })
			slices.SortFunc(r.lru, func(a, b candidate[T]) int { return cmp.Compare(a.last, b.last) })
			r.held, r.kept = r.held[:0], r.kept[:0]
			r.rescanAt = now + int64(evictBackoff)
			scans++
			empty := len(r.lru) == 0
			r.evictMu.Unlock()
			if empty {
				return false
			}
			continue
		}
		r.evictMu.Unlock()
		if c.e.last.Load() != c.last {
			continue
		}
		if r.judge(c, tier) {
			return true
		}
	}
}

// judge evicts the candidate c of the given tier if it may go now, or
// files it for a later tier, and reports whether it evicted it. Keep and
// Hold run again for a candidate judged before: its state may have changed
// since.
func (r *Registry[T]) judge(c candidate[T], tier int) bool {
	if !r.keep(c.e.val) {
		if r.remove(c.e, c.last) {
			r.evicted.Add(1)
			r.rememberIfHeld(c.e)
			return true
		}
		return false
	}
	if d := r.hold(c.e.val); d > 0 {
		if tier == tierNew {
			r.file(&r.held, c)
			return false
		}
		if r.removeHeld(c.e, c.last, untilAfter(r.now(), d)) {
			r.evicted.Add(1)
			r.evictedKept.Add(1)
			r.evictedHeld.Add(1)
			return true
		}
		return false
	}
	if tier != tierKept {
		r.file(&r.kept, c)
		return false
	}
	if r.remove(c.e, c.last) {
		r.evicted.Add(1)
		r.evictedKept.Add(1)
		r.rememberIfHeld(c.e)
		return true
	}
	return false
}

// rememberIfHeld remembers the key of e, a member just removed as one that
// need not be remembered, if it rejects every call after all. Keep and
// Hold judged it outside any lock, before the removal: a call through a
// reference a caller still holds may have tripped its breaker since, and
// without this the next Get would build a closed breaker and send traffic
// to the dependency the evicted one had just cut off. If a Get has built a
// new member for the key meanwhile, that member stands.
func (r *Registry[T]) rememberIfHeld(e *entry[T]) {
	d := r.hold(e.val)
	if d <= 0 {
		return
	}
	now := r.now()
	h := r.hash(e.key)
	sh := r.shardOf(h)
	sh.mu.Lock()
	if _, live := sh.m[e.key]; !live {
		// Not counted in EvictedHeld, a subset of EvictedKept: Keep
		// judged this member before it tripped.
		if r.remember(sh, h, untilAfter(now, d), now) {
			r.forgotten.Add(1)
		}
	}
	sh.mu.Unlock()
}

// file appends c to the candidates of a later tier.
func (r *Registry[T]) file(to *[]candidate[T], c candidate[T]) {
	r.evictMu.Lock()
	*to = append(*to, c)
	r.evictMu.Unlock()
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
			r.rememberIfHeld(c.e)
		}
	}
	r.evicted.Add(uint64(n))
	return n
}

// Delete removes key's member, whatever Keep says, and forgets the key if
// the registry remembers it (see Config.Hold), so that the next Get builds
// a new member. It reports whether there was a member, or a remembered
// rejection that had not ended. A Get of the key that is waiting for the
// member still gets it.
func (r *Registry[T]) Delete(key string) bool {
	h := r.hash(key)
	sh := r.shardOf(h)
	sh.mu.Lock()
	e := sh.m[key]
	if e != nil {
		delete(sh.m, key)
		r.n.Add(-1)
	}
	held := r.forget(sh, h, r.now())
	sh.mu.Unlock()
	if e == nil {
		return held
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
		EvictedKept:   r.evictedKept.Load(),
		EvictedHeld:   r.evictedHeld.Load(),
		Remembered:    r.remembered(r.now()),
		MaxRemembered: r.memoSets * numShards * ways,
		Forgotten:     r.forgotten.Load(),
		Refused:       r.refused.Load(),
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
