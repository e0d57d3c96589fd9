package fuseboxhttp_test

import (
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fusebox-go/fusebox/clock"
	"github.com/fusebox-go/fusebox/hedge"
	"github.com/fusebox-go/fusebox/internal/testwait"
)

// upgradedConn stands for the connection a 101 response hands over as its
// Body (net/http's Transport does so): reading waits for the peer, which
// here never speaks, until Close.
type upgradedConn struct {
	closed  chan struct{}
	once    sync.Once
	unblock <-chan struct{} // the test's own way out, so nothing leaks
}

func (c *upgradedConn) Read([]byte) (int, error) {
	select {
	case <-c.closed:
		return 0, io.ErrClosedPipe
	case <-c.unblock:
		return 0, io.EOF
	}
}
func (c *upgradedConn) Write(p []byte) (int, error) { return len(p), nil }
func (c *upgradedConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return nil
}

type rtFunc func(*http.Request) (*http.Response, error)

func (f rtFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// A 101 response that is not handed to the caller (here a hedge's loser,
// whose response came in as it lost) is closed, not drained: draining
// would read from the upgraded connection, waiting for a peer that may
// never speak, and RoundTrip with it.
func TestLosingUpgradeIsClosedNotDrained(t *testing.T) {
	unblock := make(chan struct{})
	var free sync.Once
	defer free.Do(func() { close(unblock) })
	var n atomic.Int32
	firstIn := make(chan struct{})
	base := rtFunc(func(req *http.Request) (*http.Response, error) {
		if n.Add(1) == 1 {
			close(firstIn)
			<-req.Context().Done() // loses the race; its 101 was already on the way
		}
		return &http.Response{
			Status: "101 Switching Protocols", StatusCode: http.StatusSwitchingProtocols,
			Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header:  http.Header{"Connection": {"Upgrade"}, "Upgrade": {"echo"}},
			Body:    &upgradedConn{closed: make(chan struct{}), unblock: unblock},
			Request: req,
		}, nil
	})
	fake := clock.NewFake(time.Time{})
	h, err := hedge.New(hedge.Config{Delay: 10 * time.Millisecond, Budget: 10, Clock: fake})
	if err != nil {
		t.Fatal(err)
	}
	rt := mustRT(t, base, fixed(t, h))
	req, err := http.NewRequest(http.MethodGet, "http://upgrade.test/", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "echo")
	type result struct {
		resp *http.Response
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := rt.RoundTrip(req)
		done <- result{resp, err}
	}()
	<-firstIn
	testwait.Timers(t, fake, 1, "the hedge's timer")
	fake.Advance(10 * time.Millisecond) // the hedge: gets its 101 at once and wins
	select {
	case r := <-done:
		if r.err != nil || r.resp.StatusCode != http.StatusSwitchingProtocols {
			t.Fatalf("RoundTrip = %v, %v; want the winner's 101", r.resp, r.err)
		}
		r.resp.Body.Close()
	case <-time.After(2 * time.Second):
		t.Error("RoundTrip is still blocked 2s later: it reads the losing attempt's upgraded connection (drainAndClose) instead of closing it")
		free.Do(func() { close(unblock) })
		<-done
	}
}
