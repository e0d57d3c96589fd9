package dashboard

import (
	"net/http"
	"net/http/httptest"
	"runtime"
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
	} else if ev, st := s.next(); ev != "status" || st.Streams != limit {
		t.Errorf("first event of the new stream: %q, %d streams, want status and %d", ev, st.Streams, limit)
	}
}
