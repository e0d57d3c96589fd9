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
// close its rows and its database.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// TestRun runs the example as `go run` would: rows read without Hold die
// with the call, rows read with it do not, and the deadline still holds.
func TestRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, &out); err != nil {
		t.Fatalf("run: %v\noutput:\n%s", err, &out)
	}
	for _, want := range []string{
		"read 0 of 5 rows, then: context canceled\n",
		"read 5 of 5 rows, total 5015 cents\n",
		"of 50 rows, then: context deadline exceeded\n",
		"breaker closed: 3 queries, 0 failures\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("no %q in the output:\n%s", want, &out)
		}
	}
}
