package dashboard

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/breaker"
	"github.com/fusebox-go/fusebox/clock"
	"github.com/fusebox-go/fusebox/internal/testwait"
)

// stream is a client of /events.
type stream struct {
	t      *testing.T
	resp   *http.Response
	r      *bufio.Reader
	cancel context.CancelFunc
	data   string // of the latest event next returned
}

// openStream connects to srv's /events with a real client whose requests
// time out, so a missing event fails the test instead of hanging it. The
// stream is closed by a cleanup, which runs before the server's, made
// earlier (httptest.Server.Close waits for open requests). hdr holds
// header names and values.
func openStream(t *testing.T, srv *httptest.Server, hdr ...string) *stream {
	t.Helper()
	return openStreamWith(t, &http.Client{Timeout: 10 * time.Second}, srv.URL+"/events", hdr...)
}

// openStreamWith is openStream with a client of the caller's, and the
// stream's URL.
func openStreamWith(t *testing.T, client *http.Client, url string, hdr ...string) *stream {
	t.Helper()
	s, resp := tryStream(t, client, url, hdr...)
	if s == nil {
		t.Fatalf("GET %s: %d %q", url, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return s
}

// tryStream is openStreamWith for a request that may be refused: the
// stream is nil, and the response's body read and closed, when the
// response is not an event stream.
func tryStream(t *testing.T, client *http.Client, url string, hdr ...string) (*stream, *http.Response) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		cancel()
		return nil, resp
	}
	s := &stream{t: t, resp: resp, r: bufio.NewReader(resp.Body), cancel: cancel}
	t.Cleanup(s.close)
	return s, resp
}

func (s *stream) close() {
	s.cancel()
	_ = s.resp.Body.Close()
}

// line returns the next line, without its newline.
func (s *stream) line() (string, error) {
	l, err := s.r.ReadString('\n')
	return strings.TrimSuffix(l, "\n"), err
}

// next returns the next event and its decoded Status, skipping comments.
func (s *stream) next() (string, Status) {
	s.t.Helper()
	var event, data string
	for {
		l, err := s.line()
		if err != nil {
			s.t.Fatalf("reading the event stream: %v", err)
		}
		switch {
		case l == "":
			if event == "" && data == "" {
				continue
			}
			var st Status
			if err := json.Unmarshal([]byte(data), &st); err != nil {
				s.t.Fatalf("event %q: bad data %v: %s", event, err, data)
			}
			s.data = data
			return event, st
		case strings.HasPrefix(l, ":"), strings.HasPrefix(l, "retry:"):
		case strings.HasPrefix(l, "event: "):
			event = l[len("event: "):]
		case strings.HasPrefix(l, "data: "):
			data += l[len("data: "):]
		default:
			s.t.Fatalf("unexpected line %q", l)
		}
	}
}

// until reads updates until one satisfies cond.
func (s *stream) until(what string, cond func(Status) bool) Status {
	s.t.Helper()
	for {
		ev, st := s.next()
		if ev != "update" || st.Full {
			s.t.Fatalf("got event %q (full %v), want an update", ev, st.Full)
		}
		if cond(st) {
			return st
		}
	}
}

func stateOf(st Status, name string) string {
	for _, p := range st.Policies {
		if p.Name == name {
			return p.State
		}
	}
	return ""
}

func TestEventsPushStateChangeFromBus(t *testing.T) {
	clk := clock.NewFake(time.Unix(1700000000, 0))
	bus := fusebox.NewEvents()
	defer bus.Close()
	d := newDashboard(t, Config{Clock: clk, Events: bus})
	b := newBreaker(t, breaker.Config{Name: "svc", Clock: clk, Events: bus})
	if err := d.Add("api", b); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(d)
	t.Cleanup(srv.Close)
	s := openStream(t, srv)
	ev, st := s.next()
	if ev != "status" || !st.Full || stateOf(st, "api") != "closed" {
		t.Fatalf("first event %q = %+v, want the full status with api closed", ev, st)
	}
	// No sample is due (the fake clock stands still): the push comes from
	// the bus.
	b.Trip()
	st = s.until("api open", func(st Status) bool { return stateOf(st, "api") == "open" })
	if len(st.Timeline) != 1 || st.Timeline[0].To != "open" || st.Timeline[0].Policy != "api" {
		t.Errorf("update timeline = %+v, want the change to open", st.Timeline)
	}
	b.Reset()
	st = s.until("api closed", func(st Status) bool { return stateOf(st, "api") == "closed" })
	if len(st.Timeline) != 1 || st.Timeline[0].ID != 2 {
		t.Errorf("second update timeline = %+v, want only the new change", st.Timeline)
	}
}

func TestEventsPushSamplesWithoutBus(t *testing.T) {
	clk := clock.NewFake(time.Unix(1700000000, 0))
	d := newDashboard(t, Config{Clock: clk, Interval: time.Second})
	b := newBreaker(t, breaker.Config{Name: "svc", Clock: clk})
	if err := d.Add("api", b); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(d)
	t.Cleanup(srv.Close)
	s := openStream(t, srv)
	if ev, st := s.next(); ev != "status" || st.Seq != 1 {
		t.Fatalf("first event %q, seq %d", ev, st.Seq)
	}
	testwait.Timers(t, clk, 2, "the sampler's timer and the stream's heartbeat")
	for range 4 {
		_ = b.Execute(context.Background(), ok)
	}
	b.Trip()
	clk.Advance(time.Second)
	st := s.until("a sample", func(st Status) bool { return st.Seq == 2 })
	if stateOf(st, "api") != "open" || len(st.Timeline) != 1 || st.Timeline[0].From != "closed" {
		t.Fatalf("update = %+v, want api open and the change detected", st)
	}
	if h := st.Policies[0].History; len(h) != 1 || h[0].Rate != 4 {
		t.Errorf("update history = %+v, want only the new point, 4 calls/s", h)
	}
}

func TestEventsHeartbeat(t *testing.T) {
	clk := clock.NewFake(time.Time{})
	d := newDashboard(t, Config{Clock: clk, Interval: time.Hour, Heartbeat: 100 * time.Millisecond})
	srv := httptest.NewServer(d)
	t.Cleanup(srv.Close)
	s := openStream(t, srv)
	s.next()
	testwait.Timers(t, clk, 2, "the sampler's timer and the stream's heartbeat")
	clk.Advance(100 * time.Millisecond)
	for {
		l, err := s.line()
		if err != nil {
			t.Fatal(err)
		}
		if l == ": heartbeat" {
			break
		}
	}
}

func TestEventsEndWithClient(t *testing.T) {
	d := newDashboard(t, Config{Clock: clock.NewFake(time.Time{})})
	srv := httptest.NewServer(d)
	t.Cleanup(srv.Close)
	s := openStream(t, srv)
	s.next()
	s.close()
	testwait.Eventually(t, "the stream's handler to return", func() bool {
		d.mu.Lock()
		defer d.mu.Unlock()
		return len(d.subs) == 0
	})
}

func TestEventsEndWithClose(t *testing.T) {
	d := newDashboard(t, Config{Clock: clock.NewFake(time.Time{})})
	srv := httptest.NewServer(d)
	t.Cleanup(srv.Close)
	s := openStream(t, srv)
	s.next()
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	for {
		_, err := s.line()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("reading after Close: %v, want EOF", err)
		}
	}
	resp, err := srv.Client().Get(srv.URL + "/events")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("GET /events after Close = %d, want 503", resp.StatusCode)
	}
}

// smallBufListener shrinks the kernel send buffer of accepted connections,
// so that a client that does not read blocks the server's writes at once.
type smallBufListener struct{ net.Listener }

func (l smallBufListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(4096)
	}
	return c, err
}

// openStalledStream opens an event stream of d whose client reads the
// response head, then stops reading (a suspended laptop, a frozen tab),
// and waits for the stream to subscribe. d shows hundreds of breakers, so
// that the first message (some hundred kB) cannot be written whole: the
// handler blocks in Write. The returned channel receives when the handler
// has returned.
func openStalledStream(t *testing.T, d *Dashboard) <-chan struct{} {
	t.Helper()
	clk := clock.NewFake(time.Unix(1700000000, 0))
	for i := range 400 {
		if err := d.Add(fmt.Sprintf("breaker-%03d-with-a-longish-name", i), newBreaker(t, breaker.Config{Name: fmt.Sprint(i), Clock: clk})); err != nil {
			t.Fatal(err)
		}
	}
	returned := make(chan struct{}, 1)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.ServeHTTP(w, r)
		if r.URL.Path == "/events" {
			returned <- struct{}{}
		}
	}))
	srv.Listener = smallBufListener{srv.Listener}
	srv.Start()
	t.Cleanup(srv.Close)
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() }) // before srv.Close, which waits for the handler
	_ = conn.(*net.TCPConn).SetReadBuffer(2048)
	if _, err := fmt.Fprintf(conn, "GET /events HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReaderSize(conn, 16).ReadString('\n')
	if err != nil || !strings.Contains(line, "200") {
		t.Fatalf("status line %q, %v", line, err)
	}
	testwait.Eventually(t, "the stream to subscribe", func() bool {
		d.mu.Lock()
		defer d.mu.Unlock()
		return len(d.subs) == 1
	})
	return returned
}

// handlerBlockedInWrite reports whether an event stream's handler waits
// for its connection to take more bytes.
func handlerBlockedInWrite() bool {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	for g := range bytes.SplitSeq(buf, []byte("\n\n")) {
		if bytes.Contains(g, []byte("waitWrite")) && bytes.Contains(g, []byte("(*Dashboard).serveEvents")) {
			return true
		}
	}
	return false
}

// Close ends the stream of a client that stopped reading at once: its
// handler does not stay blocked in Write, holding a goroutine and the
// connection, until the write times out.
func TestEventsEndWithCloseWhenClientStalled(t *testing.T) {
	d := newDashboard(t, Config{Clock: clock.NewFake(time.Unix(1700000000, 0))})
	returned := openStalledStream(t, d)
	testwait.Eventually(t, "the stream's handler to block in Write", handlerBlockedInWrite)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-returned:
	case <-time.After(5 * time.Second): // well under the write timeout, 30s
		t.Fatal("after Close, the event stream of a client that stopped reading is still open: its handler is blocked in Write")
	}
}

// A write to a stream that takes longer than the write timeout ends the
// stream and frees its goroutine, without Close.
func TestEventsEndOnWriteTimeout(t *testing.T) {
	d := newDashboard(t, Config{Clock: clock.NewFake(time.Unix(1700000000, 0))})
	if want := 2 * DefaultHeartbeat; d.writeTimeout != want {
		t.Errorf("write timeout %v, want twice the heartbeat, %v", d.writeTimeout, want)
	}
	d.writeTimeout = 200 * time.Millisecond
	returned := openStalledStream(t, d)
	testwait.Recv(t, returned, "the stalled stream's handler to return")
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.subs) != 0 {
		t.Errorf("%d streams still subscribed after the write timed out", len(d.subs))
	}
}

func TestEventsPushAction(t *testing.T) {
	clk := clock.NewFake(time.Time{})
	d := newDashboard(t, Config{Clock: clk, Actions: true, Token: testToken})
	b := newBreaker(t, breaker.Config{Name: "svc", Clock: clk})
	if err := d.Add("api", b); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(d)
	t.Cleanup(srv.Close)
	s := openStream(t, srv)
	s.next()
	req, _ := http.NewRequest("POST", srv.URL+"/actions", strings.NewReader(`{"policy":"api","action":"force-open"}`))
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("POST /actions = %d", resp.StatusCode)
	}
	// No bus and no sample due: the action itself pushes the new state.
	st := s.until("api forced open", func(st Status) bool { return stateOf(st, "api") == "forced-open" })
	if len(st.Timeline) != 1 || st.Timeline[0].To != "forced-open" {
		t.Errorf("timeline = %+v", st.Timeline)
	}
}
