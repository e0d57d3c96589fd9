package fuseboxprom_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/breaker"
	"github.com/fusebox-go/fusebox/clock"
	"github.com/fusebox-go/fusebox/fuseboxhttp"
	"github.com/fusebox-go/fusebox/fuseboxprom"
)

// A fuseboxhttp RoundTripper built with WithPipeline exposes its per-host
// breakers as a registry does: AddRegistry exports one series per host.
func TestRoundTripperPerHostBreakers(t *testing.T) {
	fc := clock.NewFake(time.Time{})
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer down.Close()
	base := &http.Transport{}
	defer base.CloseIdleConnections()
	rt, err := fuseboxhttp.NewRoundTripper(base, fuseboxhttp.WithPipeline(func(key string) (*fusebox.Pipeline, error) {
		br, err := breaker.New(breaker.Config{Name: key, ConsecutiveFailures: 2, OpenDuration: time.Hour, Clock: fc})
		if err != nil {
			return nil, err
		}
		return fusebox.New(br)
	}))
	if err != nil {
		t.Fatal(err)
	}
	col := newCollector(t, fuseboxprom.Config{})
	if err := col.AddRegistry("hosts", rt); err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Transport: rt}
	for i := 0; i < 2; i++ {
		resp, err := c.Get(down.URL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	want := `
# HELP fusebox_breaker_transitions_total State transitions of a circuit breaker.
# TYPE fusebox_breaker_transitions_total counter
fusebox_breaker_transitions_total{key="` + down.URL + `",name="hosts"} 1
`
	if err := testutil.CollectAndCompare(col, strings.NewReader(want), "fusebox_breaker_transitions_total"); err != nil {
		t.Fatal(err)
	}
}
