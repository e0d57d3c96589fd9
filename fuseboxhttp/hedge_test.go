package fuseboxhttp_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/fusebox-go/fusebox/clock"
	"github.com/fusebox-go/fusebox/hedge"
	"github.com/fusebox-go/fusebox/internal/testwait"
)

// A hedge ends its attempts' contexts when its Run returns. The winning
// response's body, streamed (chunked, not read ahead) and read by the
// caller after RoundTrip returned, must still read to its end.
func TestHedgeKeepsStreamingBodyReadable(t *testing.T) {
	more := make(chan struct{})
	ts := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("first,"))
		w.(http.Flusher).Flush() // chunked: no Content-Length, not read ahead
		select {
		case <-more:
		case <-r.Context().Done():
			return
		}
		w.Write([]byte("second"))
	})
	h, err := hedge.New(hedge.Config{Delay: time.Hour, Clock: clock.NewFake(time.Time{})})
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, mustRT(t, newBase(t), fixed(t, h)))
	resp, err := c.Get(ts.URL)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	defer resp.Body.Close()
	close(more) // the rest is sent only after RoundTrip returned
	body, err := io.ReadAll(resp.Body)
	if err != nil || string(body) != "first,second" {
		t.Fatalf("reading the streamed body after RoundTrip: got %q, %v; want %q, nil", body, err, "first,second")
	}
}

// Only idempotent requests are sent more than once, and a hedge is a second
// sending as much as a retry is: a POST with a replayable body and no
// idempotency key reaches the server once, even when a hedge starts.
func TestHedgeDoesNotResendNonIdempotentRequest(t *testing.T) {
	arrived := make(chan struct{}, 2)
	release := make(chan struct{})
	ts := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		arrived <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	fake := clock.NewFake(time.Time{})
	h, err := hedge.New(hedge.Config{Delay: 20 * time.Millisecond, Budget: 10, Clock: fake})
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, mustRT(t, newBase(t), fixed(t, h)))
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, ts.URL, bytes.NewReader([]byte("charge the card")))
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		status int
		err    error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := c.Do(req)
		if err != nil {
			done <- result{err: err}
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		done <- result{status: resp.StatusCode}
	}()
	testwait.Recv(t, arrived, "the first attempt at the server")
	testwait.Timers(t, fake, 1, "the hedge's timer")
	fake.Advance(20 * time.Millisecond)
	// Do returns only when every attempt has: a hedge that sent the POST
	// again has been counted by the server by then.
	close(release)
	got := testwait.Recv(t, done, "the POST")
	if got.err != nil || got.status != http.StatusOK {
		t.Fatalf("POST: status %d, err %v; want the first attempt's 200", got.status, got.err)
	}
	if hs := h.Snapshot().Hedges; hs != 1 {
		t.Fatalf("the hedge policy started %d hedges; want 1 (the test must race one)", hs)
	}
	if n := ts.requests.Load(); n != 1 {
		t.Fatalf("the server got the non-idempotent POST %d times; want 1", n)
	}
}
