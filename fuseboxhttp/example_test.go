package fuseboxhttp_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"time"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/breaker"
	"github.com/fusebox-go/fusebox/fuseboxhttp"
	"github.com/fusebox-go/fusebox/registry"
	"github.com/fusebox-go/fusebox/retry"
)

// A client with a breaker and a retry per host. The server fails twice with
// 503 before it answers; the retry absorbs the failures, and the breaker
// sees a single successful call.
func ExampleNewRoundTripper() {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= 2 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "hello")
	}))
	defer srv.Close()

	breakers := map[string]*breaker.Breaker{} // for the output below; the factory runs once per key
	rt, err := fuseboxhttp.NewRoundTripper(srv.Client().Transport,
		fuseboxhttp.WithPipeline(func(host string) (*fusebox.Pipeline, error) {
			b, err := breaker.New(breaker.Config{Name: host, ConsecutiveFailures: 5})
			if err != nil {
				return nil, err
			}
			r, err := retry.New(retry.Config{MaxAttempts: 3, InitialInterval: time.Millisecond})
			if err != nil {
				return nil, err
			}
			breakers[host] = b
			return fusebox.New(b, r) // breaker outside the retry: one outcome per call
		}))
	if err != nil {
		panic(err)
	}
	client := &http.Client{Transport: rt}
	defer client.CloseIdleConnections()

	resp, err := client.Get(srv.URL + "/greeting")
	if err != nil {
		panic(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, string(body))
	fmt.Println("attempts:", calls.Load())
	s := breakers[srv.URL].Snapshot()
	fmt.Println("breaker:", s.State, "calls:", s.TotalCalls, "failures:", s.TotalFailures)
	// Output:
	// 200 hello
	// attempts: 3
	// breaker: closed calls: 1 failures: 0
}

// Once the breaker is open, calls fail at once with an error that matches
// fusebox.ErrOpen, without reaching the server.
func ExampleNewRoundTripper_open() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusInternalServerError)
	}))
	defer srv.Close()

	b, _ := breaker.New(breaker.Config{ConsecutiveFailures: 2})
	p, _ := fusebox.New(b)
	rt, _ := fuseboxhttp.NewRoundTripper(srv.Client().Transport,
		fuseboxhttp.WithPipeline(func(string) (*fusebox.Pipeline, error) { return p, nil }))
	client := &http.Client{Transport: rt}
	defer client.CloseIdleConnections()

	for i := 0; i < 3; i++ {
		resp, err := client.Get(srv.URL)
		switch {
		case errors.Is(err, fusebox.ErrOpen):
			fmt.Println("rejected: breaker open")
		case err != nil:
			fmt.Println("error:", err)
		default:
			resp.Body.Close()
			fmt.Println("status", resp.StatusCode) // the server's own response
		}
	}
	// Output:
	// status 500
	// status 500
	// rejected: breaker open
}

// A server whose expensive route is guarded by a LoadShedder, with Recover
// outermost so that a panic anywhere becomes a 500.
func ExampleLoadShedder() {
	recoverer, err := fuseboxhttp.Recover(fuseboxhttp.RecoverConfig{
		OnPanic: func(v any, stack []byte) { fmt.Println("recovered:", v) },
	})
	if err != nil {
		panic(err)
	}
	shedder, err := fuseboxhttp.LoadShedder(fuseboxhttp.LoadShedderConfig{MaxConcurrent: 1})
	if err != nil {
		panic(err)
	}
	busy := make(chan struct{})
	release := make(chan struct{})
	mux := http.NewServeMux()
	mux.Handle("/report", shedder(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(busy)
		<-release // an expensive report
		io.WriteString(w, "report")
	})))
	mux.HandleFunc("/bug", func(w http.ResponseWriter, r *http.Request) { panic("nil map") })
	srv := httptest.NewServer(fuseboxhttp.Chain(recoverer)(mux))
	defer srv.Close()
	defer srv.Client().CloseIdleConnections()

	done := make(chan string)
	go func() {
		resp, err := srv.Client().Get(srv.URL + "/report")
		if err != nil {
			done <- err.Error()
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- fmt.Sprint(resp.StatusCode, " ", string(body))
	}()
	<-busy

	resp, _ := srv.Client().Get(srv.URL + "/report") // the slot is taken
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Printf("%d Retry-After=%s %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	close(release)
	fmt.Println(<-done)

	resp, _ = srv.Client().Get(srv.URL + "/bug")
	resp.Body.Close()
	fmt.Println(resp.StatusCode)
	// Output:
	// 503 Retry-After=1 server overloaded: retry later
	// 200 report
	// recovered: nil map
	// 500
}

// Health endpoints: liveness checks only the process, readiness its
// dependencies too.
func ExampleHealth() {
	h, err := fuseboxhttp.NewHealth(fuseboxhttp.HealthConfig{})
	if err != nil {
		panic(err)
	}
	_ = h.AddLiveness("event loop", func(ctx context.Context) error { return nil })
	_ = h.AddReadiness("database", func(ctx context.Context) error {
		return errors.New("connection refused")
	})
	srv := httptest.NewServer(h.Handler())
	defer srv.Close()
	defer srv.Client().CloseIdleConnections()

	for _, path := range []string{"/livez", "/readyz"} {
		resp, err := srv.Client().Get(srv.URL + path)
		if err != nil {
			panic(err)
		}
		var body strings.Builder
		io.Copy(&body, resp.Body)
		resp.Body.Close()
		fmt.Println(path, resp.StatusCode, strings.Contains(body.String(), `"status":"ok"`))
	}
	r := h.Readiness(context.Background())
	fmt.Println("database:", r.Checks["database"].Status, r.Checks["database"].Error)

	h.Shutdown() // the first step of a graceful shutdown
	fmt.Println("after Shutdown:", h.Readiness(context.Background()).Error)
	// Output:
	// /livez 200 true
	// /readyz 503 false
	// database: fail connection refused
	// after Shutdown: shutting down
}

// The usual main function of a service: serve until SIGTERM, then fail
// readiness, drain, shut down and close resources.
func ExampleListenAndServe() {
	h, _ := fuseboxhttp.NewHealth(fuseboxhttp.HealthConfig{})
	mux := http.NewServeMux()
	mux.Handle("/livez", h.Handler())
	mux.Handle("/readyz", h.Handler())
	srv := &http.Server{Addr: "127.0.0.1:0", Handler: mux, ReadHeaderTimeout: 10 * time.Second}

	ctx, cancel := context.WithCancel(context.Background())
	cancel() // here, stop at once; a real service runs until SIGTERM
	err := fuseboxhttp.ListenAndServe(ctx, srv, fuseboxhttp.ShutdownConfig{
		Health:          h,
		DrainDelay:      0, // a few readiness periods in production, e.g. 5s
		ShutdownTimeout: 10 * time.Second,
		Closers: []io.Closer{fuseboxhttp.CloserFunc(func() error {
			fmt.Println("database closed")
			return nil
		})},
	})
	fmt.Println("stopped:", err, "ready:", h.Readiness(context.Background()).OK())
	// Output:
	// database closed
	// stopped: <nil> ready: false
}

// A client of many hosts takes its pipelines from a registry, which keeps
// at most MaxKeys of them (those at rest go first, open breakers last, and
// a host whose open breaker goes is still refused until its open period
// ends), so memory does not grow with every host the client ever called.
func ExampleWithRegistry() {
	reg, err := registry.New(registry.Config[*fusebox.Pipeline]{
		New: func(host string) (*fusebox.Pipeline, error) {
			b, err := breaker.New(breaker.Config{Name: host})
			if err != nil {
				return nil, err
			}
			return fusebox.New(b)
		},
		MaxKeys:     2,
		IdleTimeout: time.Minute,
	})
	if err != nil {
		panic(err)
	}
	rt, err := fuseboxhttp.NewRoundTripper(nil, fuseboxhttp.WithRegistry(reg))
	if err != nil {
		panic(err)
	}
	client := &http.Client{Transport: rt}
	defer client.CloseIdleConnections()

	for i := 0; i < 4; i++ { // four hosts, as a webhook sender might call
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
		resp, err := client.Get(srv.URL)
		if err != nil {
			panic(err)
		}
		resp.Body.Close()
		srv.Close()
	}
	fmt.Println("pipelines kept:", reg.Len())
	// Output: pipelines kept: 2
}

// Range reaches the per-host pipelines the WithPipeline factory built (or
// WithRegistry's members): here to read each host's breaker state. Snapshot
// reports the same pipelines to a dashboard or fuseboxprom.
func ExampleRoundTripper_Range() {
	rt, err := fuseboxhttp.NewRoundTripper(nil, fuseboxhttp.WithPipeline(func(key string) (*fusebox.Pipeline, error) {
		br, err := breaker.New(breaker.Config{Name: key})
		if err != nil {
			return nil, err
		}
		return fusebox.New(br)
	}))
	if err != nil {
		panic(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	client := &http.Client{Transport: rt}
	defer client.CloseIdleConnections()
	resp, err := client.Get(srv.URL)
	if err != nil {
		panic(err)
	}
	resp.Body.Close()

	rt.Range(func(key string, p *fusebox.Pipeline) bool {
		br := p.Policies()[0].(*breaker.Breaker)
		fmt.Println(key == srv.URL, br.State())
		return true
	})
	fmt.Println(len(rt.Snapshot()), "member")
	// Output:
	// true closed
	// 1 member
}
