package fuseboxhttp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/retry"
)

// maxReadAhead is how much of a failed attempt's response body is read
// ahead (and, for a response that is not handed to the caller, drained) so
// that its connection can be reused.
const maxReadAhead = 64 << 10

var (
	// errBodyNotReplayable: a retry of a request whose body cannot be read
	// again. Marked permanent where it is returned.
	errBodyNotReplayable = errors.New("fuseboxhttp: request body cannot be replayed (Request.GetBody is nil)")
	// errNotIdempotent: a second attempt (a retry, a hedge) of a request
	// that may be sent only once. Marked permanent where it is returned.
	errNotIdempotent = errors.New("fuseboxhttp: request is not idempotent and has no idempotency header: not sent again")
	// errNilResponse: the pipeline succeeded without a response, which
	// only a fallback answering nil can cause.
	errNilResponse = errors.New("fuseboxhttp: the pipeline succeeded without a response (a fallback answered a nil *http.Response)")
	// errFactoryPanicked is the error of a key whose pipeline factory
	// panicked; the next request for the key calls the factory again.
	errFactoryPanicked = errors.New("fuseboxhttp: pipeline factory panicked")
)

// NewRoundTripper returns a RoundTripper that runs every request through the
// pipeline of its key, each attempt being one base.RoundTrip (base nil means
// http.DefaultTransport). See the package documentation for how responses
// and errors are classified, which requests are retried, and what the
// caller receives. It returns an error when an option is invalid.
//
// The RoundTripper is safe for concurrent use. Its CloseIdleConnections
// calls base's, so http.Client.CloseIdleConnections works through it.
func NewRoundTripper(base http.RoundTripper, opts ...Option) (*RoundTripper, error) {
	o := defaultOptions()
	for _, opt := range opts {
		if opt != nil {
			opt.apply(&o)
		}
	}
	if err := o.validate(); err != nil {
		return nil, err
	}
	if base == nil {
		base = http.DefaultTransport
	}
	empty, err := fusebox.New()
	if err != nil {
		return nil, err
	}
	return &RoundTripper{base: base, o: o, empty: empty}, nil
}

// RoundTripper is an http.RoundTripper that runs each request through the
// Fusebox pipeline of its key. Make one with NewRoundTripper.
type RoundTripper struct {
	base  http.RoundTripper
	o     options
	empty *fusebox.Pipeline // the pipeline of every key without a factory
	pipes sync.Map          // key → *pipeEntry
	// hosts caches, for the default key, the pipelines of each URL host
	// as written in requests (raw host → *hostPipes), so that finding a
	// known host's pipeline builds no key string.
	hosts sync.Map
}

// hostPipes are the pipelines of one raw URL host, by schemeSlot.
type hostPipes [2]atomic.Pointer[fusebox.Pipeline]

// schemeSlot is the index in hostPipes of a URL scheme, -1 for a scheme
// the cache does not keep.
func schemeSlot(scheme string) int {
	switch scheme {
	case "http":
		return 0
	case "https":
		return 1
	}
	return -1
}

// pipelineFor returns req's pipeline.
func (t *RoundTripper) pipelineFor(req *http.Request) (*fusebox.Pipeline, error) {
	if t.o.registry != nil {
		p, err := t.o.registry.Get(t.o.keyFunc(req))
		switch {
		case err != nil:
			return nil, fmt.Errorf("fuseboxhttp: pipeline from the registry: %w", err)
		case p == nil:
			return nil, errors.New("fuseboxhttp: the registry's factory returned a nil pipeline")
		}
		return p, nil
	}
	if t.o.factory == nil {
		return t.empty, nil
	}
	if t.o.keyFuncSet || t.o.routesSet {
		return t.pipeline(t.o.keyFunc(req))
	}
	host := requestHost(req)
	slot := schemeSlot(req.URL.Scheme)
	if slot >= 0 {
		if v, ok := t.hosts.Load(host); ok {
			if p := v.(*hostPipes)[slot].Load(); p != nil {
				return p, nil
			}
		}
	}
	p, err := t.pipeline(hostKey(req))
	if err != nil {
		return nil, err
	}
	if slot >= 0 {
		v, _ := t.hosts.LoadOrStore(host, &hostPipes{})
		v.(*hostPipes)[slot].Store(p)
	}
	return p, nil
}

// pipeEntry is one key's pipeline, built once.
type pipeEntry struct {
	once  sync.Once
	ready atomic.Bool // p is set; after once
	p     *fusebox.Pipeline
	err   error
}

// pipeline returns key's pipeline, calling the factory the first time;
// there is one (pipelineFor checked).
func (t *RoundTripper) pipeline(key string) (*fusebox.Pipeline, error) {
	if v, ok := t.pipes.Load(key); ok {
		if e := v.(*pipeEntry); e.ready.Load() {
			return e.p, nil
		}
	}
	return t.build(key)
}

// build is pipeline's slow path: the first requests for a key. Concurrent
// callers share one call of the factory. An entry whose factory failed or
// panicked is removed, so that a later request tries again.
func (t *RoundTripper) build(key string) (*fusebox.Pipeline, error) {
	v, _ := t.pipes.LoadOrStore(key, &pipeEntry{})
	e := v.(*pipeEntry)
	defer func() {
		// Also when the factory panics: the panic goes on to the caller.
		if !e.ready.Load() {
			t.pipes.CompareAndDelete(key, e)
		}
	}()
	e.once.Do(func() {
		// If the factory panics, Once counts it as done: leave an error
		// behind for the callers waiting on it.
		e.err = errFactoryPanicked
		p, err := t.o.factory(key)
		switch {
		case err != nil:
			e.err = fmt.Errorf("fuseboxhttp: pipeline for key %q: %w", key, err)
		case p == nil:
			e.err = fmt.Errorf("fuseboxhttp: pipeline for key %q: the factory returned a nil pipeline", key)
		default:
			e.p, e.err = p, nil
			e.ready.Store(true)
		}
	})
	if e.err != nil {
		return nil, e.err
	}
	return e.p, nil
}

// CloseIdleConnections closes the idle connections of the base transport,
// if it has such a method.
func (t *RoundTripper) CloseIdleConnections() {
	if c, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// RoundTrip runs req through its key's pipeline.
func (t *RoundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	p, err := t.pipelineFor(req)
	if err != nil {
		closeRequestBody(req)
		return nil, err
	}
	c := newCall(t, req)
	err = p.RunCall(req.Context(), c)
	resp, err := c.finish(req.Context(), err)
	c.unref()
	return resp, err
}

// idempotent reports whether req may be sent more than once.
func (t *RoundTripper) idempotent(req *http.Request) bool {
	switch req.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return true
	}
	if t.o.idemHeader == "" {
		return false
	}
	_, ok := req.Header[t.o.idemHeader]
	return ok
}

func hasBody(req *http.Request) bool {
	return req.Body != nil && req.Body != http.NoBody
}

func closeRequestBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

// callPool holds the calls of finished RoundTrips, for the next ones.
var callPool = sync.Pool{New: func() any { return new(call) }}

// newCall returns the state of a RoundTrip of req, from callPool.
func newCall(t *RoundTripper, req *http.Request) *call {
	c := callPool.Get().(*call)
	c.t, c.req = t, req
	c.resps = c.first[:0]
	c.retryable = t.idempotent(req) && (!hasBody(req) || req.GetBody != nil)
	c.refs.Store(1)
	return c
}

// call is the state of one RoundTrip across its attempts. It goes back to
// callPool when the last of its users lets go of it: RoundTrip once
// finish has run, and each running attempt (an attempt that, against the
// policies' contract, outlives the call, keeps it until it returns). No
// response handed to the caller references it.
type call struct {
	t         *RoundTripper
	req       *http.Request
	retryable bool // idempotent, and the body (if any) can be replayed

	// refs counts RoundTrip itself and the running attempts; the call is
	// reset and pooled when it drops to zero.
	refs     atomic.Int32
	attempts atomic.Int32

	mu    sync.Mutex
	resps []tracked // responses of finished attempts not yet released
	done  bool      // finish ran: late responses are closed at once
	// result is the call's response: an attempt's, or a fallback's.
	result fusebox.Result[*http.Response]
	// first backs resps for the common single attempt, so tracking it
	// allocates nothing.
	first [1]tracked
}

// tracked is a response an attempt returned.
type tracked struct {
	resp   *http.Response
	failed bool // its status is a failure status
}

// Run implements fusebox.Call: one attempt, whose response becomes the
// call's result unless an earlier attempt succeeded or a fallback answered.
func (c *call) Run(ctx context.Context) error {
	c.refs.Add(1)
	defer c.unref()
	resp, err := c.attempt(ctx)
	c.result.Record(resp, err)
	return err
}

// unref lets go of c: the last to do so resets it and puts it back in
// callPool.
func (c *call) unref() {
	if c.refs.Add(-1) == 0 {
		*c = call{}
		callPool.Put(c)
	}
}

// SetResult implements fusebox.Call: a fallback's response (nil or an
// *http.Response) replaces the attempts'.
func (c *call) SetResult(v any) error { return c.result.Set(v) }

// attempt is one base.RoundTrip: what Run does.
func (c *call) attempt(ctx context.Context) (*http.Response, error) {
	n := c.attempts.Add(1)
	req := c.req
	if n > 1 && !c.retryable {
		// Not only retries run an attempt again: a hedge races a slow
		// one. A request that may be sent only once is not sent again,
		// and an earlier attempt's answer stays the call's (see finish).
		if hasBody(req) && req.GetBody == nil {
			return nil, retry.Permanent(errBodyNotReplayable)
		}
		return nil, retry.Permanent(errNotIdempotent)
	}
	// A failed response of an earlier attempt can no longer be the call's
	// result once another attempt is sent: release its connection.
	c.releaseFailed()

	body := req.Body
	if n > 1 && hasBody(req) {
		b, err := req.GetBody()
		if err != nil {
			return nil, retry.Permanent(fmt.Errorf("fuseboxhttp: replaying the request body: %w", err))
		}
		body = b
	}
	dl, hasDeadline := ctx.Deadline()
	h := c.t.o.deadlineHeader
	r := req
	// The request goes out as it came, without a copy, unless the
	// attempt changes its context, body or headers.
	if body != req.Body || (hasDeadline && h != "") || !sameContext(ctx, req.Context()) {
		r = req.WithContext(ctx)
		r.Body = body
		if hasDeadline && h != "" {
			ms := dl.Sub(c.t.o.clock.Now()).Milliseconds()
			r.Header = req.Header.Clone()
			if r.Header == nil {
				r.Header = make(http.Header, 1)
			}
			r.Header[h] = []string{strconv.FormatInt(max(ms, 0), 10)}
		}
	}

	resp, err := c.t.base.RoundTrip(r)
	if err != nil {
		return nil, c.mark(err)
	}
	// A protocol switch (101) hands over the connection itself as an
	// io.ReadWriteCloser body: it is neither read ahead nor wrapped in a
	// way that would hide its Write.
	upgraded := resp.StatusCode == http.StatusSwitchingProtocols
	// The body is read after the attempt returns: keep the contexts the
	// policies made for the call (a timeout's, a hedge's attempt) alive
	// until it is closed. Their deadlines still apply to the reading, and
	// an attempt that loses a hedge race is still canceled.
	if release := fusebox.Hold(ctx); release != nil {
		if rwc, ok := resp.Body.(io.ReadWriteCloser); ok && upgraded {
			resp.Body = &heldConn{ReadWriteCloser: rwc, release: release}
		} else {
			resp.Body = &heldBody{ReadCloser: resp.Body, release: release}
		}
	}
	if !c.t.o.failure.has(resp.StatusCode) {
		if !upgraded && c.t.o.readsAhead(resp) {
			if err := readAheadChecked(resp, c.t.o.readAhead); err != nil {
				// The body broke (a reset, a stall past the deadline)
				// before the attempt could hand it over: the attempt
				// failed.
				return nil, c.mark(err)
			}
		}
		c.track(resp, false)
		return resp, nil
	}
	readAhead(resp)
	wait, _ := retry.ParseRetryAfter(resp.Header.Get("Retry-After"), c.t.o.clock.Now())
	c.track(resp, true)
	return resp, c.mark(&retry.StatusError{Code: resp.StatusCode, Wait: wait})
}

// mark makes err permanent when the request must not be retried.
func (c *call) mark(err error) error {
	if c.retryable {
		return err
	}
	return retry.Permanent(err)
}

// track records a response an attempt returned; after finish, it closes it
// instead (an attempt that outlived the call, which no policy should allow).
func (c *call) track(resp *http.Response, failed bool) {
	c.mu.Lock()
	if !c.done {
		c.resps = append(c.resps, tracked{resp: resp, failed: failed})
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	drainAndClose(resp)
}

// releaseFailed closes the failed responses of finished attempts.
func (c *call) releaseFailed() {
	c.mu.Lock()
	var release []*http.Response
	kept := c.resps[:0]
	for _, tr := range c.resps {
		if tr.failed {
			release = append(release, tr.resp)
		} else {
			kept = append(kept, tr)
		}
	}
	clear(c.resps[len(kept):])
	c.resps = kept
	c.mu.Unlock()
	for _, r := range release {
		drainAndClose(r)
	}
}

// finish turns the pipeline's result into RoundTrip's and releases every
// response that is not handed to the caller.
func (c *call) finish(ctx context.Context, err error) (*http.Response, error) {
	c.mu.Lock()
	c.done = true
	resps := c.resps
	c.resps = nil
	c.mu.Unlock()
	v := c.result.ValueFor(err)
	if v == nil && (errors.Is(err, errNotIdempotent) || errors.Is(err, errBodyNotReplayable)) {
		// An extra attempt that sent nothing (a hedge of a request sent
		// only once) was the last to finish: the answer the server gave
		// the attempt that was sent stands.
		for _, tr := range resps {
			if tr.failed {
				v = tr.resp
			}
		}
	}

	ours := false
	for _, tr := range resps {
		if tr.resp == v {
			ours = true
		}
	}
	var out *http.Response
	switch {
	case err == nil && v == nil:
		err = errNilResponse
	case err == nil:
		out = v
	case ours && v != nil && c.t.o.failure.has(v.StatusCode) && !interrupted(ctx, err):
		// The call ended on a failure status, retried or not: the caller
		// gets the server's answer, as from a plain transport.
		out, err = v, nil
	}
	for _, tr := range resps {
		if tr.resp != out {
			drainAndClose(tr.resp)
		}
	}
	if c.attempts.Load() == 0 {
		// No attempt ran, so no transport took the body over.
		closeRequestBody(c.req)
	}
	return out, err
}

// sameContext reports whether a and b are the same context. Comparing two
// interface values of one non-comparable dynamic type panics; such
// contexts are never the same.
func sameContext(a, b context.Context) (same bool) {
	defer func() { _ = recover() }()
	return a == b
}

// interrupted reports whether err says the call was cut short rather than
// answered: a policy's rejection, a timeout, or the caller's cancellation.
func interrupted(ctx context.Context, err error) bool {
	return ctx.Err() != nil ||
		errors.Is(err, fusebox.ErrOpen) ||
		errors.Is(err, fusebox.ErrBulkheadFull) ||
		errors.Is(err, fusebox.ErrRateLimited) ||
		errors.Is(err, fusebox.ErrClosed) ||
		errors.Is(err, fusebox.ErrTimeout) ||
		errors.Is(err, context.Canceled) ||
		errors.Is(err, context.DeadlineExceeded)
}

// readsAhead reports whether an attempt reads ahead of resp's body: with
// WithBodyReadAhead always, by default only for a declared length within
// the limit.
func (o *options) readsAhead(resp *http.Response) bool {
	if o.readAhead <= 0 || resp.Body == nil || resp.Body == http.NoBody {
		return false
	}
	if o.readAheadAll {
		return true
	}
	return resp.ContentLength >= 0 && resp.ContentLength <= o.readAhead
}

// heldBody releases the attempt's timeout contexts when it is closed.
type heldBody struct {
	io.ReadCloser
	release func()
}

func (b *heldBody) Close() error {
	err := b.ReadCloser.Close()
	b.release()
	return err
}

// heldConn is heldBody for the connection of a protocol switch, which the
// caller also writes to.
type heldConn struct {
	io.ReadWriteCloser
	release func()
}

func (b *heldConn) Close() error {
	err := b.ReadWriteCloser.Close()
	b.release()
	return err
}
