package dashboard_test

import (
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/breaker"
	"github.com/fusebox-go/fusebox/dashboard"
)

// Mount the dashboard on an internal mux under /debug/fusebox/, showing a
// breaker with its latency, and state changes from the events bus.
func Example() {
	bus := fusebox.NewEvents()
	defer bus.Close()
	payments, err := breaker.New(breaker.Config{Name: "payments", Events: bus})
	if err != nil {
		log.Fatal(err)
	}

	d, err := dashboard.New(dashboard.Config{Events: bus})
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()
	if err := d.Add("payments", payments); err != nil {
		log.Fatal(err)
	}
	// Calls go through the breaker, and the latency policy measures them.
	pipeline, err := fusebox.New(payments, d.LatencyPolicy("payments"))
	if err != nil {
		log.Fatal(err)
	}
	_ = pipeline // pipeline.Run(ctx, callPayments) in the service

	mux := http.NewServeMux()
	mux.Handle("/debug/fusebox/", http.StripPrefix("/debug/fusebox", d))
	// http.ListenAndServe("127.0.0.1:6060", mux) in the service; here a
	// test server, and one look at the JSON status.
	srv := httptest.NewServer(mux)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/debug/fusebox/status.json")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	var st dashboard.Status
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		log.Fatal(err)
	}
	for _, p := range st.Policies {
		fmt.Println(p.Name, p.Kind, p.State, p.Latency != nil)
	}
	// Output:
	// payments breaker closed true
}

// Guard the dashboard with a read token: a script sends it as a bearer
// header; an operator opens the page once as /?token=<token>, and the
// cookie that answer sets lets the page and its event stream in.
func ExampleConfig_readToken() {
	d, err := dashboard.New(dashboard.Config{
		ReadToken: "read-0123456789abcdef", // from a secret store in a service
	})
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()
	srv := httptest.NewServer(d)
	defer srv.Close()

	get := func(path, auth string) *http.Response {
		req, err := http.NewRequest("GET", srv.URL+path, nil)
		if err != nil {
			log.Fatal(err)
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	fmt.Println("no token:", get("/status.json", "").StatusCode)
	fmt.Println("bearer token:", get("/status.json", "Bearer read-0123456789abcdef").StatusCode)
	page := get("/?token=read-0123456789abcdef", "")
	c := page.Cookies()[0]
	fmt.Println("page with ?token=:", page.StatusCode, "cookie HttpOnly:", c.HttpOnly, "SameSite=Strict:", c.SameSite == http.SameSiteStrictMode)
	// Output:
	// no token: 401
	// bearer token: 200
	// page with ?token=: 200 cookie HttpOnly: true SameSite=Strict: true
}

// Bound the open event streams: one more gets 503 and a Retry-After, and
// is counted in the status.
func ExampleConfig_maxStreams() {
	d, err := dashboard.New(dashboard.Config{MaxStreams: 1})
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()
	srv := httptest.NewServer(d)
	defer srv.Close()

	first, err := http.Get(srv.URL + "/events")
	if err != nil {
		log.Fatal(err)
	}
	defer first.Body.Close() // before srv.Close, which waits for the stream
	second, err := http.Get(srv.URL + "/events")
	if err != nil {
		log.Fatal(err)
	}
	second.Body.Close()
	fmt.Println(first.StatusCode, second.StatusCode, "Retry-After:", second.Header.Get("Retry-After"))
	fmt.Println("refused:", d.Status().StreamsRefused)
	// Output:
	// 200 503 Retry-After: 5
	// refused: 1
}
