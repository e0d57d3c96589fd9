package fuseboxprom_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/breaker"
	"github.com/fusebox-go/fusebox/clock"
	"github.com/fusebox-go/fusebox/fuseboxprom"
)

// A breaker is added to a collector registered on a registry of the
// application's own, served on /metrics; the scrape reads its state.
func ExampleCollector() {
	b, err := breaker.New(breaker.Config{Name: "payments", ConsecutiveFailures: 1, Clock: clock.NewFake(time.Time{})})
	if err != nil {
		panic(err)
	}
	col, err := fuseboxprom.New(fuseboxprom.Config{})
	if err != nil {
		panic(err)
	}
	if err := col.Add("payments", b); err != nil {
		panic(err)
	}
	reg := prometheus.NewRegistry()
	if err := col.Register(reg); err != nil {
		panic(err)
	}
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()

	_ = b.Execute(context.Background(), func(context.Context) error { return errors.New("503") })

	body := scrape(srv)
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, "fusebox_breaker_state") || strings.HasPrefix(line, "fusebox_breaker_calls_total") {
			fmt.Println(line)
		}
	}
	// Output:
	// fusebox_breaker_calls_total{key="",name="payments",outcome="failure"} 1
	// fusebox_breaker_calls_total{key="",name="payments",outcome="ignored"} 0
	// fusebox_breaker_calls_total{key="",name="payments",outcome="success"} 0
	// fusebox_breaker_state{key="",name="payments",state="closed"} 0
	// fusebox_breaker_state{key="",name="payments",state="disabled"} 0
	// fusebox_breaker_state{key="",name="payments",state="forced-open"} 0
	// fusebox_breaker_state{key="",name="payments",state="half-open"} 0
	// fusebox_breaker_state{key="",name="payments",state="metrics-only"} 0
	// fusebox_breaker_state{key="",name="payments",state="open"} 1
}

// A latency policy outermost in a pipeline times every call, rejections
// and retries included.
func ExampleCollector_NewLatencyPolicy() {
	col, err := fuseboxprom.New(fuseboxprom.Config{LatencyBuckets: []float64{0.1, 1}})
	if err != nil {
		panic(err)
	}
	b, err := breaker.New(breaker.Config{Name: "search", Clock: clock.NewFake(time.Time{})})
	if err != nil {
		panic(err)
	}
	p, err := fusebox.New(col.NewLatencyPolicy("search"), b)
	if err != nil {
		panic(err)
	}
	for range 3 {
		_ = p.Run(context.Background(), func(context.Context) error { return nil })
	}
	reg := prometheus.NewRegistry()
	if err := col.Register(reg); err != nil {
		panic(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		panic(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "fusebox_call_duration_seconds" {
			fmt.Println("calls timed:", mf.GetMetric()[0].GetHistogram().GetSampleCount())
		}
	}
	// Output: calls timed: 3
}

// scrape returns the body of a GET of url.
func scrape(srv *httptest.Server) string {
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		panic(err)
	}
	return string(body)
}
