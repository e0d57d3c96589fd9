// Package registry keeps named policies (or whole pipelines) created lazily,
// one per key: a circuit breaker per downstream host, a rate limiter per
// tenant, a pipeline per route. A [Registry] builds a key's member the first
// time the key is asked for, from a factory (Config.New, or a per-key
// override in Config.Overrides), and hands the same member back for every
// later Get of that key.
//
// # Concurrency
//
// Get of a key that exists takes one read lock on the key's shard and
// allocates nothing. Get of a new key runs the factory exactly once, outside
// any lock, however many goroutines ask for the key at the same moment: the
// others wait for that one result. A factory error goes to every waiter and
// is not kept: the next Get tries again.
//
// # Bounded memory
//
// Keys come and go (hosts are replaced, tenants leave), so a registry forgets
// members nobody uses:
//
//   - A member unused (no Get) for IdleTimeout is evicted by the next sweep.
//     Sweeps run lazily, from a Get that creates a key when a SweepInterval
//     has passed since the last one (memory only grows when keys are
//     created, so that is when it needs reclaiming; that Get pays for a
//     pass over every key), on demand with
//     [Registry.Sweep], and, once [Registry.Start] is called, from a
//     background goroutine that [Registry.Close] stops. Without Start the
//     registry runs no goroutine of its own.
//   - At most MaxKeys members are kept, whatever their state: MaxKeys is a
//     hard bound. A Get that creates a key when the registry is full
//     evicts the least recently used member, in this order of preference:
//     one the Keep rule lets go; else one that rejects every call (an open
//     breaker), whose key is then remembered (see below); else any other.
//     Only members still being built are never evicted: a new member
//     created while every other one is being built takes the registry
//     past MaxKeys for that while (counted in Stats.OverCap).
//   - At most MaxRemembered keys (4 × MaxKeys by default, rounded up to a
//     multiple of 256) are remembered, at 16 bytes each: memory stays
//     bounded however many keys callers make up (a client told to call
//     webhook URLs on ever new dead hosts, say).
//
// # What eviction keeps
//
// Evicting a member forgets its state, and some state should not be
// forgotten: a breaker that is open protects a dependency that is failing,
// and a new breaker in its place would send it full traffic at once. The
// Keep rule (Config.Keep, [DefaultKeep] by default) names the members that
// hold such state: by default, circuit breakers that are open, half-open or
// forced open, bulkheads with calls in flight or queued, token buckets not
// yet refilled, and pipelines (anything with a Policies method) that hold
// one of those. The idle sweep never evicts them; once such a member is
// back to rest (the breaker has closed, say) and idles, it goes like any
// other. The cap evicts them only when every member is held.
//
// The rule for open breakers: evicting one never sends traffic to its
// dependency before its open period ends. When the cap evicts a member
// that rejects every call (Config.Hold, [DefaultHold] by default: an open
// breaker for the rest of its open period, a forced-open one with no end,
// a pipeline holding one of those), the registry remembers a 64-bit hash
// of the key and the instant the rejection ends, and until then Get of the
// key returns a [*HeldError], which matches fusebox.ErrOpen and tells the
// time left through RetryAfter, and builds no member. After that instant
// Get builds a new member, as for a new key: a new breaker starts closed
// and judges the dependency afresh, without the evicted one's half-open
// probing and open-duration backoff. A forced-open key stays refused until
// Delete. A half-open breaker admits probes rather than rejecting every
// call, so it is not remembered: it is evicted only after every open one,
// and its key starts afresh.
//
// The remembered keys live in a table of MaxRemembered records: a key's
// hash picks a set of 8 records, and a full set gives up the record whose
// rejection ends first (an ended one first of all). A key given up that
// way (counted in Stats.Forgotten) starts afresh at its next Get, before
// its rejection would have ended: size MaxRemembered for the number of
// distinct keys evicted within one open period.
//
// Eviction only drops the registry's reference: a caller that got a member
// from Get just before its eviction may finish using it, and the next Get of
// the key builds a fresh one (or is refused, as above).
package registry
