package fuseboxhttp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/signal"
	"time"

	"github.com/fusebox-go/fusebox/clock"
)

// DefaultShutdownTimeout is how long Serve waits for in-flight requests
// when ShutdownConfig.ShutdownTimeout is zero.
const DefaultShutdownTimeout = 30 * time.Second

// ShutdownConfig configures the graceful shutdown of Serve. The zero value
// is valid: no drain delay, 30 s for in-flight requests, nothing to close.
type ShutdownConfig struct {
	// Health, when set, has its Shutdown called first, so /readyz fails
	// while the server drains.
	Health *Health `json:"-" yaml:"-"`
	// DrainDelay is how long the server keeps serving, with readiness
	// failing and keep-alives off, before it stops accepting connections:
	// the time load balancers need to notice and stop sending traffic (a
	// few readiness periods). 0 means no delay. Negative values are an
	// error.
	DrainDelay time.Duration `json:"drainDelay" yaml:"drainDelay"`
	// ShutdownTimeout bounds how long in-flight requests may take to
	// finish once the server stopped accepting; after it, the remaining
	// connections are closed. 0 means DefaultShutdownTimeout (30s).
	// Negative values are an error.
	ShutdownTimeout time.Duration `json:"shutdownTimeout" yaml:"shutdownTimeout"`
	// Closers are closed after the server has stopped, in reverse order
	// (the last one added first, as with defer): database pools, event
	// buses, telemetry exporters. CloserFunc adapts a function.
	Closers []io.Closer `json:"-" yaml:"-"`
	// Clock times DrainDelay and ShutdownTimeout: nil means clock.Real().
	Clock clock.Clock `json:"-" yaml:"-"`
}

// CloserFunc adapts a function to io.Closer, for ShutdownConfig.Closers.
type CloserFunc func() error

// Close calls f.
func (f CloserFunc) Close() error { return f() }

// Serve serves srv on ln until ctx ends, then shuts down gracefully:
//
//  1. c.Health (if set) fails readiness, and keep-alives are turned off so
//     that clients move their connections elsewhere;
//  2. the server keeps serving for DrainDelay, while load balancers notice;
//  3. srv.Shutdown stops accepting connections (new ones are refused) and
//     waits up to ShutdownTimeout for in-flight requests; connections still
//     busy after it are closed;
//  4. the Closers are closed, last first.
//
// Cancel ctx on SIGTERM (signal.NotifyContext, or use ListenAndServe). Serve
// returns nil after a clean shutdown; otherwise the error of the server (if
// it stopped by itself, the closers still run), context.DeadlineExceeded
// wrapped when in-flight requests outlived ShutdownTimeout, and the closers'
// errors, joined. When srv or c is invalid, it closes ln and returns an
// error without serving.
func Serve(ctx context.Context, srv *http.Server, ln net.Listener, c ShutdownConfig) error {
	if ln == nil {
		return errors.New("fuseboxhttp: Serve: nil net.Listener")
	}
	c, err := c.validate(srv)
	if err != nil {
		ln.Close()
		return err
	}
	return serve(ctx, srv, ln, c, nil)
}

// validate checks c and srv and applies c's defaults.
func (c ShutdownConfig) validate(srv *http.Server) (ShutdownConfig, error) {
	switch {
	case srv == nil:
		return c, errors.New("fuseboxhttp: nil *http.Server")
	case c.DrainDelay < 0:
		return c, fmt.Errorf("fuseboxhttp: ShutdownConfig.DrainDelay %v out of range: want 0 (no delay) or more", c.DrainDelay)
	case c.ShutdownTimeout < 0:
		return c, fmt.Errorf("fuseboxhttp: ShutdownConfig.ShutdownTimeout %v out of range: want 0 (default %v) or more", c.ShutdownTimeout, DefaultShutdownTimeout)
	}
	for i, cl := range c.Closers {
		if cl == nil {
			return c, fmt.Errorf("fuseboxhttp: ShutdownConfig.Closers[%d] is nil", i)
		}
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = DefaultShutdownTimeout
	}
	if c.Clock == nil {
		c.Clock = clock.Real()
	}
	return c, nil
}

// serve is Serve with a validated config; stopSignals, when set, is called
// as soon as the shutdown starts.
func serve(ctx context.Context, srv *http.Server, ln net.Listener, c ShutdownConfig, stopSignals func()) error {
	clk := c.Clock
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	var errs []error
	select {
	case err := <-served:
		// The server stopped by itself (its listener failed, or someone
		// else shut it down).
		if !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, err)
		}
	case <-ctx.Done():
		if stopSignals != nil {
			stopSignals()
		}
		if c.Health != nil {
			c.Health.Shutdown()
		}
		srv.SetKeepAlivesEnabled(false)
		if c.DrainDelay > 0 {
			t := clk.NewTimer(c.DrainDelay)
			<-t.C()
		}
		if err := shutdown(srv, clk, c.ShutdownTimeout); err != nil {
			errs = append(errs, err)
		}
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, err)
		}
	}
	for i := len(c.Closers) - 1; i >= 0; i-- {
		if err := c.Closers[i].Close(); err != nil {
			errs = append(errs, fmt.Errorf("fuseboxhttp: closing Closers[%d]: %w", i, err))
		}
	}
	return errors.Join(errs...)
}

// shutdown runs srv.Shutdown bounded by timeout on clk, closing the server
// when the timeout passes.
func shutdown(srv *http.Server, clk clock.Clock, timeout time.Duration) error {
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	t := clk.AfterFunc(timeout, func() { cancel(context.DeadlineExceeded) })
	defer t.Stop()
	if err := srv.Shutdown(ctx); err != nil {
		srv.Close()
		if errors.Is(err, context.Canceled) {
			err = context.Cause(ctx)
		}
		return fmt.Errorf("fuseboxhttp: in-flight requests still running after ShutdownTimeout %v, connections closed: %w", timeout, err)
	}
	return nil
}

// ListenAndServe listens on srv.Addr (":http" if empty) and runs Serve
// until ctx ends or the process receives SIGTERM or SIGINT (only an
// interrupt on Plan 9): the usual main function of a service. Once the
// shutdown has started, the signals are no longer caught, so a second one
// ends the process at once.
//
//	srv := &http.Server{Addr: ":8080", Handler: h, ReadHeaderTimeout: 10 * time.Second}
//	err := fuseboxhttp.ListenAndServe(context.Background(), srv, fuseboxhttp.ShutdownConfig{
//		Health: health, DrainDelay: 5 * time.Second,
//	})
//
// For TLS, wrap a listener with tls.NewListener and call Serve.
func ListenAndServe(ctx context.Context, srv *http.Server, c ShutdownConfig) error {
	c, err := c.validate(srv)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, shutdownSignals...)
	defer stop()
	addr := srv.Addr
	if addr == "" {
		addr = ":http"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("fuseboxhttp: %w", err)
	}
	return serve(ctx, srv, ln, c, stop)
}
