package retry

import "strings"

// isConnError reports whether err is a refused, reset or aborted connection
// or a broken pipe. Plan 9 has no errno values, only messages.
func isConnError(err error) bool {
	msg := err.Error()
	for _, s := range [...]string{"connection refused", "connection reset", "connection aborted", "broken pipe", "hungup"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}
