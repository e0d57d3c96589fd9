package testwait

import (
	"runtime"
	"testing"
	"time"
)

// HeapAlloc returns the bytes of live heap objects, after two collections:
// the second frees what sync.Pools kept through the first.
func HeapAlloc() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// HeapGrowth returns how far the heap has grown since before (a HeapAlloc
// reading), once it is at most bound: it measures again until then, so
// that what goroutines still finishing their work hold (a server's last
// requests) is let go first. It fails the test, with the last reading, if
// the heap is still over bound after Limit.
func HeapGrowth(t testing.TB, before, bound int64) int64 {
	t.Helper()
	deadline := time.Now().Add(Limit)
	for {
		grown := HeapAlloc() - before
		if grown <= bound {
			return grown
		}
		if time.Now().After(deadline) {
			t.Fatalf("the heap grew %d bytes and stayed over %d bytes for %v", grown, bound, Limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
