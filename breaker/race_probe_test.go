package breaker

import (
	"sync"
	"testing"
	"time"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/clock"
	"github.com/fusebox-go/fusebox/internal/testwait"
)

// A probe finishing at the very moment its slot is reclaimed must not free
// the slot the reclaimer now holds: HalfOpenProbes is a hard limit.
func TestProbeDoneRacesReclaim(t *testing.T) {
	b, clk := mustNew(t, Config{ConsecutiveFailures: 1, OpenDuration: time.Second, HalfOpenProbes: 1, HalfOpenMaxWait: time.Second})
	b.Trip()
	clk.Advance(time.Second)
	violations := 0
	for i := range 10000 {
		old, err := b.Allow()
		if err != nil {
			t.Fatalf("iteration %d: the slot should be free: %v", i, err)
		}
		clk.Advance(time.Second) // old may now be reclaimed
		var fresh Permit
		var ferr error
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); old.Done(fusebox.Ignored) }()
		go func() { defer wg.Done(); fresh, ferr = b.Allow() }()
		wg.Wait()
		if ferr == nil {
			// fresh holds the only slot: nobody else may get in.
			if extra, err := b.Allow(); err == nil {
				violations++
				extra.Done(fusebox.Ignored)
			}
			fresh.Done(fusebox.Ignored)
		}
		if b.State() != HalfOpen {
			t.Fatalf("state %v", b.State())
		}
	}
	if violations > 0 {
		t.Fatalf("%d times two probes held the one slot", violations)
	}
}

// A caller reads the state word, then takes a probe slot by
// compare-and-swap: a transition can come between the two. One that read
// the half-open word just before the breaker re-opened used to be admitted
// by the open breaker (with a free slot, or by reclaiming a stuck one).
// acquireProbe now re-checks the word after its compare-and-swap and gives
// the slot back.
func TestStaleHalfOpenCallerNotAdmittedAfterOpen(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, b *Breaker, clk *clock.Fake) (reopen func())
	}{
		{"free slot", func(t *testing.T, b *Breaker, _ *clock.Fake) func() {
			probe, err := b.Allow()
			if err != nil {
				t.Fatal(err)
			}
			return func() { probe.Done(fusebox.Failure) } // the probe fails: open
		}},
		{"stuck slot", func(t *testing.T, b *Breaker, clk *clock.Fake) func() {
			for range 2 { // both slots held, never reported
				if _, err := b.Allow(); err != nil {
					t.Fatal(err)
				}
			}
			clk.Advance(time.Second) // HalfOpenMaxWait: the slots may be reclaimed
			return b.Trip
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, clk := mustNew(t, Config{ConsecutiveFailures: 1, OpenDuration: time.Second, HalfOpenProbes: 2, HalfOpenMaxWait: time.Second})
			b.Trip()
			clk.Advance(time.Second)
			reopen := tc.setup(t, b, clk)
			w := b.word.Load() // a caller reads the half-open word, and is preempted
			if stateOf(w) != HalfOpen {
				t.Fatalf("state %v, want half-open", stateOf(w))
			}
			reopen()
			if b.State() != Open {
				t.Fatalf("state %v, want open", b.State())
			}
			p, err := b.allowSlow(w) // the caller resumes
			if err == nil {
				p.Done(fusebox.Ignored)
				t.Fatalf("a caller that read the half-open state was admitted by the open breaker (ReclaimedProbes %d)", b.Snapshot().ReclaimedProbes)
			}
			if s := b.Snapshot(); s.State != Open || s.ReclaimedProbes != 0 {
				t.Errorf("state %v, ReclaimedProbes %d; want open, 0", s.State, s.ReclaimedProbes)
			}
			// The slot taken and given back is free for the next half-open state.
			clk.Advance(time.Second)
			p1, err1 := b.Allow()
			p2, err2 := b.Allow()
			if err1 != nil || err2 != nil {
				t.Fatalf("next half-open state: probes %v, %v; want both slots free", err1, err2)
			}
			mustReject(t, b)
			p1.Done(fusebox.Success)
			p2.Done(fusebox.Success)
			if b.State() != Closed {
				t.Errorf("state %v after two successful probes, want closed", b.State())
			}
		})
	}
}

// The move to half-open frees the slots of stuck probes. It used to do so
// with a store, while a reclaimer of the old half-open state, which works
// without the mutex, could take the same slot's ticket between the
// transition's load and its store: the store then set the ticket back, the
// next prober got the very ticket the reclaimer held, and the reclaimer's
// release freed that prober's slot, letting a second probe in with
// HalfOpenProbes 1. The hooks force that interleaving.
func TestHalfOpenTransitionRacesReclaimer(t *testing.T) {
	b, clk := mustNew(t, Config{ConsecutiveFailures: 1, OpenDuration: time.Second, HalfOpenProbes: 1, HalfOpenMaxWait: time.Second})
	b.Trip()
	clk.Advance(time.Second)
	stuck, err := b.Allow() // holds the only slot and never reports in time
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Second) // stuck may be reclaimed now

	atSince, goTicket := make(chan struct{}), make(chan struct{})
	atTicket, goCheck := make(chan struct{}), make(chan struct{})
	var once sync.Once
	testHook = func(p hookPoint) {
		switch p {
		case hookReclaimSince: // the reclaimer took since, not yet the ticket
			close(atSince)
			<-goTicket
		case hookReclaimTicket: // the reclaimer took the ticket, not yet checked the state
			close(atTicket)
			<-goCheck
		case hookHalfOpenSlot: // the transition loaded the stuck ticket (under the mutex)
			once.Do(func() {
				close(goTicket)
				<-atTicket
			})
		}
	}
	t.Cleanup(func() { testHook = nil })

	type result struct {
		p   Permit
		err error
	}
	reclaimer := make(chan result, 1)
	go func() {
		p, err := b.Allow() // the reclaimer, in the old half-open state
		reclaimer <- result{p, err}
	}()
	testwait.Recv(t, atSince, "the reclaimer at the stuck slot")
	b.Trip() // half-open → open; the slots stay as they are
	clk.Advance(time.Second)
	var probe Permit
	testwait.Within(t, "the next probe", func() {
		probe, err = b.Allow() // open → half-open, while the reclaimer takes the ticket
	})
	if err != nil {
		t.Fatalf("probe of the new half-open state: %v", err)
	}
	close(goCheck)
	r := testwait.Recv(t, reclaimer, "the reclaimer's Allow")
	testHook = nil

	admitted := 1 // probe
	if r.err == nil {
		admitted++
		defer r.p.Done(fusebox.Ignored)
	}
	extra, err := b.Allow()
	if err == nil {
		admitted++
		defer extra.Done(fusebox.Ignored)
	}
	if admitted > 1 {
		t.Fatalf("%d probes admitted at once with HalfOpenProbes 1 (reclaimer admitted: %v)", admitted, r.err == nil)
	}
	if s := b.Snapshot(); s.State != HalfOpen || s.ProbesInFlight != 1 {
		t.Errorf("state %v, ProbesInFlight %d; want half-open, 1", s.State, s.ProbesInFlight)
	}
	stuck.Done(fusebox.Success) // from an earlier half-open state: late
	probe.Done(fusebox.Success)
	if s := b.Snapshot(); s.State != Closed || s.LateOutcomes != 1 {
		t.Errorf("state %v, LateOutcomes %d; want closed, 1", s.State, s.LateOutcomes)
	}
}
