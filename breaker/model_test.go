package breaker

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/fusebox-go/fusebox"
)

// model is a reference breaker, written for clarity, not speed: a count
// window as a plain slice, every transition spelled out. The breaker must
// agree with it after every step of a random sequence of operations.
// It covers count windows with consecutive-failure and failure-rate trips,
// a constant open duration, no jitter, no slow calls.
type model struct {
	// configuration
	size, minCalls, consecutive, probes, successes int
	failureRate                                    float64
	openDur, maxWait                               int64

	now         int64
	state       State
	gen         uint64
	window      []bool // the last calls since the window was emptied: true = failure
	ignored     uint64 // since the window was last emptied
	run         uint64
	openUntil   int64
	slots       []modelSlot
	probeOK     int
	rejections  uint64
	late        uint64
	transitions uint64
	failedProbe uint64
	reclaimed   uint64
	totalCalls  uint64
	totalFails  uint64
	totalIgn    uint64
}

type modelSlot struct {
	ticket uint64
	since  int64
}

// modelPermit mirrors a Permit: the generation and state it was issued
// under, and its probe slot and ticket.
type modelPermit struct {
	inert  bool
	gen    uint64
	state  State
	slot   int
	ticket uint64
}

func newModel(c Config) *model {
	m := &model{
		size: c.WindowSize, minCalls: c.MinimumCalls, consecutive: c.ConsecutiveFailures,
		probes: c.HalfOpenProbes, successes: c.HalfOpenSuccesses, failureRate: c.FailureRate,
		openDur: int64(c.OpenDuration), maxWait: int64(c.HalfOpenMaxWait),
	}
	if m.successes == 0 {
		m.successes = m.probes
	}
	if m.failureRate == 0 && m.consecutive == 0 {
		m.failureRate = DefaultFailureRate
	}
	m.slots = make([]modelSlot, m.probes)
	for i := range m.slots {
		m.slots[i].since = math.MaxInt64
	}
	return m
}

func (m *model) transition(to State) {
	from := m.state
	m.gen++
	m.transitions++
	m.state = to
	switch to {
	case Open:
		m.openUntil = m.now + m.openDur
	case HalfOpen:
		m.probeOK = 0
		for i := range m.slots {
			m.slots[i].since = math.MaxInt64
			if m.slots[i].ticket%2 == 1 {
				m.slots[i].ticket++
			}
		}
	case Closed, MetricsOnly, Disabled:
		if to == Closed || (from != Closed && from != MetricsOnly) {
			m.emptyWindow()
		}
	}
}

func (m *model) emptyWindow() {
	m.window = m.window[:0]
	m.run = 0
	m.ignored = 0
}

// allow returns a permit, or false for a rejection.
func (m *model) allow() (modelPermit, bool) {
	for {
		switch m.state {
		case Closed, MetricsOnly:
			return modelPermit{gen: m.gen, state: m.state, slot: -1}, true
		case Disabled:
			return modelPermit{inert: true}, true
		case ForcedOpen:
			m.rejections++
			return modelPermit{}, false
		case Open:
			if m.now < m.openUntil {
				m.rejections++
				return modelPermit{}, false
			}
			m.transition(HalfOpen)
		case HalfOpen:
			for i := range m.slots {
				s := &m.slots[i]
				if s.ticket%2 == 0 {
					s.ticket++
					s.since = m.now
					return modelPermit{gen: m.gen, state: HalfOpen, slot: i, ticket: s.ticket}, true
				}
				if s.since != math.MaxInt64 && m.now-s.since >= m.maxWait {
					s.ticket += 2
					s.since = m.now
					m.reclaimed++
					return modelPermit{gen: m.gen, state: HalfOpen, slot: i, ticket: s.ticket}, true
				}
			}
			m.rejections++
			return modelPermit{}, false
		}
	}
}

func (m *model) done(p modelPermit, o fusebox.Outcome) {
	if p.inert {
		return
	}
	if p.slot >= 0 {
		s := &m.slots[p.slot]
		if s.ticket != p.ticket {
			m.late++
			return
		}
		s.ticket++
		s.since = math.MaxInt64
		if p.gen != m.gen {
			m.late++
			return
		}
		// A probe counts in the lifetime totals, never in the window.
		switch o {
		case fusebox.Ignored:
			m.totalIgn++
		case fusebox.Failure:
			m.totalCalls++
			m.totalFails++
		default:
			m.totalCalls++
		}
		switch o {
		case fusebox.Failure:
			m.failedProbe++
			m.transition(Open)
		case fusebox.Success:
			m.probeOK++
			if m.probeOK >= m.successes {
				m.transition(Closed)
			}
		}
		return
	}
	if p.gen != m.gen {
		m.late++
		return
	}
	if o == fusebox.Ignored {
		m.ignored++
		m.totalIgn++
		return
	}
	fail := o == fusebox.Failure
	m.window = append(m.window, fail)
	if len(m.window) > m.size {
		m.window = m.window[1:]
	}
	m.totalCalls++
	if fail {
		m.totalFails++
		m.run++
	} else {
		m.run = 0
	}
	if m.state != Closed {
		return
	}
	if fail && m.consecutive > 0 && m.run >= uint64(m.consecutive) {
		m.transition(Open)
		return
	}
	// The rates are judged after every call, a success too: the breaker
	// opens as soon as the condition holds.
	calls, fails := m.counts()
	if m.failureRate > 0 && calls >= uint64(m.minCalls) && float64(fails)/float64(calls) >= m.failureRate {
		m.transition(Open)
	}
}

func (m *model) counts() (calls, fails uint64) {
	for _, f := range m.window {
		calls++
		if f {
			fails++
		}
	}
	return calls, fails
}

// force is Trip, Reset, ForceOpen, Disable and MetricsOnly.
func (m *model) force(to State) {
	if to == Open && (m.state == ForcedOpen || m.state == Disabled || m.state == MetricsOnly) {
		return // Trip leaves the operator states alone
	}
	if m.state == to && to != Open {
		if to == Closed {
			// Reset of a closed breaker: a new generation (calls in
			// flight are late) and an empty window, but no transition.
			m.gen++
			m.emptyWindow()
		}
		return
	}
	m.transition(to)
}

func (m *model) inFlight() int {
	if m.state != HalfOpen {
		return 0
	}
	n := 0
	for _, s := range m.slots {
		if s.ticket%2 == 1 {
			n++
		}
	}
	return n
}

// compare fails the test when the breaker and the model disagree.
func (m *model) compare(t *testing.T, b *Breaker, step int, log []string) {
	t.Helper()
	s := b.Snapshot()
	calls, fails := m.counts()
	probeOK := 0
	if m.state == HalfOpen {
		probeOK = m.probeOK
	}
	type view struct {
		State                                             State
		Gen, Calls, Fails, Ignored, Run                   uint64
		Rejections, Late, Transitions, FailedProbes, Recl uint64
		TotalCalls, TotalFails, TotalIgnored              uint64
		InFlight, ProbeOK                                 int
		RetryAfter                                        time.Duration
	}
	got := view{s.State, s.Generation, s.Calls, s.Failures, s.Ignored, s.ConsecutiveFailures,
		s.Rejections, s.LateOutcomes, s.Transitions, s.FailedProbes, s.ReclaimedProbes,
		s.TotalCalls, s.TotalFailures, s.TotalIgnored, s.ProbesInFlight, s.ProbeSuccesses, s.RetryAfter}
	var retry time.Duration
	if m.state == Open && m.openUntil > m.now {
		retry = time.Duration(m.openUntil - m.now)
	}
	want := view{m.state, m.gen, calls, fails, m.ignored, m.run,
		m.rejections, m.late, m.transitions, m.failedProbe, m.reclaimed,
		m.totalCalls, m.totalFails, m.totalIgn, m.inFlight(), probeOK, retry}
	if got != want || b.State() != m.state {
		first := max(0, len(log)-15)
		t.Fatalf("step %d: breaker and model disagree\n got  %+v\n want %+v\nlast steps:\n  %s",
			step, got, want, strings.Join(log[first:], "\n  "))
	}
}

type heldPermit struct {
	real  *Permit
	model modelPermit
	done  bool
}

func TestModel(t *testing.T) {
	seeds := []uint64{1, 2, 3, 4, 5, 6, 7, 8}
	const steps = 5000
	for _, seed := range seeds {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, seed*0x9e3779b97f4a7c15))
			size := 1 + rng.IntN(10)
			c := Config{
				Window:            CountWindow,
				WindowSize:        size,
				MinimumCalls:      1 + rng.IntN(size),
				HalfOpenProbes:    1 + rng.IntN(3),
				HalfOpenSuccesses: rng.IntN(5),
				OpenDuration:      5 * time.Second,
				HalfOpenMaxWait:   time.Duration(5+5*rng.IntN(3)) * time.Second,
			}
			switch rng.IntN(3) {
			case 0:
				c.ConsecutiveFailures = 1 + rng.IntN(5)
			case 1:
				c.FailureRate = []float64{0.2, 0.5, 0.75, 1}[rng.IntN(4)]
			case 2:
				c.ConsecutiveFailures = 1 + rng.IntN(5)
				c.FailureRate = []float64{0.2, 0.5, 0.75, 1}[rng.IntN(4)]
			}
			b, clk := mustNew(t, c)
			m := newModel(b.Config())
			t.Logf("config %+v", b.Config())
			var held []*heldPermit
			var log []string
			outcome := func() fusebox.Outcome {
				switch r := rng.IntN(10); {
				case r < 4:
					return fusebox.Success
				case r < 9:
					return fusebox.Failure
				}
				return fusebox.Ignored
			}
			for step := range steps {
				switch r := rng.IntN(100); {
				case r < 45: // a call
					o := outcome()
					p, err := b.Allow()
					mp, admitted := m.allow()
					if (err == nil) != admitted {
						t.Fatalf("step %d: Allow error %v, model admitted %v\n  %s", step, err, admitted, strings.Join(log, "\n  "))
					}
					if err == nil {
						p.Done(o)
						m.done(mp, o)
					}
					log = append(log, fmt.Sprintf("call %v (admitted %v)", o, admitted))
				case r < 57: // take a permit and hold it
					p, err := b.Allow()
					mp, admitted := m.allow()
					if (err == nil) != admitted {
						t.Fatalf("step %d: Allow error %v, model admitted %v", step, err, admitted)
					}
					if err == nil {
						held = append(held, &heldPermit{real: &p, model: mp})
					}
					log = append(log, fmt.Sprintf("hold (admitted %v) → %d held", admitted, len(held)))
				case r < 70: // finish a held permit (perhaps again)
					if len(held) == 0 {
						continue
					}
					i := rng.IntN(len(held))
					h := held[i]
					o := outcome()
					h.real.Done(o)
					if !h.done {
						m.done(h.model, o)
					}
					h.done = true
					if rng.IntN(4) > 0 { // sometimes keep it to finish twice
						held = append(held[:i], held[i+1:]...)
					}
					log = append(log, fmt.Sprintf("finish held %d %v", i, o))
				case r < 88:
					d := []time.Duration{time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 30 * time.Second}[rng.IntN(5)]
					clk.Advance(d)
					m.now += int64(d)
					log = append(log, "advance "+d.String())
				case r < 91:
					b.Trip()
					m.force(Open)
					log = append(log, "Trip")
				case r < 95:
					b.Reset()
					m.force(Closed)
					log = append(log, "Reset")
				case r < 97:
					b.ForceOpen()
					m.force(ForcedOpen)
					log = append(log, "ForceOpen")
				case r < 98:
					b.Disable()
					m.force(Disabled)
					log = append(log, "Disable")
				default:
					b.MetricsOnly()
					m.force(MetricsOnly)
					log = append(log, "MetricsOnly")
				}
				log = append(log[max(0, len(log)-40):], fmt.Sprintf("  → %v", b.State()))
				m.compare(t, b, step, log)
			}
			s := b.Snapshot()
			t.Logf("final %+v", s)
			if s.Transitions < 20 {
				t.Errorf("only %d transitions in %d steps: the sequence explores too little", s.Transitions, steps)
			}
		})
	}
}

// Ignored counts with the window: emptying the window (Reset, closing)
// clears it, while TotalIgnored keeps the lifetime count.
func TestIgnoredResetsWithWindow(t *testing.T) {
	for _, w := range []WindowKind{TimeWindow, CountWindow} {
		b, _ := mustNew(t, Config{Window: w})
		call(t, b, ign)
		call(t, b, ign)
		if s := b.Snapshot(); s.Ignored != 2 {
			t.Errorf("%s: Ignored = %d, want 2", w, s.Ignored)
		}
		b.Trip()
		b.Reset()
		s := b.Snapshot()
		if s.TotalIgnored != 2 {
			t.Errorf("%s: TotalIgnored = %d, want 2", w, s.TotalIgnored)
		}
		if s.Ignored != 0 {
			t.Errorf("%s: Ignored after Reset = %d, want 0", w, s.Ignored)
		}
	}
}
