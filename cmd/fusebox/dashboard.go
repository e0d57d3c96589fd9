package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"time"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/cmd/fusebox/internal/demo"
	"github.com/fusebox-go/fusebox/dashboard"
)

// dashboardServer serves Fusebox's live dashboard of the demo's policies
// on a loopback port while the demo runs.
type dashboardServer struct {
	d      *dashboard.Dashboard
	srv    *http.Server
	url    string
	served chan struct{}
}

// startDashboard starts the dashboard on addr.
func startDashboard(addr string) (*dashboardServer, error) {
	d, err := dashboard.New(dashboard.Config{Title: "Fusebox demo", Interval: 500 * time.Millisecond})
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		d.Close()
		return nil, fmt.Errorf("cannot listen on %s for the dashboard: %w (choose another --dashboard-addr)", addr, err)
	}
	s := &dashboardServer{
		d:      d,
		srv:    &http.Server{Handler: d, ReadHeaderTimeout: 5 * time.Second, ErrorLog: log.New(io.Discard, "", 0)},
		url:    "http://" + ln.Addr().String() + "/",
		served: make(chan struct{}),
	}
	go func() {
		defer close(s.served)
		_ = s.srv.Serve(ln)
	}()
	d.Start() // the history starts now, not with the first viewer
	return s, nil
}

// URL is the dashboard's address.
func (s *dashboardServer) URL() string { return s.url }

// Latency gives the latency probe of a run's link: a row of its own, in
// both runs, with the rate, errors and percentiles of the calls that reach
// the wire.
func (s *dashboardServer) Latency(run string, hop demo.Hop) fusebox.Policy {
	return s.d.LatencyPolicy(hop.String() + " (" + run + ")")
}

// Show adds a run's policies to the dashboard, named after what they
// protect and the run ("orders → payments (protected)/breaker"). They stay
// after the run, so that both runs can be compared.
func (s *dashboardServer) Show(ri demo.RunInfo) func() {
	for _, p := range ri.Policies {
		// A name is taken only if the same run is shown twice: nothing to add.
		_ = s.d.Add(p.Name+" ("+ri.Name+")", p.Policy)
	}
	return nil
}

// Close stops the dashboard: its event streams end, then the server.
func (s *dashboardServer) Close() {
	s.d.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		_ = s.srv.Close()
	}
	<-s.served
}
