package chaos

import (
	"testing"

	"github.com/fusebox-go/fusebox"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var _ fusebox.Policy = (*Injector)(nil)
