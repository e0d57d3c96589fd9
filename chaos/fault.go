package chaos

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"sync/atomic"
	"time"
)

// ErrInjected is the error an ErrorFault returns when it names no error of
// its own; an ErrorFault with a Message returns an error that matches it
// with errors.Is.
var ErrInjected = errors.New("chaos: injected fault")

// Fault describes the faults an Injector injects. Each fault has its own
// Probability in [0, 1], the chance that it hits a given call; the zero
// Fault injects nothing. The zero value of every other field is a
// documented default.
//
// Each call draws one independent roll per fault. When several hit the
// same call, Blackhole wins over everything; otherwise the Latency delay
// comes first and then at most one of Reset, Status and Error, in that
// order of precedence (a call whose Reset and Status rolls both hit is
// reset). So Status alone at 0.3 fails 30% of calls; with Reset at 0.1 as
// well, 10% are reset and 27% (0.3 × 0.9) get the status.
//
// Status and Reset are HTTP faults: the policy form (Injector.Run) ignores
// them. Latency, Error and Blackhole apply to every form.
type Fault struct {
	// Seed seeds the random decisions: the same Seed and Fault make the
	// same sequence of decisions, call after call, from each Set (or New)
	// on. 0 means a seed drawn at random at each Set.
	Seed uint64 `json:"seed" yaml:"seed"`
	// Latency delays calls before anything else happens to them.
	Latency LatencyFault `json:"latency" yaml:"latency"`
	// Error fails calls with an error.
	Error ErrorFault `json:"error" yaml:"error"`
	// Status answers HTTP calls with a status code of its own.
	Status StatusFault `json:"status" yaml:"status"`
	// Reset breaks HTTP connections in the middle of the response body.
	Reset ResetFault `json:"reset" yaml:"reset"`
	// Blackhole makes calls hang until their context ends.
	Blackhole BlackholeFault `json:"blackhole" yaml:"blackhole"`
}

// LatencyFault delays a call by Duration, spread uniformly by up to Jitter
// either way: the delay is uniform in [Duration-Jitter, Duration+Jitter].
// The delay honors the call's context: a call whose context ends while it
// waits returns the context's error without going on.
type LatencyFault struct {
	// Probability is the chance a call is delayed, in [0, 1].
	Probability float64 `json:"probability" yaml:"probability"`
	// Duration is the mean delay, 0 or more.
	Duration time.Duration `json:"duration" yaml:"duration"`
	// Jitter spreads the delay, in [0, Duration]: 0 means a fixed delay.
	Jitter time.Duration `json:"jitter" yaml:"jitter"`
}

// ErrorFault fails a call with an error instead of making it: the policy
// form returns the error, the RoundTripper returns it as a transport error
// (the request never leaves), the middleware answers 500 with its message.
type ErrorFault struct {
	// Probability is the chance a call fails, in [0, 1].
	Probability float64 `json:"probability" yaml:"probability"`
	// Message is the error's text: "" means ErrInjected itself; otherwise
	// the error has this text and matches ErrInjected with errors.Is.
	Message string `json:"message" yaml:"message"`
	// Err, when set, is the error returned, as is (so a test can inject
	// io.ErrUnexpectedEOF or a *net.OpError); it takes precedence over
	// Message.
	Err error `json:"-" yaml:"-"`
}

// StatusFault answers an HTTP call with Code and Body instead of making
// it: the RoundTripper returns the response without calling its base, the
// middleware writes it without calling the handler.
type StatusFault struct {
	// Probability is the chance a call gets the status, in [0, 1].
	Probability float64 `json:"probability" yaml:"probability"`
	// Code is the status code, 100 to 599: 0 means 500.
	Code int `json:"code" yaml:"code"`
	// Body is the response body: "" means the status text and a newline.
	Body string `json:"body" yaml:"body"`
}

// ResetFault breaks the connection in the middle of an HTTP response body:
// the client gets the status and headers, then AfterBytes bytes of the
// body, then an error. On the server side (middleware, Server) the handler
// runs, its response goes out in chunked encoding (so that a cut body is
// always seen as incomplete), and after AfterBytes bytes of it the
// connection is closed with a TCP RST; the client sees "connection reset
// by peer" or io.ErrUnexpectedEOF. On the client side (RoundTripper) the
// real response's body is cut after AfterBytes bytes with an error that
// matches syscall.ECONNRESET.
type ResetFault struct {
	// Probability is the chance a call is reset, in [0, 1].
	Probability float64 `json:"probability" yaml:"probability"`
	// AfterBytes is how many body bytes get through before the reset,
	// 0 or more: 0 means none (the reset follows the headers).
	AfterBytes int `json:"afterBytes" yaml:"afterBytes"`
}

// BlackholeFault makes a call hang, as a request to a host that drops every
// packet does, until the call's context ends; then the call returns the
// context's error. A call whose context never ends hangs for good.
type BlackholeFault struct {
	// Probability is the chance a call is blackholed, in [0, 1].
	Probability float64 `json:"probability" yaml:"probability"`
}

// Validate reports the first field of f that is out of range, naming it
// and the allowed range.
func (f Fault) Validate() error {
	for _, p := range []struct {
		name string
		v    float64
	}{
		{"Latency.Probability", f.Latency.Probability},
		{"Error.Probability", f.Error.Probability},
		{"Status.Probability", f.Status.Probability},
		{"Reset.Probability", f.Reset.Probability},
		{"Blackhole.Probability", f.Blackhole.Probability},
	} {
		if !(p.v >= 0 && p.v <= 1) { // also rejects NaN
			return fmt.Errorf("chaos: %s %v out of range: want 0 to 1", p.name, p.v)
		}
	}
	if f.Latency.Duration < 0 {
		return fmt.Errorf("chaos: Latency.Duration %v out of range: want 0 or more", f.Latency.Duration)
	}
	if f.Latency.Jitter < 0 || f.Latency.Jitter > f.Latency.Duration {
		return fmt.Errorf("chaos: Latency.Jitter %v out of range: want 0 to Latency.Duration (%v)", f.Latency.Jitter, f.Latency.Duration)
	}
	if c := f.Status.Code; c != 0 && (c < 100 || c > 599) {
		return fmt.Errorf("chaos: Status.Code %d out of range: want 0 (default 500) or 100 to 599", c)
	}
	if f.Reset.AfterBytes < 0 {
		return fmt.Errorf("chaos: Reset.AfterBytes %d out of range: want 0 or more", f.Reset.AfterBytes)
	}
	return nil
}

// action is what a decision does to a call besides delaying it.
type action uint8

const (
	actNone action = iota
	actError
	actStatus
	actReset
	actBlackhole
)

// The rolls of one call, one per fault, each drawn independently.
const (
	rollBlackhole = iota
	rollLatency
	rollJitter
	rollReset
	rollStatus
	rollError
)

// decision is what happens to one call.
type decision struct {
	delay time.Duration
	act   action
}

// plan is a validated Fault ready to decide: immutable once made, except
// for the call counter, so that Set swaps a whole plan in with one atomic
// store.
type plan struct {
	fault  Fault
	seed   uint64
	err    error  // the ErrorFault's error
	code   int    // the StatusFault's code, default applied
	body   string // the StatusFault's body, default applied
	active bool   // some fault has a non-zero probability
	n      atomic.Uint64
}

func newPlan(f Fault) (*plan, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	p := &plan{fault: f, seed: f.Seed, code: f.Status.Code, body: f.Status.Body}
	if p.seed == 0 {
		p.seed = rand.Uint64()
	}
	switch {
	case f.Error.Err != nil:
		p.err = f.Error.Err
	case f.Error.Message != "":
		p.err = &injectedError{msg: f.Error.Message}
	default:
		p.err = ErrInjected
	}
	if p.code == 0 {
		p.code = http.StatusInternalServerError
	}
	if p.body == "" {
		p.body = http.StatusText(p.code) + "\n"
	}
	p.active = f.Latency.Probability > 0 || f.Error.Probability > 0 || f.Status.Probability > 0 ||
		f.Reset.Probability > 0 || f.Blackhole.Probability > 0
	return p, nil
}

// roll returns call i's roll number k, uniform in [0, 1): a pure function
// of the seed, i and k, so decisions do not depend on which goroutine asks
// or on which other faults are configured.
func (p *plan) roll(i uint64, k int) float64 {
	const golden = 0x9e3779b97f4a7c15
	x := mix64(p.seed ^ mix64(i*golden+uint64(k)+1))
	return float64(x>>11) * 0x1p-53
}

// mix64 is the splitmix64 finaliser.
func mix64(z uint64) uint64 {
	z ^= z >> 30
	z *= 0xbf58476d1ce4e5b9
	z ^= z >> 27
	z *= 0x94d049bb133111eb
	z ^= z >> 31
	return z
}

// decide returns what happens to call number i. httpForm says whether
// Status and Reset apply.
func (p *plan) decide(i uint64, httpForm bool) decision {
	f := &p.fault
	hit := func(k int, prob float64) bool { return prob > 0 && p.roll(i, k) < prob }
	if hit(rollBlackhole, f.Blackhole.Probability) {
		return decision{act: actBlackhole}
	}
	var d decision
	if hit(rollLatency, f.Latency.Probability) {
		d.delay = f.Latency.Duration
		if j := f.Latency.Jitter; j > 0 {
			// Uniform in [Duration-Jitter, Duration+Jitter].
			d.delay += time.Duration(math.Round((2*p.roll(i, rollJitter) - 1) * float64(j)))
		}
	}
	switch {
	case httpForm && hit(rollReset, f.Reset.Probability):
		d.act = actReset
	case httpForm && hit(rollStatus, f.Status.Probability):
		d.act = actStatus
	case hit(rollError, f.Error.Probability):
		d.act = actError
	}
	return d
}

// injectedError is the error of an ErrorFault with a Message.
type injectedError struct{ msg string }

func (e *injectedError) Error() string        { return e.msg }
func (e *injectedError) Is(target error) bool { return target == ErrInjected }
