package fallback

import "github.com/fusebox-go/fusebox/internal/jsonconfig"

// UnmarshalJSON decodes c from a JSON object as encoding/json would, except
// that a duration field takes a string such as "5s", "1m30s" or "250ms"
// (time.ParseDuration's), as YAML decoders do, as well as a whole number of
// nanoseconds. An error about a field names it (fallback.CacheConfig.Field).
// Fields absent from the object keep their values. Encoding is unchanged:
// durations are written as numbers of nanoseconds, which decode back to the
// same value. A json.Decoder's DisallowUnknownFields does not reach inside a
// type with its own UnmarshalJSON: unknown fields are ignored. A struct that
// embeds a CacheConfig gets this method too, which then decodes only the
// CacheConfig's fields: name the field (CacheConfig fallback.CacheConfig)
// instead.
func (c *CacheConfig) UnmarshalJSON(data []byte) error {
	type plain CacheConfig
	return jsonconfig.Unmarshal(data, (*plain)(c), "fallback.CacheConfig")
}
