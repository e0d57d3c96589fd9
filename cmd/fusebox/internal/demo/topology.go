package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/breaker"
	"github.com/fusebox-go/fusebox/bulkhead"
	"github.com/fusebox-go/fusebox/chaos"
	"github.com/fusebox-go/fusebox/fallback"
	"github.com/fusebox-go/fusebox/fuseboxhttp"
	"github.com/fusebox-go/fusebox/retry"
	"github.com/fusebox-go/fusebox/timeout"
)

// The topology, the same in both runs:
//
//	load generator ──▶ gateway ──┬─▶ /users   answered by the gateway itself
//	                             └─▶ /orders ──▶ orders ──┬─▶ inventory
//	                                                      ├─▶ catalog
//	                                                      └─▶ payments (chaos.Server)
//
// Why an outage of payments can take /users down with it: the gateway, like
// a thread-per-request server (or any Go service with a concurrency limit),
// serves at most GatewayWorkers requests at once, every endpoint together;
// up to GatewayQueue more wait for a free worker, in order, for as long as
// their clients wait, and beyond that the gateway answers 503 (an accept
// queue). Its clients are plain http.Clients with generous timeouts
// (ServiceTimeout). When payments takes seconds to answer, every /orders
// request holds a gateway worker (and an orders worker, and a connection)
// until its client gives up; at Rate × (1-UsersShare) arrivals per second
// the workers are all taken within a second and the queue fills, so /users
// requests, which need a worker for a few milliseconds, wait seconds behind
// the /orders ones or are turned away. Nothing in the demo scripts that: it
// is what the worker limit and the slow calls do on the wire, and it stops
// as soon as payments answers fast again, even with errors.
//
// The protected run keeps every limit and adds Fusebox: gateway → orders and
// orders → each dependency run through a pipeline (deadline, bulkhead,
// breaker, retry with a budget, per-attempt timeout), orders answers with
// the last known payment status when payments fails (fallback + degraded
// cache), and the gateway and orders shed requests that would wait too long
// for a worker (fuseboxhttp.LoadShedder) and honour their callers' deadlines
// (fuseboxhttp.Deadline). The bulkhead on gateway → orders is what keeps
// workers free for /users: slow orders can hold at most OrdersBulkhead of
// them.

// degradedHeader marks an answer made partly from a fallback; its value
// names what was missing.
const degradedHeader = "X-Degraded"

// BindError is the error of a service that could not listen on its address.
type BindError struct {
	Service string
	Addr    string
	Err     error
}

// Error says which service could not listen where, and why.
func (e *BindError) Error() string {
	return fmt.Sprintf("cannot listen on %s for the %s: %v", e.Addr, e.Service, e.Err)
}

// Unwrap returns the listener's error.
func (e *BindError) Unwrap() error { return e.Err }

// service is one HTTP server of the topology, on loopback.
type service struct {
	name     string
	srv      *http.Server
	url      string
	served   chan struct{}
	inFlight atomic.Int64 // requests being handled, waiting for a worker included
}

func startService(name, addr string, h http.Handler) (*service, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, &BindError{Service: name, Addr: addr, Err: err}
	}
	s := &service{name: name, url: "http://" + ln.Addr().String(), served: make(chan struct{})}
	s.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s.inFlight.Add(1)
			defer s.inFlight.Add(-1)
			h.ServeHTTP(w, r)
		}),
		ReadHeaderTimeout: 5 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	go func() {
		defer close(s.served)
		_ = s.srv.Serve(ln)
	}()
	return s, nil
}

// stop closes the server and its connections and waits, up to a few
// seconds, for its handlers to return: they all watch their request's
// context, which closing the connection cancels.
func (s *service) stop() {
	_ = s.srv.Close()
	<-s.served
	waitZero(&s.inFlight, 5*time.Second)
}

// waitZero waits until n is zero or d has passed.
func waitZero(n *atomic.Int64, d time.Duration) {
	deadline := time.Now().Add(d)
	for n.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(2 * time.Millisecond)
	}
}

// pause does a service's own work: it waits d, or until ctx ends, and
// reports whether the work was done.
func pause(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// workerPool is the capacity of a plain server: n workers for all its
// endpoints, like a thread-per-request server's pool (or a Go server behind
// a concurrency limit). When every worker is busy, up to queue requests
// wait for one, in order, for as long as their clients wait (an accept
// queue); a request that finds the queue full is answered 503 at once.
func workerPool(n, queue int) func(http.Handler) http.Handler {
	sem := make(chan struct{}, n)
	var waiting atomic.Int64
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case sem <- struct{}{}:
			default:
				if waiting.Add(1) > int64(queue) {
					waiting.Add(-1)
					http.Error(w, "server busy", http.StatusServiceUnavailable)
					return
				}
				select {
				case sem <- struct{}{}:
					waiting.Add(-1)
				case <-r.Context().Done():
					waiting.Add(-1)
					return // the client left while waiting: nobody to answer
				}
			}
			defer func() { <-sem }()
			next.ServeHTTP(w, r)
		})
	}
}

// reply is a dependency's answer.
type reply struct {
	body     []byte
	degraded string // the dependency's degradedHeader
}

// dependency is a service as its caller sees it: a client, and in the
// protected run a pipeline around every call.
type dependency struct {
	name      string
	base      string
	client    *http.Client
	tr        *http.Transport
	wire      *wireRecorder
	pipe      *fusebox.Pipeline // nil: a plain call
	protected bool              // pipe has protections, not only a latency probe
	breaker   *breaker.Breaker  // nil when the pipeline has none
	deadline  bool              // send the context's deadline in a header
}

// get calls GET path on the dependency: through the pipeline when there is
// one. The call includes reading the body, so that a timeout bounds it too.
func (d *dependency) get(ctx context.Context, path string) (reply, error) {
	if d.pipe == nil {
		return d.attempt(ctx, path)
	}
	return fusebox.Do(ctx, d.pipe, func(ctx context.Context) (reply, error) { return d.attempt(ctx, path) })
}

func (d *dependency) attempt(ctx context.Context, path string) (reply, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.base+path, nil)
	if err != nil {
		return reply{}, err
	}
	if dl, ok := ctx.Deadline(); ok && d.deadline {
		req.Header.Set(fuseboxhttp.DefaultDeadlineHeader, strconv.FormatInt(max(0, time.Until(dl).Milliseconds()), 10))
	}
	resp, err := d.client.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return reply{}, err
	}
	if resp.StatusCode != http.StatusOK {
		wait, _ := retry.ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
		return reply{}, &retry.StatusError{Code: resp.StatusCode, Wait: wait}
	}
	return reply{body: body, degraded: resp.Header.Get(degradedHeader)}, nil
}

// wireRecorder records every attempt that reaches the wire on a hop.
type wireRecorder struct {
	base     http.RoundTripper
	hop      Hop
	rec      *recorder
	inFlight atomic.Int64
}

func (w *wireRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	w.inFlight.Add(1)
	defer w.inFlight.Add(-1)
	start := time.Now()
	resp, err := w.base.RoundTrip(req)
	w.rec.addHop(hopSample{
		hop:     w.hop,
		ok:      err == nil && resp.StatusCode < 300,
		start:   w.rec.since(start),
		latency: time.Since(start),
	})
	return resp, err
}

// topology is the running services of one run.
type topology struct {
	sc      Scenario
	prot    Protection
	rec     *recorder
	latency func(Hop) fusebox.Policy // nil: none

	gateway, orders, inventory, catalog *service
	payments                            *chaos.Server

	ordersDep                             *dependency // the gateway's client of orders
	paymentsDep, inventoryDep, catalogDep *dependency // orders' clients
	payFallback                           *fusebox.Pipeline
	payCache                              *fallback.Cache[string, []byte]
	gatewayShed, ordersShed               *bulkhead.Bulkhead
}

// breakers returns the run's breakers, in a fixed order.
func (t *topology) breakers() []*breaker.Breaker {
	var bs []*breaker.Breaker
	for _, d := range t.deps() {
		if d != nil && d.breaker != nil {
			bs = append(bs, d.breaker)
		}
	}
	return bs
}

func (t *topology) deps() []*dependency {
	return []*dependency{t.ordersDep, t.paymentsDep, t.inventoryDep, t.catalogDep}
}

// startTopology starts every service of a run, the gateway last, so that
// its port is the one the user chose and is taken only when the rest is up.
func startTopology(sc Scenario, prot Protection, rec *recorder, latency func(Hop) fusebox.Policy) (t *topology, err error) {
	t = &topology{sc: sc, prot: prot, rec: rec, latency: latency}
	defer func() {
		if err != nil {
			t.stop()
			t = nil
		}
	}()

	t.payments, err = chaos.NewServer(chaos.ServerConfig{Handler: route("GET /payments/{id}", t.servePayment)})
	if err != nil {
		return t, &BindError{Service: "payments service", Addr: "127.0.0.1:0", Err: err}
	}
	if t.inventory, err = startService("inventory service", "127.0.0.1:0", route("GET /stock/{item}", t.serveStock)); err != nil {
		return t, err
	}
	if t.catalog, err = startService("catalog service", "127.0.0.1:0", route("GET /items/{item}", t.serveItem)); err != nil {
		return t, err
	}

	if t.paymentsDep, err = t.newDependency("payments", t.payments.URL(), OrdersPayments, sc.OrdersWorkers); err != nil {
		return t, err
	}
	if t.inventoryDep, err = t.newDependency("inventory", t.inventory.url, OrdersInventory, sc.OrdersWorkers); err != nil {
		return t, err
	}
	if t.catalogDep, err = t.newDependency("catalog", t.catalog.url, OrdersCatalog, sc.OrdersWorkers); err != nil {
		return t, err
	}
	if prot.Fallback {
		t.payCache, err = fallback.NewCache[string, []byte](sc.cacheConfig())
		if err != nil {
			return t, err
		}
		fb, err := fallback.New(paymentFallbackConfig())
		if err != nil {
			return t, err
		}
		if t.payFallback, err = fusebox.New(fb); err != nil {
			return t, err
		}
	}
	ordersMW, err := t.serverMiddleware("orders", sc.OrdersWorkers, sc.OrdersQueue, &t.ordersShed)
	if err != nil {
		return t, err
	}
	if t.orders, err = startService("orders service", "127.0.0.1:0", ordersMW(t.ordersMux())); err != nil {
		return t, err
	}

	if t.ordersDep, err = t.newDependency("orders", t.orders.url, GatewayOrders, sc.GatewayWorkers); err != nil {
		return t, err
	}
	gatewayMW, err := t.serverMiddleware("gateway", sc.GatewayWorkers, sc.GatewayQueue, &t.gatewayShed)
	if err != nil {
		return t, err
	}
	if t.gateway, err = startService("gateway", net.JoinHostPort("127.0.0.1", strconv.Itoa(sc.Port)), gatewayMW(t.gatewayMux())); err != nil {
		return t, err
	}
	return t, nil
}

// serverMiddleware is what stands between a server and its handlers:
// a plain worker pool, or in the protected run Fusebox's middleware with the
// same workers and queue.
func (t *topology) serverMiddleware(name string, workers, queue int, shed **bulkhead.Bulkhead) (func(http.Handler) http.Handler, error) {
	p := t.prot
	if !p.Any() {
		return workerPool(workers, queue), nil
	}
	chain := []fuseboxhttp.Middleware{}
	rec, err := fuseboxhttp.Recover(fuseboxhttp.RecoverConfig{})
	if err != nil {
		return nil, err
	}
	chain = append(chain, rec)
	if p.Shedding {
		bh, err := bulkhead.New(p.shedderConfig(name, workers, queue))
		if err != nil {
			return nil, err
		}
		*shed = bh
		ls, err := fuseboxhttp.LoadShedder(fuseboxhttp.LoadShedderConfig{Bulkhead: bh})
		if err != nil {
			return nil, err
		}
		chain = append(chain, ls)
	} else {
		chain = append(chain, workerPool(workers, queue))
	}
	if p.Deadline {
		dl, err := fuseboxhttp.Deadline(p.serverDeadlineConfig())
		if err != nil {
			return nil, err
		}
		chain = append(chain, dl)
	}
	return fuseboxhttp.Chain(chain...), nil
}

// newDependency makes a caller's client of a service: a plain client with
// ServiceTimeout, or the protected run's pipeline around a client whose
// calls it bounds.
func (t *topology) newDependency(name, url string, hop Hop, conns int) (*dependency, error) {
	p := t.prot
	lim := p.limits(hop)
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
		MaxConnsPerHost:     conns, // a connection pool as large as the caller's worker pool
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     30 * time.Second,
	}
	wire := &wireRecorder{base: tr, hop: hop, rec: t.rec}
	d := &dependency{name: name, base: url, tr: tr, wire: wire, client: &http.Client{Transport: wire}, deadline: p.Deadline}
	if !p.Deadline {
		d.client.Timeout = t.sc.ServiceTimeout
	}
	var policies []fusebox.Policy
	if p.Deadline {
		to, err := timeout.New(timeoutConfig(name+" deadline", lim.deadline))
		if err != nil {
			return nil, err
		}
		policies = append(policies, to)
	}
	if p.Bulkhead {
		bh, err := bulkhead.New(bulkheadConfig(name, lim.bulkhead))
		if err != nil {
			return nil, err
		}
		policies = append(policies, bh)
	}
	if p.Breaker {
		br, err := breaker.New(p.breakerConfig(hop))
		if err != nil {
			return nil, fmt.Errorf("breaker %s: %w", hop, err)
		}
		br.OnStateChange(func(tr breaker.Transition) {
			t.rec.addTransition(transition{breaker: hop.String(), at: t.rec.since(tr.At), to: tr.To.String()})
		})
		d.breaker = br
		policies = append(policies, br)
	}
	if p.Retry {
		budget, err := retry.NewBudget(p.budgetConfig())
		if err != nil {
			return nil, err
		}
		rp, err := retry.New(p.retryConfig(name, budget))
		if err != nil {
			return nil, err
		}
		policies = append(policies, rp)
	}
	if p.Deadline {
		to, err := timeout.New(timeoutConfig(name+" attempt", lim.attempt))
		if err != nil {
			return nil, err
		}
		policies = append(policies, to)
	}
	d.protected = len(policies) > 0
	if t.latency != nil {
		if l := t.latency(hop); l != nil {
			policies = append(policies, l)
		}
	}
	if len(policies) > 0 {
		pipe, err := fusebox.New(policies...)
		if err != nil {
			return nil, err
		}
		d.pipe = pipe
	}
	return d, nil
}

// policies returns the run's Fusebox policies by name.
func (t *topology) policies() []NamedPolicy {
	var ps []NamedPolicy
	for i, d := range t.deps() {
		if d != nil && d.protected {
			ps = append(ps, NamedPolicy{Hop(i).String(), d.pipe})
		}
	}
	if t.gatewayShed != nil {
		ps = append(ps, NamedPolicy{"gateway load shedder", t.gatewayShed})
	}
	if t.ordersShed != nil {
		ps = append(ps, NamedPolicy{"orders load shedder", t.ordersShed})
	}
	if t.payFallback != nil {
		ps = append(ps, NamedPolicy{"payment status", t.payFallback}, NamedPolicy{"payment status cache", t.payCache})
	}
	return ps
}

// stop stops every service, closes every client's idle connections and the
// cache, in the order that lets each part finish.
func (t *topology) stop() {
	for _, s := range []*service{t.gateway, t.orders, t.inventory, t.catalog} {
		if s != nil {
			s.stop()
		}
	}
	if t.payments != nil {
		t.payments.Close()
	}
	if t.payCache != nil {
		t.payCache.Close()
	}
	for _, d := range t.deps() {
		if d != nil {
			d.tr.CloseIdleConnections()
			waitZero(&d.wire.inFlight, 5*time.Second)
		}
	}
}

// setPhase makes payments behave as the phase says.
func (t *topology) setPhase(ph Phase) error {
	f, err := t.sc.phaseFault(ph)
	if err != nil {
		return err
	}
	return t.payments.Set(f)
}

// The gateway.

func (t *topology) gatewayMux() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /users/{id}", t.serveUser)
	mux.HandleFunc("GET /orders/{id}", t.serveOrderAtGateway)
	return mux
}

// serveUser answers from the gateway's own store: it depends on nothing.
func (t *topology) serveUser(w http.ResponseWriter, r *http.Request) {
	if !pause(r.Context(), t.sc.UsersLatency) {
		return
	}
	writeJSON(w, map[string]string{"id": r.PathValue("id"), "name": "user " + r.PathValue("id")})
}

func (t *topology) serveOrderAtGateway(w http.ResponseWriter, r *http.Request) {
	rep, err := t.ordersDep.get(r.Context(), "/orders/"+r.PathValue("id"))
	if err != nil {
		writeFailure(w, "orders", err)
		return
	}
	if rep.degraded != "" {
		w.Header().Set(degradedHeader, rep.degraded)
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(rep.body)
}

// The orders service.

func (t *topology) ordersMux() http.Handler { return route("GET /orders/{id}", t.serveOrder) }

// serveOrder reads the item's stock and catalog entry and the order's
// payment status, one after the other.
func (t *topology) serveOrder(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if !pause(ctx, t.sc.OrdersLatency) {
		return
	}
	id := r.PathValue("id")
	item := itemOf(id)
	stock, err := t.inventoryDep.get(ctx, "/stock/"+item)
	if err != nil {
		writeFailure(w, "inventory", err)
		return
	}
	entry, err := t.catalogDep.get(ctx, "/items/"+item)
	if err != nil {
		writeFailure(w, "catalog", err)
		return
	}
	pay, err := t.paymentStatus(ctx, id)
	if err != nil {
		writeFailure(w, "payments", err)
		return
	}
	if pay.degraded != "" {
		w.Header().Set(degradedHeader, pay.degraded)
	}
	writeJSON(w, map[string]any{
		"id":      id,
		"item":    json.RawMessage(entry.body),
		"stock":   json.RawMessage(stock.body),
		"payment": json.RawMessage(pay.body),
	})
}

// paymentStatus asks payments for the order's payment status. With the
// fallback, a failure is answered with the last status payments gave for
// the order (a degraded answer from the cache), or "unknown".
func (t *topology) paymentStatus(ctx context.Context, id string) (reply, error) {
	if t.payFallback == nil {
		return t.paymentsDep.get(ctx, "/payments/"+id)
	}
	return fusebox.Do(ctx, t.payFallback, func(ctx context.Context) (reply, error) {
		res, err := t.payCache.Get(ctx, id, func(ctx context.Context) ([]byte, error) {
			rep, err := t.paymentsDep.get(ctx, "/payments/"+id)
			return rep.body, err
		})
		if err != nil {
			return reply{}, err
		}
		rep := reply{body: res.Value}
		if res.Degraded {
			rep.degraded = "payments"
		}
		return rep, nil
	})
}

// The leaf services.

func (t *topology) servePayment(w http.ResponseWriter, r *http.Request) {
	if !pause(r.Context(), t.sc.PaymentsLatency) {
		return
	}
	writeJSON(w, map[string]string{"status": "captured"})
}

func (t *topology) serveStock(w http.ResponseWriter, r *http.Request) {
	if !pause(r.Context(), t.sc.InventoryLatency) {
		return
	}
	writeJSON(w, map[string]any{"item": r.PathValue("item"), "available": 12})
}

func (t *topology) serveItem(w http.ResponseWriter, r *http.Request) {
	if !pause(r.Context(), t.sc.CatalogLatency) {
		return
	}
	writeJSON(w, map[string]any{"item": r.PathValue("item"), "price": 1999})
}

// route returns a mux with one route.
func route(pattern string, h http.HandlerFunc) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(pattern, h)
	return mux
}

// itemOf is the catalog item of an order.
func itemOf(order string) string {
	n, _ := strconv.Atoi(order)
	return "sku-" + strconv.Itoa(n%50)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// writeFailure answers for a dependency that failed: 503 when a policy
// rejected the call, 504 when time ran out, 502 otherwise.
func writeFailure(w http.ResponseWriter, dep string, err error) {
	code := http.StatusBadGateway
	switch {
	case errors.Is(err, fusebox.ErrOpen), errors.Is(err, fusebox.ErrBulkheadFull), errors.Is(err, fusebox.ErrBudgetExhausted):
		code = http.StatusServiceUnavailable
	case errors.Is(err, fusebox.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		code = http.StatusGatewayTimeout
	}
	http.Error(w, dep+": "+err.Error(), code)
}
