package bench

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

// HTTP overhead on loopback: the same requests to the same server, with a
// bare http.Transport and with fuseboxhttp's RoundTripper running a breaker
// and a retry per host (BenchmarkHTTPClient), and to a bare handler and the
// same handler behind the server middleware chain (BenchmarkHTTPServer).
// Compare the sub-benchmarks of one run: the ratio is the overhead.

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
		rt, err := fuseboxhttp.NewRoundTripper(tr, fuseboxhttp.WithPipeline(func(host string) (*fusebox.Pipeline, error) {
			br, err := breaker.New(breaker.Config{Name: host})
			if err != nil {
				return nil, err
			}
			r, err := retry.New(retry.Config{})
			if err != nil {
				return nil, err
			}
			return fusebox.New(br, r)
		}))
		if err != nil {
			b.Fatal(err)
		}
		benchGet(b, &http.Client{Transport: rt}, srv.URL)
	})
}

func BenchmarkHTTPServer(b *testing.B) {
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
	for _, s := range []struct {
		name string
		h    http.Handler
	}{
		{"bare", http.HandlerFunc(okHandler)},
		{"middleware", fuseboxhttp.Chain(recov, shed, deadline)(http.HandlerFunc(okHandler))},
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
