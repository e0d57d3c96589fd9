package ratelimit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash/maphash"
	"strings"
	"sync"
	"time"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/clock"
)

// Defaults of a KeyedConfig.
const (
	// DefaultMaxKeys is the MaxKeys of a KeyedConfig that leaves it zero.
	DefaultMaxKeys = 10000
	// DefaultIdleTimeout is the IdleTimeout of a KeyedConfig that leaves
	// it zero.
	DefaultIdleTimeout = time.Minute
)

// MaxKeyLen is the most bytes of a key that a Keyed limiter keeps as they
// are. A longer key is kept as a digest of the whole key: "sha256:" and the
// 64 hex digits of its SHA-256, 71 bytes, longer than any key kept as it
// is, so that no short key can share a long key's bucket, and two long keys
// share one only if their SHA-256s collide. A key's memory is so bounded
// whatever its length: keys read from a request (a header, a metadata
// value) may be as long as the server lets a client make them, megabytes,
// and ten thousand of them would otherwise be held at full size. The
// digest is also the key EventRejected names. Hashing costs time in
// proportion to the key, on every call with a long key.
const MaxKeyLen = 64

// digestPrefix begins the form a key longer than MaxKeyLen is kept in.
const digestPrefix = "sha256:"

// storedKey returns the form key is kept in: key itself, or for a key
// longer than MaxKeyLen its digest.
func storedKey(key string) string {
	if len(key) <= MaxKeyLen {
		return key
	}
	// Hashed a chunk at a time, rather than through []byte(key): no copy
	// of the whole key.
	h := sha256.New()
	var chunk [1024]byte
	for rest := key; rest != ""; {
		n := copy(chunk[:], rest)
		h.Write(chunk[:n])
		rest = rest[n:]
	}
	var sum [sha256.Size]byte
	var b [len(digestPrefix) + 2*sha256.Size]byte
	copy(b[:], digestPrefix)
	hex.Encode(b[len(digestPrefix):], h.Sum(sum[:0]))
	return string(b[:])
}

// maxShards is how many shards a Keyed spreads its keys over: enough that
// goroutines on different keys rarely meet on a lock.
const maxShards = 32

// sweepPerCall bounds how many idle keys one Allow forgets.
const sweepPerCall = 2

// KeyedConfig configures a Keyed limiter. Rate has no default: the zero
// KeyedConfig is rejected by NewKeyed.
type KeyedConfig struct {
	// Name identifies the limiter in events.
	Name string `json:"name" yaml:"name"`
	// Rate is how many tokens each key's bucket gains per second.
	// Required; the range, and the rounding at high rates, are
	// Config.Rate's.
	Rate float64 `json:"rate" yaml:"rate"`
	// Burst is the capacity of each key's bucket. Zero means ceil(Rate),
	// at least 1; negative values are an error.
	Burst int `json:"burst" yaml:"burst"`
	// MaxKeys caps how many keys are remembered at once. Zero means
	// DefaultMaxKeys (10000); negative values are an error. When a new key
	// finds the cap reached, the least recently used key of its shard is
	// forgotten to make room (see Keyed).
	MaxKeys int `json:"maxKeys" yaml:"maxKeys"`
	// IdleTimeout is how long a key must go unused before it may be
	// forgotten; a key is also kept until its bucket is full again
	// (Burst/Rate after its last use), so forgetting it loses nothing.
	// Zero means DefaultIdleTimeout (1m); negative values are an error.
	IdleTimeout time.Duration `json:"idleTimeout" yaml:"idleTimeout"`
	// Clock supplies the time; nil means clock.Default().
	Clock clock.Clock `json:"-" yaml:"-"`
	// Events, when set, receives an EventRejected (Policy "ratelimit",
	// Reason "rate limited: key=" and the key, or its digest for a key
	// longer than MaxKeyLen) for every call Allow or Run
	// refuses. The event is built, and the Reason allocated, only when the
	// bus has a subscriber. nil means no events.
	Events *fusebox.Events `json:"-" yaml:"-"`
}

// Keyed is a set of token buckets, one per key (a client, a tenant, a
// route), each with the same Rate and Burst, in bounded memory. A key seen
// for the first time gets a full bucket. It is safe for concurrent use;
// create one with NewKeyed.
//
// Keys are spread over up to 32 shards, each a map under its own mutex, so
// goroutines working on different keys rarely contend. Allow for a key
// already known, of at most MaxKeyLen bytes, allocates nothing.
//
// Memory stays bounded in two ways. A key unused for IdleTimeout whose
// bucket has refilled is forgotten, which loses nothing since a new key
// starts with a full bucket: each Allow forgets up to two such keys of its
// shard, and Sweep forgets them all. And at most MaxKeys keys are kept: a
// new key that finds its shard at its share of MaxKeys evicts the shard's
// least recently used key, whose bucket, if not yet refilled, is forgotten
// early, so that key may briefly get more than its rate. New keys are never
// rejected for lack of room: under a flood of new keys (random client IDs)
// the limiter stays correct for every key it remembers and degrades to
// forgetting the quietest. Nor can long keys take much memory: a key longer
// than MaxKeyLen bytes is kept as a fixed-size digest.
type Keyed struct {
	// Read-only after NewKeyed.
	g        gcra
	maxKeys  int
	idle     time.Duration
	evictAge int64 // max(idle, tau): unused this long, a key may go
	clk      clock.Clock
	name     string
	events   *fusebox.Events
	seed     maphash.Seed
	mask     uint64
	shards   []keyedShard
}

type keyedShard struct {
	mu         sync.Mutex
	m          map[string]*keyEntry // requires mu
	head, tail *keyEntry            // requires mu; recency list, head is the most recent
	max        int                  // this shard's share of MaxKeys

	// Counters; require mu.
	allowed, rejected, idleEvicted, capEvicted uint64

	_ [64]byte // keep neighbouring shards' locks off one cache line
}

// keyEntry is one key's bucket (in GCRA form, see gcra) and its place in
// the shard's recency list.
type keyEntry struct {
	key        string
	tat        int64 // the bucket's theoretical arrival time
	last       int64 // Nanotime of the last Allow
	prev, next *keyEntry
}

// NewKeyed returns a Keyed limiter configured by c, or an error naming the
// first field that is out of range.
func NewKeyed(c KeyedConfig) (*Keyed, error) {
	g, err := newGCRA(c.Rate, c.Burst)
	if err != nil {
		return nil, err
	}
	if c.MaxKeys < 0 {
		return nil, fmt.Errorf("ratelimit: MaxKeys %d out of range: want 0 (default %d) or more", c.MaxKeys, DefaultMaxKeys)
	}
	if c.IdleTimeout < 0 {
		return nil, fmt.Errorf("ratelimit: IdleTimeout %v out of range: want 0 (default %v) or more", c.IdleTimeout, DefaultIdleTimeout)
	}
	k := &Keyed{g: g, maxKeys: c.MaxKeys, idle: c.IdleTimeout, clk: c.Clock, name: c.Name, events: c.Events, seed: maphash.MakeSeed()}
	if k.maxKeys == 0 {
		k.maxKeys = DefaultMaxKeys
	}
	if k.idle == 0 {
		k.idle = DefaultIdleTimeout
	}
	k.evictAge = max(int64(k.idle), g.tau)
	if k.clk == nil {
		k.clk = clock.Default()
	}
	// A power of two no larger than maxKeys, so every shard may hold a key
	// and the shares add up to exactly maxKeys.
	n := maxShards
	for n > k.maxKeys {
		n /= 2
	}
	k.mask = uint64(n - 1)
	k.shards = make([]keyedShard, n)
	for i := range k.shards {
		sh := &k.shards[i]
		sh.m = make(map[string]*keyEntry)
		sh.max = k.maxKeys / n
		if i < k.maxKeys%n {
			sh.max++
		}
	}
	return k, nil
}

// Rate returns the configured rate per key in tokens per second.
func (k *Keyed) Rate() float64 { return k.g.rate }

// Burst returns each key's bucket capacity in tokens.
func (k *Keyed) Burst() int { return k.g.burst }

func (k *Keyed) shard(key string) *keyedShard {
	return &k.shards[maphash.String(k.seed, key)&k.mask]
}

// Allow takes a token from key's bucket if one is there and reports whether
// it did.
func (k *Keyed) Allow(key string) bool {
	return k.allowAt(key, k.clk.Nanotime())
}

// allowAt is Allow at the given Nanotime reading.
func (k *Keyed) allowAt(key string, now int64) bool {
	key = storedKey(key)
	sh := k.shard(key)
	sh.mu.Lock()
	e := sh.m[key]
	if e == nil {
		e = sh.add(key, now, k.evictAge)
	} else {
		sh.unlink(e)
		sh.pushFront(e)
		e.last = now
		// e is at the front now, and just used: the sweep stops before it.
		sh.sweep(now, k.evictAge, sweepPerCall)
	}
	next, ok := k.g.take(e.tat, now, k.g.interval)
	if ok {
		e.tat = next
		sh.allowed++
	} else {
		sh.rejected++
	}
	sh.mu.Unlock()
	if !ok && k.events.Enabled() {
		publishRejected(k.events, k.name, k.clk, reasonRateLimited+": key="+key, ErrRateLimited)
	}
	return ok
}

// add makes an entry with a full bucket for a new key, first making room.
// Requires sh.mu held.
func (sh *keyedShard) add(key string, now, evictAge int64) *keyEntry {
	sh.sweep(now, evictAge, sweepPerCall)
	var e *keyEntry
	if len(sh.m) >= sh.max {
		e = sh.tail
		sh.unlink(e)
		delete(sh.m, e.key)
		sh.capEvicted++
		*e = keyEntry{}
	} else {
		e = new(keyEntry)
	}
	// A copy, so the map does not keep a caller's larger buffer alive.
	e.key = strings.Clone(key)
	e.tat = now // full
	e.last = now
	sh.m[e.key] = e
	sh.pushFront(e)
	return e
}

// sweep forgets up to limit keys, least recently used first, that have been
// unused for evictAge (limit < 0: all of them). It returns how many it
// forgot. Requires sh.mu held.
func (sh *keyedShard) sweep(now, evictAge int64, limit int) int {
	n := 0
	for n != limit {
		e := sh.tail
		if e == nil || now-e.last < evictAge {
			break
		}
		sh.unlink(e)
		delete(sh.m, e.key)
		sh.idleEvicted++
		n++
	}
	return n
}

// pushFront requires sh.mu held and e unlinked.
func (sh *keyedShard) pushFront(e *keyEntry) {
	e.prev, e.next = nil, sh.head
	if sh.head != nil {
		sh.head.prev = e
	} else {
		sh.tail = e
	}
	sh.head = e
}

// unlink requires sh.mu held and e linked.
func (sh *keyedShard) unlink(e *keyEntry) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		sh.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		sh.tail = e.prev
	}
	e.prev, e.next = nil, nil
}

// Sweep forgets every key that has been unused for IdleTimeout and whose
// bucket has refilled, and returns how many it forgot. Allow already does
// this a little at a time; call Sweep periodically when many keys go quiet
// at once and their memory should be returned promptly.
func (k *Keyed) Sweep() int {
	now := k.clk.Nanotime()
	n := 0
	for i := range k.shards {
		sh := &k.shards[i]
		sh.mu.Lock()
		n += sh.sweep(now, k.evictAge, -1)
		sh.mu.Unlock()
	}
	return n
}

// Len returns how many keys are remembered.
func (k *Keyed) Len() int {
	n := 0
	for i := range k.shards {
		sh := &k.shards[i]
		sh.mu.Lock()
		n += len(sh.m)
		sh.mu.Unlock()
	}
	return n
}

type keyContextKey struct{}

// WithKey returns a copy of ctx that carries key, the key a Keyed limiter's
// Run and Execute limit the call by.
func WithKey(ctx context.Context, key string) context.Context {
	return context.WithValue(ctx, keyContextKey{}, key)
}

// KeyFromContext returns the key WithKey put in ctx, if any.
func KeyFromContext(ctx context.Context) (string, bool) {
	key, ok := ctx.Value(keyContextKey{}).(string)
	return key, ok
}

// Run runs next if the bucket of the key in ctx (see WithKey) has a token,
// and returns ErrRateLimited without running it otherwise. Calls whose
// context carries no key share the bucket of the empty key "".
func (k *Keyed) Run(ctx context.Context, next fusebox.Next) error {
	key, _ := KeyFromContext(ctx)
	if !k.allowAt(key, k.clk.Nanotime()) {
		return ErrRateLimited
	}
	return next.Run(ctx)
}

// Execute runs fn under the limiter: Run with fusebox.NextFunc(fn).
func (k *Keyed) Execute(ctx context.Context, fn func(context.Context) error) error {
	return k.Run(ctx, fusebox.NextFunc(fn))
}

// KeyedSnapshot is a point-in-time view of a Keyed limiter. Counters only
// grow.
type KeyedSnapshot struct {
	// Rate is the configured Rate of each key's bucket, in tokens per
	// second.
	Rate float64 `json:"rate" yaml:"rate"`
	// Burst is the effective capacity of each key's bucket, in tokens, 1
	// or more.
	Burst int `json:"burst" yaml:"burst"`
	// MaxKeys is the effective cap on remembered keys, 1 or more.
	MaxKeys int `json:"maxKeys" yaml:"maxKeys"`
	// IdleTimeout is the effective idle time before a key may be
	// forgotten; in JSON, nanoseconds.
	IdleTimeout time.Duration `json:"idleTimeout" yaml:"idleTimeout"`
	// Keys is how many keys are remembered.
	Keys int `json:"keys" yaml:"keys"`
	// Allowed counts the calls Allow (and Run) let through, all keys
	// together.
	Allowed uint64 `json:"allowed" yaml:"allowed"`
	// Rejected counts the calls Allow (and Run) refused, all keys
	// together.
	Rejected uint64 `json:"rejected" yaml:"rejected"`
	// IdleEvictions counts keys forgotten for being idle with a full
	// bucket.
	IdleEvictions uint64 `json:"idleEvictions" yaml:"idleEvictions"`
	// CapacityEvictions counts keys forgotten to stay within MaxKeys
	// (their buckets perhaps not full: such a key starts afresh).
	CapacityEvictions uint64 `json:"capacityEvictions" yaml:"capacityEvictions"`
}

// Snapshot returns the limiter's current state and counters, summed shard
// by shard.
func (k *Keyed) Snapshot() KeyedSnapshot {
	s := KeyedSnapshot{Rate: k.g.rate, Burst: k.g.burst, MaxKeys: k.maxKeys, IdleTimeout: k.idle}
	for i := range k.shards {
		sh := &k.shards[i]
		sh.mu.Lock()
		s.Keys += len(sh.m)
		s.Allowed += sh.allowed
		s.Rejected += sh.rejected
		s.IdleEvictions += sh.idleEvicted
		s.CapacityEvictions += sh.capEvicted
		sh.mu.Unlock()
	}
	return s
}
