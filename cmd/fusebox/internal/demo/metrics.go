package demo

import (
	"math"
	"slices"
	"sync"
	"time"
)

// Endpoint is one of the gateway's endpoints the load generator calls.
type Endpoint uint8

// The gateway's endpoints.
const (
	Users Endpoint = iota
	Orders
)

// String returns "users" or "orders".
func (e Endpoint) String() string {
	if e == Users {
		return "users"
	}
	return "orders"
}

// Outcome is how a client saw a request.
type Outcome uint8

// Outcomes of a request.
const (
	// OK: a full answer.
	OK Outcome = iota
	// Degraded: an answer, partly from a fallback (the response carries the
	// X-Degraded header).
	Degraded
	// Failed: an error status, a transport error, or no answer before the
	// client's timeout.
	Failed
)

// sample is one request the load generator finished.
type sample struct {
	ep      Endpoint
	outcome Outcome
	start   time.Duration // when it was sent, since the run started
	latency time.Duration // until the answer (or the failure)
}

// end is when the sample finished, since the run started.
func (s sample) end() time.Duration { return s.start + s.latency }

// Hop is one service-to-service link whose calls are recorded on the wire.
type Hop uint8

// The topology's links, as seen by the caller's transport: one record per
// attempt that reached the wire (a call a policy rejected never does).
const (
	GatewayOrders Hop = iota
	OrdersPayments
	OrdersInventory
	OrdersCatalog
	numHops
)

var hopNames = [numHops]string{"gateway → orders", "orders → payments", "orders → inventory", "orders → catalog"}

// String returns the link's name, such as "orders → payments".
func (h Hop) String() string { return hopNames[h] }

// hopSample is one attempt on a Hop.
type hopSample struct {
	hop     Hop
	ok      bool // a 2xx answer
	start   time.Duration
	latency time.Duration
}

// gauge is one sampling of the process and the services.
type gauge struct {
	at              time.Duration
	goroutines      int
	gatewayInFlight int64 // requests in the gateway, waiting for a worker included
	ordersInFlight  int64
	paymentsIn      int      // requests in the payments server
	paymentsTotal   uint64   // requests payments received so far
	breakers        []string // each breaker's state, in the order of topology.breakers
}

// transition is a breaker's change of state during a run.
type transition struct {
	breaker string
	at      time.Duration
	to      string // the new state: "closed", "open", "half-open"
}

// recorder collects what happened in one run. Every method is safe for
// concurrent use.
type recorder struct {
	start time.Time

	mu          sync.Mutex
	samples     []sample // in order of completion
	hops        []hopSample
	gauges      []gauge
	transitions []transition
}

func newRecorder(start time.Time) *recorder { return &recorder{start: start} }

func (r *recorder) since(t time.Time) time.Duration { return t.Sub(r.start) }

func (r *recorder) add(s sample) {
	r.mu.Lock()
	r.samples = append(r.samples, s)
	r.mu.Unlock()
}

func (r *recorder) addHop(h hopSample) {
	r.mu.Lock()
	r.hops = append(r.hops, h)
	r.mu.Unlock()
}

func (r *recorder) addGauge(g gauge) {
	r.mu.Lock()
	r.gauges = append(r.gauges, g)
	r.mu.Unlock()
}

func (r *recorder) addTransition(t transition) {
	r.mu.Lock()
	r.transitions = append(r.transitions, t)
	r.mu.Unlock()
}

// snapshot copies everything recorded so far.
func (r *recorder) snapshot() (samples []sample, hops []hopSample, gauges []gauge, transitions []transition) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.samples), slices.Clone(r.hops), slices.Clone(r.gauges), slices.Clone(r.transitions)
}

// recent returns the samples and hop attempts that finished in (from, to].
func (r *recorder) recent(from, to time.Duration) ([]sample, []hopSample) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ss []sample
	for i := len(r.samples) - 1; i >= 0; i-- {
		s := r.samples[i]
		if s.end() <= from {
			break // completion order: everything before finished earlier
		}
		if s.end() <= to {
			ss = append(ss, s)
		}
	}
	var hs []hopSample
	for i := len(r.hops) - 1; i >= 0; i-- {
		h := r.hops[i]
		if h.start+h.latency <= from {
			break
		}
		if h.start+h.latency <= to {
			hs = append(hs, h)
		}
	}
	return ss, hs
}

// percentile returns the p-th percentile (0 < p ≤ 1) of ds, nearest rank,
// or 0 for no values. It sorts ds.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	i := int(math.Ceil(p*float64(len(ds)))) - 1
	return ds[max(0, min(i, len(ds)-1))]
}

// stats summarises a set of samples.
type stats struct {
	n                      int
	ok, degraded, failed   int
	p50, p90, p99, maxLat  time.Duration
	rate                   float64 // per second, over the span given
	okShare, degradedShare float64
	failedShare            float64
	successShare           float64 // ok + degraded
}

func summarize(ss []sample, span time.Duration) stats {
	st := stats{n: len(ss)}
	lat := make([]time.Duration, 0, len(ss))
	for _, s := range ss {
		switch s.outcome {
		case OK:
			st.ok++
		case Degraded:
			st.degraded++
		default:
			st.failed++
		}
		lat = append(lat, s.latency)
	}
	if st.n > 0 {
		st.okShare = float64(st.ok) / float64(st.n)
		st.degradedShare = float64(st.degraded) / float64(st.n)
		st.failedShare = float64(st.failed) / float64(st.n)
		st.successShare = st.okShare + st.degradedShare
		st.p50 = percentile(lat, 0.50)
		st.p90 = percentile(lat, 0.90)
		st.p99 = percentile(lat, 0.99)
		st.maxLat = lat[len(lat)-1]
	}
	if span > 0 {
		st.rate = float64(st.n) / span.Seconds()
	}
	return st
}

// filter returns the samples of ep sent in [from, to).
func filter(ss []sample, ep Endpoint, from, to time.Duration) []sample {
	var out []sample
	for _, s := range ss {
		if s.ep == ep && s.start >= from && s.start < to {
			out = append(out, s)
		}
	}
	return out
}
