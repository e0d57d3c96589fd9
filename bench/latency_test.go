package bench

import (
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/breaker"
	"github.com/fusebox-go/fusebox/fuseboxhttp"
)

// BenchmarkHTTPClientLatency measures the latency the RoundTripper adds per
// request under load, as percentiles, against the design's limits (p99
// added under 1 ms in the closed state, under 100 µs for a rejection).
// Each iteration is one request of each of four sides, from concurrent
// goroutines (two sub-benchmarks: as many goroutines as cores, and four
// times as many, where requests queue for the CPU that the server shares
// with the clients), timed one by one around http.Client.Do and the
// reading of the body:
//
//   - bare: a bare http.Transport to a loopback server;
//   - bare2: another bare http.Transport to the same server, the control:
//     bare2 − bare is what the measurement itself scatters by (a request
//     that happens to meet a GC pause or a descheduling), the A/A
//     difference;
//   - fusebox: fuseboxhttp's RoundTripper (a default breaker and a default
//     retry per host) over a transport of its own, to the same server;
//   - reject: a RoundTripper whose breaker is forced open, so that every
//     request is rejected without being sent (its whole time is added).
//
// bare, bare2 and fusebox take turns going first; reject goes last. The
// benchmark reports each side's p50, p99 and p99.9 in µs, the added
// latency at each percentile, fusebox's minus bare's, and the A/A
// difference, bare2's minus bare's. Each is the difference of two
// distributions measured in the same moments, not a percentile of
// per-request differences (a request's own time varies by far more than
// what the RoundTripper adds). Bound the number of requests with
// -benchtime Nx:
//
//	go test -run '^$' -bench HTTPClientLatency -benchtime 20000x .
func BenchmarkHTTPClientLatency(b *testing.B) {
	procs := runtime.GOMAXPROCS(0)
	for _, perProc := range []int{1, 4} {
		b.Run(fmt.Sprintf("goroutines=%d", perProc*procs), func(b *testing.B) {
			b.SetParallelism(perProc)
			clientLatency(b)
		})
	}
}

// The sides of BenchmarkHTTPClientLatency.
const (
	sideBare = iota
	sideBare2
	sideFusebox
	sideReject
	nSides
)

// turns are the orders in which the sent sides take turns.
var turns = [...][3]int{
	{sideBare, sideBare2, sideFusebox}, {sideBare, sideFusebox, sideBare2},
	{sideBare2, sideBare, sideFusebox}, {sideBare2, sideFusebox, sideBare},
	{sideFusebox, sideBare, sideBare2}, {sideFusebox, sideBare2, sideBare},
}

// clientLatency is BenchmarkHTTPClientLatency with b's parallelism.
func clientLatency(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(okHandler))
	defer srv.Close()
	var clients [nSides]*http.Client
	for side := range clients {
		tr := newTransport()
		defer tr.CloseIdleConnections()
		clients[side] = &http.Client{Transport: tr}
	}
	rt, err := fuseboxhttp.NewRoundTripper(clients[sideFusebox].Transport, fuseboxhttp.WithPipeline(breakerRetry))
	if err != nil {
		b.Fatal(err)
	}
	clients[sideFusebox].Transport = rt
	open, err := breaker.New(breaker.Config{})
	if err != nil {
		b.Fatal(err)
	}
	open.ForceOpen()
	openPipe, err := fusebox.New(open)
	if err != nil {
		b.Fatal(err)
	}
	rt, err = fuseboxhttp.NewRoundTripper(clients[sideReject].Transport, fuseboxhttp.WithPipeline(func(string) (*fusebox.Pipeline, error) {
		return openPipe, nil
	}))
	if err != nil {
		b.Fatal(err)
	}
	clients[sideReject].Transport = rt

	get := func(c *http.Client) (time.Duration, error) {
		start := time.Now()
		resp, err := c.Get(srv.URL)
		if err != nil {
			return time.Since(start), err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		d := time.Since(start)
		if resp.StatusCode != 200 {
			return d, errors.New(resp.Status)
		}
		return d, nil
	}

	var mu sync.Mutex
	var all [nSides][]time.Duration
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		var mine [nSides][]time.Duration
		for i := range mine {
			mine[i] = make([]time.Duration, 0, 1024)
		}
		for i := 0; pb.Next(); i++ {
			for _, side := range turns[i%len(turns)] {
				d, err := get(clients[side])
				if err != nil {
					b.Error(err)
					return
				}
				mine[side] = append(mine[side], d)
			}
			d, err := get(clients[sideReject])
			if !errors.Is(err, fusebox.ErrOpen) {
				b.Errorf("request through the open breaker: %v, want ErrOpen", err)
				return
			}
			mine[sideReject] = append(mine[sideReject], d)
		}
		mu.Lock()
		for i := range all {
			all[i] = append(all[i], mine[i]...)
		}
		mu.Unlock()
	})
	if b.Failed() {
		return
	}
	var p [nSides][3]float64 // side, percentile: µs
	for side := range all {
		slices.Sort(all[side])
		for j, q := range [...]float64{0.50, 0.99, 0.999} {
			p[side][j] = percentile(all[side], q)
		}
	}
	for j, name := range [...]string{"p50", "p99", "p99.9"} {
		b.ReportMetric(p[sideBare][j], "bare-"+name+"-µs")
		b.ReportMetric(p[sideFusebox][j], "fusebox-"+name+"-µs")
		b.ReportMetric(p[sideFusebox][j]-p[sideBare][j], "added-"+name+"-µs")
		b.ReportMetric(p[sideBare2][j]-p[sideBare][j], "aa-"+name+"-µs")
		b.ReportMetric(p[sideReject][j], "reject-"+name+"-µs")
	}
}

// percentile returns the q-quantile of the sorted durations, in µs: the
// smallest one with at least q of them at or below it (nearest rank).
func percentile(sorted []time.Duration, q float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return float64(sorted[max(i, 0)]) / float64(time.Microsecond)
}
