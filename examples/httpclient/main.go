// Command httpclient calls two HTTP services through a Fusebox client.
// Every host gets a pipeline of its own, built on its first request and
// kept in a registry: a circuit breaker, retries within a budget that all
// hosts share, and a timeout per attempt. A price lookup runs through
// fusebox.Do with a fallback to the last price seen, so that it still
// answers while the pricing service is down. Prometheus metrics and the
// live dashboard read the per-host pipelines from the registry, on an
// internal listener.
//
// Everything runs on loopback and ends by itself in about a second:
//
//	go run ./examples/httpclient
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/breaker"
	"github.com/fusebox-go/fusebox/dashboard"
	"github.com/fusebox-go/fusebox/fallback"
	"github.com/fusebox-go/fusebox/fuseboxhttp"
	"github.com/fusebox-go/fusebox/fuseboxprom"
	"github.com/fusebox-go/fusebox/registry"
	"github.com/fusebox-go/fusebox/retry"
	"github.com/fusebox-go/fusebox/timeout"
)

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "httpclient:", err)
		os.Exit(1)
	}
}

// Price is what the pricing service answers.
type Price struct {
	SKU   string `json:"sku"`
	Cents int    `json:"cents"`
	// Stale is set by the fallback: the last price seen, not a fresh
	// one, answered because of Why.
	Stale bool   `json:"-"`
	Why   string `json:"-"`
}

func run(ctx context.Context, out io.Writer) error {
	// Two services to call, on loopback: a catalog that always answers,
	// and a pricing service whose behavior the run changes.
	catalog, err := serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `["lamp","desk","chair"]`)
	}))
	if err != nil {
		return err
	}
	defer catalog.stop()
	pricing := &pricingService{}
	pricingSrv, err := serve(pricing)
	if err != nil {
		return err
	}
	defer pricingSrv.stop()
	names := strings.NewReplacer(catalog.url, "catalog", pricingSrv.url, "pricing")

	// The client. Each host's pipeline, outermost first: a breaker that
	// opens after 3 failed calls in a row, a retry (3 attempts at most,
	// within the shared budget), and a timeout for each attempt. The
	// breaker sits outside the retry, so it judges a call once, by the
	// outcome of its last attempt.
	bus := fusebox.NewEvents() // every policy reports to it; the dashboard reads it
	defer bus.Close()
	budget, err := retry.NewBudget(retry.BudgetConfig{
		Ratio:               0.2, // retries may add 20% to the requests...
		MinRetriesPerSecond: 0.5, // ...plus 5 per 10 s, for quiet periods
	})
	if err != nil {
		return err
	}
	hosts, err := registry.New(registry.Config[*fusebox.Pipeline]{
		New: func(host string) (*fusebox.Pipeline, error) {
			circuit, err := breaker.New(breaker.Config{
				Name:                host,
				ConsecutiveFailures: 3,
				OpenDuration:        10 * time.Second,
				Events:              bus,
			})
			if err != nil {
				return nil, err
			}
			retries, err := retry.New(retry.Config{
				Name:            host,
				MaxAttempts:     3,
				InitialInterval: 10 * time.Millisecond,
				MaxInterval:     50 * time.Millisecond,
				Budget:          budget,
				Events:          bus,
			})
			if err != nil {
				return nil, err
			}
			perAttempt, err := timeout.New(timeout.Config{Name: host, Timeout: 250 * time.Millisecond, Events: bus})
			if err != nil {
				return nil, err
			}
			return fusebox.New(circuit, retries, perAttempt)
		},
		MaxKeys:     1000,             // a hard bound on the hosts remembered
		IdleTimeout: 10 * time.Minute, // a host unused that long loses its pipeline
	})
	if err != nil {
		return err
	}
	transport := &http.Transport{}
	defer transport.CloseIdleConnections()
	rt, err := fuseboxhttp.NewRoundTripper(transport, fuseboxhttp.WithRegistry(hosts))
	if err != nil {
		return err
	}
	client := &http.Client{Transport: rt}

	// A typed call with a fallback: the price comes from the pricing
	// service, through the client and so through the pricing host's
	// pipeline; when that fails, the fallback answers with the last price
	// seen for the SKU, marked stale.
	var lastSeen sync.Map // SKU → Price
	lastKnown, err := fallback.New(fallback.Config{
		Name: "last known price",
		Func: func(ctx context.Context, err error) (any, error) {
			sku, _ := ctx.Value(skuKey{}).(string)
			p, ok := lastSeen.Load(sku)
			if !ok {
				return nil, err // nothing to answer with: the call's error stands
			}
			stale := p.(Price)
			stale.Stale = true
			stale.Why = "pricing failed"
			if errors.Is(err, fusebox.ErrOpen) {
				stale.Why = "breaker open: pricing not called"
			}
			return stale, nil
		},
		Events: bus,
	})
	if err != nil {
		return err
	}
	priceLookup, err := fusebox.New(lastKnown)
	if err != nil {
		return err
	}
	getPrice := func(ctx context.Context, sku string) (Price, error) {
		ctx = context.WithValue(ctx, skuKey{}, sku)
		return fusebox.Do(ctx, priceLookup, func(ctx context.Context) (Price, error) {
			p, err := fetchPrice(ctx, client, pricingSrv.url, sku)
			if err == nil {
				lastSeen.Store(sku, p)
			}
			return p, err
		})
	}

	// Metrics and the dashboard, fed from the same registry, on an
	// internal listener: they name internal dependencies and their
	// health, which is nobody else's business. A service keeps that
	// listener off its public port (a loopback or cluster-internal
	// address, or behind authentication; the dashboard also takes a read
	// token, dashboard.Config.ReadToken).
	collector, err := fuseboxprom.New(fuseboxprom.Config{})
	if err != nil {
		return err
	}
	if err := collector.AddRegistry("hosts", hosts); err != nil {
		return err
	}
	if err := collector.Add("retry-budget", budget); err != nil {
		return err
	}
	if err := collector.Add("price-fallback", lastKnown); err != nil {
		return err
	}
	metrics := prometheus.NewRegistry()
	if err := collector.Register(metrics); err != nil {
		return err
	}
	dash, err := dashboard.New(dashboard.Config{Sources: []dashboard.Source{hosts}, Events: bus})
	if err != nil {
		return err
	}
	defer dash.Close()
	if err := dash.Add("retry-budget", budget); err != nil {
		return err
	}
	if err := dash.Add("price-fallback", lastKnown); err != nil {
		return err
	}
	internalMux := http.NewServeMux()
	internalMux.Handle("/metrics", promhttp.HandlerFor(metrics, promhttp.HandlerOpts{}))
	internalMux.Handle("/debug/fusebox/", http.StripPrefix("/debug/fusebox", dash))
	internal, err := serve(internalMux)
	if err != nil {
		return err
	}
	defer internal.stop()

	// The catalog: three plain calls.
	for range 3 {
		if err := getCatalog(ctx, client, catalog.url); err != nil {
			return fmt.Errorf("catalog: %w", err)
		}
	}
	fmt.Fprintln(out, "catalog: 3 calls ok")

	// The pricing service goes through its phases; each lookup says
	// how many requests reached pricing and what the caller got.
	for _, step := range []struct {
		mode    string
		lookups int
	}{
		{modeHealthy, 1},
		{modeFlaky, 2}, // every other request fails with 503: a retry absorbs it
		{modeSlow, 1},  // every other request hangs: the attempt times out, a retry absorbs it
		{modeDown, 5},  // every request fails: the breaker opens, the fallback answers
	} {
		pricing.setMode(step.mode)
		for range step.lookups {
			before := pricing.requests.Load()
			p, err := getPrice(ctx, "lamp")
			reached := pricing.requests.Load() - before
			var answer string
			switch {
			case err != nil:
				answer = "error: " + names.Replace(err.Error())
			case p.Stale:
				answer = fmt.Sprintf("%d cents, stale (fallback: %s)", p.Cents, p.Why)
			default:
				answer = fmt.Sprintf("%d cents", p.Cents)
			}
			fmt.Fprintf(out, "pricing %-7s requests that reached pricing: %d  answer: %s\n", step.mode+":", reached, answer)
		}
	}
	b := budget.Snapshot()
	fmt.Fprintf(out, "retry budget: %d retries in the window, %d refused\n", b.Retries, b.Refused)

	// What an operator sees: the dashboard's status and a Prometheus
	// scrape, both on the internal listener.
	var status dashboard.Status
	if err := getJSON(ctx, http.DefaultClient, internal.url+"/debug/fusebox/status.json", &status); err != nil {
		return err
	}
	for _, p := range status.Policies {
		if p.Kind == "breaker" {
			fmt.Fprintf(out, "dashboard: %s %s, %d calls, %d failures, %d rejections\n",
				names.Replace(p.Name), p.State, p.Calls, p.Failures, p.Rejections)
		}
	}
	scrape, err := getText(ctx, http.DefaultClient, internal.url+"/metrics")
	if err != nil {
		return err
	}
	for _, line := range strings.Split(scrape, "\n") {
		if strings.HasPrefix(line, "fusebox_breaker_state{") && strings.HasSuffix(line, " 1") ||
			strings.HasPrefix(line, "fusebox_retry_budget_refusals_total{") {
			fmt.Fprintln(out, "metrics:", names.Replace(line))
		}
	}
	return nil
}

// skuKey is the context key that gives the fallback the SKU looked up.
type skuKey struct{}

// fetchPrice asks the pricing service for a SKU's price. A failure status
// that is the last attempt's comes back from the client as a response, not
// an error (the policies have judged it already): getJSON turns it into
// one.
func fetchPrice(ctx context.Context, client *http.Client, base, sku string) (Price, error) {
	var p Price
	err := getJSON(ctx, client, base+"/prices/"+sku, &p)
	return p, err
}

func getCatalog(ctx context.Context, client *http.Client, base string) error {
	var items []string
	return getJSON(ctx, client, base+"/items", &items)
}

func getJSON(ctx context.Context, client *http.Client, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

func getText(ctx context.Context, client *http.Client, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return string(body), nil
}

// The pricing service's behaviors.
const (
	modeHealthy = "healthy"
	modeFlaky   = "flaky"
	modeSlow    = "slow"
	modeDown    = "down"
)

// pricingService answers prices, or fails as its mode says.
type pricingService struct {
	mode     atomic.Value // string
	requests atomic.Int64
}

func (s *pricingService) setMode(m string) { s.mode.Store(m) }

func (s *pricingService) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := s.requests.Add(1)
	mode, _ := s.mode.Load().(string)
	switch {
	case mode == modeDown, mode == modeFlaky && n%2 == 0:
		http.Error(w, "pricing unavailable", http.StatusServiceUnavailable)
		return
	case mode == modeSlow && n%2 == 0:
		select {
		case <-time.After(5 * time.Second):
		case <-r.Context().Done(): // the client's attempt timed out and hung up
			return
		}
	}
	sku := strings.TrimPrefix(r.URL.Path, "/prices/")
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(Price{SKU: sku, Cents: 1299})
}

// server is an HTTP server on a loopback port.
type server struct {
	url  string
	stop func()
}

// serve serves h on a free loopback port until stop is called.
func serve(h http.Handler) (server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return server{}, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(ln) // returns http.ErrServerClosed after Close
	}()
	return server{
		url: "http://" + ln.Addr().String(),
		stop: func() {
			srv.Close()
			<-done
		},
	}, nil
}
