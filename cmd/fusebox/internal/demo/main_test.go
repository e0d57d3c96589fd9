package demo

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the tests if a goroutine outlives them: every server,
// client connection, load generator request and sampler of a run must be
// gone when Run returns.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
