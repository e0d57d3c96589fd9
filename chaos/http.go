package chaos

import (
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/fusebox-go/fusebox/internal/rwwrap"
)

// FaultHeader is the response header that marks a response made up by a
// fault (an ErrorFault's 500 or a StatusFault's status), with the fault's
// name ("error", "status") as its value, so that a test or an operator can
// tell an injected failure from a real one.
const FaultHeader = "X-Chaos-Fault"

// errConnReset is what a body cut by a client-side ResetFault returns: the
// error a read from a connection reset by its peer returns.
var errConnReset error = &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}

// errWriteReset is what a handler's writes return once a server-side
// ResetFault has cut its connection.
var errWriteReset = errors.New("chaos: connection reset by fault injection")

// RoundTripper is an http.RoundTripper that injects an Injector's faults
// into the requests it sends through its base transport. Create one with
// NewRoundTripper.
type RoundTripper struct {
	base http.RoundTripper
	inj  *Injector
}

// NewRoundTripper returns a RoundTripper that sends requests through base
// (http.DefaultTransport if nil) with inj's faults (none if inj is nil):
//
//   - Blackhole: the request hangs until its context ends, and returns the
//     context's error; base never sees it.
//   - Latency: the request waits before it is sent (or returns the
//     context's error if the context ends first).
//   - Error: the request fails with the ErrorFault's error without being
//     sent, as a refused connection does.
//   - Status: the request is answered with the StatusFault's response
//     without being sent; the response carries FaultHeader.
//   - Reset: the request is sent, and the response's body is cut after
//     AfterBytes bytes with an error matching syscall.ECONNRESET (also when
//     the real body is shorter).
//
// The request's body is closed whenever base does not get the request.
func NewRoundTripper(base http.RoundTripper, inj *Injector) *RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &RoundTripper{base: base, inj: inj}
}

// RoundTrip implements http.RoundTripper.
func (t *RoundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	d, p, ok := t.inj.decide(true)
	if !ok {
		return t.base.RoundTrip(req)
	}
	ctx := req.Context()
	if d.act == actBlackhole {
		closeBody(req)
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if err := sleep(ctx, t.inj.clk, d.delay); err != nil {
		closeBody(req)
		return nil, err
	}
	switch d.act {
	case actError:
		closeBody(req)
		return nil, p.err
	case actStatus:
		closeBody(req)
		return statusResponse(req, p.code, p.body), nil
	case actReset:
		resp, err := t.base.RoundTrip(req)
		if err != nil {
			return nil, err
		}
		resp.Body = &resetBody{rc: resp.Body, left: p.fault.Reset.AfterBytes}
		return resp, nil
	}
	return t.base.RoundTrip(req)
}

// CloseIdleConnections closes the idle connections of the base transport,
// if it has such a method, so that http.Client.CloseIdleConnections works
// through a RoundTripper.
func (t *RoundTripper) CloseIdleConnections() {
	if c, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
}

// statusResponse makes up the response of a StatusFault.
func statusResponse(req *http.Request, code int, body string) *http.Response {
	return &http.Response{
		Status:     strconv.Itoa(code) + " " + http.StatusText(code),
		StatusCode: code,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header: http.Header{
			"Content-Type":   {"text/plain; charset=utf-8"},
			"Content-Length": {strconv.Itoa(len(body))},
			FaultHeader:      {"status"},
		},
		Body:          io.NopCloser(strings.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       req,
	}
}

// resetBody passes left bytes of a response body, then fails as a
// connection reset by the peer does.
type resetBody struct {
	rc   io.ReadCloser
	left int
}

func (b *resetBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, errConnReset
	}
	if len(p) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= n
	if err == io.EOF {
		// The real body ended first: the reset comes at its end.
		b.left = 0
		if n > 0 {
			return n, nil
		}
		return 0, errConnReset
	}
	return n, err
}

func (b *resetBody) Close() error { return b.rc.Close() }

// Middleware returns HTTP middleware that injects inj's faults into the
// requests its handler serves:
//
//   - Blackhole: the request gets no answer until its context ends (the
//     client gives up, or the server shuts down); the handler is not run.
//   - Latency: the handler runs after the delay (not at all if the request's
//     context ends first).
//   - Error: 500 with the error's text, without running the handler.
//   - Status: the StatusFault's code and body, without running the handler.
//   - Reset: the handler runs; after AfterBytes bytes of its body (or at its
//     end, if it writes fewer) the connection is closed with a TCP RST. Its
//     later writes fail. When the connection cannot be taken over (HTTP/2),
//     the response is aborted with http.ErrAbortHandler instead, which
//     resets the stream. A handler that takes the connection over first
//     (http.Hijacker, as a websocket upgrade does) owns it: the reset
//     leaves it alone.
//
// The handler's ResponseWriter has exactly the optional interfaces of the
// one the middleware is given, among http.Flusher, http.Hijacker,
// io.ReaderFrom and http.Pusher. Made-up responses carry FaultHeader. A nil
// inj injects nothing.
func Middleware(inj *Injector) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var act action
			inj.serveHTTP(w, r, next, &act)
		})
	}
}

// serveHTTP serves r with inj's faults around next. It sets *act to the
// fault applied before applying it, so that a caller's deferred accounting
// sees it even when the reset aborts the handler with a panic.
func (inj *Injector) serveHTTP(w http.ResponseWriter, r *http.Request, next http.Handler, act *action) {
	d, p, ok := inj.decide(true)
	if !ok {
		next.ServeHTTP(w, r)
		return
	}
	*act = d.act
	ctx := r.Context()
	if d.act == actBlackhole {
		<-ctx.Done()
		return
	}
	if sleep(ctx, inj.clk, d.delay) != nil {
		return // the client is gone: nobody to answer
	}
	switch d.act {
	case actError:
		w.Header().Set(FaultHeader, "error")
		http.Error(w, p.err.Error(), http.StatusInternalServerError)
	case actStatus:
		h := w.Header()
		h.Set(FaultHeader, "status")
		h.Set("Content-Type", "text/plain; charset=utf-8")
		h.Set("Content-Length", strconv.Itoa(len(p.body)))
		w.WriteHeader(p.code)
		_, _ = io.WriteString(w, p.body)
	case actReset:
		rw, ww := rwwrap.Wrap(w, resetWriter{left: p.fault.Reset.AfterBytes})
		defer func() {
			if rw.Hijacked() {
				// The handler took the connection over before the
				// reset, which did not happen.
				*act = actNone
			}
		}()
		next.ServeHTTP(ww, r)
		rw.cut()
		if rw.abort {
			panic(http.ErrAbortHandler)
		}
	default:
		next.ServeHTTP(w, r)
	}
}

// resetWriter lets left bytes of a handler's body through, then closes the
// connection with a TCP RST. Its wrapper (see rwwrap.Wrap) has the
// optional interfaces of the writer underneath; a ReadFrom goes through
// Write, to count the bytes.
type resetWriter struct {
	rwwrap.Base
	left  int
	done  bool // the connection was cut
	abort bool // it could not be: abort the handler instead
}

func (rw *resetWriter) WriteHeader(code int) {
	if rw.Status() != 0 || rw.done || rw.Hijacked() || code < 200 && code != http.StatusSwitchingProtocols {
		return
	}
	// Without a Content-Length the body goes out chunked, and a chunked
	// body cut anywhere before its last chunk is seen as incomplete; with
	// one, a body shorter than AfterBytes would arrive whole.
	rw.W.Header().Del("Content-Length")
	rw.Base.WriteHeader(code)
}

func (rw *resetWriter) Write(p []byte) (int, error) {
	if rw.Hijacked() {
		return rw.Base.Write(p) // http.ErrHijacked
	}
	if rw.done {
		return 0, errWriteReset
	}
	if rw.Status() == 0 {
		rw.WriteHeader(http.StatusOK)
	}
	n := 0
	if rw.left > 0 {
		k := min(len(p), rw.left)
		var err error
		n, err = rw.Base.Write(p[:k])
		rw.left -= n
		if err != nil {
			return n, err
		}
	}
	if n < len(p) {
		rw.cut()
		return n, errWriteReset
	}
	return n, nil
}

// ReadFrom copies src through Write.
func (rw *resetWriter) ReadFrom(src io.Reader) (int64, error) {
	if rw.Hijacked() {
		return rw.Base.ReadFrom(src) // http.ErrHijacked
	}
	return io.Copy(struct{ io.Writer }{rw}, src)
}

// FlushError sends what the handler wrote so far, headers without their
// Content-Length included.
func (rw *resetWriter) FlushError() error {
	if rw.Hijacked() {
		return rw.Base.FlushError() // http.ErrHijacked
	}
	if rw.done {
		return errWriteReset
	}
	if rw.Status() == 0 {
		rw.W.Header().Del("Content-Length")
	}
	return rw.Base.FlushError()
}

// cut sends the header and what was written, then takes the connection
// over and closes it with an RST. When the connection cannot be taken over,
// it marks the response for abort. A connection the handler took over is
// left alone; one it may have taken over unseen, through Unwrap, too, but
// the response is marked for abort (which net/http ignores on a hijacked
// connection).
func (rw *resetWriter) cut() {
	if rw.done || rw.Hijacked() {
		return
	}
	if rw.Unwrapped() {
		rw.done, rw.abort = true, true
		return
	}
	if rw.Status() == 0 {
		rw.WriteHeader(http.StatusOK)
	}
	rw.done = true
	rc := http.NewResponseController(rw.W)
	_ = rc.Flush()
	conn, _, err := rc.Hijack()
	if err != nil {
		rw.abort = true
		return
	}
	resetConn(conn)
}

// resetConn closes c with an RST instead of a FIN, when c is (or wraps) a
// TCP connection; otherwise it just closes it.
func resetConn(c net.Conn) {
	for {
		u, ok := c.(interface{ NetConn() net.Conn })
		if !ok {
			break
		}
		c = u.NetConn()
	}
	if l, ok := c.(interface{ SetLinger(int) error }); ok {
		_ = l.SetLinger(0)
	}
	_ = c.Close()
}
