//go:build plan9

package fuseboxhttp

import "os"

// shutdownSignals are the signals ListenAndServe shuts down on.
var shutdownSignals = []os.Signal{os.Interrupt}
