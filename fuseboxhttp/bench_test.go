package fuseboxhttp_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/breaker"
	"github.com/fusebox-go/fusebox/fuseboxhttp"
	"github.com/fusebox-go/fusebox/retry"
)

// BenchmarkRoundTripperOverhead compares a bare transport with the
// RoundTripper around it, against a loopback server: the difference is
// what the pipeline, the key lookup and the classification cost per
// request, next to a real round trip.
func BenchmarkRoundTripperOverhead(b *testing.B) {
	ts := newTestServer(b, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	cases := []struct {
		name string
		rt   func(base http.RoundTripper) http.RoundTripper
	}{
		{"bare", func(base http.RoundTripper) http.RoundTripper { return base }},
		{"empty pipeline", func(base http.RoundTripper) http.RoundTripper { return mustRT(b, base) }},
		{"breaker+retry", func(base http.RoundTripper) http.RoundTripper {
			return mustRT(b, base, fuseboxhttp.WithPipeline(breakerRetry))
		}},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			c := newClient(b, tc.rt(newBase(b)))
			b.ReportAllocs()
			for b.Loop() {
				resp, err := c.Get(ts.URL)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
		b.Run(tc.name+"/parallel", func(b *testing.B) {
			c := newClient(b, tc.rt(newBase(b)))
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					resp, err := c.Get(ts.URL)
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			})
		})
	}
}

// breakerRetry is the pipeline factory of the overhead benchmarks: a
// default breaker and a default retry per key.
func breakerRetry(string) (*fusebox.Pipeline, error) {
	br, err := breaker.New(breaker.Config{})
	if err != nil {
		return nil, err
	}
	rp, err := retry.New(retry.Config{})
	if err != nil {
		return nil, err
	}
	return fusebox.New(br, rp)
}

// BenchmarkRoundTripperAddedCost measures what the RoundTripper adds to a
// request without a network: the base transport answers from memory, so
// the difference between the two sub-benchmarks is the RoundTripper's own
// time and allocations per request (key lookup, pipeline, classification,
// reading the short body ahead).
func BenchmarkRoundTripperAddedCost(b *testing.B) {
	for _, tc := range []struct {
		name string
		rt   http.RoundTripper
	}{
		{"bare", answeringRT{}},
		{"breaker+retry", mustRT(b, answeringRT{}, fuseboxhttp.WithPipeline(breakerRetry))},
	} {
		b.Run(tc.name, func(b *testing.B) {
			req, err := http.NewRequest(http.MethodGet, "http://api.example.com/items", nil)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				resp, err := tc.rt.RoundTrip(req)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
}

// BenchmarkRoundTripperAddedCostPaired is BenchmarkRoundTripperAddedCost
// with both sides in one run: each iteration sends a block of requests
// through the bare base and a block through the RoundTripper, in turns
// (which goes first alternates), timing each block, so that both sides
// share every moment of the run (on a busy machine, sub-benchmarks run one
// after the other see different machines, which moves their difference by
// more than its size). It reports each side's mean time per request and
// the difference: what the RoundTripper adds.
func BenchmarkRoundTripperAddedCostPaired(b *testing.B) {
	const block = 64
	sides := [2]http.RoundTripper{answeringRT{}, mustRT(b, answeringRT{}, fuseboxhttp.WithPipeline(breakerRetry))}
	req, err := http.NewRequest(http.MethodGet, "http://api.example.com/items", nil)
	if err != nil {
		b.Fatal(err)
	}
	var spent [2]time.Duration
	for i := 0; b.Loop(); i++ {
		for j := range 2 {
			side := (i + j) % 2
			rt := sides[side]
			start := time.Now()
			for range block {
				resp, err := rt.RoundTrip(req)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			spent[side] += time.Since(start)
		}
	}
	n := float64(b.N * block)
	bare, wrapped := float64(spent[0])/n, float64(spent[1])/n
	b.ReportMetric(bare, "bare-ns/req")
	b.ReportMetric(wrapped, "fusebox-ns/req")
	b.ReportMetric(wrapped-bare, "added-ns/req")
}

// BenchmarkMiddleware compares a bare handler with the same handler behind
// Recover, LoadShedder, Deadline and RateLimiter, served in memory so that
// only the middleware's cost shows.
func BenchmarkMiddleware(b *testing.B) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })
	rec, _ := fuseboxhttp.Recover(fuseboxhttp.RecoverConfig{})
	shed, _ := fuseboxhttp.LoadShedder(fuseboxhttp.LoadShedderConfig{MaxConcurrent: 1 << 20})
	dl, _ := fuseboxhttp.Deadline(fuseboxhttp.DeadlineConfig{})
	rl, _ := fuseboxhttp.RateLimiter(fuseboxhttp.RateLimiterConfig{Rate: 1e9, Burst: 1 << 30})
	cases := []struct {
		name string
		h    http.Handler
	}{
		{"bare", h},
		{"recover", rec(h)},
		{"loadshedder", shed(h)},
		{"deadline", dl(h)},
		{"ratelimiter", rl(h)},
		{"chain", fuseboxhttp.Chain(rec, shed, rl, dl)(h)},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.Header.Set(fuseboxhttp.DefaultDeadlineHeader, "1000")
			w := &discardWriter{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				tc.h.ServeHTTP(w, req)
			}
		})
		b.Run(tc.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				req := httptest.NewRequest(http.MethodGet, "/", nil)
				req.Header.Set(fuseboxhttp.DefaultDeadlineHeader, "1000")
				w := &discardWriter{h: http.Header{}}
				for pb.Next() {
					tc.h.ServeHTTP(w, req)
				}
			})
		})
	}
}

// discardWriter is a ResponseWriter that keeps nothing, so the benchmark
// measures the middleware rather than a recorder.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(int)             {}
