package chaos

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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

// bareWriter hides every optional interface of the writer it wraps, as a
// middleware that knows none of them would.
type bareWriter struct{ w http.ResponseWriter }

func (b bareWriter) Header() http.Header         { return b.w.Header() }
func (b bareWriter) Write(p []byte) (int, error) { return b.w.Write(p) }
func (b bareWriter) WriteHeader(code int)        { b.w.WriteHeader(code) }

// unwrapper is a bareWriter that http.ResponseController can see through.
type unwrapper struct{ bareWriter }

func (u unwrapper) Unwrap() http.ResponseWriter { return u.w }

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

// upgrade dials addr and asks path for a protocol upgrade, as a websocket
// client would. On a 101 it sends a line over the upgraded connection and
// returns all that comes back until the server closes it.
func upgrade(t *testing.T, addr, path string) (status int, rest string) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: test\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n", path)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("%s: reading the upgrade response: %v", path, err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body, _ := io.ReadAll(resp.Body)
		t.Logf("%s: upgrade answered %s: %q", path, resp.Status, body)
		return resp.StatusCode, ""
	}
	if _, err := io.WriteString(conn, "hello\n"); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(br)
	if err != nil {
		t.Fatalf("%s: reading the upgraded connection: %v", path, err)
	}
	return resp.StatusCode, string(b)
}

// echoUpgrade is a handler that upgrades the connection as
// gorilla/websocket does: it asserts http.Hijacker (or, on a path with
// "/rc", hijacks through http.ResponseController), answers 101 by hand,
// and returns, leaving the connection to a goroutine that echoes a line
// and closes it. On a path with "/flush" it then flushes the response, by
// mistake: that must not reach the connection (net/http's own writer
// panics on a Flush after a hijack). done gets the path once the echo is
// sent.
func echoUpgrade(done chan<- string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
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
		_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
		_ = brw.Flush()
		if strings.Contains(r.URL.Path, "/flush") {
			if f, ok := w.(http.Flusher); ok {
				f.Flush()
			}
			_ = http.NewResponseController(w).Flush()
		}
		go func() {
			defer func() { done <- r.URL.Path }()
			defer conn.Close()
			line, _ := brw.ReadString('\n')
			_, _ = brw.WriteString("echo: " + line)
			_ = brw.Flush()
		}()
	}
}

// Through a Server, a handler's writer has the optional interfaces of the
// server's own: HTTP/1.1's Flusher, Hijacker and ReaderFrom. Before, the
// Server's status recorder hid Hijacker and ReaderFrom.
func TestServerKeepsOptionalInterfaces(t *testing.T) {
	var seen atomic.Value
	s, c := newServer(t, ServerConfig{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		seen.Store(ifaces(w))
		_, _ = io.WriteString(w, "ok")
	})})
	if resp, body, err := get(context.Background(), t, c, s.URL()); err != nil || resp.StatusCode != 200 || body != "ok" {
		t.Fatalf("%v %v %q", err, resp, body)
	}
	if got, want := seen.Load(), "[Flusher Hijacker ReaderFrom]"; got != want {
		t.Fatalf("the handler's writer has %v, want the server's %v", got, want)
	}
}

// A handler on a Server upgrades the connection by hand, as a websocket
// server does, whether it asserts http.Hijacker or goes through
// http.ResponseController; a Flush after the hijack is refused, without
// reaching the connection. The requests are counted as hijacked, also
// under a ResetFault, which leaves the connection alone. Before,
// the assertion failed (the handler answered 500), and a Flush after a
// hijack through the controller reached net/http's writer, which panicked,
// so that the handler never served the upgraded connection.
func TestServerHijack(t *testing.T) {
	done := make(chan string, 1)
	s, _ := newServer(t, ServerConfig{Handler: echoUpgrade(done)})
	paths := []string{"/", "/flush", "/rc", "/rc/flush"}
	for _, path := range paths {
		status, rest := upgrade(t, s.Addr(), path)
		if status != http.StatusSwitchingProtocols || rest != "echo: hello\n" {
			t.Fatalf("%s: status %d, then %q; want 101, then only the echo", path, status, rest)
		}
		if got := testwait.Recv(t, done, "the echo"); got != path {
			t.Fatalf("echoed %s, want %s", got, path)
		}
	}
	// Under a ResetFault too: the connection is the handler's, and the
	// reset does not happen.
	if err := s.SetResetRate(1); err != nil {
		t.Fatal(err)
	}
	for _, path := range paths {
		status, rest := upgrade(t, s.Addr(), path)
		if status != http.StatusSwitchingProtocols || rest != "echo: hello\n" {
			t.Fatalf("%s under a reset: status %d, then %q; want 101, then only the echo", path, status, rest)
		}
		if got := testwait.Recv(t, done, "the echo"); got != path {
			t.Fatalf("echoed %s, want %s", got, path)
		}
	}
	n := uint64(2 * len(paths))
	testwait.Eventually(t, "the handlers to return", func() bool { return s.InFlight() == 0 })
	if st := s.Stats(); st.Requests != n || len(st.Statuses) != 0 || st.Unanswered != 0 || st.Resets != 0 || st.Hijacked != n {
		t.Fatalf("Stats %+v, want %d hijacked requests and nothing else", st, n)
	}
}

// Under a ResetFault, the handler's writer still has exactly the optional
// interfaces of the server's: HTTP/1.1's Flusher, Hijacker and ReaderFrom,
// HTTP/2's Flusher and Pusher (no Hijacker), and none for a writer that
// has none. Before, the reset's writer had Flusher, and only Flusher,
// whatever the writer underneath.
func TestMiddlewareResetKeepsOptionalInterfaces(t *testing.T) {
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
			inj := newInjector(t, Config{Fault: Fault{Seed: 1, Reset: ResetFault{Probability: 1, AfterBytes: 1}}})
			var outer, inner atomic.Value
			h := Middleware(inj)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				inner.Store(ifaces(w))
				_, _ = io.WriteString(w, r.Proto)
			}))
			ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tc.bare {
					w = bareWriter{w}
				}
				outer.Store(ifaces(w))
				h.ServeHTTP(w, r)
			}))
			ts.Config.ErrorLog = log.New(io.Discard, "", 0)
			ts.EnableHTTP2 = tc.http2
			if tc.http2 {
				ts.StartTLS()
			} else {
				ts.Start()
			}
			defer ts.Close()
			c := ts.Client()
			defer c.CloseIdleConnections()
			resp, body, err := get(context.Background(), t, c, ts.URL)
			if err == nil {
				t.Fatalf("%v, %q; want the response cut", resp, body)
			}
			if o := outer.Load(); o != tc.want {
				t.Fatalf("the server's writer has %v, want %v", o, tc.want)
			}
			if i := inner.Load(); i != tc.want {
				t.Fatalf("under the reset the writer has %v, want the server's %v", i, tc.want)
			}
		})
	}
}

// A handler that upgrades the connection under a ResetFault owns it: the
// fault leaves it alone, and nothing is written to it, nor logged; also
// when the hijack went through Unwrap, unseen (the reset then aborts the
// response, which net/http ignores on a hijacked connection). Before, the handler found no Hijacker and answered 500; through
// http.ResponseController it upgraded, and then the reset sent a 200's
// header (net/http logged a WriteHeader on a hijacked connection) and
// flushed, and a Flush after the hijack panicked in net/http's writer.
func TestMiddlewareResetLeavesHijackedConnection(t *testing.T) {
	inj := newInjector(t, Config{Fault: Fault{Seed: 1, Reset: ResetFault{Probability: 1}}})
	done := make(chan string, 1)
	h := Middleware(inj)(echoUpgrade(done))
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/wrapped") {
			// A writer that is no Hijacker, but unwraps to one.
			w = unwrapper{bareWriter{w}}
		}
		h.ServeHTTP(w, r)
	}))
	var logged logLines
	ts.Config.ErrorLog = log.New(&logged, "", 0)
	ts.Start()
	defer ts.Close()
	for _, path := range []string{"/", "/flush", "/rc", "/rc/flush", "/wrapped/rc"} {
		status, rest := upgrade(t, ts.Listener.Addr().String(), path)
		if status != http.StatusSwitchingProtocols || rest != "echo: hello\n" {
			t.Fatalf("%s: status %d, then %q; want 101, then only the echo", path, status, rest)
		}
		if got := testwait.Recv(t, done, "the echo"); got != path {
			t.Fatalf("echoed %s, want %s", got, path)
		}
	}
	if l := logged.String(); l != "" {
		t.Fatalf("the server logged %q, want nothing", l)
	}
}

// Under a ResetFault, a handler that copies its body through the writer's
// io.ReaderFrom gets it cut after AfterBytes, as one that writes it does.
// Before, the writer had no ReaderFrom.
func TestMiddlewareResetReadFrom(t *testing.T) {
	const after = 100
	inj := newInjector(t, Config{Fault: Fault{Seed: 1, Reset: ResetFault{Probability: 1, AfterBytes: after}}})
	type result struct {
		ok  bool
		n   int64
		err error
	}
	results := make(chan result, 1)
	ts := httptest.NewServer(Middleware(inj)(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		rf, ok := w.(io.ReaderFrom)
		if !ok {
			_, _ = io.WriteString(w, strings.Repeat("x", 64<<10))
			results <- result{}
			return
		}
		// Without WriteTo, so that the copy cannot bypass ReadFrom.
		n, err := rf.ReadFrom(struct{ io.Reader }{strings.NewReader(strings.Repeat("x", 64<<10))})
		results <- result{true, n, err}
	})))
	defer ts.Close()
	c := &http.Client{Transport: &http.Transport{}}
	defer c.CloseIdleConnections()
	resp, body, err := get(context.Background(), t, c, ts.URL)
	if !isReset(err) || len(body) > after {
		t.Fatalf("%v, %d bytes, %v; want at most %d bytes and a reset", resp, len(body), err, after)
	}
	r := testwait.Recv(t, results, "the handler's copy")
	if !r.ok {
		t.Fatal("the writer has no io.ReaderFrom, though the server's has")
	}
	if r.n != after || r.err == nil {
		t.Fatalf("ReadFrom copied %d bytes, error %v; want %d, and the reset's error", r.n, r.err, after)
	}
}

// Under a ResetFault, a handler that sets a Content-Length and writes no
// body gets its response cut too: the header goes out without the
// Content-Length, which would make the empty body whole.
func TestMiddlewareResetEmptyBody(t *testing.T) {
	inj := newInjector(t, Config{Fault: Fault{Seed: 1, Reset: ResetFault{Probability: 1, AfterBytes: 10}}})
	ts := httptest.NewServer(Middleware(inj)(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Length", "0")
	})))
	defer ts.Close()
	c := &http.Client{Transport: &http.Transport{}}
	defer c.CloseIdleConnections()
	if resp, body, err := get(context.Background(), t, c, ts.URL); !isReset(err) {
		t.Fatalf("%v, %q, %v; want a connection reset", resp, body, err)
	}
}
