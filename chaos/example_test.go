package chaos_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/breaker"
	"github.com/fusebox-go/fusebox/chaos"
	"github.com/fusebox-go/fusebox/clock"
)

// The injector as the innermost policy of a pipeline: the dependency
// fails every call, and the breaker in front of it opens.
func ExampleInjector_Run() {
	clk := clock.NewFake(time.Time{}) // leave Clock nil outside tests
	inj, err := chaos.New(chaos.Config{
		Fault: chaos.Fault{Seed: 1, Error: chaos.ErrorFault{Probability: 1, Message: "payments: connection refused"}},
		Clock: clk,
	})
	if err != nil {
		panic(err)
	}
	b, _ := breaker.New(breaker.Config{ConsecutiveFailures: 3, HalfOpenProbes: 1, Clock: clk})
	p, _ := fusebox.New(b, inj)

	call := func(context.Context) error { return nil } // the real call, never reached
	for range 3 {
		fmt.Println(p.Run(context.Background(), call))
	}
	err = p.Run(context.Background(), call)
	fmt.Println(errors.Is(err, breaker.ErrOpen))

	// Heal the dependency at run time; the breaker closes after a probe.
	inj.Disable()
	clk.Advance(time.Minute)
	fmt.Println(p.Run(context.Background(), call), b.State())
	// Output:
	// payments: connection refused
	// payments: connection refused
	// payments: connection refused
	// true
	// <nil> closed
}

// A flaky server for an integration test: half of its requests fail, in
// an order fixed by the seed.
func ExampleServer_SetFailureRate() {
	srv, err := chaos.NewServer(chaos.ServerConfig{Fault: chaos.Fault{Seed: 14}})
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	client := &http.Client{Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()

	get := func() int {
		resp, err := client.Get(srv.URL())
		if err != nil {
			return 0
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	fmt.Println(get())

	if err := srv.SetFailureRate(0.5); err != nil {
		panic(err)
	}
	var codes []string
	for range 10 {
		codes = append(codes, strconv.Itoa(get()))
	}
	fmt.Println(strings.Join(codes, " "))

	_ = srv.SetStatus(503) // now the dependency is down
	fmt.Println(get())
	// Output:
	// 200
	// 500 200 500 500 200 200 500 200 500 200
	// 503
}

// Faults can come from configuration: every field has JSON and YAML tags.
func ExampleFault() {
	f := chaos.Fault{
		Seed:    42,
		Latency: chaos.LatencyFault{Probability: 0.1, Duration: 200 * time.Millisecond, Jitter: 50 * time.Millisecond},
		Status:  chaos.StatusFault{Probability: 0.05, Code: 503},
	}
	fmt.Println(f.Validate())
	f.Reset.Probability = 1.5
	fmt.Println(f.Validate())
	_, err := chaos.New(chaos.Config{Fault: f})
	fmt.Println(err)
	// Output:
	// <nil>
	// chaos: Reset.Probability 1.5 out of range: want 0 to 1
	// chaos: Reset.Probability 1.5 out of range: want 0 to 1
}
