package chaos

import "github.com/fusebox-go/fusebox/internal/jsonconfig"

// UnmarshalJSON decodes f from a JSON object as encoding/json would, except
// that Duration and Jitter take a string such as "5s", "1m30s" or "250ms"
// (time.ParseDuration's), as YAML decoders do, as well as a whole number of
// nanoseconds. An error about a field names it (chaos.LatencyFault.Field).
// Fields absent from the object keep their values. Encoding is unchanged:
// durations are written as numbers of nanoseconds, which decode back to the
// same value. A json.Decoder's DisallowUnknownFields does not reach inside a
// type with its own UnmarshalJSON: unknown fields are ignored.
func (f *LatencyFault) UnmarshalJSON(data []byte) error {
	type plain LatencyFault
	return jsonconfig.Unmarshal(data, (*plain)(f), "chaos.LatencyFault")
}
