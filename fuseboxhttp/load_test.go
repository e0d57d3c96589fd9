package fuseboxhttp_test

import (
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fusebox-go/fusebox/fuseboxhttp"
)

// p99 returns the 99th percentile of d.
func p99(d []time.Duration) time.Duration {
	slices.Sort(d)
	return d[(len(d)*99)/100]
}

// fastLatencies measures sequential requests to url, n of them or for
// the given duration, whichever ends last, pausing a millisecond between
// them.
func fastLatencies(t *testing.T, c *http.Client, url string, n int, d time.Duration) []time.Duration {
	t.Helper()
	out := make([]time.Duration, 0, n)
	end := time.Now().Add(d)
	for i := 0; i < n || time.Now().Before(end); i++ {
		time.Sleep(time.Millisecond)
		start := time.Now()
		resp, err := c.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		out = append(out, time.Since(start))
		if resp.StatusCode != 200 {
			t.Fatalf("fast endpoint: %d", resp.StatusCode)
		}
	}
	return out
}

// A slow endpoint behind a LoadShedder, blasted by 50 concurrent clients,
// sheds the excess with 503 at once and holds at most MaxConcurrent
// requests, while a fast endpoint of the same server stays fast. Bounded:
// about 2 s and at most a few thousand requests.
//
// The machine is shared and noisy, so the timing is judged robustly: the
// blast is paused and resumed three times, the fast endpoint's p99 is
// measured in each quiet and each loaded window, and the best loaded
// window is compared with the best quiet one. A pause of the machine in one
// window does not fail the test; a fast endpoint slowed by the blast
// throughout still does.
func TestLoadSheddingKeepsFastEndpointFast(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	const maxConcurrent = 4
	shed, err := fuseboxhttp.LoadShedder(fuseboxhttp.LoadShedderConfig{MaxConcurrent: maxConcurrent})
	if err != nil {
		t.Fatal(err)
	}
	var inSlow, maxInSlow atomic.Int64
	mux := http.NewServeMux()
	mux.Handle("/slow", shed(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inSlow.Add(1)
		for {
			m := maxInSlow.Load()
			if n <= m || maxInSlow.CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(200 * time.Millisecond)
		inSlow.Add(-1)
		io.WriteString(w, "slow")
	})))
	mux.HandleFunc("/fast", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "fast") })
	ts := newTestServer(t, mux.ServeHTTP)
	fast := newClient(t, newBase(t))
	fastLatencies(t, fast, ts.URL+"/fast", 20, 0) // warm up

	blast := newClient(t, newBase(t))
	var ok, shedCount, total atomic.Int64
	var paused atomic.Bool
	paused.Store(true)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := 0; g < 50; g++ {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if paused.Load() {
					time.Sleep(5 * time.Millisecond)
					continue
				}
				if total.Add(1) > 4000 {
					return
				}
				resp, err := blast.Get(ts.URL + "/slow")
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				switch resp.StatusCode {
				case 200:
					ok.Add(1)
				case 503:
					shedCount.Add(1)
					if resp.Header.Get("Retry-After") == "" {
						t.Error("503 without Retry-After")
					}
					time.Sleep(100 * time.Millisecond) // an impatient client, still far over capacity
				default:
					t.Errorf("slow endpoint: %d", resp.StatusCode)
				}
			}
		})
	}
	var quiet, loaded []time.Duration
	for i := 0; i < 3; i++ {
		paused.Store(true)
		time.Sleep(20 * time.Millisecond)
		quiet = append(quiet, p99(fastLatencies(t, fast, ts.URL+"/fast", 60, 200*time.Millisecond)))
		paused.Store(false)
		time.Sleep(50 * time.Millisecond) // let the blast build up
		loaded = append(loaded, p99(fastLatencies(t, fast, ts.URL+"/fast", 80, 350*time.Millisecond)))
	}
	close(stop)
	wg.Wait()

	baseline, underLoad := slices.Min(quiet), slices.Min(loaded)
	t.Logf("fast p99: %v quiet %v, %v loaded %v; slow: %d ok, %d shed, max %d in flight",
		baseline, quiet, underLoad, loaded, ok.Load(), shedCount.Load(), maxInSlow.Load())
	if m := maxInSlow.Load(); m > maxConcurrent {
		t.Errorf("%d slow requests ran at once, want at most %d", m, maxConcurrent)
	}
	if shedCount.Load() == 0 || ok.Load() == 0 {
		t.Errorf("slow endpoint: %d ok, %d shed; want both", ok.Load(), shedCount.Load())
	}
	// Generous: a loopback round trip on a shared machine, with the race
	// detector perhaps.
	// The bound is relative to the quiet baseline measured in the same
	// run, with a floor for a machine busy with other tests: a fast
	// endpoint stuck behind the slow one would wait 200ms or more.
	limit := max(20*baseline, 100*time.Millisecond)
	if underLoad > limit {
		t.Errorf("fast p99 under load %v, want under %v (quiet %v)", underLoad, limit, baseline)
	}
}
