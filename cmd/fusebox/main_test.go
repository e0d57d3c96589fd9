package main

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the tests if a goroutine outlives them: a demo run from
// the command line must stop everything it started.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
