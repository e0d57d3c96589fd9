package fuseboxslog_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if a goroutine outlives them: every
// subscription made by a test must end.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
