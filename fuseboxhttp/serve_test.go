package fuseboxhttp_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fusebox-go/fusebox/clock"
	"github.com/fusebox-go/fusebox/fuseboxhttp"
	"github.com/fusebox-go/fusebox/internal/testwait"
)

// shutdownRig is a real server on loopback with a /slow route that holds
// requests until released, and the health probes.
type shutdownRig struct {
	url     string
	addr    string
	entered chan struct{}
	release chan struct{}
	closed  counter
	health  *fuseboxhttp.Health
	fake    *clock.Fake
	cancel  context.CancelFunc
	served  chan error
	client  *http.Client
}

func startRig(t *testing.T, c fuseboxhttp.ShutdownConfig) *shutdownRig {
	t.Helper()
	rig := &shutdownRig{entered: make(chan struct{}, 1), release: make(chan struct{}), fake: clock.NewFake(time.Time{}), served: make(chan error, 1)}
	h, err := fuseboxhttp.NewHealth(fuseboxhttp.HealthConfig{Clock: rig.fake})
	if err != nil {
		t.Fatal(err)
	}
	rig.health = h
	mux := http.NewServeMux()
	mux.Handle("/", h.Handler())
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		rig.entered <- struct{}{}
		<-rig.release
		io.WriteString(w, "slow done")
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rig.addr = ln.Addr().String()
	rig.url = "http://" + rig.addr
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	for _, name := range []string{"db", "cache", "exporter"} {
		c.Closers = append(c.Closers, fuseboxhttp.CloserFunc(func() error { rig.closed.add(name); return nil }))
	}
	c.Health = h
	c.Clock = rig.fake
	ctx, cancel := context.WithCancel(context.Background())
	rig.cancel = cancel
	t.Cleanup(cancel)
	go func() { rig.served <- fuseboxhttp.Serve(ctx, srv, ln, c) }()
	rig.client = newClient(t, newBase(t))
	return rig
}

func (rig *shutdownRig) status(t *testing.T, path string) (int, error) {
	t.Helper()
	// A new connection each time, as a load balancer's prober would make.
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get(rig.url + path)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

func TestServeGracefulShutdown(t *testing.T) {
	rig := startRig(t, fuseboxhttp.ShutdownConfig{DrainDelay: 5 * time.Second, ShutdownTimeout: time.Minute})
	testwait.Eventually(t, "the server to serve", func() bool { code, err := rig.status(t, "/readyz"); return err == nil && code == 200 })

	type result struct {
		body string
		err  error
	}
	inflight := make(chan result, 1)
	go func() {
		resp, err := rig.client.Get(rig.url + "/slow")
		if err != nil {
			inflight <- result{"", err}
			return
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		inflight <- result{string(b), err}
	}()
	testwait.Recv(t, rig.entered, "the in-flight request")

	rig.cancel() // SIGTERM
	testwait.Timers(t, rig.fake, 1, "the drain delay to start")
	// Draining: still serving, but not ready.
	if code, err := rig.status(t, "/readyz"); err != nil || code != 503 {
		t.Fatalf("/readyz while draining: %d %v, want 503", code, err)
	}
	if code, err := rig.status(t, "/livez"); err != nil || code != 200 {
		t.Fatalf("/livez while draining: %d %v, want 200", code, err)
	}
	if got := rig.closed.get(); len(got) != 0 {
		t.Fatalf("closers ran during the drain: %v", got)
	}

	rig.fake.Advance(5 * time.Second) // the drain delay ends: Shutdown
	testwait.Eventually(t, "new connections to be refused", func() bool {
		_, err := net.DialTimeout("tcp", rig.addr, time.Second)
		return err != nil
	})
	select {
	case err := <-rig.served:
		t.Fatalf("Serve returned %v with a request in flight", err)
	default:
	}

	close(rig.release)
	r := testwait.Recv(t, inflight, "the in-flight request")
	if r.err != nil || r.body != "slow done" {
		t.Fatalf("in-flight request: %q %v, want it to complete", r.body, r.err)
	}
	if err := testwait.Recv(t, rig.served, "Serve"); err != nil {
		t.Fatalf("Serve: %v, want nil after a clean shutdown", err)
	}
	if got := rig.closed.get(); fmt.Sprint(got) != "[exporter cache db]" {
		t.Fatalf("closers ran in order %v, want the reverse of registration", got)
	}
}

// In-flight requests that outlive ShutdownTimeout are cut off, and Serve
// says so; the closers still run.
func TestServeShutdownTimeout(t *testing.T) {
	rig := startRig(t, fuseboxhttp.ShutdownConfig{ShutdownTimeout: 10 * time.Second})
	inflight := make(chan error, 1)
	go func() {
		resp, err := rig.client.Get(rig.url + "/slow")
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		inflight <- err
	}()
	testwait.Recv(t, rig.entered, "the in-flight request")
	rig.cancel()
	testwait.Timers(t, rig.fake, 1, "Shutdown's timer")
	rig.fake.Advance(10 * time.Second)
	err := testwait.Recv(t, rig.served, "Serve")
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "ShutdownTimeout 10s") {
		t.Fatalf("Serve: %v, want DeadlineExceeded after ShutdownTimeout", err)
	}
	if err := testwait.Recv(t, inflight, "the cut-off request"); err == nil {
		t.Fatal("the request cut off at the timeout succeeded")
	}
	close(rig.release)
	if got := rig.closed.get(); len(got) != 3 {
		t.Fatalf("closers %v, want all three to run", got)
	}
}

// Closer errors are joined into Serve's error, and every closer runs.
func TestServeCloserErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	errA, errB := errors.New("a failed"), errors.New("b failed")
	var order counter
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = fuseboxhttp.Serve(ctx, &http.Server{Handler: http.NotFoundHandler()}, ln, fuseboxhttp.ShutdownConfig{Closers: []io.Closer{
		fuseboxhttp.CloserFunc(func() error { order.add("a"); return errA }),
		fuseboxhttp.CloserFunc(func() error { order.add("b"); return errB }),
		fuseboxhttp.CloserFunc(func() error { order.add("c"); return nil }),
	}})
	if !errors.Is(err, errA) || !errors.Is(err, errB) {
		t.Fatalf("Serve: %v, want both closer errors", err)
	}
	if got := order.get(); fmt.Sprint(got) != "[c b a]" {
		t.Fatalf("closers ran %v, want [c b a]", got)
	}
}

// A server that stops by itself returns its error, after the closers.
func TestServeServerStopsByItself(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.NotFoundHandler()}
	var closed counter
	done := make(chan error, 1)
	go func() {
		done <- fuseboxhttp.Serve(context.Background(), srv, ln, fuseboxhttp.ShutdownConfig{Closers: []io.Closer{
			fuseboxhttp.CloserFunc(func() error { closed.add("x"); return nil }),
		}})
	}()
	testwait.Eventually(t, "the server to serve", func() bool {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	srv.Close()
	if err := testwait.Recv(t, done, "Serve"); err != nil {
		t.Fatalf("Serve after srv.Close: %v, want nil (ErrServerClosed is no error)", err)
	}
	if len(closed.get()) != 1 {
		t.Fatal("closer did not run")
	}
}

func TestServeConfigErrors(t *testing.T) {
	srv := &http.Server{}
	tests := []struct {
		name string
		srv  *http.Server
		c    fuseboxhttp.ShutdownConfig
		want string
	}{
		{"nil server", nil, fuseboxhttp.ShutdownConfig{}, "nil *http.Server"},
		{"negative drain", srv, fuseboxhttp.ShutdownConfig{DrainDelay: -1}, "DrainDelay -1ns out of range: want 0 (no delay) or more"},
		{"negative timeout", srv, fuseboxhttp.ShutdownConfig{ShutdownTimeout: -time.Second}, "ShutdownTimeout -1s out of range: want 0 (default 30s) or more"},
		{"nil closer", srv, fuseboxhttp.ShutdownConfig{Closers: []io.Closer{nil}}, "Closers[0] is nil"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			err = fuseboxhttp.Serve(context.Background(), tt.srv, ln, tt.c)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Serve: %v, want an error containing %q", err, tt.want)
			}
			if _, err := ln.Accept(); err == nil {
				t.Fatal("the listener is still open after the config was rejected")
			}
			err = fuseboxhttp.ListenAndServe(context.Background(), tt.srv, tt.c)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ListenAndServe: %v, want an error containing %q", err, tt.want)
			}
		})
	}
	if err := fuseboxhttp.Serve(context.Background(), srv, nil, fuseboxhttp.ShutdownConfig{}); err == nil {
		t.Fatal("Serve with a nil listener: no error")
	}
}

func TestListenAndServe(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var closed counter
	done := make(chan error, 1)
	go func() {
		done <- fuseboxhttp.ListenAndServe(ctx, &http.Server{Addr: "127.0.0.1:0", Handler: http.NotFoundHandler()}, fuseboxhttp.ShutdownConfig{
			Closers: []io.Closer{fuseboxhttp.CloserFunc(func() error { closed.add("x"); return nil })},
		})
	}()
	cancel()
	if err := testwait.Recv(t, done, "ListenAndServe"); err != nil {
		t.Fatalf("ListenAndServe: %v", err)
	}
	if len(closed.get()) != 1 {
		t.Fatal("closer did not run")
	}
	err := fuseboxhttp.ListenAndServe(context.Background(), &http.Server{Addr: "127.0.0.1:-1"}, fuseboxhttp.ShutdownConfig{})
	if err == nil || !strings.HasPrefix(err.Error(), "fuseboxhttp: ") {
		t.Fatalf("ListenAndServe on a bad address: %v, want an error", err)
	}
}
