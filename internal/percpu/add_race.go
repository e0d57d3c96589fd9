//go:build race

package percpu

import "sync/atomic"

// add is atomic under the race detector, which cannot know that pinning
// makes a plain increment safe.
func add(p *uint64, n uint64) { atomic.AddUint64(p, n) }

// AddOwned adds n to *p, which only code pinned to the caller's P writes.
func AddOwned(p *uint64, n uint64) { atomic.AddUint64(p, n) }

// StoreOwned sets *p, which only code pinned to the caller's P writes.
func StoreOwned(p *uint64, v uint64) { atomic.StoreUint64(p, v) }

// StoreOwnedInt sets *p, which only code pinned to the caller's P writes.
func StoreOwnedInt(p *int64, v int64) { atomic.StoreInt64(p, v) }

// LoadOwned reads *p, which only code pinned to the caller's P writes.
func LoadOwned(p *uint64) uint64 { return atomic.LoadUint64(p) }

// LoadOwnedInt reads *p, which only code pinned to the caller's P writes.
func LoadOwnedInt(p *int64) int64 { return atomic.LoadInt64(p) }
