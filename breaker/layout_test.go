package breaker

import (
	"testing"
	"unsafe"
)

// TestLayout pins the cache-line layout the closed path relies on. The
// fields every call reads (the state word, the clock, the window, the
// settings, the event sink) must not share a 64-byte line with the
// consecutive-failure run, which mixed traffic writes from every core; and
// a Breaker from New must start on a line boundary for the offsets to mean
// lines (its size class, 384 bytes, is a multiple of 64). Growing the
// struct into a size class that is not, or moving consecutive back among
// the read fields, fails here rather than silently costing a cache miss per
// call under contention.
func TestLayout(t *testing.T) {
	const line = 64
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("the layout is tuned for 64-bit platforms")
	}
	var b Breaker
	hot := []struct {
		name     string
		off, end uintptr
	}{
		{"word", unsafe.Offsetof(b.word), unsafe.Offsetof(b.word) + unsafe.Sizeof(b.word)},
		{"coarse", unsafe.Offsetof(b.coarse), unsafe.Offsetof(b.coarse) + unsafe.Sizeof(b.coarse)},
		{"tw", unsafe.Offsetof(b.tw), unsafe.Offsetof(b.tw) + unsafe.Sizeof(b.tw)},
		{"cw", unsafe.Offsetof(b.cw), unsafe.Offsetof(b.cw) + unsafe.Sizeof(b.cw)},
		{"fast", unsafe.Offsetof(b.fast), unsafe.Offsetof(b.fast) + unsafe.Sizeof(b.fast)},
		{"s", unsafe.Offsetof(b.s), unsafe.Offsetof(b.s) + unsafe.Sizeof(b.s)},
		{"events", unsafe.Offsetof(b.events), unsafe.Offsetof(b.events) + unsafe.Sizeof(b.events)},
	}
	run := unsafe.Offsetof(b.consecutive) / line
	for _, f := range hot {
		if f.off/line <= run && run <= (f.end-1)/line {
			t.Errorf("consecutive (line %d) shares a cache line with %s (bytes %d to %d)", run, f.name, f.off, f.end)
		}
	}
	if size := unsafe.Sizeof(b); size <= 352 || size > 384 {
		t.Errorf("Breaker is %d bytes, out of the 384-byte size class (353 to 384), whose objects start on %d-byte boundaries; recheck the layout", size, line)
	}
	for i := range 16 {
		nb, err := New(Config{})
		if err != nil {
			t.Fatal(err)
		}
		if p := uintptr(unsafe.Pointer(nb)); p%line != 0 {
			t.Fatalf("breaker %d from New at %#x, not on a %d-byte boundary", i, p, line)
		}
	}
}
