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
//   - At most MaxKeys members are kept. A Get that creates a key when the
//     registry is full evicts the least recently used evictable member.
//     When no member is evictable the new member is created all the same
//     (a registry never refuses service) and the event is counted in
//     Stats.OverCap.
//
// # What is never evicted
//
// Evicting a member forgets its state, and some state must not be
// forgotten: a breaker that is open protects a dependency that is failing,
// and a new breaker in its place would send it full traffic at once. The
// Keep rule (Config.Keep, [DefaultKeep] by default) names the members to
// keep whatever their idleness: by default, circuit breakers that are open,
// half-open or forced open, bulkheads with calls in flight or queued, token
// buckets not yet refilled, and pipelines (anything with a Policies method)
// that hold one of those. Once such a member is back to rest (the breaker
// has closed, say) and idles, it goes like any other.
//
// Eviction only drops the registry's reference: a caller that got a member
// from Get just before its eviction may finish using it, and the next Get of
// the key builds a fresh one.
package registry
