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
