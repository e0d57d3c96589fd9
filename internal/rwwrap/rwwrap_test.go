package rwwrap

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

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
func TestWrapEveryCombination(t *testing.T) {
	for opts := 0; opts < 16; opts++ {
		f := &fullWriter{h: http.Header{}}
		under := limited(f, opts)
		b, w := Wrap(under, Base{})
		if b.W != under {
			t.Fatalf("opts %04b: the wrapper wraps %T, want the writer given", opts, b.W)
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
			_ = pu.Push("/x", nil)
			want = append(want, "Push")
			if b.Status() != 0 {
				t.Fatalf("opts %04b: Push marked the response written", opts)
			}
		}
		rc := http.NewResponseController(w)
		err := rc.Flush()
		if okF {
			if err != nil || b.Status() != 200 {
				t.Fatalf("opts %04b: Flush through the controller: %v, status %d", opts, err, b.Status())
			}
			want = append(want, "Flush")
			b.status = 0
			fl.Flush()
			want = append(want, "Flush")
			if b.Status() != 200 {
				t.Fatalf("opts %04b: Flush not noted", opts)
			}
		} else if !errors.Is(err, http.ErrNotSupported) || b.Status() != 0 {
			t.Fatalf("opts %04b: Flush through the controller of a writer without one: %v, status %d; want ErrNotSupported", opts, err, b.Status())
		}
		if okR {
			b.status = 0
			_, _ = rf.ReadFrom(strings.NewReader("x"))
			want = append(want, "ReadFrom")
			if b.Status() != 200 {
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
		if err := rc.EnableFullDuplex(); !errors.Is(err, http.ErrNotSupported) {
			t.Fatalf("opts %04b: EnableFullDuplex: %v, want ErrNotSupported", opts, err)
		}
		if b.Unwrapped() {
			t.Fatalf("opts %04b: the controller unwrapped the writer", opts)
		}
		b.status = 0
		w.WriteHeader(201)
		_, _ = w.Write([]byte("x"))
		want = append(want, "WriteHeader", "Write")
		if b.Status() != 201 {
			t.Fatalf("opts %04b: status %d after WriteHeader(201)", opts, b.Status())
		}
		if okH {
			_, _, _ = hj.Hijack()
			want = append(want, "Hijack")
			if !b.Hijacked() {
				t.Fatalf("opts %04b: Hijack not noted", opts)
			}
			// The connection is the handler's now: nothing more
			// reaches the writer underneath.
			w.WriteHeader(500)
			if _, err := w.Write([]byte("x")); !errors.Is(err, http.ErrHijacked) {
				t.Fatalf("opts %04b: Write after the hijack: %v", opts, err)
			}
			if err := rc.Flush(); !errors.Is(err, http.ErrHijacked) {
				t.Fatalf("opts %04b: Flush after the hijack: %v", opts, err)
			}
			if _, _, err := hj.Hijack(); !errors.Is(err, http.ErrHijacked) {
				t.Fatalf("opts %04b: second Hijack: %v", opts, err)
			}
		} else if _, _, err := rc.Hijack(); !errors.Is(err, http.ErrNotSupported) {
			t.Fatalf("opts %04b: Hijack through the controller of a writer without one: %v", opts, err)
		}
		if got := strings.Join(f.calls, " "); got != strings.Join(want, " ") {
			t.Fatalf("opts %04b: the underlying writer saw %q, want %q", opts, got, strings.Join(want, " "))
		}
		if u := w.(interface{ Unwrap() http.ResponseWriter }).Unwrap(); u != under || !b.Unwrapped() {
			t.Fatalf("opts %04b: Unwrap gave %T, noted %v", opts, u, b.Unwrapped())
		}
	}
}

// The status is the first final one, 101 included, or 200 once the body
// or a flush went first; an informational one does not count.
func TestWrapStatus(t *testing.T) {
	for _, tc := range []struct {
		name string
		do   func(w http.ResponseWriter)
		want int
	}{
		{"nothing", func(http.ResponseWriter) {}, 0},
		{"header", func(w http.ResponseWriter) { w.WriteHeader(404); w.WriteHeader(500) }, 404},
		{"write", func(w http.ResponseWriter) { _, _ = w.Write(nil) }, 200},
		{"early hints", func(w http.ResponseWriter) { w.WriteHeader(103) }, 0},
		{"early hints then body", func(w http.ResponseWriter) { w.WriteHeader(103); _, _ = io.WriteString(w, "x") }, 200},
		{"switching protocols", func(w http.ResponseWriter) { w.WriteHeader(101) }, 101},
		{"flush", func(w http.ResponseWriter) { _ = http.NewResponseController(w).Flush() }, 200},
		{"copy", func(w http.ResponseWriter) { _, _ = io.Copy(w, struct{ io.Reader }{strings.NewReader("x")}) }, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, w := Wrap(httptest.NewRecorder(), Base{})
			tc.do(w)
			if b.Status() != tc.want {
				t.Fatalf("status %d, want %d", b.Status(), tc.want)
			}
		})
	}
	// Without a Flusher underneath, a flush sends nothing.
	b, w := Wrap(&fullWriter{h: http.Header{}}, Base{})
	_ = http.NewResponseController(struct{ http.ResponseWriter }{w}).Flush()
	if b.Status() != 0 {
		t.Fatalf("status %d after a flush that could not be", b.Status())
	}
}

// shouter is a wrapper that changes the body, and counts flushes.
type shouter struct {
	Base
	flushes int
}

func (s *shouter) Write(p []byte) (int, error) { return s.Base.Write(bytes.ToUpper(p)) }

func (s *shouter) ReadFrom(src io.Reader) (int64, error) {
	return io.Copy(writerOnly{s}, src)
}

func (s *shouter) FlushError() error {
	s.flushes++
	return s.Base.FlushError()
}

// rfRecorder is a recorder with io.ReaderFrom.
type rfRecorder struct{ *httptest.ResponseRecorder }

func (r rfRecorder) ReadFrom(src io.Reader) (int64, error) { return r.Body.ReadFrom(src) }

// The wrapper calls the methods of a state that overrides Base's, and
// keeps the optional interfaces of the writer underneath.
func TestWrapCallsOverrides(t *testing.T) {
	rec := httptest.NewRecorder()
	s, w := Wrap(rfRecorder{rec}, shouter{})
	if s.W != (rfRecorder{rec}) {
		t.Fatalf("Base.W is %T, want the recorder", s.W)
	}
	if _, ok := w.(http.Hijacker); ok {
		t.Fatal("the wrapper of a recorder claims http.Hijacker")
	}
	_, _ = io.WriteString(w, "hello, ")
	_, _ = w.(io.ReaderFrom).ReadFrom(strings.NewReader("world"))
	w.(http.Flusher).Flush()
	_ = http.NewResponseController(w).Flush()
	if rec.Body.String() != "HELLO, WORLD" || s.flushes != 2 || !rec.Flushed || s.Status() != 200 {
		t.Fatalf("body %q, %d flushes (recorder flushed: %v), status %d", rec.Body.String(), s.flushes, rec.Flushed, s.Status())
	}
}

// One allocation holds the wrapper and its state.
func TestWrapAllocatesOnce(t *testing.T) {
	f := &fullWriter{h: http.Header{}}
	for _, opts := range []int{0, optFlusher | optHijacker | optReaderFrom, optFlusher | optPusher, 15} {
		under := limited(f, opts)
		if n := testing.AllocsPerRun(100, func() {
			b, w := Wrap(under, Base{})
			if b.W != under || w == nil {
				panic("wrong wrapper")
			}
		}); n != 1 {
			t.Fatalf("opts %04b: %v allocations, want 1", opts, n)
		}
	}
}

// logLines collects what a server logs.
type logLines struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logLines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// On a real server, a handler that hijacks the connection through the
// wrapper and then, by mistake, writes, copies, flushes or hijacks again
// through it gets http.ErrHijacked, and nothing reaches the connection nor
// net/http's writer (whose Flush panics after a hijack).
func TestWrapAfterHijack(t *testing.T) {
	errs := make(chan string, 1)
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, w := Wrap(w, Base{})
		conn, brw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			errs <- err.Error()
			return
		}
		defer conn.Close()
		_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
		_ = brw.Flush()
		var got []string
		w.WriteHeader(500)
		_, err = w.Write([]byte("late"))
		got = append(got, fmt.Sprint(err))
		_, err = w.(io.ReaderFrom).ReadFrom(strings.NewReader("late"))
		got = append(got, fmt.Sprint(err))
		w.(http.Flusher).Flush()
		got = append(got, fmt.Sprint(http.NewResponseController(w).Flush()))
		_, _, err = http.NewResponseController(w).Hijack()
		got = append(got, fmt.Sprint(err))
		got = append(got, fmt.Sprint(b.Status(), b.Hijacked()))
		line, _ := brw.ReadString('\n')
		_, _ = brw.WriteString("echo: " + line)
		_ = brw.Flush()
		errs <- strings.Join(got, "; ")
	}))
	var logged logLines
	ts.Config.ErrorLog = log.New(&logged, "", 0)
	ts.Start()
	defer ts.Close()

	conn, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "GET / HTTP/1.1\r\nHost: test\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v, %v", resp, err)
	}
	_, _ = io.WriteString(conn, "hello\n")
	rest, err := io.ReadAll(br)
	if err != nil || string(rest) != "echo: hello\n" {
		t.Fatalf("after the 101: %q, %v; want only the echo", rest, err)
	}
	h := http.ErrHijacked.Error()
	if got, want := <-errs, strings.Join([]string{h, h, h, h, "0 true"}, "; "); got != want {
		t.Fatalf("the handler saw %q, want %q", got, want)
	}
	if l := logged.String(); l != "" {
		t.Fatalf("the server logged %q, want nothing", l)
	}
}
