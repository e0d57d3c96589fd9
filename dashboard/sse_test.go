package dashboard

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
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
}

// openStream connects to srv's /events with a real client whose requests
// time out, so a missing event fails the test instead of hanging it. The
// stream is closed by a cleanup, which runs before the server's, made
// earlier (httptest.Server.Close waits for open requests).
func openStream(t *testing.T, srv *httptest.Server) *stream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", srv.URL+"/events", nil)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	s := &stream{t: t, resp: resp, r: bufio.NewReader(resp.Body), cancel: cancel}
	t.Cleanup(s.close)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("GET /events: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return s
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
	clk.BlockUntil(2) // the sampler's timer and the stream's heartbeat
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
	clk.BlockUntil(2)
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
