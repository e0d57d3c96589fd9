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

// TestRun runs the example as `go run` would, and checks what each
// interceptor did.
func TestRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, &out); err != nil {
		t.Fatalf("run: %v\noutput:\n%s", err, &out)
	}
	for _, want := range []string{
		"Stock flaky:   RPCs that reached the server: 2  OK, 42 in stock  breaker closed\n",
		"Stock slow:    RPCs that reached the server: 2  OK, 42 in stock  breaker closed\n",
		"Stock down:    RPCs that reached the server: 3  Unavailable, retries exhausted  breaker open\n",
		"Stock down:    RPCs that reached the server: 0  Unavailable, rejected by the open breaker  breaker open\n",
		"refused (rpc error: code = ResourceExhausted desc = fusebox: rate limited)\n",
		"tenant storefront meanwhile: OK, 42 in stock\n",
		"Stock of a SKU whose handler panics: Internal: fuseboxgrpc: the server's handler panicked\nand the next RPC: OK, 42 in stock\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("no %q in the output:\n%s", want, &out)
		}
	}
}
