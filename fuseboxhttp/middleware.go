package fuseboxhttp

import (
	"errors"
	"fmt"
	"log"
	"math"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/bulkhead"
	"github.com/fusebox-go/fusebox/clock"
	"github.com/fusebox-go/fusebox/internal/rwwrap"
	"github.com/fusebox-go/fusebox/ratelimit"
	"github.com/fusebox-go/fusebox/timeout"
)

// Middleware wraps a handler. The constructors of this package return
// validated Middleware; any func(http.Handler) http.Handler is one too.
type Middleware func(http.Handler) http.Handler

// Chain composes middleware, the first outermost: Chain(a, b, c)(h) is
// a(b(c(h))), so a request meets a first. Nil entries are skipped.
func Chain(m ...Middleware) Middleware {
	m = append([]Middleware(nil), m...)
	return func(h http.Handler) http.Handler {
		for i := len(m) - 1; i >= 0; i-- {
			if m[i] != nil {
				h = m[i](h)
			}
		}
		return h
	}
}

// DefaultRetryAfter is the Retry-After a LoadShedder answers with when its
// config leaves RetryAfter zero.
const DefaultRetryAfter = time.Second

// retryAfterValue renders d as a Retry-After value: whole seconds, rounded
// up, at least 1.
func retryAfterValue(d time.Duration) string {
	s := int64(math.Ceil(d.Seconds()))
	if s < 1 {
		s = 1
	}
	return strconv.FormatInt(s, 10)
}

// LoadShedderConfig configures LoadShedder. The zero value is valid: 25
// requests at once, no queue, Retry-After 1 second.
type LoadShedderConfig struct {
	// Name identifies the bulkhead in events.
	Name string `json:"name" yaml:"name"`
	// MaxConcurrent is how many requests may be handled at once: 0 means
	// bulkhead.DefaultMaxConcurrent (25); allowed 0 to bulkhead.MaxLimit.
	MaxConcurrent int `json:"maxConcurrent" yaml:"maxConcurrent"`
	// MaxQueue is how many requests may wait for a slot: 0 means none, a
	// request that finds every slot taken is shed at once.
	MaxQueue int `json:"maxQueue" yaml:"maxQueue"`
	// MaxWait is how long a request may wait in the queue before it is
	// shed: 0 means until a slot frees up or the client goes away.
	MaxWait time.Duration `json:"maxWait" yaml:"maxWait"`
	// RetryAfter is what a shed request is told to wait, sent in whole
	// seconds rounded up: 0 means DefaultRetryAfter (1s). Negative values
	// are an error.
	RetryAfter time.Duration `json:"retryAfter" yaml:"retryAfter"`
	// Bulkhead, when set, is used instead of one built from MaxConcurrent,
	// MaxQueue and MaxWait, which must then be zero: share one bulkhead
	// among several routes, or read its Snapshot.
	Bulkhead *bulkhead.Bulkhead `json:"-" yaml:"-"`
	// Clock is the bulkhead's clock: nil means clock.Default().
	Clock clock.Clock `json:"-" yaml:"-"`
	// Events receives the bulkhead's events; nil means none.
	Events *fusebox.Events `json:"-" yaml:"-"`
}

// shedBody is the body of a shed request's 503.
const shedBody = "server overloaded: retry later"

// LoadShedder returns middleware that admits at most MaxConcurrent requests
// at once, queues up to MaxQueue more (each up to MaxWait), and answers the
// rest at once with 503 Service Unavailable, a Retry-After header and a
// short plain-text body, without calling the handler. A shed request is a
// rejection, not a failure: nothing counts it against anything. The slot is
// released when the handler returns, also when it panics.
//
// Put it early in the chain, so that shed requests cost as little as
// possible, but inside Recover.
func LoadShedder(c LoadShedderConfig) (Middleware, error) {
	if c.RetryAfter < 0 {
		return nil, fmt.Errorf("fuseboxhttp: LoadShedderConfig.RetryAfter %v out of range: want 0 (default %v) or more", c.RetryAfter, DefaultRetryAfter)
	}
	if c.RetryAfter == 0 {
		c.RetryAfter = DefaultRetryAfter
	}
	bh := c.Bulkhead
	if bh != nil {
		if c.MaxConcurrent != 0 || c.MaxQueue != 0 || c.MaxWait != 0 {
			return nil, errors.New("fuseboxhttp: LoadShedderConfig: Bulkhead set together with MaxConcurrent, MaxQueue or MaxWait: want one or the other")
		}
	} else {
		var err error
		bh, err = bulkhead.New(bulkhead.Config{Name: c.Name, MaxConcurrent: c.MaxConcurrent, MaxQueue: c.MaxQueue, MaxWait: c.MaxWait, Clock: c.Clock, Events: c.Events})
		if err != nil {
			return nil, fmt.Errorf("fuseboxhttp: LoadShedderConfig: %w", err)
		}
	}
	retryAfter := retryAfterValue(c.RetryAfter)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p, err := bh.Acquire(r.Context())
			if err != nil {
				// Full, or the client left while queued: either way the
				// handler does not run.
				w.Header().Set("Retry-After", retryAfter)
				http.Error(w, shedBody, http.StatusServiceUnavailable)
				return
			}
			defer p.Release()
			next.ServeHTTP(w, r)
		})
	}, nil
}

// RateLimiterConfig configures RateLimiter. Rate is required.
type RateLimiterConfig struct {
	// Name identifies the limiter in events.
	Name string `json:"name" yaml:"name"`
	// Rate is how many requests per second each key may make. Required
	// (unless Limiter is set); the range is ratelimit.KeyedConfig's.
	Rate float64 `json:"rate" yaml:"rate"`
	// Burst is how many requests a key may make at once after a quiet
	// spell: 0 means ceil(Rate), at least 1.
	Burst int `json:"burst" yaml:"burst"`
	// MaxKeys caps how many keys are remembered: 0 means
	// ratelimit.DefaultMaxKeys.
	MaxKeys int `json:"maxKeys" yaml:"maxKeys"`
	// IdleTimeout is how long an unused key is remembered: 0 means
	// ratelimit.DefaultIdleTimeout.
	IdleTimeout time.Duration `json:"idleTimeout" yaml:"idleTimeout"`
	// KeyFunc returns a request's key: nil means the client's IP address,
	// from RemoteAddr or, with TrustedProxies, X-Forwarded-For (see
	// ClientIP). A key may come straight from a header the client sends:
	// the limiter keeps a key longer than ratelimit.MaxKeyLen bytes as a
	// fixed-size digest, so a client's long values cost no more memory
	// than short ones.
	KeyFunc func(*http.Request) string `json:"-" yaml:"-"`
	// TrustedProxies is how many reverse proxies in front of the server
	// append to X-Forwarded-For: the default key is then that many entries
	// from the right of the header. 0 means none: the header is ignored,
	// since any client can send it. Must be 0 when KeyFunc is set.
	TrustedProxies int `json:"trustedProxies" yaml:"trustedProxies"`
	// RetryAfter is what a limited request is told to wait, sent in whole
	// seconds rounded up: 0 means the time one token takes to arrive
	// (1/Rate), at least one second.
	RetryAfter time.Duration `json:"retryAfter" yaml:"retryAfter"`
	// Limiter, when set, is used instead of one built from Rate, Burst,
	// MaxKeys and IdleTimeout, which must then be zero.
	Limiter *ratelimit.Keyed `json:"-" yaml:"-"`
	// Clock is the limiter's clock: nil means clock.Default().
	Clock clock.Clock `json:"-" yaml:"-"`
	// Events receives the limiter's events; nil means none.
	Events *fusebox.Events `json:"-" yaml:"-"`
}

// limitedBody is the body of a rate-limited request's 429.
const limitedBody = "too many requests: retry later"

// RateLimiter returns middleware that gives each key (by default each
// client IP address) a token bucket of Rate requests per second and Burst
// at once, and answers a request that finds its bucket empty with 429 Too
// Many Requests, a Retry-After header and a short plain-text body, without
// calling the handler.
func RateLimiter(c RateLimiterConfig) (Middleware, error) {
	if c.TrustedProxies < 0 {
		return nil, fmt.Errorf("fuseboxhttp: RateLimiterConfig.TrustedProxies %d out of range: want 0 (ignore X-Forwarded-For) or more", c.TrustedProxies)
	}
	if c.KeyFunc != nil && c.TrustedProxies != 0 {
		return nil, errors.New("fuseboxhttp: RateLimiterConfig: TrustedProxies set together with KeyFunc: want 0 with a KeyFunc of your own")
	}
	if c.RetryAfter < 0 {
		return nil, fmt.Errorf("fuseboxhttp: RateLimiterConfig.RetryAfter %v out of range: want 0 (default 1/Rate, at least 1s) or more", c.RetryAfter)
	}
	k := c.Limiter
	if k != nil {
		if c.Rate != 0 || c.Burst != 0 || c.MaxKeys != 0 || c.IdleTimeout != 0 {
			return nil, errors.New("fuseboxhttp: RateLimiterConfig: Limiter set together with Rate, Burst, MaxKeys or IdleTimeout: want one or the other")
		}
	} else {
		var err error
		k, err = ratelimit.NewKeyed(ratelimit.KeyedConfig{Name: c.Name, Rate: c.Rate, Burst: c.Burst, MaxKeys: c.MaxKeys, IdleTimeout: c.IdleTimeout, Clock: c.Clock, Events: c.Events})
		if err != nil {
			return nil, fmt.Errorf("fuseboxhttp: RateLimiterConfig: %w", err)
		}
	}
	if c.RetryAfter == 0 {
		c.RetryAfter = time.Duration(float64(time.Second) / k.Rate())
	}
	retryAfter := retryAfterValue(c.RetryAfter)
	keyFunc := c.KeyFunc
	if keyFunc == nil {
		hops := c.TrustedProxies
		keyFunc = func(r *http.Request) string { return ClientIP(r, hops) }
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !k.Allow(keyFunc(r)) {
				w.Header().Set("Retry-After", retryAfter)
				http.Error(w, limitedBody, http.StatusTooManyRequests)
				return
			}
			next.ServeHTTP(w, r)
		})
	}, nil
}

// ClientIP returns the IP address of the client that sent r. With
// trustedProxies 0 it is the host of r.RemoteAddr; X-Forwarded-For is
// ignored, since any client can set it. With n trusted reverse proxies in
// front of the server, each appending the address it received the request
// from, it is the n-th address from the right of X-Forwarded-For (all its
// lines together): the one the outermost trusted proxy saw. When the header
// holds fewer addresses than that, or the chosen one is not an IP address,
// the request did not come through the proxies as expected and RemoteAddr
// is used.
func ClientIP(r *http.Request, trustedProxies int) string {
	if trustedProxies > 0 {
		if ip, ok := forwardedFor(r.Header.Values("X-Forwarded-For"), trustedProxies); ok {
			return ip
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// forwardedFor returns the n-th address from the right of the
// X-Forwarded-For lines, if there is one and it is an IP address.
func forwardedFor(lines []string, n int) (string, bool) {
	for i := len(lines) - 1; i >= 0; i-- {
		line := lines[i]
		for {
			j := strings.LastIndexByte(line, ',')
			addr := strings.TrimSpace(line[j+1:])
			n--
			if n == 0 {
				if net.ParseIP(addr) == nil {
					return "", false
				}
				return addr, true
			}
			if j < 0 {
				break
			}
			line = line[:j]
		}
	}
	return "", false
}

// DeadlineConfig configures Deadline. The zero value is valid: the
// default header, no cap.
type DeadlineConfig struct {
	// Header carries the client's remaining budget in whole milliseconds:
	// "" means DefaultDeadlineHeader, which a fuseboxhttp RoundTripper
	// sends.
	Header string `json:"header" yaml:"header"`
	// Max caps the handler's budget: a header asking for more is cut to
	// Max, and a request without a valid header gets Max. 0 means no cap,
	// and no deadline for requests without the header. Negative values are
	// an error.
	Max time.Duration `json:"max" yaml:"max"`
	// Clock times the deadlines; nil means the real clock, read through
	// its coarse clock (millisecond precision).
	Clock clock.Clock `json:"-" yaml:"-"`
}

// Deadline returns middleware that propagates a client's deadline: it reads
// the remaining budget from the header (a non-negative integer of
// milliseconds, as a fuseboxhttp RoundTripper sends it) and runs the
// handler with a context whose deadline is that far away, capped at Max. A
// context deadline already earlier stays. A budget of 0 gives an already
// expired context: the client has no time left.
//
// A malformed header (not a non-negative integer, or too large) is ignored,
// as if absent, rather than answered with 400: the header is advice from a
// client, and a request should not fail over it.
//
// The handler's context is timeout.NewContext's: its deadline is read from
// a coarse clock, and no timer runs until the handler waits on Done (an
// outgoing call with the context does), so a handler that never waits pays
// for neither a timer nor a registration with the connection's context.
func Deadline(c DeadlineConfig) (Middleware, error) {
	if c.Max < 0 {
		return nil, fmt.Errorf("fuseboxhttp: DeadlineConfig.Max %v out of range: want 0 (no cap) or more", c.Max)
	}
	header := c.Header
	if header == "" {
		header = DefaultDeadlineHeader
	}
	if !validHeaderName(header) {
		return nil, fmt.Errorf("fuseboxhttp: DeadlineConfig.Header %q: not a valid header name (want an HTTP token, or \"\" for %s)", c.Header, DefaultDeadlineHeader)
	}
	header = http.CanonicalHeaderKey(header)
	maxBudget := c.Max
	clk := clock.Cached(c.Clock) // once, not per request
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			budget, ok := parseBudget(r.Header.Get(header))
			switch {
			case ok && maxBudget > 0:
				budget = min(budget, maxBudget)
			case !ok && maxBudget > 0:
				budget, ok = maxBudget, true
			}
			if !ok {
				next.ServeHTTP(w, r)
				return
			}
			ctx, cancel := timeout.NewContext(r.Context(), budget, clk)
			defer cancel()
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}, nil
}

// parseBudget parses a deadline header: a non-negative decimal number of
// milliseconds that fits a time.Duration.
func parseBudget(v string) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" || len(v) > 12 { // 12 digits of ms: 31 years, well within a Duration
		return 0, false
	}
	var ms int64
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return 0, false
		}
		ms = ms*10 + int64(v[i]-'0')
	}
	return time.Duration(ms) * time.Millisecond, true
}

// RecoverConfig configures Recover. The zero value is valid.
type RecoverConfig struct {
	// OnPanic is called with the value a handler panicked with and the
	// goroutine's stack, before the 500 is written. nil means the panic is
	// logged with the standard library's default logger. It must not
	// panic itself.
	OnPanic func(v any, stack []byte) `json:"-" yaml:"-"`
}

// Recover returns middleware that keeps a panicking handler from taking
// the connection down with it: the panic is reported to OnPanic and, if the
// handler had not yet sent the response headers, answered with 500 Internal
// Server Error. If it had, the response cannot be fixed any more, and the
// panic continues as http.ErrAbortHandler, which makes net/http abort the
// response (the client sees a broken response, not a truncated one that
// looks whole) without logging it again. A panic with http.ErrAbortHandler
// itself is re-raised untouched, as net/http expects. A handler that had
// hijacked the connection (http.Hijacker) owns it: its panic is reported,
// and nothing is written. In every case the server goes on serving other
// requests.
//
// The handler's ResponseWriter has exactly the optional interfaces of the
// one Recover is given, among http.Flusher, http.Hijacker, io.ReaderFrom
// and http.Pusher, so that a type assertion answers as it would without
// Recover: a websocket upgrade finds its Hijacker on HTTP/1.x, and an
// HTTP/2 response, which has none, does not claim one. It also has the
// methods http.ResponseController uses (FlushError, SetReadDeadline,
// SetWriteDeadline, EnableFullDuplex), which return an error matching
// http.ErrNotSupported where the writer underneath does not support them,
// and Unwrap. Once the handler has hijacked the connection through it,
// its writes and flushes fail with http.ErrHijacked without reaching the
// connection. Once the handler has unwrapped it (as ResponseController does
// to hijack a writer that is no Hijacker itself but wraps one), Recover can
// no longer see what was written, and a panic aborts the response rather
// than risk a 500 in the middle of one.
//
// Put it outermost, so that it covers every other middleware.
func Recover(c RecoverConfig) (Middleware, error) {
	onPanic := c.OnPanic
	if onPanic == nil {
		onPanic = func(v any, stack []byte) {
			log.Printf("fuseboxhttp: panic serving request: %v\n%s", v, stack)
		}
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rw, ww := rwwrap.Wrap(w, rwwrap.Base{})
			defer func() {
				v := recover()
				if v == nil {
					return
				}
				if v == http.ErrAbortHandler {
					panic(v)
				}
				onPanic(v, debug.Stack())
				switch {
				case rw.Hijacked():
					// The connection is the handler's now: nothing
					// may be written to it, and net/http has nothing
					// to abort.
					return
				case rw.Status() != 0, rw.Unwrapped():
					panic(http.ErrAbortHandler)
				}
				h := w.Header()
				for k := range h {
					delete(h, k)
				}
				http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
			}()
			next.ServeHTTP(ww, r)
		})
	}, nil
}
