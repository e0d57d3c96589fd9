package retry

import (
	"math"
	"strings"
	"time"
)

// DefaultMaxRetryAfter is the longest a policy waits for a server's
// Retry-After when Config.MaxRetryAfter is zero.
const DefaultMaxRetryAfter = 30 * time.Second

// httpDateLayouts are the three HTTP-date forms of RFC 9110, section 5.6.7:
// IMF-fixdate, which senders must use, then the obsolete RFC 850 and asctime
// forms, which recipients must accept.
var httpDateLayouts = [...]string{
	"Mon, 02 Jan 2006 15:04:05 GMT",
	"Monday, 02-Jan-06 15:04:05 GMT",
	"Mon Jan _2 15:04:05 2006",
}

// ParseRetryAfter parses the value of a Retry-After header (RFC 9110,
// section 10.2.3): either delay-seconds, a non-negative decimal integer, or
// an HTTP-date, read relative to now. It returns the delay and true, or
// false when the value is neither. A date in the past gives zero; a number
// of seconds too large for a time.Duration gives the largest Duration.
// Surrounding spaces are ignored.
func ParseRetryAfter(value string, now time.Time) (time.Duration, bool) {
	v := strings.TrimSpace(value)
	if v == "" {
		return 0, false
	}
	if isDigits(v) {
		const maxSecs = math.MaxInt64 / int64(time.Second)
		var secs int64
		for i := 0; i < len(v); i++ {
			secs = secs*10 + int64(v[i]-'0')
			if secs > maxSecs {
				return math.MaxInt64, true
			}
		}
		return time.Duration(secs) * time.Second, true
	}
	for _, layout := range httpDateLayouts {
		t, err := time.Parse(layout, v)
		if err != nil {
			continue
		}
		d := t.Sub(now)
		if d < 0 {
			d = 0
		}
		return d, true
	}
	return 0, false
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
