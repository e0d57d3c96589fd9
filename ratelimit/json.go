package ratelimit

import "github.com/fusebox-go/fusebox/internal/jsonconfig"

// UnmarshalJSON decodes c from a JSON object as encoding/json would, except
// that a duration field takes a string such as "5s", "1m30s" or "250ms"
// (time.ParseDuration's), as YAML decoders do, as well as a whole number of
// nanoseconds. An error about a field names it (ratelimit.Config.Field).
// Fields absent from the object keep their values. Encoding is unchanged:
// durations are written as numbers of nanoseconds, which decode back to the
// same value. A json.Decoder's DisallowUnknownFields does not reach inside a
// type with its own UnmarshalJSON: unknown fields are ignored. A struct that
// embeds a Config gets this method too, which then decodes only the Config's
// fields: name the field (Config ratelimit.Config) instead.
func (c *Config) UnmarshalJSON(data []byte) error {
	type plain Config
	return jsonconfig.Unmarshal(data, (*plain)(c), "ratelimit.Config")
}

// UnmarshalJSON decodes c from a JSON object as encoding/json would, except
// that a duration field takes a string such as "5s", "1m30s" or "250ms"
// (time.ParseDuration's), as YAML decoders do, as well as a whole number of
// nanoseconds. An error about a field names it
// (ratelimit.WindowConfig.Field). Fields absent from the object keep their
// values. Encoding is unchanged: durations are written as numbers of
// nanoseconds, which decode back to the same value. A json.Decoder's
// DisallowUnknownFields does not reach inside a type with its own
// UnmarshalJSON: unknown fields are ignored. A struct that embeds a
// WindowConfig gets this method too, which then decodes only the
// WindowConfig's fields: name the field (WindowConfig
// ratelimit.WindowConfig) instead.
func (c *WindowConfig) UnmarshalJSON(data []byte) error {
	type plain WindowConfig
	return jsonconfig.Unmarshal(data, (*plain)(c), "ratelimit.WindowConfig")
}

// UnmarshalJSON decodes c from a JSON object as encoding/json would, except
// that a duration field takes a string such as "5s", "1m30s" or "250ms"
// (time.ParseDuration's), as YAML decoders do, as well as a whole number of
// nanoseconds. An error about a field names it
// (ratelimit.KeyedConfig.Field). Fields absent from the object keep their
// values. Encoding is unchanged: durations are written as numbers of
// nanoseconds, which decode back to the same value. A json.Decoder's
// DisallowUnknownFields does not reach inside a type with its own
// UnmarshalJSON: unknown fields are ignored. A struct that embeds a
// KeyedConfig gets this method too, which then decodes only the
// KeyedConfig's fields: name the field (KeyedConfig ratelimit.KeyedConfig)
// instead.
func (c *KeyedConfig) UnmarshalJSON(data []byte) error {
	type plain KeyedConfig
	return jsonconfig.Unmarshal(data, (*plain)(c), "ratelimit.KeyedConfig")
}
