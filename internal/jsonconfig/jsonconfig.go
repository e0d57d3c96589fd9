// Package jsonconfig decodes the module's Config types from JSON with
// their time.Duration fields given either as a number of nanoseconds, as
// encoding/json takes them, or as a string time.ParseDuration takes ("5s",
// "1m30s", "250ms"), as YAML decoders take them (gopkg.in/yaml.v3 does).
//
// A Config type keeps its fields' types; it gets an UnmarshalJSON method
// that converts itself to a type without methods and calls Unmarshal:
//
//	func (c *Config) UnmarshalJSON(data []byte) error {
//		type plain Config
//		return jsonconfig.Unmarshal(data, (*plain)(c), "breaker.Config")
//	}
package jsonconfig

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
)

var durationType = reflect.TypeFor[time.Duration]()

// Unmarshal decodes the JSON object data into v, a pointer to a struct,
// as json.Unmarshal would, except that each time.Duration field of the
// struct also takes a duration string. Fields absent from data keep their
// values, and a null leaves v as it is, as with json.Unmarshal. name names
// the struct in errors ("breaker.Config"): an error about a field names
// it as name.Field, with the value it could not take.
func Unmarshal(data []byte, v any, name string) error {
	trimmed := bytes.TrimSpace(data)
	if bytes.Equal(trimmed, []byte("null")) {
		return nil
	}
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return fmt.Errorf("%s: want a JSON object, got %s", name, brief(trimmed))
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(trimmed, &obj); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	t := reflect.TypeOf(v).Elem()
	changed := false
	for key, raw := range obj {
		f, ok := durationField(t, key)
		if !ok {
			continue
		}
		n, err := durationValue(raw)
		if err != nil {
			return fmt.Errorf("%s.%s: %w", name, f.Name, err)
		}
		if n != nil {
			obj[key] = n
			changed = true
		}
	}
	if changed {
		var err error
		if trimmed, err = json.Marshal(obj); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	if err := json.Unmarshal(trimmed, v); err != nil {
		if te, ok := err.(*json.UnmarshalTypeError); ok {
			// It names the struct by the method-less type's name.
			te.Struct = name
		}
		return err
	}
	return nil
}

// durationField returns the time.Duration field of t that the JSON key
// sets: the field of that name (its tag's, else its own), else one whose
// name matches it ignoring case, as encoding/json matches keys.
func durationField(t reflect.Type, key string) (reflect.StructField, bool) {
	var folded reflect.StructField
	found := false
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() || f.Type != durationType {
			continue
		}
		jsonName := f.Name
		if tag, ok := f.Tag.Lookup("json"); ok {
			tagName, _, _ := strings.Cut(tag, ",")
			if tagName == "-" {
				continue
			}
			if tagName != "" {
				jsonName = tagName
			}
		}
		if jsonName == key {
			return f, true
		}
		if !found && strings.EqualFold(jsonName, key) {
			folded, found = f, true
		}
	}
	return folded, found
}

// durationValue checks the JSON value of a duration field: a whole number
// of nanoseconds is kept (nil), a duration string is converted into one;
// anything else is an error. null is kept, and leaves the field as it is.
func durationValue(raw json.RawMessage) (json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) == 0:
		return nil, nil
	case raw[0] == '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		d, err := time.ParseDuration(s)
		if err != nil {
			return nil, fmt.Errorf("%q is not a duration: want a string such as \"1.5s\", \"300ms\" or \"1m30s\" (units ns, us, ms, s, m, h), or a whole number of nanoseconds", s)
		}
		return json.RawMessage(strconv.FormatInt(int64(d), 10)), nil
	case raw[0] == '-' || '0' <= raw[0] && raw[0] <= '9':
		if _, err := strconv.ParseInt(string(raw), 10, 64); err != nil {
			return nil, fmt.Errorf("%s is not a duration: a number is a whole number of nanoseconds, up to %d; use a string such as \"1.5s\" for fractions", raw, int64(1<<63-1))
		}
		return nil, nil
	case bytes.Equal(raw, []byte("null")):
		return nil, nil
	}
	return nil, fmt.Errorf("%s is not a duration: want a string such as \"1.5s\" or a whole number of nanoseconds", brief(raw))
}

// brief returns the start of a JSON value, for an error.
func brief(b []byte) string {
	const max = 40
	if len(b) > max {
		return string(b[:max]) + "..."
	}
	if len(b) == 0 {
		return "nothing"
	}
	return string(b)
}
