package fuseboxhttp_test

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
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fusebox-go/fusebox/fuseboxhttp"
	"github.com/fusebox-go/fusebox/internal/testwait"
)

// ifaces lists the optional interfaces w asserts to.
func ifaces(w http.ResponseWriter) string {
	var got []string
	if _, ok := w.(http.Flusher); ok {
		got = append(got, "Flusher")
	}
	if _, ok := w.(http.Hijacker); ok {
		got = append(got, "Hijacker")
	}
	if _, ok := w.(io.ReaderFrom); ok {
		got = append(got, "ReaderFrom")
	}
	if _, ok := w.(http.Pusher); ok {
		got = append(got, "Pusher")
	}
	return "[" + strings.Join(got, " ") + "]"
}

// sawIfaces is middleware that records the optional interfaces of the
// writer it is given, and passes it on.
func sawIfaces(got *atomic.Value) fuseboxhttp.Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got.Store(ifaces(w))
			next.ServeHTTP(w, r)
		})
	}
}

// bareWriter hides every optional interface of the writer it wraps, as a
// third-party middleware that knows none of them would.
type bareWriter struct{ w http.ResponseWriter }

func (b bareWriter) Header() http.Header         { return b.w.Header() }
func (b bareWriter) Write(p []byte) (int, error) { return b.w.Write(p) }
func (b bareWriter) WriteHeader(code int)        { b.w.WriteHeader(code) }

// Behind Recover, a handler's type assertions answer as they would on the
// server's own writer: HTTP/1.1's has Flusher, Hijacker and ReaderFrom,
// HTTP/2's Flusher and Pusher, and a writer with none gets none. Before,
// Recover hid Hijacker and Pusher and claimed Flusher and ReaderFrom
// everywhere.
func TestRecoverKeepsOptionalInterfaces(t *testing.T) {
	rec := must(t)(fuseboxhttp.Recover(fuseboxhttp.RecoverConfig{OnPanic: func(any, []byte) {}}))
	for _, tc := range []struct {
		name  string
		http2 bool
		bare  bool
		want  string
	}{
		{name: "HTTP/1.1", want: "[Flusher Hijacker ReaderFrom]"},
		{name: "HTTP/2", http2: true, want: "[Flusher Pusher]"},
		{name: "bare", bare: true, want: "[]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var outer, inner atomic.Value
			var pushed atomic.Pointer[error] // Push's answer
			h := fuseboxhttp.Chain(sawIfaces(&outer), rec, sawIfaces(&inner))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if p, ok := w.(http.Pusher); ok {
					// Go's HTTP/2 client turns push off: the server's
					// Push says so, through the wrapper as without it.
					err := p.Push("/pushed", nil)
					pushed.Store(&err)
				}
				io.WriteString(w, r.Proto)
			}))
			if tc.bare {
				inner := h
				h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { inner.ServeHTTP(bareWriter{w}, r) })
			}
			ts := httptest.NewUnstartedServer(h)
			ts.EnableHTTP2 = tc.http2
			if tc.http2 {
				ts.StartTLS()
			} else {
				ts.Start()
			}
			defer ts.Close()
			resp, body, err := get(t, ts.Client(), ts.URL)
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("%v %v", resp, err)
			}
			if wantProto := map[bool]string{false: "HTTP/1.1", true: "HTTP/2.0"}[tc.http2]; body != wantProto {
				t.Fatalf("served over %s, want %s", body, wantProto)
			}
			if o := outer.Load(); o != tc.want {
				t.Fatalf("the server's writer has %v, want %v", o, tc.want)
			}
			if i := inner.Load(); i != tc.want {
				t.Fatalf("behind Recover the writer has %v, want the server's %v", i, tc.want)
			}
			if e := pushed.Load(); tc.http2 && (e == nil || *e != nil && !errors.Is(*e, http.ErrNotSupported)) {
				t.Fatalf("Push: %v, want it called, and nil or http.ErrNotSupported", e)
			}
		})
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

// upgrade dials addr, asks path for a protocol upgrade as a websocket
// client would, and reads the response; on a 101 it sends a line on the
// upgraded connection and returns what comes back until the server closes
// it.
func upgrade(t *testing.T, addr, path string) (status int, echoed string) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: test\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n", path)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("reading the upgrade response: %v", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body, _ := io.ReadAll(resp.Body)
		t.Logf("upgrade answered %s: %q", resp.Status, body)
		return resp.StatusCode, ""
	}
	if _, err := io.WriteString(conn, "hello\n"); err != nil {
		t.Fatal(err)
	}
	rest, err := io.ReadAll(br)
	if err != nil {
		t.Fatalf("reading the upgraded connection: %v", err)
	}
	return resp.StatusCode, string(rest)
}

// unwrapper is a bareWriter that http.ResponseController can see through.
type unwrapper struct{ bareWriter }

func (u unwrapper) Unwrap() http.ResponseWriter { return u.w }

// A handler behind Recover upgrades the connection as gorilla/websocket
// does: it asserts http.Hijacker (or uses http.ResponseController), takes
// the connection, writes the 101 by hand and speaks its own protocol. A
// panic after the hijack is reported, and Recover writes nothing: neither a
// 500 on the upgraded connection nor a complaint of net/http's about a
// write to a hijacked one; nor when the hijack went through Unwrap, unseen
// (Recover then aborts the response, which net/http ignores for a
// hijacked connection). A Flush after the hijack, by mistake, is refused
// with http.ErrHijacked. Before, the assertion failed and the handler
// answered 500, and a hijack through ResponseController was followed by a
// 500 that net/http refused and logged; later, a Flush after the hijack
// reached net/http's writer, which panicked.
func TestRecoverHijack(t *testing.T) {
	panics := make(chan any, 10)
	rec := must(t)(fuseboxhttp.Recover(fuseboxhttp.RecoverConfig{OnPanic: func(v any, _ []byte) { panics <- v }}))
	returned := make(chan string, 10) // the path of each request whose handler chain returned
	outer := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() { returned <- r.URL.Path }()
			if strings.HasPrefix(r.URL.Path, "/wrapped") {
				// A writer that is no Hijacker, but unwraps to one.
				w = unwrapper{bareWriter{w}}
			}
			next.ServeHTTP(w, r)
		})
	}
	h := fuseboxhttp.Chain(outer, rec)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var conn net.Conn
		var brw *bufio.ReadWriter
		var err error
		if strings.Contains(r.URL.Path, "/rc") {
			conn, brw, err = http.NewResponseController(w).Hijack()
		} else {
			hj, ok := w.(http.Hijacker)
			if !ok {
				http.Error(w, "websocket: response does not implement http.Hijacker", http.StatusInternalServerError)
				return
			}
			conn, brw, err = hj.Hijack()
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		defer conn.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
		brw.Flush()
		if strings.Contains(r.URL.Path, "/flush") {
			// By mistake: the connection is no longer the writer's.
			w.(http.Flusher).Flush()
			if err := http.NewResponseController(w).Flush(); !errors.Is(err, http.ErrHijacked) {
				panic(fmt.Sprintf("Flush after the hijack: %v, want http.ErrHijacked", err))
			}
		}
		line, _ := brw.ReadString('\n')
		brw.WriteString("echo: " + line)
		brw.Flush()
		if strings.HasSuffix(r.URL.Path, "/panic") {
			panic("after the upgrade")
		}
	}))
	ts := httptest.NewUnstartedServer(h)
	var logged logLines
	ts.Config.ErrorLog = log.New(&logged, "", 0)
	ts.Start()
	defer ts.Close()
	addr := ts.Listener.Addr().String()

	for _, path := range []string{"/", "/panic", "/flush", "/rc", "/rc/panic", "/rc/flush", "/wrapped/rc", "/wrapped/rc/panic"} {
		status, echoed := upgrade(t, addr, path)
		if status != http.StatusSwitchingProtocols || echoed != "echo: hello\n" {
			t.Fatalf("%s: status %d, then %q; want 101, then only the echo", path, status, echoed)
		}
		if got := testwait.Recv(t, returned, "the handler chain's return"); got != path {
			t.Fatalf("returned from %s, want %s", got, path)
		}
		if strings.HasSuffix(path, "/panic") {
			if v := testwait.Recv(t, panics, "the panic report"); v != "after the upgrade" {
				t.Fatalf("%s: OnPanic(%v)", path, v)
			}
		}
	}
	select {
	case v := <-panics:
		t.Fatalf("unexpected OnPanic(%v)", v)
	default:
	}
	if l := logged.String(); l != "" {
		t.Fatalf("the server logged %q, want nothing", l)
	}
}

// Flush, through the assertion or through http.ResponseController, reaches
// a streaming client before the handler returns.
func TestRecoverFlushStreams(t *testing.T) {
	rec := must(t)(fuseboxhttp.Recover(fuseboxhttp.RecoverConfig{OnPanic: func(any, []byte) {}}))
	next := make(chan struct{})
	ts, c := serve(t, rec, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "one\n")
		w.(http.Flusher).Flush()
		<-next
		io.WriteString(w, "two\n")
		if err := http.NewResponseController(w).Flush(); err != nil {
			panic(err)
		}
		<-next
		io.WriteString(w, "three\n")
	})
	resp, err := c.Get(ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	for _, want := range []string{"one\n", "two\n", "three\n"} {
		var line string
		testwait.Within(t, "reading "+strings.TrimSpace(want), func() { line, err = br.ReadString('\n') })
		if err != nil || line != want {
			t.Fatalf("read %q, %v; want %q", line, err, want)
		}
		if want != "three\n" {
			next <- struct{}{} // the line came before the handler went on
		}
	}
}

// readFromCounter exposes only io.ReaderFrom of the server's writer, and
// counts its calls.
type readFromCounter struct {
	http.ResponseWriter
	calls *atomic.Int64
}

func (c readFromCounter) ReadFrom(src io.Reader) (int64, error) {
	c.calls.Add(1)
	return c.ResponseWriter.(io.ReaderFrom).ReadFrom(src)
}

// io.Copy from a file to the handler's writer goes through the ReadFrom of
// the writer underneath (sendfile, on the server's own), and a writer that
// is no Flusher is not made one.
func TestRecoverReadFrom(t *testing.T) {
	rec := must(t)(fuseboxhttp.Recover(fuseboxhttp.RecoverConfig{OnPanic: func(any, []byte) {}}))
	content := strings.Repeat("0123456789abcdef", 4096) // 64 KiB
	path := filepath.Join(t.TempDir(), "content")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int64
	var seen atomic.Value
	h := rec(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Store(ifaces(w))
		f, err := os.Open(path)
		if err != nil {
			panic(err)
		}
		defer f.Close()
		io.Copy(w, f)
	}))
	ts := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/counted" {
			w = readFromCounter{ResponseWriter: w, calls: &calls}
		}
		h.ServeHTTP(w, r)
	})
	c := newClient(t, newBase(t))
	for _, p := range []string{"/", "/counted"} {
		resp, body, err := get(t, c, ts.URL+p)
		if err != nil || resp.StatusCode != 200 || body != content {
			t.Fatalf("%s: %v, %d bytes, %v; want the file's %d bytes", p, resp, len(body), err, len(content))
		}
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("the underlying ReadFrom was called %d times, want once", n)
	}
	if got := seen.Load(); got != "[ReaderFrom]" {
		t.Fatalf("behind Recover, over a writer with only ReadFrom: %v, want [ReaderFrom]", got)
	}
}
