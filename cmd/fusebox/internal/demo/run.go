package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/breaker"
)

// Phase is a phase of a run.
type Phase int

// The phases of a run, in order.
const (
	PhaseHealthy Phase = iota
	PhaseSlow
	PhaseErrors
	PhaseRecovery
	numPhases
)

// String returns the phase's short name.
func (p Phase) String() string {
	return [...]string{"healthy", "slow", "errors", "recovery"}[p]
}

// describe says what happens to payments in the phase.
func (p Phase) describe(sc Scenario) string {
	switch p {
	case PhaseHealthy:
		return "healthy baseline"
	case PhaseSlow:
		return "payments slow (+" + sc.SlowLatency.String() + " per request)"
	case PhaseErrors:
		return "payments failing (" + strconv.Itoa(sc.ErrorStatus) + " " + http.StatusText(sc.ErrorStatus) + ")"
	case PhaseRecovery:
		return "payments recovered"
	}
	return ""
}

// bounds returns when each phase starts, since the run started, and when
// the run ends.
func (s Scenario) bounds() [numPhases + 1]time.Duration {
	var b [numPhases + 1]time.Duration
	d := [numPhases]time.Duration{s.Healthy, s.Slow, s.Errors, s.Recovery}
	for i := range d {
		b[i+1] = b[i] + d[i]
	}
	return b
}

// phaseAt returns the phase at offset d of a run.
func (s Scenario) phaseAt(d time.Duration) Phase {
	b := s.bounds()
	for p := PhaseRecovery; p > PhaseHealthy; p-- {
		if d >= b[p] {
			return p
		}
	}
	return PhaseHealthy
}

// Options says how a demo reports while it runs.
type Options struct {
	// Progress receives the live progress; nil means none.
	Progress io.Writer
	// Live redraws the progress in place (Progress is a terminal) instead
	// of writing a line every second.
	Live bool
	// OnRun, when set, is called as each run starts, once its services are
	// up, and the function it returns (if any) when the run ends: to say
	// where the gateway listens, or to show the run on a live dashboard.
	OnRun func(RunInfo) (done func())
	// Runs names the runs to make, in order: "unprotected", "protected",
	// each at most once. Empty means both.
	Runs []string
	// Latency, when set, gives for each link of a run a policy that is put
	// innermost around every attempt on that link (in the unprotected run
	// too, alone): for a dashboard's latency percentiles. It must not
	// change what the calls do.
	Latency func(run string, hop Hop) fusebox.Policy
}

// RunInfo describes a run that is starting.
type RunInfo struct {
	// Name is "unprotected" or "protected"; Index counts runs from 1.
	Name      string
	Index, Of int
	// Protection lists the protections that are on (see Protection.Enabled).
	Protection string
	// GatewayURL is the gateway's base URL; PaymentsURL the payments
	// server's.
	GatewayURL, PaymentsURL string
	// Breakers are the run's circuit breakers, none in the unprotected run.
	Breakers []*breaker.Breaker
	// Policies are the run's Fusebox policies by name, for a dashboard:
	// each dependency's pipeline ("orders → payments"), the servers' load
	// shedders (a *bulkhead.Bulkhead), the payment status fallback (a
	// *fusebox.Pipeline) and cache (a *fallback.Cache). None in the
	// unprotected run.
	Policies []NamedPolicy
}

// NamedPolicy is a policy and the name a dashboard shows it under.
type NamedPolicy struct {
	Name   string
	Policy any
}

// TooSlowError says the machine could not send the load on schedule, so the
// demo's numbers would not mean anything.
type TooSlowError struct {
	Run           string
	Late, Sent    int
	Rate          float64
	WorstLateness time.Duration
}

// Error says how late the load was and what to do about it.
func (e *TooSlowError) Error() string {
	return fmt.Sprintf("the machine is too slow to produce the load: in the %s run, %d of %d requests left more than %v late (worst %v) at %.0f requests/s; try a lower --rate",
		e.Run, e.Late, e.Sent, lateAfter, e.WorstLateness.Round(time.Millisecond), e.Rate)
}

// lateAfter is how late an arrival may leave before it counts as late;
// more than maxLateShare of them late fails the run.
const (
	lateAfter    = 100 * time.Millisecond
	maxLateShare = 0.05
)

// Run runs the scenario twice, unprotected and then protected, and returns
// what happened. It stops every server and goroutine it started before it
// returns, also on error. Canceling ctx ends it early with ctx's error.
func Run(ctx context.Context, sc Scenario, opt Options) (*Result, error) {
	if err := sc.Validate(); err != nil {
		return nil, err
	}
	res := &Result{Scenario: sc}
	type runSpec struct {
		name string
		prot Protection
	}
	all := map[string]runSpec{
		"unprotected": {"unprotected", withEnabled(sc.Protection, "none")},
		"protected":   {"protected", sc.Protection},
	}
	names := opt.Runs
	if len(names) == 0 {
		names = []string{"unprotected", "protected"}
	}
	var runs []runSpec
	for i, n := range names {
		r, ok := all[n]
		if !ok {
			return nil, fmt.Errorf("unknown run %q: want unprotected or protected", n)
		}
		if slices.Contains(names[:i], n) {
			return nil, fmt.Errorf("run %q named twice: want each run at most once", n)
		}
		runs = append(runs, r)
	}
	for i, r := range runs {
		rr, err := runOnce(ctx, sc, r.name, r.prot, i+1, len(runs), opt)
		if err != nil {
			return nil, err
		}
		res.Runs = append(res.Runs, rr)
	}
	return res, nil
}

func withEnabled(p Protection, list string) Protection {
	_ = p.SetEnabled(list)
	return p
}

// runOnce starts the topology, drives it through the phases and stops it.
func runOnce(ctx context.Context, sc Scenario, name string, prot Protection, index, of int, opt Options) (*RunResult, error) {
	rec := newRecorder(time.Now())
	var latency func(Hop) fusebox.Policy
	if opt.Latency != nil {
		latency = func(h Hop) fusebox.Policy { return opt.Latency(name, h) }
	}
	topo, err := startTopology(sc, prot, rec, latency)
	if err != nil {
		return nil, err
	}
	var stopOnce sync.Once
	stop := func() { stopOnce.Do(topo.stop) }
	defer stop()
	if opt.OnRun != nil {
		info := RunInfo{Name: name, Index: index, Of: of, Protection: prot.Enabled(), GatewayURL: topo.gateway.url, PaymentsURL: topo.payments.URL(), Breakers: topo.breakers(), Policies: topo.policies()}
		if done := opt.OnRun(info); done != nil {
			defer done()
		}
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	bounds := sc.bounds()
	rec.start = time.Now()
	prog := &progress{w: opt.Progress, live: opt.Live, sc: sc, run: name}

	var marks [numPhases + 1]uint64 // payments' request count at each boundary
	var wg sync.WaitGroup
	lg := &loadgen{sc: sc, rec: rec, url: topo.gateway.url}
	wg.Add(1)
	go func() {
		defer wg.Done()
		lg.run(ctx, bounds[numPhases])
	}()
	samplerDone := make(chan struct{})
	stopSampler := make(chan struct{})
	go func() {
		defer close(samplerDone)
		sampleGauges(topo, rec, prog, stopSampler)
	}()

	err = func() error {
		for p := PhaseHealthy; p < numPhases; p++ {
			if err := topo.setPhase(p); err != nil {
				return err
			}
			marks[p] = topo.payments.Requests()
			if err := sleepUntil(ctx, rec.start.Add(bounds[p+1])); err != nil {
				return err
			}
		}
		marks[numPhases] = topo.payments.Requests()
		return nil
	}()
	if err != nil {
		cancel()
	}
	wg.Wait() // the load generator has sent everything and has every answer
	close(stopSampler)
	<-samplerDone
	lg.close()
	stop()
	if err != nil {
		return nil, err
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	prog.finish()
	if lg.sent > 0 && float64(lg.late) > maxLateShare*float64(lg.sent) {
		return nil, &TooSlowError{Run: name, Late: lg.late, Sent: lg.sent, Rate: sc.Rate, WorstLateness: lg.worst}
	}
	return analyze(sc, name, prot, rec, marks, topo.breakers()), nil
}

// sleepUntil waits until t or until ctx ends.
func sleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// sampleGauges reads the gauges every Tick and redraws the progress, until stop
// is closed.
func sampleGauges(topo *topology, rec *recorder, prog *progress, stop <-chan struct{}) {
	tick := time.NewTicker(topo.sc.Tick)
	defer tick.Stop()
	brs := topo.breakers()
	lastDraw := time.Duration(0) // the first drawing waits for some answers
	if prog.live {
		lastDraw = -prog.interval() // a live table shows up at once
	}
	for {
		g := gauge{
			at:              rec.since(time.Now()),
			goroutines:      runtime.NumGoroutine(),
			gatewayInFlight: topo.gateway.inFlight.Load(),
			ordersInFlight:  topo.orders.inFlight.Load(),
			paymentsIn:      topo.payments.InFlight(),
			paymentsTotal:   topo.payments.Requests(),
		}
		for _, b := range brs {
			g.breakers = append(g.breakers, b.State().String())
		}
		rec.addGauge(g)
		if g.at-lastDraw >= prog.interval() {
			lastDraw = g.at
			prog.draw(rec, topo, g)
		}
		select {
		case <-tick.C:
		case <-stop:
			if g.at != lastDraw {
				prog.draw(rec, topo, g)
			}
			return
		}
	}
}

// loadgen sends requests to the gateway at a fixed rate: an open model,
// where a request is sent on schedule whether or not the earlier ones have
// been answered, as independent users do. Each request runs in its own
// goroutine, at most MaxInFlight at once.
type loadgen struct {
	sc     Scenario
	rec    *recorder
	url    string
	client *http.Client
	tr     *http.Transport

	inFlight atomic.Int64
	sent     int
	late     int
	worst    time.Duration
}

// run sends requests until the run has lasted total, then waits for every
// answer (each bounded by ClientTimeout).
func (lg *loadgen) run(ctx context.Context, total time.Duration) {
	lg.tr = &http.Transport{MaxIdleConnsPerHost: lg.sc.MaxInFlight, IdleConnTimeout: 30 * time.Second}
	lg.client = &http.Client{Transport: lg.tr}
	rng := rand.New(rand.NewPCG(lg.sc.Seed, 0x5eed))
	interval := time.Duration(float64(time.Second) / lg.sc.Rate)
	var wg sync.WaitGroup
	defer wg.Wait()
	usersAcc := 0.0
	for i := 0; ; i++ {
		at := time.Duration(i) * interval
		if at >= total {
			return
		}
		if err := sleepUntil(ctx, lg.rec.start.Add(at)); err != nil {
			return
		}
		if late := lg.rec.since(time.Now()) - at; late > lateAfter {
			lg.late++
			lg.worst = max(lg.worst, late)
		}
		lg.sent++
		// Spread /users requests evenly among the others.
		ep := Orders
		usersAcc += lg.sc.UsersShare
		if usersAcc >= 1 {
			usersAcc--
			ep = Users
		}
		id := strconv.Itoa(rng.IntN(lg.sc.OrderIDs) + 1)
		start := lg.rec.since(time.Now())
		if lg.inFlight.Load() >= int64(lg.sc.MaxInFlight) {
			lg.rec.add(sample{ep: ep, outcome: Failed, start: start})
			continue
		}
		lg.inFlight.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer lg.inFlight.Add(-1)
			lg.do(ctx, ep, id, start)
		}()
	}
}

// do sends one request and records how it went.
func (lg *loadgen) do(ctx context.Context, ep Endpoint, id string, start time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, lg.sc.ClientTimeout)
	defer cancel()
	url := lg.url + "/orders/" + id
	if ep == Users {
		url = lg.url + "/users/" + id
	}
	outcome := Failed
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err == nil {
		var resp *http.Response
		resp, err = lg.client.Do(req)
		if err == nil {
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if err == nil && resp.StatusCode == http.StatusOK {
				outcome = OK
				if resp.Header.Get(degradedHeader) != "" {
					outcome = Degraded
				}
			}
		}
	}
	if errors.Is(err, context.Canceled) && ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return // the demo was interrupted: not a result
	}
	lg.rec.add(sample{ep: ep, outcome: outcome, start: start, latency: lg.rec.since(time.Now()) - start})
}

// close closes the load generator's idle connections.
func (lg *loadgen) close() {
	if lg.tr != nil {
		lg.tr.CloseIdleConnections()
	}
}
