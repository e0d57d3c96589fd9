package percpu

import (
	"sync"
	"sync/atomic"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestCounterCountsEveryIncrementUnderContention(t *testing.T) {
	c := New()
	const goroutines, each = 16, 20000
	var wg sync.WaitGroup
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				c.Add(1)
			}
		}()
	}
	wg.Wait()
	if got := c.Load(); got != goroutines*each {
		t.Fatalf("Load = %d, want %d", got, goroutines*each)
	}
}

func TestCounterSpillsBeyondSlots(t *testing.T) {
	c := &Counter{} // no slots: every P id is beyond them
	c.Add(3)
	c.Add(4)
	if got := c.Load(); got != 7 {
		t.Fatalf("Load = %d, want 7", got)
	}
}

func TestNilCounterLoadsZero(t *testing.T) {
	var c *Counter
	if c.Load() != 0 {
		t.Fatal("nil counter is not zero")
	}
}

func TestAddAllocatesNothing(t *testing.T) {
	c := New()
	if n := testing.AllocsPerRun(1000, func() { c.Add(1) }); n != 0 {
		t.Fatalf("Add allocates %v", n)
	}
}

// BenchmarkCounter compares the striped counter with one shared atomic, on
// one goroutine (serial) and on every P (parallel). These are the two ways
// to count exactly without a lock; serial, the pinned increment is the
// cheaper by half, and it is the floor of an exactly counted breaker
// rejection (docs/BENCHMARKS.md).
func BenchmarkCounter(b *testing.B) {
	b.Run("percpu/serial", func(b *testing.B) {
		c := New()
		for b.Loop() {
			c.Add(1)
		}
	})
	b.Run("atomic/serial", func(b *testing.B) {
		var c atomic.Uint64
		for b.Loop() {
			c.Add(1)
		}
	})
	b.Run("percpu", func(b *testing.B) {
		c := New()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				c.Add(1)
			}
		})
	})
	b.Run("atomic", func(b *testing.B) {
		var c atomic.Uint64
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				c.Add(1)
			}
		})
	})
}
