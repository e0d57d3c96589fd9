//go:build !plan9

package fuseboxhttp

import (
	"os"
	"syscall"
)

// shutdownSignals are the signals ListenAndServe shuts down on.
var shutdownSignals = []os.Signal{syscall.SIGTERM, os.Interrupt}
