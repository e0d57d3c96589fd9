package fuseboxhttp

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/clock"
	"github.com/fusebox-go/fusebox/registry"
)

// Defaults of the client options.
const (
	// DefaultIdempotencyHeader marks a request as safe to retry whatever
	// its method (draft-ietf-httpapi-idempotency-key-header).
	DefaultIdempotencyHeader = "Idempotency-Key"
	// DefaultDeadlineHeader carries the caller's remaining time budget in
	// whole milliseconds, from the RoundTripper to the Deadline middleware.
	DefaultDeadlineHeader = "X-Fusebox-Deadline-Ms"
)

// defaultFailureStatuses are the response statuses a RoundTripper treats as
// failures unless WithFailureStatuses says otherwise.
var defaultFailureStatuses = [...]int{408, 429, 500, 502, 503, 504}

// Option configures NewRoundTripper.
type Option interface {
	apply(*options)
}

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

// options holds what the Options set; validate checks it once, in
// NewRoundTripper.
type options struct {
	factory        func(key string) (*fusebox.Pipeline, error)
	factorySet     bool
	registry       *registry.Registry[*fusebox.Pipeline]
	registrySet    bool
	keyFunc        func(*http.Request) string
	keyFuncSet     bool
	routes         []string
	routesSet      bool
	failure        statusSet
	badStatuses    []int
	idemHeader     string
	deadlineHeader string
	clock          clock.Clock
	// readAhead bounds how much of a successful response's body an
	// attempt reads before it returns; readAll says to read ahead of
	// bodies of unknown length too.
	readAhead    int64
	readAheadAll bool
	badReadAhead bool
}

// defaultOptions is every default of the client in one place.
func defaultOptions() options {
	o := options{
		keyFunc:        hostKey,
		idemHeader:     DefaultIdempotencyHeader,
		deadlineHeader: DefaultDeadlineHeader,
		clock:          clock.Real(),
		readAhead:      maxReadAhead,
	}
	for _, c := range defaultFailureStatuses {
		o.failure.add(c)
	}
	return o
}

func (o *options) validate() error {
	if o.factorySet && o.factory == nil {
		return errors.New("fuseboxhttp: WithPipeline(nil): want a pipeline factory (leave the option out for an empty pipeline)")
	}
	if o.registrySet && o.registry == nil {
		return errors.New("fuseboxhttp: WithRegistry(nil): want a registry (leave the option out for WithPipeline's or an empty pipeline)")
	}
	if o.registrySet && o.factorySet {
		return errors.New("fuseboxhttp: WithPipeline and WithRegistry both set: want one of them")
	}
	if o.keyFuncSet && o.routesSet {
		return errors.New("fuseboxhttp: WithKeyFunc and WithRouteKey both set: want one of them")
	}
	if o.keyFuncSet && o.keyFunc == nil {
		return errors.New("fuseboxhttp: WithKeyFunc(nil): want a key function (leave the option out for the default, scheme and host)")
	}
	if o.routesSet {
		m, err := newRouteMatcher(o.routes)
		if err != nil {
			return err
		}
		o.keyFunc = m.key
	}
	if len(o.badStatuses) > 0 {
		return fmt.Errorf("fuseboxhttp: WithFailureStatuses: status %d out of range: want 100 to 599", o.badStatuses[0])
	}
	if o.idemHeader != "" && !validHeaderName(o.idemHeader) {
		return fmt.Errorf("fuseboxhttp: WithIdempotencyHeader(%q): not a valid header name (want an HTTP token, or \"\" for none)", o.idemHeader)
	}
	if o.deadlineHeader != "" && !validHeaderName(o.deadlineHeader) {
		return fmt.Errorf("fuseboxhttp: WithDeadlineHeader(%q): not a valid header name (want an HTTP token, or \"\" for none)", o.deadlineHeader)
	}
	if o.clock == nil {
		return errors.New("fuseboxhttp: WithClock(nil): want a clock (leave the option out for the real clock)")
	}
	if o.badReadAhead {
		return fmt.Errorf("fuseboxhttp: WithBodyReadAhead(%d) out of range: want 0 (off) or more bytes", o.readAhead)
	}
	o.idemHeader = http.CanonicalHeaderKey(o.idemHeader)
	o.deadlineHeader = http.CanonicalHeaderKey(o.deadlineHeader)
	return nil
}

// WithPipeline sets the factory of the per-key pipelines: the first request
// for a key calls it, once, and every request for the key then runs through
// the pipeline it returned. Concurrent first requests for a key wait for the
// one call. When the factory fails (or returns a nil pipeline), the
// request fails with its error and the next request for the key calls it
// again.
//
// Without this option every key gets an empty pipeline: requests are only
// classified, never retried nor rejected.
//
// The factory is called with the request's key (see WithKeyFunc); the keys
// live as long as the RoundTripper, so keep their number bounded. When it is
// not (a client of many hosts: webhooks, crawlers), use WithRegistry.
//
// The RoundTripper's Range and Snapshot reach the pipelines the factory
// built, by key, for metrics (fuseboxprom's Collector.AddRegistry), the
// dashboard (a Config.Sources entry) or code of one's own: the same way as
// with WithRegistry.
func WithPipeline(factory func(key string) (*fusebox.Pipeline, error)) Option {
	return optionFunc(func(o *options) { o.factory, o.factorySet = factory, true })
}

// WithRegistry takes every request's pipeline from reg, by the request's
// key, instead of keeping one per key for the life of the RoundTripper:
// the registry creates pipelines lazily, evicts the idle ones and never
// holds more than its MaxKeys, whatever their breakers' state (see
// registry.Config). Memory then stays bounded however many hosts the client
// calls, failing ones included: MaxKeys pipelines, and at most
// MaxRemembered remembered hosts of 16 bytes each.
//
// The rule for open breakers: the registry evicts a pipeline whose
// breaker is open only when every pipeline it holds has state to keep,
// and then remembers the host until the breaker's open period ends (for a
// breaker forced open, until reg.Delete). Until then a request to the host
// is not sent: it fails with a *registry.HeldError, which matches
// fusebox.ErrOpen like the breaker's own rejection and tells the time left
// through RetryAfter. After it the host gets a new pipeline, whose breaker
// starts closed. When more hosts are evicted within one open period than
// the registry remembers (MaxRemembered, 4 × MaxKeys by default), the
// hosts whose periods end first are forgotten early and called again:
// size MaxRemembered accordingly.
//
// A request costs a registry lookup; the default key is built for every
// request, as the cache of WithPipeline's pipelines per host would itself
// grow with the hosts.
//
// Other code may share reg, to see the same pipelines (for metrics, say);
// the RoundTripper's Range and Snapshot are reg's, so code that reads them
// works with either option. WithRegistry and WithPipeline exclude each
// other.
func WithRegistry(reg *registry.Registry[*fusebox.Pipeline]) Option {
	return optionFunc(func(o *options) { o.registry, o.registrySet = reg, true })
}

// WithKeyFunc sets how a request's key, the name of its pipeline, is made.
// The default is the URL's scheme and host, "https://api.example.com:8443".
// The function must be fast and safe for concurrent use, and its keys few:
// each key keeps a pipeline for the life of the RoundTripper.
func WithKeyFunc(key func(*http.Request) string) Option {
	return optionFunc(func(o *options) { o.keyFunc, o.keyFuncSet = key, true })
}

// WithRouteKey keys requests by scheme, host and route template: with the
// template "/users/{id}", a request for https://api.example.com/users/42 has
// the key "https://api.example.com/users/{id}", so every user shares one
// breaker and /orders another. A template is a path of segments; a segment
// "{name}" matches any one non-empty segment, and a last segment
// "{name...}" matches the rest of the path, however long. The first
// template that matches wins; a request no template matches gets the
// default key, scheme and host. Templates are checked by NewRoundTripper.
func WithRouteKey(templates ...string) Option {
	t := append([]string(nil), templates...)
	return optionFunc(func(o *options) { o.routes, o.routesSet = t, true })
}

// WithFailureStatuses replaces the set of response statuses that count as
// failures. By default they are 408 Request Timeout, 429 Too Many
// Requests, 500 Internal Server Error, 502 Bad Gateway, 503 Service
// Unavailable and 504 Gateway Timeout. A failure status becomes a
// *retry.StatusError for the policies; any other status is a success. To
// keep 408 and 429 from counting against the breaker (and from being
// retried):
//
//	fuseboxhttp.WithFailureStatuses(500, 502, 503, 504)
//
// No argument means no status is a failure: only transport errors are.
func WithFailureStatuses(codes ...int) Option {
	c := append([]int(nil), codes...)
	return optionFunc(func(o *options) {
		o.failure = statusSet{}
		o.badStatuses = nil
		for _, code := range c {
			if code < 100 || code > 599 {
				o.badStatuses = append(o.badStatuses, code)
				continue
			}
			o.failure.add(code)
		}
	})
}

// WithIdempotencyHeader names the header that marks a request of any
// method as safe to retry (DefaultIdempotencyHeader by default). The header
// counts when it is present in Request.Header, whatever its value. ""
// means no header does: only the method decides.
func WithIdempotencyHeader(name string) Option {
	return optionFunc(func(o *options) { o.idemHeader = name })
}

// WithDeadlineHeader names the header that carries the time left before
// the request context's deadline (DefaultDeadlineHeader by default). ""
// means the deadline is not sent.
func WithDeadlineHeader(name string) Option {
	return optionFunc(func(o *options) { o.deadlineHeader = name })
}

// WithBodyReadAhead makes every attempt read up to n bytes of a successful
// response's body before it returns, whatever the body's length: a
// connection reset or a stall in those bytes then fails the attempt, so
// the breaker counts it and a retry may repeat it, instead of the caller
// meeting it later while reading. The caller reads the same bytes from
// memory, then the rest of the body, if any. n = 0 turns read-ahead off.
//
// Without the option, an attempt reads ahead only bodies that declare a
// Content-Length of at most 64 KiB: short, complete answers, never a
// stream. Use the option when the server sends short bodies chunked; do
// not use it for endpoints that stream (server-sent events, long polls),
// whose first bytes may never come within the attempt's deadline.
func WithBodyReadAhead(n int) Option {
	return optionFunc(func(o *options) {
		o.readAhead, o.readAheadAll, o.badReadAhead = int64(n), n > 0, n < 0
	})
}

// WithClock sets the clock that dates Retry-After headers and measures the
// time left before a deadline. The default is clock.Real(); context
// deadlines are wall-clock times, so only tests should change it.
func WithClock(c clock.Clock) Option {
	return optionFunc(func(o *options) { o.clock = c })
}

// statusSet is a set of status codes 100 to 599 as a bit set.
type statusSet [10]uint64

func (s *statusSet) add(code int) { s[code/64] |= 1 << (code % 64) }

func (s *statusSet) has(code int) bool {
	if code < 0 || code >= 640 {
		return false
	}
	return s[code/64]&(1<<(code%64)) != 0
}

// validHeaderName reports whether name is an HTTP token (RFC 9110, 5.1).
func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '!' || c == '#' || c == '$' || c == '%' || c == '&' || c == '\'' || c == '*' ||
			c == '+' || c == '-' || c == '.' || c == '^' || c == '_' || c == '`' || c == '|' || c == '~':
		default:
			return false
		}
	}
	return true
}
