package breaker

import (
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/fusebox-go/fusebox/internal/testwait"
)

// A listener that ends its goroutine with runtime.Goexit (as t.FailNow,
// t.Fatal and t.SkipNow called from a listener do) is neither a return nor
// a panic. It is counted as a panic, and delivery goes on from a new
// goroutine: the later transitions reach every listener. (Before the fix
// the delivery goroutine exited with the queue marked as being delivered,
// and every later transition piled up in it undelivered. Found by review.)
func TestListenerGoexitDoesNotStopDelivery(t *testing.T) {
	b, _ := mustNew(t, Config{})
	var first atomic.Bool
	var delivered atomic.Int64
	b.OnStateChange(func(Transition) {
		if first.CompareAndSwap(false, true) {
			runtime.Goexit()
		}
	})
	b.OnStateChange(func(Transition) { delivered.Add(1) })
	b.Trip()  // Closed → Open: the first listener exits its goroutine
	b.Reset() // Open → Closed
	b.Trip()  // Closed → Open
	testwait.Eventually(t, "the two later transitions delivered to the second listener", func() bool {
		return delivered.Load() == 2
	})
	if n := b.Snapshot().ListenerPanics; n != 1 {
		t.Fatalf("ListenerPanics = %d, want 1 (the Goexit)", n)
	}
}
