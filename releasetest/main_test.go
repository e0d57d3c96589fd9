package releasetest

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the tests if a goroutine outlives them (a command's
// output copier, say).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
