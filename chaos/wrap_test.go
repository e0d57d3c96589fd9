package chaos

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
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
// reaching the connection. The requests are counted as hijacked. Before,
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
	testwait.Eventually(t, "the handlers to return", func() bool { return s.InFlight() == 0 })
	if st := s.Stats(); st.Requests != uint64(len(paths)) || len(st.Statuses) != 0 || st.Unanswered != 0 || st.Hijacked != uint64(len(paths)) {
		t.Fatalf("Stats %+v, want %d hijacked requests and nothing else", st, len(paths))
	}
}
