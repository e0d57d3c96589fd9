package fuseboxprom_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if a goroutine outlives them: policies
// driven by the tests, HTTP servers and the Prometheus process must all be
// gone.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
