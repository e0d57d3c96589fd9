// Package rwwrap wraps the http.ResponseWriter a handler is given, for
// middleware that must see, or change, what the handler does with its
// response without changing what the handler can do with it.
//
// A handler learns what a ResponseWriter can do by asserting the optional
// interfaces http.Flusher, http.Hijacker, io.ReaderFrom and http.Pusher
// (gorilla/websocket asserts http.Hijacker, and answers 500 without it).
// A wrapper must answer those assertions as the writer underneath would:
// hiding an interface breaks the handler, and claiming one the writer lacks
// (Hijacker on HTTP/2, Flusher on a writer that cannot flush) breaks a
// handler that would have fallen back to something else. So Wrap picks,
// among the sixteen combinations, the type that has exactly the writer's.
// The methods of the optional interfaces are those of the adapter types
// below, embedded as pointers to the wrapper itself, so that one allocation
// holds it all.
//
// The methods http.ResponseController looks for (FlushError,
// SetReadDeadline, SetWriteDeadline, EnableFullDuplex) are the wrapper's
// own whatever the writer underneath, and return an error matching
// http.ErrNotSupported where it lacks them, as the controller itself would:
// the controller then never needs Unwrap for them. Hijack is the exception,
// as its method is the interface; a controller that hijacks through Unwrap
// a writer that is no Hijacker itself (a wrapper around one) is seen only as
// a call of Unwrap.
//
// Once the handler has hijacked the connection through the wrapper, the
// connection is the handler's: WriteHeader, Write, ReadFrom, FlushError
// and Hijack no longer reach the writer underneath (net/http's own panics
// on a Flush after a hijack, and would send a header if it did not).
package rwwrap

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"time"
)

// Base is the state of a wrapper, and its default methods, which pass each
// call to the writer underneath and note what the handler did with the
// response. A middleware whose wrapper only watches uses Base itself; one
// whose wrapper changes what goes out embeds Base in a struct of its own
// and overrides the methods it changes (a Write that changes the body
// needs a ReadFrom that does too).
type Base struct {
	// W is the writer underneath, set by Wrap.
	W http.ResponseWriter

	status    int
	hijacked  bool
	unwrapped bool
}

// Status returns the status of the response, once its headers may have
// gone out: the first code given to WriteHeader other than an
// informational one (101 Switching Protocols counts), or 200 once the
// handler wrote, copied or flushed before calling WriteHeader. It returns
// 0 while the headers have not been sent, and after a hijack that came
// first.
func (b *Base) Status() int { return b.status }

// Hijacked reports whether the handler took the connection over through
// the wrapper.
func (b *Base) Hijacked() bool { return b.hijacked }

// Unwrapped reports whether the handler was given the writer underneath
// (as http.ResponseController is, to hijack a writer that wraps a
// Hijacker), and may have written to it, flushed it or hijacked it unseen.
func (b *Base) Unwrapped() bool { return b.unwrapped }

func (b *Base) rwBase() *Base { return b }

// Header returns the response headers.
func (b *Base) Header() http.Header { return b.W.Header() }

// WriteHeader sends the response headers.
func (b *Base) WriteHeader(code int) {
	if b.hijacked {
		return
	}
	// 1xx informational responses (except 101) leave the final status
	// still to be written.
	if b.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		b.status = code
	}
	b.W.WriteHeader(code)
}

// Write writes to the response body.
func (b *Base) Write(p []byte) (int, error) {
	if b.hijacked {
		return 0, http.ErrHijacked
	}
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.W.Write(p)
}

// ReadFrom copies src to the response body, through the ReadFrom of the
// writer underneath where it has one (sendfile, for a file on an HTTP/1.x
// connection).
func (b *Base) ReadFrom(src io.Reader) (int64, error) {
	if b.hijacked {
		return 0, http.ErrHijacked
	}
	if b.status == 0 {
		b.status = http.StatusOK
	}
	if rf, ok := b.W.(io.ReaderFrom); ok {
		return rf.ReadFrom(src)
	}
	return io.Copy(writerOnly{b.W}, src)
}

// writerOnly hides every method but Write, so that io.Copy cannot come
// back to ReadFrom.
type writerOnly struct{ io.Writer }

// FlushError sends buffered data to the client, as http.ResponseController
// would flush the writer underneath: an error matching
// http.ErrNotSupported when it cannot.
func (b *Base) FlushError() error {
	if b.hijacked {
		return http.ErrHijacked
	}
	err := http.NewResponseController(b.W).Flush()
	if b.status == 0 && !errors.Is(err, http.ErrNotSupported) {
		b.status = http.StatusOK // a flush sends the headers
	}
	return err
}

// Hijack takes the connection over, as http.ResponseController would from
// the writer underneath. From then on the wrapper leaves the connection
// alone.
func (b *Base) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if b.hijacked {
		return nil, nil, http.ErrHijacked
	}
	c, brw, err := http.NewResponseController(b.W).Hijack()
	if err == nil {
		b.hijacked = true
	}
	return c, brw, err
}

// Push initiates an HTTP/2 server push, or returns http.ErrNotSupported
// when the writer underneath is no http.Pusher.
func (b *Base) Push(target string, opts *http.PushOptions) error {
	if p, ok := b.W.(http.Pusher); ok {
		return p.Push(target, opts)
	}
	return http.ErrNotSupported
}

// SetReadDeadline sets the deadline for reading the request body, as
// http.ResponseController would for the writer underneath.
func (b *Base) SetReadDeadline(t time.Time) error {
	return http.NewResponseController(b.W).SetReadDeadline(t)
}

// SetWriteDeadline sets the deadline for writing the response, as
// http.ResponseController would for the writer underneath.
func (b *Base) SetWriteDeadline(t time.Time) error {
	return http.NewResponseController(b.W).SetWriteDeadline(t)
}

// EnableFullDuplex lets the handler read the request body while writing
// the response, as http.ResponseController would for the writer
// underneath.
func (b *Base) EnableFullDuplex() error {
	return http.NewResponseController(b.W).EnableFullDuplex()
}

// Unwrap returns the writer underneath, for http.ResponseController. What
// is done with it is out of sight; Unwrapped says so.
func (b *Base) Unwrap() http.ResponseWriter {
	b.unwrapped = true
	return b.W
}

// Writer is the state of a wrapper: *Base, or a pointer to a struct that
// embeds Base and overrides some of its methods. The wrapper Wrap returns
// calls them; a handler sees of them only those of http.ResponseWriter,
// http.ResponseController and the optional interfaces the writer
// underneath has.
type Writer interface {
	http.ResponseWriter
	io.ReaderFrom
	FlushError() error
	Hijack() (net.Conn, *bufio.ReadWriter, error)
	Push(target string, opts *http.PushOptions) error
	SetReadDeadline(time.Time) error
	SetWriteDeadline(time.Time) error
	EnableFullDuplex() error
	Unwrap() http.ResponseWriter
	rwBase() *Base
}

// ptr constrains P to be *T, a Writer.
type ptr[T any] interface {
	*T
	Writer
}

// The optional interfaces, as the bits of Wrap's choice.
const (
	optFlusher = 1 << iota
	optHijacker
	optReaderFrom
	optPusher
)

// Wrap wraps w for a handler. It copies v, the wrapper's state (Base, or a
// struct embedding it, with its Base.W unset), into a new wrapper, sets
// its Base.W to w, and returns the copy, to read the wrapper's notes from,
// and the wrapper, to give the handler: one allocation holds both.
//
// The wrapper has the methods of http.ResponseWriter, FlushError,
// SetReadDeadline, SetWriteDeadline, EnableFullDuplex and Unwrap, and, of
// http.Flusher, http.Hijacker, io.ReaderFrom and http.Pusher, exactly those
// w has; each calls the method of the copy of v (Flush calls FlushError).
func Wrap[T any, P ptr[T]](w http.ResponseWriter, v T) (P, http.ResponseWriter) {
	opts := 0
	if _, ok := w.(http.Flusher); ok {
		opts |= optFlusher
	}
	if _, ok := w.(http.Hijacker); ok {
		opts |= optHijacker
	}
	if _, ok := w.(io.ReaderFrom); ok {
		opts |= optReaderFrom
	}
	if _, ok := w.(http.Pusher); ok {
		opts |= optPusher
	}
	switch opts {
	case 0:
		x := &core[T, P]{v: v}
		return bind[T, P](&x.v, w), x
	case optFlusher:
		x := &struct {
			core[T, P]
			*flusher[T, P]
		}{core: core[T, P]{v: v}}
		x.flusher = (*flusher[T, P])(&x.core)
		return bind[T, P](&x.core.v, w), x
	case optHijacker:
		x := &struct {
			core[T, P]
			*hijacker[T, P]
		}{core: core[T, P]{v: v}}
		x.hijacker = (*hijacker[T, P])(&x.core)
		return bind[T, P](&x.core.v, w), x
	case optFlusher | optHijacker:
		x := &struct {
			core[T, P]
			*flusher[T, P]
			*hijacker[T, P]
		}{core: core[T, P]{v: v}}
		x.flusher, x.hijacker = (*flusher[T, P])(&x.core), (*hijacker[T, P])(&x.core)
		return bind[T, P](&x.core.v, w), x
	case optReaderFrom:
		x := &struct {
			core[T, P]
			*readerFrom[T, P]
		}{core: core[T, P]{v: v}}
		x.readerFrom = (*readerFrom[T, P])(&x.core)
		return bind[T, P](&x.core.v, w), x
	case optFlusher | optReaderFrom:
		x := &struct {
			core[T, P]
			*flusher[T, P]
			*readerFrom[T, P]
		}{core: core[T, P]{v: v}}
		x.flusher, x.readerFrom = (*flusher[T, P])(&x.core), (*readerFrom[T, P])(&x.core)
		return bind[T, P](&x.core.v, w), x
	case optHijacker | optReaderFrom:
		x := &struct {
			core[T, P]
			*hijacker[T, P]
			*readerFrom[T, P]
		}{core: core[T, P]{v: v}}
		x.hijacker, x.readerFrom = (*hijacker[T, P])(&x.core), (*readerFrom[T, P])(&x.core)
		return bind[T, P](&x.core.v, w), x
	case optFlusher | optHijacker | optReaderFrom: // HTTP/1.x
		x := &struct {
			core[T, P]
			*flusher[T, P]
			*hijacker[T, P]
			*readerFrom[T, P]
		}{core: core[T, P]{v: v}}
		x.flusher, x.hijacker, x.readerFrom = (*flusher[T, P])(&x.core), (*hijacker[T, P])(&x.core), (*readerFrom[T, P])(&x.core)
		return bind[T, P](&x.core.v, w), x
	case optPusher:
		x := &struct {
			core[T, P]
			*pusher[T, P]
		}{core: core[T, P]{v: v}}
		x.pusher = (*pusher[T, P])(&x.core)
		return bind[T, P](&x.core.v, w), x
	case optFlusher | optPusher: // HTTP/2
		x := &struct {
			core[T, P]
			*flusher[T, P]
			*pusher[T, P]
		}{core: core[T, P]{v: v}}
		x.flusher, x.pusher = (*flusher[T, P])(&x.core), (*pusher[T, P])(&x.core)
		return bind[T, P](&x.core.v, w), x
	case optHijacker | optPusher:
		x := &struct {
			core[T, P]
			*hijacker[T, P]
			*pusher[T, P]
		}{core: core[T, P]{v: v}}
		x.hijacker, x.pusher = (*hijacker[T, P])(&x.core), (*pusher[T, P])(&x.core)
		return bind[T, P](&x.core.v, w), x
	case optFlusher | optHijacker | optPusher:
		x := &struct {
			core[T, P]
			*flusher[T, P]
			*hijacker[T, P]
			*pusher[T, P]
		}{core: core[T, P]{v: v}}
		x.flusher, x.hijacker, x.pusher = (*flusher[T, P])(&x.core), (*hijacker[T, P])(&x.core), (*pusher[T, P])(&x.core)
		return bind[T, P](&x.core.v, w), x
	case optReaderFrom | optPusher:
		x := &struct {
			core[T, P]
			*readerFrom[T, P]
			*pusher[T, P]
		}{core: core[T, P]{v: v}}
		x.readerFrom, x.pusher = (*readerFrom[T, P])(&x.core), (*pusher[T, P])(&x.core)
		return bind[T, P](&x.core.v, w), x
	case optFlusher | optReaderFrom | optPusher:
		x := &struct {
			core[T, P]
			*flusher[T, P]
			*readerFrom[T, P]
			*pusher[T, P]
		}{core: core[T, P]{v: v}}
		x.flusher, x.readerFrom, x.pusher = (*flusher[T, P])(&x.core), (*readerFrom[T, P])(&x.core), (*pusher[T, P])(&x.core)
		return bind[T, P](&x.core.v, w), x
	case optHijacker | optReaderFrom | optPusher:
		x := &struct {
			core[T, P]
			*hijacker[T, P]
			*readerFrom[T, P]
			*pusher[T, P]
		}{core: core[T, P]{v: v}}
		x.hijacker, x.readerFrom, x.pusher = (*hijacker[T, P])(&x.core), (*readerFrom[T, P])(&x.core), (*pusher[T, P])(&x.core)
		return bind[T, P](&x.core.v, w), x
	default: // all four
		x := &struct {
			core[T, P]
			*flusher[T, P]
			*hijacker[T, P]
			*readerFrom[T, P]
			*pusher[T, P]
		}{core: core[T, P]{v: v}}
		x.flusher, x.hijacker, x.readerFrom, x.pusher = (*flusher[T, P])(&x.core), (*hijacker[T, P])(&x.core), (*readerFrom[T, P])(&x.core), (*pusher[T, P])(&x.core)
		return bind[T, P](&x.core.v, w), x
	}
}

// bind sets the Base.W of the state v to w, and returns v as a P.
func bind[T any, P ptr[T]](v *T, w http.ResponseWriter) P {
	p := P(v)
	p.rwBase().W = w
	return p
}

// core is a wrapper's state, with the methods every wrapper has.
type core[T any, P ptr[T]] struct{ v T }

// Header returns the response headers.
func (c *core[T, P]) Header() http.Header { return P(&c.v).Header() }

// WriteHeader sends the response headers.
func (c *core[T, P]) WriteHeader(code int) { P(&c.v).WriteHeader(code) }

// Write writes to the response body.
func (c *core[T, P]) Write(p []byte) (int, error) { return P(&c.v).Write(p) }

// FlushError sends buffered data to the client.
func (c *core[T, P]) FlushError() error { return P(&c.v).FlushError() }

// SetReadDeadline sets the deadline for reading the request body.
func (c *core[T, P]) SetReadDeadline(t time.Time) error { return P(&c.v).SetReadDeadline(t) }

// SetWriteDeadline sets the deadline for writing the response.
func (c *core[T, P]) SetWriteDeadline(t time.Time) error { return P(&c.v).SetWriteDeadline(t) }

// EnableFullDuplex lets the handler read the request body while writing
// the response.
func (c *core[T, P]) EnableFullDuplex() error { return P(&c.v).EnableFullDuplex() }

// Unwrap returns the writer underneath, for http.ResponseController.
func (c *core[T, P]) Unwrap() http.ResponseWriter { return P(&c.v).Unwrap() }

// Adapters: each gives a wrapper one optional interface of the writer
// underneath, which Wrap checked it has.
type (
	flusher[T any, P ptr[T]]    core[T, P]
	hijacker[T any, P ptr[T]]   core[T, P]
	readerFrom[T any, P ptr[T]] core[T, P]
	pusher[T any, P ptr[T]]     core[T, P]
)

// Flush sends buffered data to the client.
func (f *flusher[T, P]) Flush() { _ = P(&f.v).FlushError() }

// Hijack takes the connection over.
func (h *hijacker[T, P]) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return P(&h.v).Hijack()
}

// ReadFrom copies src to the response body.
func (r *readerFrom[T, P]) ReadFrom(src io.Reader) (int64, error) {
	return P(&r.v).ReadFrom(src)
}

// Push initiates an HTTP/2 server push.
func (p *pusher[T, P]) Push(target string, opts *http.PushOptions) error {
	return P(&p.v).Push(target, opts)
}
