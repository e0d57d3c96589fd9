package dashboard

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/fusebox-go/fusebox/breaker"
	"github.com/fusebox-go/fusebox/clock"
	"github.com/fusebox-go/fusebox/internal/testwait"
)

// inUse returns the bytes of live heap objects and goroutine stacks, after
// a collection.
func inUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc + m.StackInuse
}

// Beyond Config.MaxStreams, GET /events answers 503 with a Retry-After
// and closes the connection: a refused stream costs no goroutine and no
// memory once answered, on the server or the client (both are in this
// process, and measured), and is counted in the status. Closing a stream
// frees its slot.
func TestEventsStreamLimit(t *testing.T) {
	const limit, extra = 4, 32
	clk := clock.NewFake(time.Unix(1700000000, 0))
	d := newDashboard(t, Config{Clock: clk, MaxStreams: limit})
	if err := d.Add("api", newBreaker(t, breaker.Config{Name: "svc", Clock: clk})); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(d)
	t.Cleanup(srv.Close)
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	url := srv.URL + "/events"

	// A first stream starts the sampler, then goes: the baseline holds the
	// sampler but no stream.
	s := openStreamWith(t, client, url)
	s.next()
	s.close()
	testwait.Eventually(t, "the first stream to end", func() bool {
		d.mu.Lock()
		defer d.mu.Unlock()
		return len(d.subs) == 0
	})
	tr.CloseIdleConnections()
	g0, m0 := runtime.NumGoroutine(), inUse()

	streams := make([]*stream, limit)
	for i := range streams {
		streams[i] = openStreamWith(t, client, url)
		streams[i].next()
	}
	g1, m1 := runtime.NumGoroutine(), inUse()
	perG, perM := float64(g1-g0)/limit, float64(m1)/limit-float64(m0)/limit
	t.Logf("%d streams: %d goroutines, %.0f per stream; %.0f bytes per stream", limit, g1-g0, perG, perM)
	if perG < 1 || perM <= 0 {
		t.Fatalf("an open stream costs %.1f goroutines and %.0f bytes: the measure is broken", perG, perM)
	}

	refused := 0
	for i := range extra {
		s, resp := tryStream(t, client, url)
		if s != nil {
			if i == 0 {
				t.Errorf("stream %d of a limit of %d: %d, want 503", limit+1, limit, resp.StatusCode)
			}
			s.next() // kept open, so that its cost is measured
			continue
		}
		refused++
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || !resp.Close {
			t.Errorf("refused stream: %d, Retry-After %q, Connection: close %v; want 503, a Retry-After and the connection closed",
				resp.StatusCode, resp.Header.Get("Retry-After"), resp.Close)
		}
	}
	// The connections of the refused streams close on both sides, and
	// their goroutines end: wait for it a while, then allow a few that
	// did not, at most.
	const slack = 3
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > g1 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	g2, m2 := runtime.NumGoroutine(), inUse()
	t.Logf("%d more requests, %d refused: %+d goroutines, %+d bytes", extra, refused, g2-g1, int64(m2)-int64(m1))
	if g2 > g1+slack {
		t.Errorf("%d requests beyond the limit left %d goroutines more (%.1f per open stream), want at most %d",
			extra, g2-g1, perG, slack)
	}
	if grown := float64(m2) - float64(m1); grown > extra*perM/4 {
		t.Errorf("%d requests beyond the limit left %.0f bytes more in use, a quarter of %d open streams' is %.0f",
			extra, grown, extra, extra*perM/4)
	}
	st := d.Status()
	if st.StreamsRefused != uint64(extra) || st.Streams != limit {
		t.Errorf("status: %d streams, %d refused; want %d and %d", st.Streams, st.StreamsRefused, limit, extra)
	}

	// Closing a stream frees its slot.
	streams[0].close()
	testwait.Eventually(t, "the closed stream to end", func() bool {
		d.mu.Lock()
		defer d.mu.Unlock()
		return len(d.subs) < limit
	})
	if s, resp := tryStream(t, client, url); s == nil {
		t.Fatalf("a stream after one closed: %d, want 200", resp.StatusCode)
	} else if ev, _ := s.next(); ev != "status" {
		t.Errorf("first event of the new stream: %q, want status", ev)
	}
	if st := d.Status(); st.Streams != limit {
		t.Errorf("status: %d streams, want %d", st.Streams, limit)
	}
}

// Each sample's update is built once for all the streams, which get the
// same bytes; and streams that connect between two samples share the
// full status of their first message.
func TestEventsBuildStatusOncePerSample(t *testing.T) {
	const streams, samples = 8, 5
	clk := clock.NewFake(time.Unix(1700000000, 0))
	d := newDashboard(t, Config{Clock: clk, Interval: time.Second})
	b := newBreaker(t, breaker.Config{Name: "svc", Clock: clk})
	if err := d.Add("api", b); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(d)
	t.Cleanup(srv.Close)
	ss := make([]*stream, streams)
	for i := range ss {
		ss[i] = openStream(t, srv)
		if ev, st := ss[i].next(); ev != "status" || st.Seq != 1 {
			t.Fatalf("stream %d: first event %q, seq %d", i, ev, st.Seq)
		}
	}
	if n := d.builds.Load(); n != 1 {
		t.Errorf("%d streams connecting between two samples built the status %d times, want once", streams, n)
	}
	for i := range samples {
		testwait.Timers(t, clk, 1+streams, "the sampler's timer and each stream's heartbeat")
		before := d.builds.Load()
		_ = b.Execute(context.Background(), ok)
		clk.Advance(time.Second)
		for j, s := range ss {
			if ev, st := s.next(); ev != "update" || st.Seq != uint64(2+i) {
				t.Fatalf("sample %d, stream %d: %q, seq %d", i, j, ev, st.Seq)
			}
			if s.data != ss[0].data {
				t.Errorf("sample %d: stream %d got %s, stream 0 %s", i, j, s.data, ss[0].data)
			}
		}
		if n := d.builds.Load() - before; n != 1 {
			t.Errorf("sample %d built the status %d times for %d streams, want once", i+2, n, streams)
		}
	}
}

// A stream gets the frames it has not sent, in order; one that fell
// further behind than the frames kept gets the full status instead.
func TestEventsStreamBehind(t *testing.T) {
	clk := clock.NewFake(time.Unix(1700000000, 0))
	// The sampler, which the stream starts, stays idle: the test samples.
	d := newDashboard(t, Config{Clock: clk, Interval: time.Hour})
	if err := d.Add("api", newBreaker(t, breaker.Config{Name: "svc", Clock: clk})); err != nil {
		t.Fatal(err)
	}
	d.Status()
	sub, first, err := d.subscribe(http.NewResponseController(httptest.NewRecorder()))
	if err != nil {
		t.Fatal(err)
	}
	defer d.unsubscribe(sub)
	if first.id != 1 || sub.sent != 1 || !strings.HasPrefix(string(first.data), "event: status\n") {
		t.Fatalf("first message: frame %d, sent %d, %.40q", first.id, sub.sent, first.data)
	}
	for range 3 {
		clk.Advance(time.Millisecond)
		d.sample(true)
	}
	fs, err := d.pending(sub.sent)
	if err != nil || len(fs) != 3 {
		t.Fatalf("pending after 3 samples: %d frames, %v; want 3", len(fs), err)
	}
	for i, f := range fs {
		if f.id != uint64(2+i) || !strings.HasPrefix(string(f.data), "event: update\n") {
			t.Errorf("frame %d: id %d, %.40q; want id %d, an update", i, f.id, f.data, 2+i)
		}
	}
	sub.sent = fs[len(fs)-1].id
	for range maxFrames + 1 {
		clk.Advance(time.Millisecond)
		d.sample(true)
	}
	fs, err = d.pending(sub.sent)
	if err != nil || len(fs) != 1 || fs[0].id != d.frameID || !strings.HasPrefix(string(fs[0].data), "event: status\n") {
		t.Fatalf("pending %d samples behind: %d frames (%v), want the full status of frame %d", maxFrames+1, len(fs), err, d.frameID)
	}
	var st Status
	if err := json.Unmarshal(bytes.TrimPrefix(bytes.TrimSpace(fs[0].data), []byte("event: status\ndata: ")), &st); err != nil {
		t.Fatal(err)
	}
	if !st.Full || st.Seq != uint64(1+3+maxFrames+1) || len(st.Policies[0].History) != 3+maxFrames+1 {
		t.Errorf("full status: full %v, seq %d, %d points", st.Full, st.Seq, len(st.Policies[0].History))
	}
}
