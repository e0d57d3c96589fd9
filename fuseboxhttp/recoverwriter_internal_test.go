package fuseboxhttp

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// fullWriter has every optional interface, and records which was called.
type fullWriter struct {
	h     http.Header
	calls []string
}

func (f *fullWriter) Header() http.Header { return f.h }
func (f *fullWriter) Write(p []byte) (int, error) {
	f.calls = append(f.calls, "Write")
	return len(p), nil
}
func (f *fullWriter) WriteHeader(int) { f.calls = append(f.calls, "WriteHeader") }
func (f *fullWriter) Flush()          { f.calls = append(f.calls, "Flush") }
func (f *fullWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	f.calls = append(f.calls, "Hijack")
	return nil, nil, nil
}
func (f *fullWriter) ReadFrom(io.Reader) (int64, error) {
	f.calls = append(f.calls, "ReadFrom")
	return 0, nil
}
func (f *fullWriter) Push(string, *http.PushOptions) error {
	f.calls = append(f.calls, "Push")
	return nil
}
func (f *fullWriter) SetWriteDeadline(time.Time) error {
	f.calls = append(f.calls, "SetWriteDeadline")
	return nil
}

// limited returns f seen through exactly the optional interfaces of opts.
func limited(f *fullWriter, opts int) http.ResponseWriter {
	type (
		rw = interface {
			http.ResponseWriter
			SetWriteDeadline(time.Time) error
		}
		fl = http.Flusher
		hj = http.Hijacker
		rf = io.ReaderFrom
		pu = http.Pusher
	)
	switch opts {
	case 0:
		return struct{ rw }{f}
	case optFlusher:
		return struct {
			rw
			fl
		}{f, f}
	case optHijacker:
		return struct {
			rw
			hj
		}{f, f}
	case optFlusher | optHijacker:
		return struct {
			rw
			fl
			hj
		}{f, f, f}
	case optReaderFrom:
		return struct {
			rw
			rf
		}{f, f}
	case optFlusher | optReaderFrom:
		return struct {
			rw
			fl
			rf
		}{f, f, f}
	case optHijacker | optReaderFrom:
		return struct {
			rw
			hj
			rf
		}{f, f, f}
	case optFlusher | optHijacker | optReaderFrom:
		return struct {
			rw
			fl
			hj
			rf
		}{f, f, f, f}
	case optPusher:
		return struct {
			rw
			pu
		}{f, f}
	case optFlusher | optPusher:
		return struct {
			rw
			fl
			pu
		}{f, f, f}
	case optHijacker | optPusher:
		return struct {
			rw
			hj
			pu
		}{f, f, f}
	case optFlusher | optHijacker | optPusher:
		return struct {
			rw
			fl
			hj
			pu
		}{f, f, f, f}
	case optReaderFrom | optPusher:
		return struct {
			rw
			rf
			pu
		}{f, f, f}
	case optFlusher | optReaderFrom | optPusher:
		return struct {
			rw
			fl
			rf
			pu
		}{f, f, f, f}
	case optHijacker | optReaderFrom | optPusher:
		return struct {
			rw
			hj
			rf
			pu
		}{f, f, f, f}
	}
	return f
}

// For each of the sixteen combinations of optional interfaces, the wrapper
// has exactly the underlying writer's, each reaching the underlying
// method and noting what it did; the others are not even there to be
// asserted, and http.ResponseController says so.
func TestRecoverWriterEveryCombination(t *testing.T) {
	for opts := 0; opts < 16; opts++ {
		f := &fullWriter{h: http.Header{}}
		under := limited(f, opts)
		rw, w := newRecoverWriter(under)
		if rw.w != under {
			t.Fatalf("opts %04b: the wrapper wraps %T, want the writer given", opts, rw.w)
		}
		fl, okF := w.(http.Flusher)
		hj, okH := w.(http.Hijacker)
		rf, okR := w.(io.ReaderFrom)
		pu, okP := w.(http.Pusher)
		if okF != (opts&optFlusher != 0) || okH != (opts&optHijacker != 0) || okR != (opts&optReaderFrom != 0) || okP != (opts&optPusher != 0) {
			t.Fatalf("opts %04b: wrapper has Flusher %v, Hijacker %v, ReaderFrom %v, Pusher %v", opts, okF, okH, okR, okP)
		}
		var want []string
		if okP {
			pu.Push("/x", nil)
			want = append(want, "Push")
			if rw.wrote {
				t.Fatalf("opts %04b: Push marked the response written", opts)
			}
		}
		if okH {
			hj.Hijack()
			want = append(want, "Hijack")
			if !rw.hijacked {
				t.Fatalf("opts %04b: Hijack not noted", opts)
			}
		}
		rc := http.NewResponseController(w)
		err := rc.Flush()
		if okF {
			if err != nil || !rw.wrote {
				t.Fatalf("opts %04b: Flush through the controller: %v, wrote %v", opts, err, rw.wrote)
			}
			want = append(want, "Flush")
			rw.wrote = false
			fl.Flush()
			want = append(want, "Flush")
			if !rw.wrote {
				t.Fatalf("opts %04b: Flush not noted", opts)
			}
		} else if !errors.Is(err, http.ErrNotSupported) || rw.wrote {
			t.Fatalf("opts %04b: Flush through the controller of a writer without one: %v, wrote %v; want ErrNotSupported", opts, err, rw.wrote)
		}
		if okR {
			rw.wrote = false
			rf.ReadFrom(strings.NewReader("x"))
			want = append(want, "ReadFrom")
			if !rw.wrote {
				t.Fatalf("opts %04b: ReadFrom not noted", opts)
			}
		}
		// The controller reaches the underlying SetWriteDeadline, which
		// every writer here has, without unwrapping.
		if err := rc.SetWriteDeadline(time.Time{}); err != nil {
			t.Fatalf("opts %04b: SetWriteDeadline: %v", opts, err)
		}
		want = append(want, "SetWriteDeadline")
		if err := rc.SetReadDeadline(time.Time{}); !errors.Is(err, http.ErrNotSupported) {
			t.Fatalf("opts %04b: SetReadDeadline: %v, want ErrNotSupported", opts, err)
		}
		if rw.unwrapped {
			t.Fatalf("opts %04b: the controller unwrapped the writer", opts)
		}
		w.Write([]byte("x"))
		want = append(want, "Write")
		if got := strings.Join(f.calls, " "); got != strings.Join(want, " ") {
			t.Fatalf("opts %04b: the underlying writer saw %q, want %q", opts, got, strings.Join(want, " "))
		}
		w.(interface{ Unwrap() http.ResponseWriter }).Unwrap()
		if !rw.unwrapped {
			t.Fatalf("opts %04b: Unwrap not noted", opts)
		}
	}
}
