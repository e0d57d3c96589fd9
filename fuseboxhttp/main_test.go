package fuseboxhttp_test

import (
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if a goroutine outlives them: servers,
// idle connections, health checks and Serve must all be gone.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testServer is an httptest server that counts requests and new
// connections.
type testServer struct {
	*httptest.Server
	requests atomic.Int64
	conns    atomic.Int64
}

// newTestServer starts a loopback server running h, closed at the end of
// the test.
func newTestServer(t testing.TB, h http.HandlerFunc) *testServer {
	t.Helper()
	ts := &testServer{}
	ts.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ts.requests.Add(1)
		h(w, r)
	}))
	ts.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			ts.conns.Add(1)
		}
	}
	ts.Start()
	t.Cleanup(ts.Close)
	return ts
}

// newClient returns a client using rt whose idle connections are closed at
// the end of the test.
func newClient(t testing.TB, rt http.RoundTripper) *http.Client {
	t.Helper()
	c := &http.Client{Transport: rt}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// newBase returns a fresh transport, closed at the end of the test.
func newBase(t testing.TB) *http.Transport {
	t.Helper()
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	t.Cleanup(tr.CloseIdleConnections)
	return tr
}

// counter is a concurrency-safe list of strings, for recording order.
type counter struct {
	mu   sync.Mutex
	list []string
}

func (c *counter) add(s string) {
	c.mu.Lock()
	c.list = append(c.list, s)
	c.mu.Unlock()
}

func (c *counter) get() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.list...)
}
