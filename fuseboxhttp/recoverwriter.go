package fuseboxhttp

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"time"
)

// recoverWriter is the ResponseWriter Recover hands its handler: the
// server's, noting what the handler did with the response.
//
// A handler learns what a ResponseWriter can do by asserting the optional
// interfaces http.Flusher, http.Hijacker, io.ReaderFrom and http.Pusher
// (gorilla/websocket asserts http.Hijacker, and answers 500 without it).
// The wrapper must answer those assertions as the writer underneath would:
// hiding an interface breaks the handler, and claiming one the writer lacks
// (Hijacker on HTTP/2) breaks a handler that would have fallen back to
// something else. So newRecoverWriter picks, among the sixteen
// combinations, the type that has exactly the writer's; the methods of the
// optional interfaces are those of the adapter types below, embedded as
// pointers to the recoverWriter itself, so that one allocation holds it all.
//
// The methods http.ResponseController looks for (FlushError,
// SetReadDeadline, SetWriteDeadline, EnableFullDuplex) are the wrapper's
// own whatever the writer underneath, and return an error matching
// http.ErrNotSupported where it lacks them, as the controller itself would:
// the controller then never needs Unwrap for them. Hijack is the exception,
// as its method is the interface; a controller that hijacks through Unwrap
// a writer that is no Hijacker itself (a wrapper around one) is seen only as
// a call of Unwrap.
type recoverWriter struct {
	w http.ResponseWriter
	// wrote: the response headers may have gone out.
	wrote bool
	// hijacked: the handler took the connection over.
	hijacked bool
	// unwrapped: the handler was given the writer underneath, and may have
	// written to it, flushed it or hijacked it unseen.
	unwrapped bool
}

// The optional interfaces, as the bits of newRecoverWriter's choice.
const (
	optFlusher = 1 << iota
	optHijacker
	optReaderFrom
	optPusher
)

// newRecoverWriter wraps w. It returns the recoverWriter, to read its notes
// from, and the ResponseWriter to give the handler: the same recoverWriter,
// seen through the type that has exactly w's optional interfaces.
func newRecoverWriter(w http.ResponseWriter) (*recoverWriter, http.ResponseWriter) {
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
		x := &recoverWriter{w: w}
		return x, x
	case optFlusher:
		x := &struct {
			recoverWriter
			*rwFlusher
		}{recoverWriter: recoverWriter{w: w}}
		rw := &x.recoverWriter
		x.rwFlusher = (*rwFlusher)(rw)
		return rw, x
	case optHijacker:
		x := &struct {
			recoverWriter
			*rwHijacker
		}{recoverWriter: recoverWriter{w: w}}
		rw := &x.recoverWriter
		x.rwHijacker = (*rwHijacker)(rw)
		return rw, x
	case optFlusher | optHijacker:
		x := &struct {
			recoverWriter
			*rwFlusher
			*rwHijacker
		}{recoverWriter: recoverWriter{w: w}}
		rw := &x.recoverWriter
		x.rwFlusher, x.rwHijacker = (*rwFlusher)(rw), (*rwHijacker)(rw)
		return rw, x
	case optReaderFrom:
		x := &struct {
			recoverWriter
			*rwReaderFrom
		}{recoverWriter: recoverWriter{w: w}}
		rw := &x.recoverWriter
		x.rwReaderFrom = (*rwReaderFrom)(rw)
		return rw, x
	case optFlusher | optReaderFrom:
		x := &struct {
			recoverWriter
			*rwFlusher
			*rwReaderFrom
		}{recoverWriter: recoverWriter{w: w}}
		rw := &x.recoverWriter
		x.rwFlusher, x.rwReaderFrom = (*rwFlusher)(rw), (*rwReaderFrom)(rw)
		return rw, x
	case optHijacker | optReaderFrom:
		x := &struct {
			recoverWriter
			*rwHijacker
			*rwReaderFrom
		}{recoverWriter: recoverWriter{w: w}}
		rw := &x.recoverWriter
		x.rwHijacker, x.rwReaderFrom = (*rwHijacker)(rw), (*rwReaderFrom)(rw)
		return rw, x
	case optFlusher | optHijacker | optReaderFrom: // HTTP/1.x
		x := &struct {
			recoverWriter
			*rwFlusher
			*rwHijacker
			*rwReaderFrom
		}{recoverWriter: recoverWriter{w: w}}
		rw := &x.recoverWriter
		x.rwFlusher, x.rwHijacker, x.rwReaderFrom = (*rwFlusher)(rw), (*rwHijacker)(rw), (*rwReaderFrom)(rw)
		return rw, x
	case optPusher:
		x := &struct {
			recoverWriter
			*rwPusher
		}{recoverWriter: recoverWriter{w: w}}
		rw := &x.recoverWriter
		x.rwPusher = (*rwPusher)(rw)
		return rw, x
	case optFlusher | optPusher: // HTTP/2
		x := &struct {
			recoverWriter
			*rwFlusher
			*rwPusher
		}{recoverWriter: recoverWriter{w: w}}
		rw := &x.recoverWriter
		x.rwFlusher, x.rwPusher = (*rwFlusher)(rw), (*rwPusher)(rw)
		return rw, x
	case optHijacker | optPusher:
		x := &struct {
			recoverWriter
			*rwHijacker
			*rwPusher
		}{recoverWriter: recoverWriter{w: w}}
		rw := &x.recoverWriter
		x.rwHijacker, x.rwPusher = (*rwHijacker)(rw), (*rwPusher)(rw)
		return rw, x
	case optFlusher | optHijacker | optPusher:
		x := &struct {
			recoverWriter
			*rwFlusher
			*rwHijacker
			*rwPusher
		}{recoverWriter: recoverWriter{w: w}}
		rw := &x.recoverWriter
		x.rwFlusher, x.rwHijacker, x.rwPusher = (*rwFlusher)(rw), (*rwHijacker)(rw), (*rwPusher)(rw)
		return rw, x
	case optReaderFrom | optPusher:
		x := &struct {
			recoverWriter
			*rwReaderFrom
			*rwPusher
		}{recoverWriter: recoverWriter{w: w}}
		rw := &x.recoverWriter
		x.rwReaderFrom, x.rwPusher = (*rwReaderFrom)(rw), (*rwPusher)(rw)
		return rw, x
	case optFlusher | optReaderFrom | optPusher:
		x := &struct {
			recoverWriter
			*rwFlusher
			*rwReaderFrom
			*rwPusher
		}{recoverWriter: recoverWriter{w: w}}
		rw := &x.recoverWriter
		x.rwFlusher, x.rwReaderFrom, x.rwPusher = (*rwFlusher)(rw), (*rwReaderFrom)(rw), (*rwPusher)(rw)
		return rw, x
	case optHijacker | optReaderFrom | optPusher:
		x := &struct {
			recoverWriter
			*rwHijacker
			*rwReaderFrom
			*rwPusher
		}{recoverWriter: recoverWriter{w: w}}
		rw := &x.recoverWriter
		x.rwHijacker, x.rwReaderFrom, x.rwPusher = (*rwHijacker)(rw), (*rwReaderFrom)(rw), (*rwPusher)(rw)
		return rw, x
	default: // all four
		x := &struct {
			recoverWriter
			*rwFlusher
			*rwHijacker
			*rwReaderFrom
			*rwPusher
		}{recoverWriter: recoverWriter{w: w}}
		rw := &x.recoverWriter
		x.rwFlusher, x.rwHijacker, x.rwReaderFrom, x.rwPusher = (*rwFlusher)(rw), (*rwHijacker)(rw), (*rwReaderFrom)(rw), (*rwPusher)(rw)
		return rw, x
	}
}

// Header returns the response headers.
func (w *recoverWriter) Header() http.Header { return w.w.Header() }

// WriteHeader sends the response headers.
func (w *recoverWriter) WriteHeader(code int) {
	// 1xx informational responses (except 101) leave the final status
	// still to be written.
	if code >= 200 || code == http.StatusSwitchingProtocols {
		w.wrote = true
	}
	w.w.WriteHeader(code)
}

// Write writes to the response body.
func (w *recoverWriter) Write(p []byte) (int, error) {
	w.wrote = true
	return w.w.Write(p)
}

// Unwrap returns the underlying writer, for http.ResponseController. What
// is done with it is out of sight: a panic afterwards aborts the response
// rather than risk writing a 500 into one already started.
func (w *recoverWriter) Unwrap() http.ResponseWriter {
	w.unwrapped = true
	return w.w
}

// FlushError sends buffered data to the client, as http.ResponseController
// would flush the underlying writer: an error matching http.ErrNotSupported
// when it cannot.
func (w *recoverWriter) FlushError() error {
	err := http.NewResponseController(w.w).Flush()
	if !errors.Is(err, http.ErrNotSupported) {
		w.wrote = true
	}
	return err
}

// SetReadDeadline sets the deadline for reading the request body, as
// http.ResponseController would for the underlying writer.
func (w *recoverWriter) SetReadDeadline(t time.Time) error {
	return http.NewResponseController(w.w).SetReadDeadline(t)
}

// SetWriteDeadline sets the deadline for writing the response, as
// http.ResponseController would for the underlying writer.
func (w *recoverWriter) SetWriteDeadline(t time.Time) error {
	return http.NewResponseController(w.w).SetWriteDeadline(t)
}

// EnableFullDuplex lets the handler read the request body while writing
// the response, as http.ResponseController would for the underlying
// writer.
func (w *recoverWriter) EnableFullDuplex() error {
	return http.NewResponseController(w.w).EnableFullDuplex()
}

// Adapters: each gives a recoverWriter one optional interface of the
// underlying writer, which newRecoverWriter checked it has.
type (
	rwFlusher    recoverWriter
	rwHijacker   recoverWriter
	rwReaderFrom recoverWriter
	rwPusher     recoverWriter
)

// Flush sends buffered data to the client.
func (f *rwFlusher) Flush() { _ = (*recoverWriter)(f).FlushError() }

// Hijack takes the connection over; from then on Recover writes nothing.
func (h *rwHijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	w := (*recoverWriter)(h)
	c, brw, err := w.w.(http.Hijacker).Hijack()
	if err == nil {
		w.hijacked = true
	}
	return c, brw, err
}

// ReadFrom copies src to the response body through the underlying writer's
// ReadFrom (sendfile, for a file on an HTTP/1.x connection).
func (r *rwReaderFrom) ReadFrom(src io.Reader) (int64, error) {
	w := (*recoverWriter)(r)
	w.wrote = true
	return w.w.(io.ReaderFrom).ReadFrom(src)
}

// Push initiates an HTTP/2 server push.
func (p *rwPusher) Push(target string, opts *http.PushOptions) error {
	return (*recoverWriter)(p).w.(http.Pusher).Push(target, opts)
}
