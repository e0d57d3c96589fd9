package retry

import "strings"

// connErrs is empty: Plan 9 has no errno values, only messages (see
// isConnErrorMessage).
var connErrs []error

// isConnErrorMessage reports whether err is a refused, reset or aborted
// connection or a broken pipe. Plan 9 has no errno values, only messages.
func isConnErrorMessage(err error) bool {
	msg := err.Error()
	for _, s := range [...]string{"connection refused", "connection reset", "connection aborted", "broken pipe", "hungup"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}
