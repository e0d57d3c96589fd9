package bench

import (
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/breaker"
	"github.com/fusebox-go/fusebox/fuseboxhttp"
	"github.com/fusebox-go/fusebox/retry"
)

// HTTP overhead on loopback: the same requests to the same server, with a
// bare http.Transport and with fuseboxhttp's RoundTripper running a breaker
// and a retry per host (BenchmarkHTTPClient), and to a bare handler and the
// same handler behind the server middleware chain (BenchmarkHTTPServer).
// Compare the sub-benchmarks of one run: the ratio is the overhead.
//
// On a busy two-core machine, sub-benchmarks that run one after the other
// see different machines: their ratio drifts by ±10 % from run to run. The
// Paired benchmarks remove that drift: each goroutine alternates one
// request of each side, so both sides share every moment of the run, and
// the benchmark reports each side's mean time per request and the
// overhead, (with − bare) / bare in percent. At a fixed number of
// goroutines a request's mean time is the inverse of the throughput per
// goroutine, so the overhead is the throughput ratio's too.

var okBody = []byte(`{"ok":true}`)

func okHandler(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(okBody) }

func benchGet(b *testing.B, c *http.Client, url string) {
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := c.Get(url)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
}

func newTransport() *http.Transport {
	return &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: time.Minute}
}

// breakerRetry is the client benchmarks' pipeline factory: a default
// breaker and a default retry per host.
func breakerRetry(host string) (*fusebox.Pipeline, error) {
	br, err := breaker.New(breaker.Config{Name: host})
	if err != nil {
		return nil, err
	}
	r, err := retry.New(retry.Config{})
	if err != nil {
		return nil, err
	}
	return fusebox.New(br, r)
}

// serverChain is the server benchmarks' middleware: Recover, LoadShedder
// and Deadline.
func serverChain(b *testing.B) fuseboxhttp.Middleware {
	shed, err := fuseboxhttp.LoadShedder(fuseboxhttp.LoadShedderConfig{MaxConcurrent: 1024})
	if err != nil {
		b.Fatal(err)
	}
	recov, err := fuseboxhttp.Recover(fuseboxhttp.RecoverConfig{})
	if err != nil {
		b.Fatal(err)
	}
	deadline, err := fuseboxhttp.Deadline(fuseboxhttp.DeadlineConfig{})
	if err != nil {
		b.Fatal(err)
	}
	return fuseboxhttp.Chain(recov, shed, deadline)
}

func BenchmarkHTTPClient(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(okHandler))
	defer srv.Close()
	b.Run("bare", func(b *testing.B) {
		tr := newTransport()
		defer tr.CloseIdleConnections()
		benchGet(b, &http.Client{Transport: tr}, srv.URL)
	})
	b.Run("fusebox", func(b *testing.B) {
		tr := newTransport()
		defer tr.CloseIdleConnections()
		rt, err := fuseboxhttp.NewRoundTripper(tr, fuseboxhttp.WithPipeline(breakerRetry))
		if err != nil {
			b.Fatal(err)
		}
		benchGet(b, &http.Client{Transport: rt}, srv.URL)
	})
}

func BenchmarkHTTPServer(b *testing.B) {
	mw := serverChain(b)
	for _, s := range []struct {
		name string
		h    http.Handler
	}{
		{"bare", http.HandlerFunc(okHandler)},
		{"middleware", mw(http.HandlerFunc(okHandler))},
	} {
		b.Run(s.name, func(b *testing.B) {
			srv := httptest.NewServer(s.h)
			defer srv.Close()
			tr := newTransport()
			defer tr.CloseIdleConnections()
			benchGet(b, &http.Client{Transport: tr}, srv.URL)
		})
	}
}

// pairedGet alternates GETs of urlA with a and urlB with c, both carrying
// header, on every goroutine of the benchmark and reports both sides' mean
// time per request and the overhead of the second side over the first;
// and, as a measure that a few stalled requests cannot move, each side's
// median time per request and the overhead of the medians. On a machine
// whose other work takes the benchmark's threads off the CPU for
// milliseconds at a time, each such stall lands on one side's request and
// moves that side's mean by more than the overhead; the medians stay put.
func pairedGet(b *testing.B, a *http.Client, urlA string, c *http.Client, urlB string, header http.Header) {
	var nsA, nsB atomic.Int64
	var mu sync.Mutex
	var allA, allB []time.Duration
	get := func(c *http.Client, url string) (time.Duration, bool) {
		start := time.Now()
		req, err := http.NewRequest(http.MethodGet, url, nil)
		if err != nil {
			b.Error(err)
			return 0, false
		}
		for k, v := range header {
			req.Header[k] = v
		}
		resp, err := c.Do(req)
		if err != nil {
			b.Error(err)
			return 0, false
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Errorf("status %d", resp.StatusCode)
			return 0, false
		}
		return time.Since(start), true
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		var sumA, sumB time.Duration
		durA, durB := make([]time.Duration, 0, 1024), make([]time.Duration, 0, 1024)
		defer func() {
			mu.Lock()
			allA, allB = append(allA, durA...), append(allB, durB...)
			mu.Unlock()
		}()
		// Which side goes first alternates too, so neither always
		// follows the other.
		for i := 0; pb.Next(); i++ {
			first, second := a, c
			u1, u2 := urlA, urlB
			if i%2 == 1 {
				first, second, u1, u2 = c, a, urlB, urlA
			}
			d1, ok := get(first, u1)
			if !ok {
				return
			}
			d2, ok := get(second, u2)
			if !ok {
				return
			}
			if i%2 == 1 {
				d1, d2 = d2, d1
			}
			sumA += d1
			sumB += d2
			durA, durB = append(durA, d1), append(durB, d2)
		}
		nsA.Add(int64(sumA))
		nsB.Add(int64(sumB))
	})
	n := float64(b.N)
	ma, mb := float64(nsA.Load())/n, float64(nsB.Load())/n
	b.ReportMetric(ma, "bare-ns/req")
	b.ReportMetric(mb, "fusebox-ns/req")
	b.ReportMetric((mb-ma)/ma*100, "overhead-%")
	if len(allA) == 0 || len(allB) == 0 {
		return
	}
	slices.Sort(allA)
	slices.Sort(allB)
	pa, pb := float64(allA[len(allA)/2]), float64(allB[len(allB)/2])
	b.ReportMetric(pa, "bare-p50-ns")
	b.ReportMetric(pb, "fusebox-p50-ns")
	b.ReportMetric((pb-pa)/pa*100, "overhead-p50-%")
}

// BenchmarkHTTPClientPaired: a bare http.Transport against fuseboxhttp's
// RoundTripper (a breaker and a retry per host) over its own http.Transport,
// both to one loopback server, one request of each in turn.
func BenchmarkHTTPClientPaired(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(okHandler))
	defer srv.Close()
	bare, wrapped := newTransport(), newTransport()
	defer bare.CloseIdleConnections()
	defer wrapped.CloseIdleConnections()
	rt, err := fuseboxhttp.NewRoundTripper(wrapped, fuseboxhttp.WithPipeline(breakerRetry))
	if err != nil {
		b.Fatal(err)
	}
	pairedGet(b, &http.Client{Transport: bare}, srv.URL, &http.Client{Transport: rt}, srv.URL, nil)
}

// BenchmarkHTTPServerPaired: a bare handler against the same handler behind
// Chain(Recover, LoadShedder, Deadline), each on its own loopback server,
// one request of each in turn over one transport. Every request carries a
// deadline header, as a fuseboxhttp client sends it, so that Deadline gives
// the handler a deadline.
func BenchmarkHTTPServerPaired(b *testing.B) {
	mw := serverChain(b)
	bare := httptest.NewServer(http.HandlerFunc(okHandler))
	defer bare.Close()
	wrapped := httptest.NewServer(mw(http.HandlerFunc(okHandler)))
	defer wrapped.Close()
	tr := newTransport()
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	pairedGet(b, c, bare.URL, c, wrapped.URL, http.Header{fuseboxhttp.DefaultDeadlineHeader: {"5000"}})
}
