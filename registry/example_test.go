package registry_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/breaker"
	"github.com/fusebox-go/fusebox/clock"
	"github.com/fusebox-go/fusebox/ratelimit"
	"github.com/fusebox-go/fusebox/registry"
)

// One circuit breaker per downstream host, built on first use. A failing
// host's breaker opens without touching the others, and survives idle
// eviction for as long as it is open.
func Example_perHostBreakers() {
	clk := clock.NewFake(time.Time{}) // leave Clock nil outside tests
	hosts, err := registry.New(registry.Config[*breaker.Breaker]{
		New: func(host string) (*breaker.Breaker, error) {
			return breaker.New(breaker.Config{Name: host, ConsecutiveFailures: 3, Clock: clk})
		},
		IdleTimeout: 5 * time.Minute,
		Clock:       clk,
	})
	if err != nil {
		panic(err)
	}
	call := func(host string, fail bool) error {
		b, err := hosts.Get(host)
		if err != nil {
			return err
		}
		return b.Execute(context.Background(), func(context.Context) error {
			if fail {
				return errors.New("connection refused")
			}
			return nil
		})
	}
	for range 3 {
		_ = call("payments.internal", true)
	}
	_ = call("search.internal", false)
	fmt.Println(errors.Is(call("payments.internal", false), breaker.ErrOpen))
	fmt.Println(call("search.internal", false))

	clk.Advance(10 * time.Minute) // both idle; only the closed one may go
	fmt.Println("evicted:", hosts.Sweep())
	for _, m := range hosts.Snapshot() {
		fmt.Println(m.Key, m.Value.(breaker.Snapshot).State)
	}
	// Output:
	// true
	// <nil>
	// evicted: 1
	// payments.internal open
}

// One token bucket per tenant, with a bigger one for a tenant on a
// premium plan.
func Example_perTenantRateLimiters() {
	clk := clock.NewFake(time.Time{}) // leave Clock nil outside tests
	tenants, err := registry.New(registry.Config[*ratelimit.Bucket]{
		New: func(string) (*ratelimit.Bucket, error) {
			return ratelimit.New(ratelimit.Config{Rate: 1, Burst: 2, Clock: clk})
		},
		Overrides: map[string]func(string) (*ratelimit.Bucket, error){
			"acme": func(string) (*ratelimit.Bucket, error) {
				return ratelimit.New(ratelimit.Config{Rate: 10, Burst: 5, Clock: clk})
			},
		},
		MaxKeys: 100000,
		Clock:   clk,
	})
	if err != nil {
		panic(err)
	}
	serve := func(tenant string) string {
		lim, err := tenants.Get(tenant)
		if err != nil {
			return err.Error()
		}
		p, _ := fusebox.New(lim)
		err = p.Run(context.Background(), func(context.Context) error { return nil })
		if errors.Is(err, fusebox.ErrRateLimited) {
			return "429"
		}
		return "200"
	}
	for _, tenant := range []string{"globex", "acme"} {
		fmt.Print(tenant, ":")
		for range 4 {
			fmt.Print(" ", serve(tenant))
		}
		fmt.Println()
	}
	fmt.Println(tenants.Len(), "tenants")
	// Output:
	// globex: 200 200 429 429
	// acme: 200 200 200 200
	// 2 tenants
}

// MaxKeys is a hard bound, open breakers included. When the cap evicts an
// open breaker, the registry remembers its key until the open period ends
// and refuses it meanwhile, so the failing host is not called early; then
// the key gets a new, closed breaker.
func Example_evictedOpenBreaker() {
	clk := clock.NewFake(time.Time{}) // leave Clock nil outside tests
	hosts, err := registry.New(registry.Config[*breaker.Breaker]{
		New: func(host string) (*breaker.Breaker, error) {
			return breaker.New(breaker.Config{Name: host, ConsecutiveFailures: 1, OpenDuration: time.Minute, Clock: clk})
		},
		MaxKeys: 2,
		Clock:   clk,
	})
	if err != nil {
		panic(err)
	}
	refused := func(context.Context) error { return errors.New("connection refused") }
	for _, host := range []string{"a.dead", "b.dead", "c.dead"} {
		b, _ := hosts.Get(host)
		_ = b.Execute(context.Background(), refused) // each opens its breaker
		clk.Advance(10 * time.Second)
	}
	fmt.Println(hosts.Len(), "breakers")

	_, err = hosts.Get("a.dead") // evicted to make room for c.dead
	var held *registry.HeldError
	fmt.Println(errors.Is(err, fusebox.ErrOpen), errors.As(err, &held), held.RetryAfter())

	clk.Advance(held.RetryAfter())
	b, err := hosts.Get("a.dead")
	fmt.Println(b.State(), err)
	// Output:
	// 2 breakers
	// true true 30s
	// closed <nil>
}
