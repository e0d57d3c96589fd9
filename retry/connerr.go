//go:build !plan9

package retry

import "syscall"

// connErrs are the connection errors DefaultRetryable retries: refused,
// reset or aborted connections and broken pipes. The request did not reach
// the peer, or the connection broke under it.
var connErrs = []error{syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.ECONNABORTED, syscall.EPIPE}

// isConnErrorMessage reports whether err's message says it is a connection
// error: never needed here, where connErrs are errno values matched in
// err's tree.
func isConnErrorMessage(error) bool { return false }
