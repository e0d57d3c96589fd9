// Command server is an HTTP service with Fusebox's server side: the
// middleware chain (panic recovery, load shedding, a rate limit per
// client, deadline propagation), the health endpoints an orchestrator
// probes (/livez, /readyz, /startupz), and a graceful shutdown (readiness
// fails first, requests in flight finish, then the server stops and
// resources close, last opened first).
//
// It serves on a loopback port, sends itself the requests that show each
// part at work, then shuts down as it would on SIGTERM, and ends by
// itself in about a second:
//
//	go run ./examples/server
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/fusebox-go/fusebox/fuseboxhttp"
)

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "server:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, w io.Writer) error {
	out := &lockedWriter{w: w} // the server's goroutines print too
	// Health: liveness looks at the process only (a failing liveness
	// probe gets it restarted, so it must not depend on other services),
	// readiness at what serving needs, startup at what must happen once.
	health, err := fuseboxhttp.NewHealth(fuseboxhttp.HealthConfig{})
	if err != nil {
		return err
	}
	var warmedUp atomic.Bool
	if err := health.AddStartup("cache warm-up", func(context.Context) error {
		if !warmedUp.Load() {
			return errors.New("cache not warmed up yet")
		}
		return nil
	}, fuseboxhttp.CheckTTL(time.Nanosecond)); err != nil { // it reads a flag: no need to cache it
		return err
	}
	if err := health.AddReadiness("database", func(ctx context.Context) error {
		return nil // a real service pings its database here, with ctx
	}); err != nil {
		return err
	}

	// The middleware, outermost first: Recover covers everything after
	// it; LoadShedder turns requests away before they cost anything
	// when 2 are already being served (a small number, to show it);
	// RateLimiter allows each client 5 requests at once, then 1 a
	// second; Deadline gives the handler the deadline the caller sent
	// (at most 2 s).
	recoverer, err := fuseboxhttp.Recover(fuseboxhttp.RecoverConfig{
		OnPanic: func(v any, stack []byte) { fmt.Fprintf(out, "  (the server recovered from a panic: %v)\n", v) },
	})
	if err != nil {
		return err
	}
	shedder, err := fuseboxhttp.LoadShedder(fuseboxhttp.LoadShedderConfig{Name: "api", MaxConcurrent: 2})
	if err != nil {
		return err
	}
	perClient, err := fuseboxhttp.RateLimiter(fuseboxhttp.RateLimiterConfig{
		Name:    "per-client",
		Rate:    1,
		Burst:   5,
		KeyFunc: func(r *http.Request) string { return r.Header.Get("X-Client-ID") }, // behind an authenticating proxy; the default key is the client's IP
	})
	if err != nil {
		return err
	}
	deadline, err := fuseboxhttp.Deadline(fuseboxhttp.DeadlineConfig{Max: 2 * time.Second})
	if err != nil {
		return err
	}

	reportStarted := make(chan struct{}, 3)
	finishReport := make(chan struct{})
	api := http.NewServeMux()
	api.HandleFunc("GET /hello", func(w http.ResponseWriter, r *http.Request) {
		dl, ok := r.Context().Deadline()
		switch {
		case !ok:
			io.WriteString(w, "hello, no deadline")
		case time.Until(dl) <= 250*time.Millisecond:
			io.WriteString(w, "hello, within the caller's 250ms")
		default:
			io.WriteString(w, "hello, within the server's 2s")
		}
	})
	api.HandleFunc("GET /report", func(w http.ResponseWriter, r *http.Request) {
		reportStarted <- struct{}{}
		select { // an expensive report, finished when the run says so
		case <-finishReport:
			io.WriteString(w, "report")
		case <-r.Context().Done():
		}
	})
	api.HandleFunc("GET /bug", func(w http.ResponseWriter, r *http.Request) {
		panic("a bug in the handler")
	})

	// Probes stay out of the chain: a load balancer's probe must not be
	// shed or rate limited.
	mux := http.NewServeMux()
	probes := health.Handler()
	mux.Handle("GET /livez", probes)
	mux.Handle("GET /readyz", probes)
	mux.Handle("GET /startupz", probes)
	mux.Handle("/", fuseboxhttp.Chain(recoverer, shedder, perClient, deadline)(api))

	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	base := "http://" + ln.Addr().String()
	// fuseboxhttp.ListenAndServe does this and stops on SIGTERM or
	// SIGINT; here the run cancels serveCtx itself.
	serveCtx, sigterm := context.WithCancel(ctx)
	defer sigterm()
	served := make(chan error, 1)
	go func() {
		served <- fuseboxhttp.Serve(serveCtx, srv, ln, fuseboxhttp.ShutdownConfig{
			Health:          health,
			DrainDelay:      time.Second, // a few readiness periods in production
			ShutdownTimeout: 5 * time.Second,
			Closers: []io.Closer{
				fuseboxhttp.CloserFunc(func() error { fmt.Fprintln(out, "closed: database pool"); return nil }),
				fuseboxhttp.CloserFunc(func() error { fmt.Fprintln(out, "closed: event bus"); return nil }),
			},
		})
	}()

	transport := &http.Transport{}
	defer transport.CloseIdleConnections()
	c := &client{http: &http.Client{Transport: transport, Timeout: 5 * time.Second}, base: base, out: out}

	fmt.Fprintln(out, "-- start-up")
	c.get("/startupz", "", "")
	warmedUp.Store(true)
	c.get("/startupz", "", "")
	c.get("/livez", "", "")
	c.get("/readyz", "", "")

	fmt.Fprintln(out, "-- deadlines: the caller's, or the server's cap")
	c.get("/hello", "web", "250")
	c.get("/hello", "web", "")

	fmt.Fprintln(out, "-- load shedding: 2 reports in flight, a third request is shed")
	var reports sync.WaitGroup
	for range 2 {
		reports.Add(1)
		go func() {
			defer reports.Done()
			c.get("/report", "analytics", "")
		}()
	}
	<-reportStarted
	<-reportStarted
	c.get("/hello", "web", "")
	finishReport <- struct{}{}
	finishReport <- struct{}{}
	reports.Wait()

	fmt.Fprintln(out, "-- rate limit: 5 at once per client, then 1 a second")
	for range 7 {
		c.get("/hello", "batch-job", "")
	}
	c.get("/hello", "web", "")

	fmt.Fprintln(out, "-- a panic is a 500, and the server goes on")
	c.get("/bug", "mobile", "")
	c.get("/hello", "mobile", "")

	fmt.Fprintln(out, "-- SIGTERM: readiness fails at once; requests are still served while load balancers notice, and those in flight finish")
	reports.Add(1)
	go func() {
		defer reports.Done()
		c.get("/report", "analytics", "")
	}()
	<-reportStarted
	sigterm()
	for i := 0; !health.ShuttingDown(); i++ {
		if i == 1000 {
			return errors.New("the shutdown did not start")
		}
		time.Sleep(time.Millisecond)
	}
	c.get("/readyz", "", "")
	c.get("/hello", "mobile", "")
	finishReport <- struct{}{}
	reports.Wait()
	if err := <-served; err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	fmt.Fprintln(out, "-- stopped")
	c.get("/hello", "mobile", "")
	return c.err
}

// client sends the run's requests and prints what came back.
type client struct {
	http *http.Client
	base string
	out  io.Writer

	mu  sync.Mutex
	err error // the first unexpected error
}

// get sends GET path as clientID, with a deadline header when budgetMs is
// set, and prints the answer in one line.
func (c *client) get(path, clientID, budgetMs string) {
	req, err := http.NewRequest(http.MethodGet, c.base+path, nil)
	if err != nil {
		c.fail(err)
		return
	}
	who := ""
	if clientID != "" {
		req.Header.Set("X-Client-ID", clientID)
		who = " as " + clientID
	}
	if budgetMs != "" {
		req.Header.Set(fuseboxhttp.DefaultDeadlineHeader, budgetMs) // a fuseboxhttp client sends it by itself
		who += ", budget " + budgetMs + "ms"
	}
	resp, err := c.http.Do(req)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) {
			fmt.Fprintf(c.out, "GET %s%s: connection refused\n", path, who)
			return
		}
		fmt.Fprintf(c.out, "GET %s%s: %v\n", path, who, err)
		c.failLocked(err)
		return
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		c.failLocked(err)
		return
	}
	extra := ""
	if ra := resp.Header.Get("Retry-After"); ra != "" {
		extra = " (Retry-After: " + ra + ")"
	}
	fmt.Fprintf(c.out, "GET %s%s: %d %s%s\n", path, who, resp.StatusCode, summary(body), extra)
}

func (c *client) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.failLocked(err)
}

func (c *client) failLocked(err error) {
	if c.err == nil {
		c.err = err
	}
}

// summary shortens a body to what the output needs: the probes' JSON
// status and error, or the first line of text.
func summary(body []byte) string {
	s := strings.TrimSpace(string(body))
	if strings.HasPrefix(s, "{") {
		for _, key := range []string{`"error":"`, `"status":"`} {
			if i := strings.Index(s, key); i >= 0 {
				v := s[i+len(key):]
				if j := strings.IndexByte(v, '"'); j >= 0 {
					return v[:j]
				}
			}
		}
	}
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

// lockedWriter serializes writes.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
