package registry

import (
	"math"
	"strconv"
	"time"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/clock"
)

// HoldForever is what a Hold function returns for a member that rejects
// every call with no end in sight, as a breaker forced open does: the
// registry remembers its key until Delete, or until the table of
// remembered keys needs the room (see Config.MaxRemembered).
const HoldForever = time.Duration(math.MaxInt64)

// ways is how many records one set of the table of remembered keys holds:
// a key's hash picks its set, and a full set gives up the record whose
// rejection ends first.
const ways = 8

// maxRemembered is the largest capacity of the table of remembered keys:
// 2^22 records, 64 MiB, whatever MaxRemembered (or MaxKeys) asks for.
const maxRemembered = 1 << 22

// recordSize is the size of a record in bytes, for the documentation and
// the tests: the table costs recordSize × its capacity, whatever the keys.
const recordSize = 16

// record is a remembered key: a 64-bit hash of the key (never 0; 0 marks a
// free record) and the Nanotime of the registry's clock until which the
// key's evicted member rejected every call (math.MaxInt64: forever). The
// key itself is not kept, so a record costs 16 bytes however long the key.
type record struct {
	hash  uint64
	until int64
}

// recordHash is the hash a record keeps for the key hash h.
func recordHash(h uint64) uint64 {
	if h == 0 {
		return 1
	}
	return h
}

// setOf returns the set of shard sh's records in which the key hash h
// lives: the shard is picked by h%numShards, the set by the bits above.
func (r *Registry[T]) setOf(sh *shard[T], h uint64) []record {
	if sh.memo == nil {
		return nil
	}
	i := int((h/numShards)%uint64(r.memoSets)) * ways
	return sh.memo[i : i+ways : i+ways]
}

// heldUntil returns until when the key of hash h is to be refused, or 0
// when it is not (or no longer) remembered at the reading now. Requires
// sh.mu, read or write.
func (r *Registry[T]) heldUntil(sh *shard[T], h uint64, now int64) int64 {
	want := recordHash(h)
	for _, rec := range r.setOf(sh, h) {
		if rec.hash == want {
			if rec.until > now {
				return rec.until
			}
			return 0
		}
	}
	return 0
}

// remember records that the key of hash h is to be refused until the
// Nanotime until. A full set gives up its record whose rejection ends
// first; remember reports whether that record's had not yet ended.
// Requires sh.mu held for writing.
func (r *Registry[T]) remember(sh *shard[T], h uint64, until, now int64) (forgot bool) {
	if sh.memo == nil {
		sh.memo = make([]record, r.memoSets*ways)
	}
	want := recordHash(h)
	set := r.setOf(sh, h)
	victim := -1
	for i, rec := range set {
		if rec.hash == want {
			victim = i
			break
		}
	}
	if victim < 0 {
		victim = 0
		for i, rec := range set {
			if rec.hash == 0 || rec.until <= now {
				victim = i
				break
			}
			if rec.until < set[victim].until {
				victim = i
			}
		}
	}
	old := set[victim]
	forgot = old.hash != 0 && old.hash != want && old.until > now
	set[victim] = record{hash: want, until: until}
	return forgot
}

// forget drops the record of the key of hash h, if any, and reports
// whether there was one whose rejection had not ended. Requires sh.mu held
// for writing.
func (r *Registry[T]) forget(sh *shard[T], h uint64, now int64) bool {
	want := recordHash(h)
	set := r.setOf(sh, h)
	for i, rec := range set {
		if rec.hash == want {
			set[i] = record{}
			return rec.until > now
		}
	}
	return false
}

// remembered counts the records whose rejection has not ended at now.
func (r *Registry[T]) remembered(now int64) int {
	n := 0
	for i := range r.shards {
		sh := &r.shards[i]
		sh.mu.RLock()
		for _, rec := range sh.memo {
			if rec.hash != 0 && rec.until > now {
				n++
			}
		}
		sh.mu.RUnlock()
	}
	return n
}

// untilAfter returns the Nanotime d after now, saturated at math.MaxInt64
// (forever) rather than wrapped.
func untilAfter(now int64, d time.Duration) int64 {
	if d >= HoldForever || (now > 0 && int64(d) > math.MaxInt64-now) {
		return math.MaxInt64
	}
	return now + int64(d)
}

// nanoClock reads a clock's Nanotime, through a coarse clock's inlinable
// method when it is one.
type nanoClock struct {
	clk    clock.Clock
	coarse *clock.Coarse
}

func (c *nanoClock) now() int64 {
	if c.coarse != nil {
		return c.coarse.Nanotime()
	}
	return c.clk.Nanotime()
}

// HeldError is the error of Get for a key the registry remembers: its
// member was evicted, to keep the registry within MaxKeys, while it
// rejected every call (an open circuit breaker, say; see Config.Hold), and
// that rejection has not ended. The registry rejects on the member's
// behalf until then, building no member. HeldError matches fusebox.ErrOpen
// with errors.Is, as the breaker's own rejection would.
type HeldError struct {
	// Key is the key asked for.
	Key   string
	until int64 // Nanotime of the registry's clock; math.MaxInt64: forever
	clk   *nanoClock
}

// Error returns a message naming the key.
func (e *HeldError) Error() string {
	if e.until == math.MaxInt64 {
		return "registry: key " + strconv.Quote(e.Key) + ": evicted while rejecting every call, with no end: rejected until Delete"
	}
	return "registry: key " + strconv.Quote(e.Key) + ": evicted while rejecting every call: rejected for " + e.RetryAfter().String() + " more"
}

// Is reports whether target is fusebox.ErrOpen.
func (e *HeldError) Is(target error) bool { return target == fusebox.ErrOpen }

// Unwrap returns fusebox.ErrOpen.
func (e *HeldError) Unwrap() error { return fusebox.ErrOpen }

// RetryAfter returns how long until the key's rejection ends: after it,
// Get builds the key a new member. It is 0 for a rejection with no end (a
// member that was forced open), as breaker.OpenError's is for a breaker
// forced open.
func (e *HeldError) RetryAfter() time.Duration {
	if e.until == math.MaxInt64 {
		return 0
	}
	now := e.clk.now()
	if e.until <= now {
		return 0
	}
	return time.Duration(e.until - now)
}
