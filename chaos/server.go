package chaos

import (
	"context"
	"io"
	"log"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fusebox-go/fusebox/clock"
	"github.com/fusebox-go/fusebox/internal/rwwrap"
)

// DefaultBody is the body the default handler of a Server answers with.
const DefaultBody = "ok\n"

// ServerConfig configures a Server. The zero ServerConfig is a server that
// answers every request 200 with DefaultBody, until told to fail.
type ServerConfig struct {
	// Handler serves the requests the faults let through: nil means a
	// handler that answers 200 with Body. Its ResponseWriter has the
	// optional interfaces of net/http's (http.Flusher, http.Hijacker,
	// io.ReaderFrom).
	Handler http.Handler `json:"-" yaml:"-"`
	// Body is the default handler's body: "" means DefaultBody.
	Body string `json:"body" yaml:"body"`
	// Fault is the faults injected from the start (see Server.Set).
	Fault Fault `json:"fault" yaml:"fault"`
	// Clock times the injected latency: nil means clock.Real().
	Clock clock.Clock `json:"-" yaml:"-"`
}

// Server is a real HTTP server on a loopback port whose failures are
// controlled at run time: the flaky dependency of integration tests and
// demos. It serves HTTP/1.1 on 127.0.0.1 with a fresh port, injects the
// faults of an Injector into every request (see Middleware), and counts
// what it did. Create one with NewServer; Close it when done.
//
// The setters (SetFailureRate, SetLatency, ...) change one fault and keep
// the others; each, like Set, starts the sequence of decisions over.
type Server struct {
	inj     *Injector
	handler http.Handler
	srv     *http.Server
	ln      net.Listener
	url     string
	served  chan struct{}
	cancel  context.CancelFunc
	setMu   sync.Mutex // serialises the setters' read-modify-write of the Fault
	closing sync.Once

	// Handlers in flight; hmu guards active and closed.
	hmu    sync.Mutex
	idle   *sync.Cond
	active int
	closed bool

	requests, resets, blackholes, hijacked, unanswered atomic.Uint64
	inFlight                                           atomic.Int64
	statuses                                           [600]atomic.Uint64 // by code; 0 holds codes out of range
}

// ServerStats are a Server's counters. Counters only grow; InFlight is a
// gauge.
type ServerStats struct {
	// Requests counts requests received.
	Requests uint64 `json:"requests"`
	// InFlight is how many requests are being served now (a gauge, 0 or
	// more, not a counter).
	InFlight int `json:"inFlight"`
	// Statuses counts answered requests by status code.
	Statuses map[int]uint64 `json:"statuses"`
	// Resets counts connections reset by a ResetFault.
	Resets uint64 `json:"resets"`
	// Blackholes counts requests a BlackholeFault held until they ended.
	Blackholes uint64 `json:"blackholes"`
	// Hijacked counts requests whose handler took the connection over
	// (http.Hijacker), as a websocket upgrade does: what it sent is its
	// own.
	Hijacked uint64 `json:"hijacked"`
	// Unanswered counts requests that ended without a status: the client
	// left during an injected latency, or the handler wrote nothing
	// before the connection went.
	Unanswered uint64 `json:"unanswered"`
}

// NewServer starts a Server configured by cfg on 127.0.0.1 with a port of
// its own, or returns an error naming the first field of cfg.Fault that is
// out of range, or the listener's error.
func NewServer(cfg ServerConfig) (*Server, error) {
	inj, err := New(Config{Fault: cfg.Fault, Clock: cfg.Clock})
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{inj: inj, handler: cfg.Handler, ln: ln, url: "http://" + ln.Addr().String(), served: make(chan struct{})}
	s.idle = sync.NewCond(&s.hmu)
	if s.handler == nil {
		body := cfg.Body
		if body == "" {
			body = DefaultBody
		}
		s.handler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			_, _ = io.WriteString(w, body)
		})
	}
	// Every request's context derives from base: Close cancels it, which
	// ends blackholed requests and injected latencies at once.
	base, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.srv = &http.Server{
		Handler:           http.HandlerFunc(s.serve),
		BaseContext:       func(net.Listener) context.Context { return base },
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	go func() {
		defer close(s.served)
		_ = s.srv.Serve(ln)
	}()
	return s, nil
}

// URL returns the server's base URL, such as "http://127.0.0.1:41234".
func (s *Server) URL() string { return s.url }

// Addr returns the server's address, such as "127.0.0.1:41234".
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Injector returns the server's injector: for Disable and Enable, or its
// Snapshot.
func (s *Server) Injector() *Injector { return s.inj }

// Fault returns the faults injected now.
func (s *Server) Fault() Fault { return s.inj.Fault() }

// Set replaces every fault with f (see Injector.Set).
func (s *Server) Set(f Fault) error {
	s.setMu.Lock()
	defer s.setMu.Unlock()
	return s.inj.Set(f)
}

// update applies change to the current Fault and sets the result.
func (s *Server) update(change func(f *Fault)) error {
	s.setMu.Lock()
	defer s.setMu.Unlock()
	f := s.inj.Fault()
	change(&f)
	return s.inj.Set(f)
}

// SetFailureRate makes a share p of the requests, in [0, 1], fail with the
// failure status: 500, or the code of the last SetStatus.
func (s *Server) SetFailureRate(p float64) error {
	return s.update(func(f *Fault) { f.Status.Probability = p })
}

// SetStatus makes every request fail with code (100 to 599), as a
// dependency that is down does, and makes code the failure status of
// SetFailureRate. SetStatus(0) stops status failures, SetFailureRate's
// included.
func (s *Server) SetStatus(code int) error {
	return s.update(func(f *Fault) {
		if code == 0 {
			f.Status.Probability = 0
			return
		}
		f.Status.Code = code
		f.Status.Probability = 1
	})
}

// SetLatency delays every request by d before it is served; 0 removes the
// delay. A negative d is an error.
func (s *Server) SetLatency(d time.Duration) error {
	return s.update(func(f *Fault) {
		f.Latency = LatencyFault{Duration: d}
		if d != 0 {
			f.Latency.Probability = 1
		}
	})
}

// SetResetRate makes a share p of the requests, in [0, 1], end with a
// connection reset in the middle of the body (see ResetFault).
func (s *Server) SetResetRate(p float64) error {
	return s.update(func(f *Fault) { f.Reset.Probability = p })
}

// SetBlackhole makes every request hang until the client gives up (on), or
// stops doing so (off).
func (s *Server) SetBlackhole(on bool) {
	_ = s.update(func(f *Fault) {
		f.Blackhole.Probability = 0
		if on {
			f.Blackhole.Probability = 1
		}
	})
}

// Requests returns how many requests the server received.
func (s *Server) Requests() uint64 { return s.requests.Load() }

// InFlight returns how many requests are being served.
func (s *Server) InFlight() int { return int(s.inFlight.Load()) }

// StatusCount returns how many requests were answered with code.
func (s *Server) StatusCount(code int) uint64 {
	if code < 1 || code >= len(s.statuses) {
		return 0
	}
	return s.statuses[code].Load()
}

// ResetCount returns how many connections a ResetFault reset.
func (s *Server) ResetCount() uint64 { return s.resets.Load() }

// Stats returns the server's counters.
func (s *Server) Stats() ServerStats {
	st := ServerStats{
		Requests:   s.requests.Load(),
		InFlight:   s.InFlight(),
		Statuses:   map[int]uint64{},
		Resets:     s.resets.Load(),
		Blackholes: s.blackholes.Load(),
		Hijacked:   s.hijacked.Load(),
		Unanswered: s.unanswered.Load(),
	}
	for code := range s.statuses {
		if n := s.statuses[code].Load(); n > 0 {
			st.Statuses[code] = n
		}
	}
	return st
}

// serve is the server's handler: the injector around the user's handler,
// with accounting.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.hmu.Lock()
	if s.closed {
		s.hmu.Unlock()
		panic(http.ErrAbortHandler) // no answer at all, rather than an empty 200
	}
	s.active++
	s.hmu.Unlock()

	s.requests.Add(1)
	s.inFlight.Add(1)
	// rec notes the status the handler answered with; the handler gets
	// ww, with exactly the optional interfaces of w.
	rec, ww := rwwrap.Wrap(w, rwwrap.Base{})
	var act action
	defer func() {
		s.inFlight.Add(-1)
		switch {
		case act == actReset:
			s.resets.Add(1)
		case act == actBlackhole:
			s.blackholes.Add(1)
		case rec.Hijacked():
			s.hijacked.Add(1)
		case rec.Status() == 0:
			s.unanswered.Add(1)
		case rec.Status() < len(s.statuses):
			s.statuses[rec.Status()].Add(1)
		default:
			s.statuses[0].Add(1)
		}
		s.hmu.Lock()
		s.active--
		if s.active == 0 {
			s.idle.Broadcast()
		}
		s.hmu.Unlock()
	}()
	s.inj.serveHTTP(ww, r, s.handler, &act)
	if rec.Status() == 0 && !rec.Hijacked() && r.Context().Err() != nil {
		// Blackholed or delayed until the client left or Close: send no
		// answer at all, rather than the empty 200 net/http would.
		panic(http.ErrAbortHandler)
	}
}

// Close stops the server: it ends blackholed requests and injected
// latencies, closes the listener and every connection (but those a
// handler hijacked, which are the handler's), and waits for the handlers
// in flight to return. A user Handler that ignores its request's context
// holds Close up until it returns. Close is idempotent.
func (s *Server) Close() {
	s.closing.Do(func() {
		// Connections first, so that the handlers the cancel ends find
		// nobody to answer.
		_ = s.srv.Close()
		s.cancel()
		s.hmu.Lock()
		s.closed = true
		for s.active > 0 {
			s.idle.Wait()
		}
		s.hmu.Unlock()
		<-s.served
	})
}
