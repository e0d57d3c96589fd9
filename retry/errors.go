package retry

import (
	"strconv"

	"github.com/fusebox-go/fusebox"
)

// Sentinel errors of the retry policy, the root package's own values:
// errors.Is(err, retry.ErrRetriesExhausted) and
// errors.Is(err, fusebox.ErrRetriesExhausted) are the same test.
var (
	// ErrRetriesExhausted: the policy gave up on a retryable error, because
	// the attempts were used up, MaxElapsed was reached, or the next attempt
	// could not have started before the context's deadline.
	ErrRetriesExhausted = fusebox.ErrRetriesExhausted
	// ErrBudgetExhausted: the retry budget refused another attempt.
	ErrBudgetExhausted = fusebox.ErrBudgetExhausted
)

// Error is the error Run returns when it stops retrying an error that was
// worth retrying. It matches Reason and the last attempt's error with
// errors.Is and errors.As.
type Error struct {
	// Attempts is the number of attempts made, the first included.
	Attempts int
	// Reason is why the policy stopped: ErrRetriesExhausted,
	// ErrBudgetExhausted, or the caller's context error when the context
	// ended while the policy was waiting to retry.
	Reason error
	// Err is the last attempt's error.
	Err error
}

// Error describes why the policy stopped and the last attempt's error.
func (e *Error) Error() string {
	var why string
	switch e.Reason {
	case ErrRetriesExhausted:
		why = "retries exhausted"
	case ErrBudgetExhausted:
		why = "retry budget exhausted"
	default:
		why = "stopped waiting to retry (" + errString(e.Reason) + ")"
	}
	n := "attempts"
	if e.Attempts == 1 {
		n = "attempt"
	}
	return "retry: " + why + " after " + strconv.Itoa(e.Attempts) + " " + n + ": " + errString(e.Err)
}

// Unwrap returns the reason and the last attempt's error, for errors.Is and
// errors.As.
func (e *Error) Unwrap() []error { return []error{e.Reason, e.Err} }

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}
