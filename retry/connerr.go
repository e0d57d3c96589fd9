//go:build !plan9

package retry

import (
	"errors"
	"syscall"
)

// isConnError reports whether err is a refused, reset or aborted connection
// or a broken pipe: the request did not reach the peer, or the connection
// broke under it.
func isConnError(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ECONNABORTED) ||
		errors.Is(err, syscall.EPIPE)
}
