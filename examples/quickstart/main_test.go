package main

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the test if a goroutine outlives it.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// TestRun runs the example as `go run` would.
func TestRun(t *testing.T) {
	if err := run(); err != nil {
		t.Fatal(err)
	}
}
