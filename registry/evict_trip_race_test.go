package registry

import (
	"errors"
	"testing"
	"time"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/breaker"
	"github.com/fusebox-go/fusebox/clock"
)

// Cap eviction judges a member with Keep (and Hold) outside any lock, then
// removes it under the shard lock. A breaker that trips between the
// judgement ("closed: may go") and the removal must still have its key
// remembered, or the next Get builds a new, closed breaker that sends
// traffic at once to the dependency the evicted one had just cut off. The
// Keep below trips the breaker right after DefaultKeep judged it, as a
// failing call through a reference held by a caller (no Get, so its last
// use does not move) would at that moment. Found by review.
func TestEvictionRacingATripRemembersTheKey(t *testing.T) {
	fc := clock.NewFake(time.Time{})
	var target *breaker.Breaker
	r, err := New(Config[*breaker.Breaker]{
		New: func(key string) (*breaker.Breaker, error) {
			return breaker.New(breaker.Config{Name: key, Clock: fc, OpenDuration: time.Minute})
		},
		MaxKeys: 1,
		Clock:   fc,
		Keep: func(b *breaker.Breaker) bool {
			k := DefaultKeep(b)
			if b == target {
				b.Trip() // a concurrent call trips it here
			}
			return k
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	target, err = r.Get("a")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Get("b"); err != nil { // full: evicts "a"
		t.Fatal(err)
	}
	if target.State() != breaker.Open {
		t.Fatalf("evicted breaker state %v, want open", target.State())
	}
	b, err := r.Get("a")
	if errors.Is(err, fusebox.ErrOpen) {
		return // remembered: fine
	}
	t.Errorf("Get(a) after evicting its breaker while open (%v left): err %v, new member in state %v: traffic goes through", target.Snapshot().RetryAfter, err, b.State())
}
