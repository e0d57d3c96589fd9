package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestMain fails the test if a goroutine outlives it: the example must
// stop its server and close its connections.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// TestRun runs the example as `go run` would, and checks each part's
// answer.
func TestRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, &out); err != nil {
		t.Fatalf("run: %v\noutput:\n%s", err, &out)
	}
	for _, want := range []string{
		"GET /startupz: 503 cache not warmed up yet\nGET /startupz: 200 ok\n",
		"GET /hello as web, budget 250ms: 200 hello, within the caller's 250ms\n",
		"GET /hello as web: 200 hello, within the server's 2s\n",
		"GET /hello as web: 503 server overloaded: retry later (Retry-After: 1)\n",
		"GET /hello as batch-job: 429 too many requests: retry later (Retry-After: 1)\n",
		"GET /bug as mobile: 500 Internal Server Error\nGET /hello as mobile: 200",
		"GET /readyz: 503 shutting down\nGET /hello as mobile: 200 hello, within the server's 2s\nGET /report as analytics: 200 report\n",
		"closed: event bus\nclosed: database pool\n-- stopped\nGET /hello as mobile: connection refused\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("no %q in the output:\n%s", want, &out)
		}
	}
	if n := strings.Count(out.String(), "as batch-job: 200"); n != 5 {
		t.Errorf("batch-job got %d answers, want 5 (the burst):\n%s", n, &out)
	}
}
