package breaker

import (
	"context"
	"errors"
	"math/rand/v2"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/internal/testwait"
)

const hammerers = 64

// hammer runs fn in 64 goroutines released at once and waits for them.
func hammer(fn func(g int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for g := range hammerers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			fn(g)
		}()
	}
	close(start)
	wg.Wait()
}

// Many goroutines crossing the threshold together make exactly one
// closed→open transition.
func TestConcurrentTripIsOneTransition(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"consecutive, time window", Config{ConsecutiveFailures: 10}},
		{"consecutive, count window", Config{Window: CountWindow, ConsecutiveFailures: 10}},
		{"rate, time window", Config{MinimumCalls: 20, FailureRate: 0.5}},
		{"rate, count window", Config{Window: CountWindow, WindowSize: 50, MinimumCalls: 20, FailureRate: 0.5}},
		{"consecutive of one, classified", Config{ConsecutiveFailures: 1, Classifier: fusebox.DefaultClassifier}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int64
			fired := make(chan Transition, hammerers)
			tc.cfg.OnStateChange = func(tr Transition) {
				calls.Add(1)
				fired <- tr
			}
			b, _ := mustNew(t, tc.cfg)
			const perG = 30
			var rejected atomic.Uint64
			hammer(func(int) {
				for range perG {
					if err := b.Execute(context.Background(), failFn); errors.Is(err, ErrOpen) {
						rejected.Add(1)
					} else if err != errBoom {
						t.Errorf("Execute = %v", err)
						return
					}
				}
			})
			tr := testwait.Recv(t, fired, "the trip")
			if tr.From != Closed || tr.To != Open {
				t.Fatalf("transition %v→%v, want closed→open", tr.From, tr.To)
			}
			s := b.Snapshot()
			if s.Transitions != 1 || s.State != Open {
				t.Fatalf("Transitions = %d, state %v; want exactly one, open", s.Transitions, s.State)
			}
			// Every admitted call was recorded or counted late; every other
			// one was rejected.
			if got := s.TotalCalls + s.LateOutcomes + s.Rejections; got != hammerers*perG {
				t.Errorf("recorded %d + late %d + rejected %d = %d, want %d", s.TotalCalls, s.LateOutcomes, s.Rejections, got, hammerers*perG)
			}
			if s.Rejections != rejected.Load() {
				t.Errorf("Rejections = %d, callers saw %d", s.Rejections, rejected.Load())
			}
			// Transitions == 1 means one delivery was queued; it arrived.
			if n := calls.Load(); n != 1 {
				t.Errorf("listener called %d times, want 1", n)
			}
		})
	}
}

var errIgnore = errors.New("ignore me")

// In half-open, no more than HalfOpenProbes calls are ever in flight, however
// many goroutines ask; and the breaker closes once probes succeed.
func TestConcurrentHalfOpenProbeLimit(t *testing.T) {
	for _, probes := range []int{1, 3, 8} {
		t.Run(strconv.Itoa(probes), func(t *testing.T) {
			b, clk := mustNew(t, Config{
				ConsecutiveFailures: 1, OpenDuration: time.Second, HalfOpenProbes: probes, HalfOpenMaxWait: time.Hour,
				Classifier: func(err error) fusebox.Outcome {
					if err == errIgnore {
						return fusebox.Ignored
					}
					return fusebox.DefaultClassifier(err)
				},
			})
			b.Trip()
			clk.Advance(time.Second)
			var inFlight, maxSeen atomic.Int64
			var succeed atomic.Bool
			fn := func(context.Context) error {
				n := inFlight.Add(1)
				for {
					m := maxSeen.Load()
					if n <= m || maxSeen.CompareAndSwap(m, n) {
						break
					}
				}
				runtime.Gosched()
				inFlight.Add(-1)
				if succeed.Load() {
					return nil
				}
				return errIgnore // probes that say nothing keep it half-open
			}
			var admitted atomic.Int64
			hammer(func(int) {
				for range 100 {
					if err := b.Execute(context.Background(), fn); err == nil || err == errIgnore {
						admitted.Add(1)
					} else if !errors.Is(err, ErrOpen) {
						t.Errorf("Execute = %v", err)
						return
					}
				}
			})
			if m := maxSeen.Load(); m > int64(probes) || m < 1 {
				t.Fatalf("max in flight = %d, want 1 to %d", m, probes)
			}
			s := b.Snapshot()
			if s.State != HalfOpen || s.ProbesInFlight != 0 {
				t.Fatalf("after ignored probes: state %v, %d in flight; want half-open, 0", s.State, s.ProbesInFlight)
			}
			if s.Rejections+uint64(admitted.Load()) != hammerers*100 {
				t.Errorf("rejections %d + admitted %d != %d", s.Rejections, admitted.Load(), hammerers*100)
			}
			t.Logf("max in flight %d of %d, %d admitted, %d rejected", maxSeen.Load(), probes, admitted.Load(), s.Rejections)

			succeed.Store(true)
			hammer(func(int) {
				for range 20 {
					_ = b.Execute(context.Background(), fn)
				}
			})
			if st := b.State(); st != Closed {
				t.Fatalf("state after successful probes = %v, want closed", st)
			}
		})
	}
}

// A free-for-all under -race: callers, holders of permits, operators, a
// reader and a clock all at once. The breaker must stay consistent and
// recover.
func TestConcurrentChaos(t *testing.T) {
	for _, w := range []WindowKind{TimeWindow, CountWindow} {
		t.Run(string(w), func(t *testing.T) {
			var deliveries atomic.Int64
			b, clk := mustNew(t, Config{
				Window: w, WindowSize: 20, MinimumCalls: 5, FailureRate: 0.5, ConsecutiveFailures: 4,
				OpenDuration: time.Second, MaxOpenDuration: 4 * time.Second, OpenJitter: 0.2,
				HalfOpenProbes: 2, HalfOpenMaxWait: 3 * time.Second, AutoHalfOpen: true,
				SlowCallRate: 0.9, SlowCallDuration: 500 * time.Millisecond,
				OnStateChange: func(Transition) { deliveries.Add(1) },
			})
			var rejected atomic.Uint64
			stop := make(chan struct{})
			var side sync.WaitGroup
			side.Add(2)
			go func() { // the clock
				defer side.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					clk.Advance(100 * time.Millisecond)
					runtime.Gosched()
				}
			}()
			go func() { // a reader
				defer side.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					s := b.Snapshot()
					if s.ProbesInFlight > 2 || s.FailureRate > 1 {
						t.Errorf("snapshot out of bounds: %+v", s)
						return
					}
					runtime.Gosched()
				}
			}()
			var wg sync.WaitGroup
			for g := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					rng := rand.New(rand.NewPCG(uint64(g), 42))
					var held []Permit
					for range 1500 {
						switch r := rng.IntN(100); {
						case r < 60:
							o := fusebox.Outcome(rng.IntN(3))
							p, err := b.Allow()
							if err != nil {
								rejected.Add(1)
								continue
							}
							p.Done(o)
						case r < 75:
							p, err := b.Allow()
							if err != nil {
								rejected.Add(1)
								continue
							}
							held = append(held, p)
						case r < 95:
							if len(held) > 0 {
								i := rng.IntN(len(held))
								held[i].Done(fusebox.Outcome(rng.IntN(3)))
								held = append(held[:i], held[i+1:]...)
							}
						case r < 97:
							b.Trip()
						case r < 99:
							b.Reset()
						default:
							_ = b.Execute(context.Background(), okFn)
						}
					}
					for i := range held {
						held[i].Done(fusebox.Success)
					}
				}()
			}
			wg.Wait()
			close(stop)
			side.Wait()
			s := b.Snapshot()
			if s.Rejections < rejected.Load() {
				t.Errorf("Rejections %d < rejections seen by callers %d", s.Rejections, rejected.Load())
			}
			b.Reset()
			if err := b.Execute(context.Background(), okFn); err != nil || b.State() != Closed {
				t.Fatalf("after Reset: %v, state %v", err, b.State())
			}
			t.Logf("transitions %d, rejections %d, late %d, reclaimed %d", s.Transitions, s.Rejections, s.LateOutcomes, s.ReclaimedProbes)
			if s.Transitions < 10 {
				t.Errorf("only %d transitions: the test explores too little", s.Transitions)
			}
		})
	}
}

// A rate condition that the last call completes trips the breaker whatever
// the interleaving: failures and successes race (below MinimumCalls, each
// failure arms the breaker; the success that brings the window to the
// minimum must see that), and once every call has returned a window whose
// rate reaches the threshold must have opened the breaker. Every round
// makes exactly MinimumCalls calls, half of them failures, so the last
// call to land always completes the condition.
func TestConcurrentRateTripOnSuccess(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"time window", Config{MinimumCalls: 16, FailureRate: 0.5}},
		{"count window", Config{Window: CountWindow, WindowSize: 16, MinimumCalls: 16, FailureRate: 0.5}},
		{"slow-call rate, time window", Config{MinimumCalls: 16, SlowCallRate: 0.5, SlowCallDuration: time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for round := range 200 {
				b, _ := mustNew(t, tc.cfg)
				var wg sync.WaitGroup
				start := make(chan struct{})
				for g := range 16 {
					wg.Go(func() {
						<-start
						if g%2 == 1 {
							runtime.Gosched() // mix the order
						}
						if tc.cfg.SlowCallDuration == 0 {
							o := fusebox.Success
							if g%2 == 0 {
								o = fusebox.Failure
							}
							p, err := b.Allow()
							if err != nil {
								return
							}
							p.Done(o)
							return
						}
						// Slow calls: a Permit held while the fake
						// clock moves would race the other calls'
						// timing, so fake the start instead.
						p, err := b.Allow()
						if err != nil {
							return
						}
						if g%2 == 0 {
							p.start -= int64(time.Second)
						}
						p.Done(fusebox.Success)
					})
				}
				close(start)
				wg.Wait()
				if s := b.Snapshot(); s.State != Open {
					t.Fatalf("round %d: every call returned, window %d calls, %d failures, %d slow: state %v, want open", round, s.Calls, s.Failures, s.SlowCalls, s.State)
				}
			}
		})
	}
}
