//go:build !race

package percpu

// add is a plain increment: the caller has pinned its P, so no other
// goroutine writes the slot meanwhile. Loads elsewhere read it atomically;
// a word-sized aligned store is never torn.
func add(p *uint64, n uint64) { *p += n }

// AddOwned adds n to *p, which only code pinned to the caller's P writes.
func AddOwned(p *uint64, n uint64) { *p += n }

// StoreOwned sets *p, which only code pinned to the caller's P writes.
func StoreOwned(p *uint64, v uint64) { *p = v }

// StoreOwnedInt sets *p, which only code pinned to the caller's P writes.
func StoreOwnedInt(p *int64, v int64) { *p = v }

// LoadOwned reads *p, which only code pinned to the caller's P writes.
func LoadOwned(p *uint64) uint64 { return *p }

// LoadOwnedInt reads *p, which only code pinned to the caller's P writes.
func LoadOwnedInt(p *int64) int64 { return *p }
