package jsonconfig

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

type sample struct {
	Name    string        `json:"name"`
	Timeout time.Duration `json:"timeout"`
	Idle    time.Duration `json:"idleTimeout,omitempty"`
	Untaged time.Duration
	Hidden  time.Duration `json:"-"`
	Count   int           `json:"count"`
}

type plainSample sample

func decode(t *testing.T, data string, s *sample) error {
	t.Helper()
	return Unmarshal([]byte(data), (*plainSample)(s), "pkg.Sample")
}

func TestUnmarshal(t *testing.T) {
	var s sample
	err := decode(t, `{"name":"x","timeout":"1.5s","idleTimeout":2000000000,"Untaged":"1m","count":3}`, &s)
	if err != nil {
		t.Fatal(err)
	}
	want := sample{Name: "x", Timeout: 1500 * time.Millisecond, Idle: 2 * time.Second, Untaged: time.Minute, Count: 3}
	if s != want {
		t.Fatalf("decoded %+v, want %+v", s, want)
	}

	// Keys match fields ignoring case, as encoding/json matches them.
	s = sample{}
	if err := decode(t, `{"TIMEOUT":"250ms","untaged":"1h"}`, &s); err != nil || s.Timeout != 250*time.Millisecond || s.Untaged != time.Hour {
		t.Fatalf("case-insensitive keys: %+v, %v", s, err)
	}

	// Absent fields, null fields and a null object leave values alone.
	s = sample{Timeout: time.Second, Count: 9}
	if err := decode(t, `{"timeout":null}`, &s); err != nil || s.Timeout != time.Second || s.Count != 9 {
		t.Fatalf("null field: %+v, %v", s, err)
	}
	if err := decode(t, `null`, &s); err != nil || s.Timeout != time.Second {
		t.Fatalf("null: %+v, %v", s, err)
	}

	// A field tagged "-" is not decoded, string or not.
	s = sample{}
	if err := decode(t, `{"Hidden":"5s"}`, &s); err != nil || s.Hidden != 0 {
		t.Fatalf("a field tagged - : %+v, %v", s, err)
	}
}

func TestUnmarshalErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"timeout":"5x"}`, `pkg.Sample.Timeout: "5x" is not a duration`},
		{`{"timeout":""}`, `pkg.Sample.Timeout: "" is not a duration`},
		{`{"timeout":1.5}`, `pkg.Sample.Timeout: 1.5 is not a duration`},
		{`{"timeout":1e9}`, `pkg.Sample.Timeout: 1e9 is not a duration`},
		{`{"timeout":99999999999999999999}`, `pkg.Sample.Timeout: 99999999999999999999 is not a duration`},
		{`{"idleTimeout":true}`, `pkg.Sample.Idle: true is not a duration`},
		{`{"timeout":{"s":1}}`, `pkg.Sample.Timeout: {"s":1} is not a duration`},
		{`{"count":"three"}`, `pkg.Sample.count`},
		{`"5s"`, `pkg.Sample: want a JSON object, got "5s"`},
		{`{"timeout":`, `pkg.Sample: unexpected end of JSON input`},
	}
	for _, tt := range tests {
		var s sample
		err := decode(t, tt.in, &s)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want one containing %q", tt.in, err, tt.want)
		}
	}
}

// Marshal still writes nanoseconds, which decode back to the same value.
func TestRoundTrip(t *testing.T) {
	in := sample{Name: "x", Timeout: 1500 * time.Millisecond, Untaged: time.Minute, Count: 3}
	data, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"timeout":1500000000`) {
		t.Fatalf("Marshal wrote %s, want the timeout in nanoseconds", data)
	}
	var out sample
	if err := decode(t, string(data), &out); err != nil || out != in {
		t.Fatalf("round trip: %+v, %v; want %+v", out, err, in)
	}
}
