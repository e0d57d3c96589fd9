package fuseboxhttp

import "github.com/fusebox-go/fusebox/internal/jsonconfig"

// UnmarshalJSON decodes c from a JSON object as encoding/json would, except
// that a duration field takes a string such as "5s", "1m30s" or "250ms"
// (time.ParseDuration's), as YAML decoders do, as well as a whole number of
// nanoseconds. An error about a field names it
// (fuseboxhttp.HealthConfig.Field). Fields absent from the object keep their
// values. Encoding is unchanged: durations are written as numbers of
// nanoseconds, which decode back to the same value. A json.Decoder's
// DisallowUnknownFields does not reach inside a type with its own
// UnmarshalJSON: unknown fields are ignored. A struct that embeds a
// HealthConfig gets this method too, which then decodes only the
// HealthConfig's fields: name the field (HealthConfig
// fuseboxhttp.HealthConfig) instead.
func (c *HealthConfig) UnmarshalJSON(data []byte) error {
	type plain HealthConfig
	return jsonconfig.Unmarshal(data, (*plain)(c), "fuseboxhttp.HealthConfig")
}

// UnmarshalJSON decodes c from a JSON object as encoding/json would, except
// that a duration field takes a string such as "5s", "1m30s" or "250ms"
// (time.ParseDuration's), as YAML decoders do, as well as a whole number of
// nanoseconds. An error about a field names it
// (fuseboxhttp.LoadShedderConfig.Field). Fields absent from the object keep
// their values. Encoding is unchanged: durations are written as numbers of
// nanoseconds, which decode back to the same value. A json.Decoder's
// DisallowUnknownFields does not reach inside a type with its own
// UnmarshalJSON: unknown fields are ignored. A struct that embeds a
// LoadShedderConfig gets this method too, which then decodes only the
// LoadShedderConfig's fields: name the field (LoadShedderConfig
// fuseboxhttp.LoadShedderConfig) instead.
func (c *LoadShedderConfig) UnmarshalJSON(data []byte) error {
	type plain LoadShedderConfig
	return jsonconfig.Unmarshal(data, (*plain)(c), "fuseboxhttp.LoadShedderConfig")
}

// UnmarshalJSON decodes c from a JSON object as encoding/json would, except
// that a duration field takes a string such as "5s", "1m30s" or "250ms"
// (time.ParseDuration's), as YAML decoders do, as well as a whole number of
// nanoseconds. An error about a field names it
// (fuseboxhttp.RateLimiterConfig.Field). Fields absent from the object keep
// their values. Encoding is unchanged: durations are written as numbers of
// nanoseconds, which decode back to the same value. A json.Decoder's
// DisallowUnknownFields does not reach inside a type with its own
// UnmarshalJSON: unknown fields are ignored. A struct that embeds a
// RateLimiterConfig gets this method too, which then decodes only the
// RateLimiterConfig's fields: name the field (RateLimiterConfig
// fuseboxhttp.RateLimiterConfig) instead.
func (c *RateLimiterConfig) UnmarshalJSON(data []byte) error {
	type plain RateLimiterConfig
	return jsonconfig.Unmarshal(data, (*plain)(c), "fuseboxhttp.RateLimiterConfig")
}

// UnmarshalJSON decodes c from a JSON object as encoding/json would, except
// that a duration field takes a string such as "5s", "1m30s" or "250ms"
// (time.ParseDuration's), as YAML decoders do, as well as a whole number of
// nanoseconds. An error about a field names it
// (fuseboxhttp.DeadlineConfig.Field). Fields absent from the object keep
// their values. Encoding is unchanged: durations are written as numbers of
// nanoseconds, which decode back to the same value. A json.Decoder's
// DisallowUnknownFields does not reach inside a type with its own
// UnmarshalJSON: unknown fields are ignored. A struct that embeds a
// DeadlineConfig gets this method too, which then decodes only the
// DeadlineConfig's fields: name the field (DeadlineConfig
// fuseboxhttp.DeadlineConfig) instead.
func (c *DeadlineConfig) UnmarshalJSON(data []byte) error {
	type plain DeadlineConfig
	return jsonconfig.Unmarshal(data, (*plain)(c), "fuseboxhttp.DeadlineConfig")
}

// UnmarshalJSON decodes c from a JSON object as encoding/json would, except
// that a duration field takes a string such as "5s", "1m30s" or "250ms"
// (time.ParseDuration's), as YAML decoders do, as well as a whole number of
// nanoseconds. An error about a field names it
// (fuseboxhttp.ShutdownConfig.Field). Fields absent from the object keep
// their values. Encoding is unchanged: durations are written as numbers of
// nanoseconds, which decode back to the same value. A json.Decoder's
// DisallowUnknownFields does not reach inside a type with its own
// UnmarshalJSON: unknown fields are ignored. A struct that embeds a
// ShutdownConfig gets this method too, which then decodes only the
// ShutdownConfig's fields: name the field (ShutdownConfig
// fuseboxhttp.ShutdownConfig) instead.
func (c *ShutdownConfig) UnmarshalJSON(data []byte) error {
	type plain ShutdownConfig
	return jsonconfig.Unmarshal(data, (*plain)(c), "fuseboxhttp.ShutdownConfig")
}
