package breaker

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fusebox-go/fusebox/clock"
)

func TestConfigValidation(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name  string
		cfg   Config
		field string // the error must name it; "" means valid
	}{
		{"zero", Config{}, ""},
		{"count window", Config{Window: CountWindow}, ""},
		{"unknown window kind", Config{Window: "sliding"}, "Window"},
		{"window kind is case-sensitive", Config{Window: "Time"}, "Window"},
		{"negative WindowBuckets", Config{WindowBuckets: -1}, "WindowBuckets"},
		{"too many WindowBuckets", Config{WindowBuckets: 1001}, "WindowBuckets"},
		{"1000 WindowBuckets", Config{WindowBuckets: 1000}, ""},
		{"negative WindowDuration", Config{WindowDuration: -time.Second}, "WindowDuration"},
		{"WindowDuration not a multiple of buckets", Config{WindowDuration: 10*time.Second + 1}, "WindowDuration"},
		{"WindowDuration not a multiple of explicit buckets", Config{WindowDuration: time.Second, WindowBuckets: 7}, "WindowDuration"},
		{"odd WindowDuration is fine for a count window", Config{Window: CountWindow, WindowDuration: time.Second + 1}, ""},
		{"negative WindowSize", Config{Window: CountWindow, WindowSize: -1}, "WindowSize"},
		{"too large WindowSize", Config{Window: CountWindow, WindowSize: 1 << 21}, "WindowSize"},
		{"largest WindowSize", Config{Window: CountWindow, WindowSize: 1 << 20}, ""},
		{"negative MinimumCalls", Config{MinimumCalls: -1}, "MinimumCalls"},
		{"MinimumCalls above WindowSize", Config{Window: CountWindow, WindowSize: 10, MinimumCalls: 11}, "MinimumCalls"},
		{"MinimumCalls equal to WindowSize", Config{Window: CountWindow, WindowSize: 10, MinimumCalls: 10}, ""},
		{"MinimumCalls above WindowSize is fine for a time window", Config{WindowSize: 10, MinimumCalls: 11}, ""},
		{"negative FailureRate", Config{FailureRate: -0.1}, "FailureRate"},
		{"FailureRate above 1", Config{FailureRate: 1.01}, "FailureRate"},
		{"NaN FailureRate", Config{FailureRate: nan}, "FailureRate"},
		{"infinite FailureRate", Config{FailureRate: math.Inf(1)}, "FailureRate"},
		{"FailureRate 1", Config{FailureRate: 1}, ""},
		{"negative SlowCallRate", Config{SlowCallRate: -0.5}, "SlowCallRate"},
		{"SlowCallRate above 1", Config{SlowCallRate: 2}, "SlowCallRate"},
		{"NaN SlowCallRate", Config{SlowCallRate: nan}, "SlowCallRate"},
		{"negative SlowCallDuration", Config{SlowCallDuration: -1}, "SlowCallDuration"},
		{"negative ConsecutiveFailures", Config{ConsecutiveFailures: -1}, "ConsecutiveFailures"},
		{"negative OpenDuration", Config{OpenDuration: -time.Second}, "OpenDuration"},
		{"negative MaxOpenDuration", Config{MaxOpenDuration: -time.Second}, "MaxOpenDuration"},
		{"MaxOpenDuration below OpenDuration", Config{OpenDuration: 10 * time.Second, MaxOpenDuration: 9 * time.Second}, "MaxOpenDuration"},
		{"MaxOpenDuration below the default OpenDuration", Config{MaxOpenDuration: time.Second}, "MaxOpenDuration"},
		{"MaxOpenDuration equal to OpenDuration", Config{OpenDuration: time.Second, MaxOpenDuration: time.Second}, ""},
		{"negative OpenBackoff", Config{OpenBackoff: -2}, "OpenBackoff"},
		{"OpenBackoff below 1", Config{OpenBackoff: 0.5}, "OpenBackoff"},
		{"OpenBackoff above 100", Config{OpenBackoff: 101}, "OpenBackoff"},
		{"NaN OpenBackoff", Config{OpenBackoff: nan}, "OpenBackoff"},
		{"OpenBackoff 1", Config{OpenBackoff: 1}, ""},
		{"negative OpenJitter", Config{OpenJitter: -0.1}, "OpenJitter"},
		{"OpenJitter above 1", Config{OpenJitter: 1.5}, "OpenJitter"},
		{"NaN OpenJitter", Config{OpenJitter: nan}, "OpenJitter"},
		{"OpenJitter 1", Config{OpenJitter: 1}, ""},
		{"negative HalfOpenProbes", Config{HalfOpenProbes: -1}, "HalfOpenProbes"},
		{"too many HalfOpenProbes", Config{HalfOpenProbes: 1001}, "HalfOpenProbes"},
		{"1000 HalfOpenProbes", Config{HalfOpenProbes: 1000}, ""},
		{"negative HalfOpenSuccesses", Config{HalfOpenSuccesses: -1}, "HalfOpenSuccesses"},
		{"negative HalfOpenMaxWait", Config{HalfOpenMaxWait: -1}, "HalfOpenMaxWait"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Clock = newFake()
			b, err := New(tt.cfg)
			verr := tt.cfg.Validate()
			if (err == nil) != (verr == nil) {
				t.Fatalf("New error %v but Validate error %v", err, verr)
			}
			if tt.field == "" {
				if err != nil || b == nil {
					t.Fatalf("New = %v, %v; want a breaker", b, err)
				}
				return
			}
			if err == nil || b != nil {
				t.Fatalf("New = %v, %v; want an error naming %s", b, err, tt.field)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "breaker: "+tt.field+" ") {
				t.Errorf("error %q does not start with %q", msg, "breaker: "+tt.field+" ")
			}
			if !strings.Contains(msg, "want") && !strings.Contains(msg, "exceeds") && !strings.Contains(msg, "multiple") {
				t.Errorf("error %q does not say what is allowed", msg)
			}
		})
	}
}

// The count fields kept in 32 bits (ConsecutiveFailures, MinimumCalls,
// HalfOpenSuccesses) reject what does not fit, instead of wrapping (2^32+1
// became 1, 2^32 became 0 = off), and honour the largest value that does
// (HalfOpenSuccesses 2^31 was compared as a negative int32: one probe
// closed the breaker).
func TestConfigCountFieldsRange(t *testing.T) {
	if strconv.IntSize < 64 {
		t.Skip("an int of 32 bits cannot exceed the range")
	}
	var wide int64 = math.MaxUint32 // a variable: int(constant) would not compile on 32-bit
	largest, above, wrapsToOne := int(wide), int(wide+1), int(wide+2)
	tests := []struct {
		field string
		set   func(c *Config, v int)
		get   func(c Config) int
	}{
		{"ConsecutiveFailures", func(c *Config, v int) { c.ConsecutiveFailures = v }, func(c Config) int { return c.ConsecutiveFailures }},
		{"MinimumCalls", func(c *Config, v int) { c.MinimumCalls = v }, func(c Config) int { return c.MinimumCalls }},
		{"HalfOpenSuccesses", func(c *Config, v int) { c.HalfOpenSuccesses = v }, func(c Config) int { return c.HalfOpenSuccesses }},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			for _, v := range []int{above, wrapsToOne, math.MaxInt} {
				c := Config{Clock: newFake()}
				tt.set(&c, v)
				b, err := New(c)
				if err == nil {
					t.Errorf("%s %d: New accepted it (Config() says %d)", tt.field, v, tt.get(b.Config()))
					continue
				}
				want := fmt.Sprintf("breaker: %s %d out of range: want ", tt.field, v)
				if !strings.HasPrefix(err.Error(), want) || !strings.HasSuffix(err.Error(), " to 4294967295") {
					t.Errorf("%s %d: error %q, want %q... to 4294967295", tt.field, v, err, want)
				}
			}
			c := Config{Clock: newFake()}
			tt.set(&c, largest)
			b, err := New(c)
			if err != nil {
				t.Fatalf("%s %d: %v", tt.field, largest, err)
			}
			if got := tt.get(b.Config()); got != largest {
				t.Errorf("%s %d: Config() says %d", tt.field, largest, got)
			}
		})
	}
	t.Run("HalfOpenSuccesses 2^31 needs 2^31 successes", func(t *testing.T) {
		b, clk := mustNew(t, Config{ConsecutiveFailures: 1, OpenDuration: time.Second, HalfOpenProbes: 1, HalfOpenSuccesses: int(wide/2 + 1)})
		b.Trip()
		clk.Advance(time.Second)
		call(t, b, ok)
		call(t, b, ok)
		if s := b.Snapshot(); s.State != HalfOpen || s.ProbeSuccesses != 2 {
			t.Errorf("after 2 successful probes: state %v, ProbeSuccesses %d; want half-open, 2", s.State, s.ProbeSuccesses)
		}
	})
	t.Run("ConsecutiveFailures 2^32-1 is not 1", func(t *testing.T) {
		b, _ := mustNew(t, Config{Window: CountWindow, ConsecutiveFailures: largest})
		call(t, b, bad)
		call(t, b, bad)
		if s := b.Snapshot(); s.State != Closed || s.ConsecutiveFailures != 2 {
			t.Errorf("after 2 failures: state %v, run %d; want closed, 2", s.State, s.ConsecutiveFailures)
		}
	})
}

func TestConfigDefaults(t *testing.T) {
	fc := newFake()
	b, err := New(Config{Clock: fc})
	if err != nil {
		t.Fatal(err)
	}
	got := b.Config()
	if got.Clock != fc {
		t.Errorf("Clock = %v, want the configured fake", got.Clock)
	}
	got.Clock = nil
	want := Config{
		Window:            TimeWindow,
		WindowDuration:    10 * time.Second,
		WindowBuckets:     10,
		WindowSize:        100,
		MinimumCalls:      20,
		FailureRate:       0.5,
		OpenDuration:      5 * time.Second,
		MaxOpenDuration:   5 * time.Second, // constant
		OpenBackoff:       2,
		HalfOpenProbes:    3,
		HalfOpenSuccesses: 3,
		HalfOpenMaxWait:   10 * time.Second,
	}
	if !configEqual(got, want) {
		t.Errorf("Config() of a zero Config =\n%+v\nwant\n%+v", got, want)
	}
	if err := (Config{}).Validate(); err != nil {
		t.Errorf("zero Config: %v", err)
	}
	// With no clock the breaker uses the shared coarse clock.
	if c := (Config{}); c.Validate() == nil {
		nb, _ := New(Config{})
		if nb.Config().Clock != clock.Default() {
			t.Errorf("default Clock = %v, want clock.Default()", nb.Config().Clock)
		}
		clock.Default().Stop() // leave no refresh goroutine behind
	}
}

func TestConfigDefaultsDependOnOtherFields(t *testing.T) {
	tests := []struct {
		name  string
		cfg   Config
		check func(c Config) bool
	}{
		{"small count window: MinimumCalls is its size", Config{Window: CountWindow, WindowSize: 5},
			func(c Config) bool { return c.MinimumCalls == 5 }},
		{"time window: MinimumCalls 20 whatever WindowSize", Config{WindowSize: 5},
			func(c Config) bool { return c.MinimumCalls == 20 }},
		{"a consecutive trip alone: no default FailureRate", Config{ConsecutiveFailures: 5},
			func(c Config) bool { return c.FailureRate == 0 && c.ConsecutiveFailures == 5 }},
		{"a slow-call rate alone: no default FailureRate, 5s threshold", Config{SlowCallRate: 0.5},
			func(c Config) bool { return c.FailureRate == 0 && c.SlowCallDuration == 5*time.Second }},
		{"HalfOpenSuccesses follows HalfOpenProbes", Config{HalfOpenProbes: 7},
			func(c Config) bool { return c.HalfOpenSuccesses == 7 }},
		{"explicit HalfOpenSuccesses kept", Config{HalfOpenProbes: 2, HalfOpenSuccesses: 5},
			func(c Config) bool { return c.HalfOpenSuccesses == 5 }},
		{"MaxOpenDuration follows OpenDuration", Config{OpenDuration: time.Minute},
			func(c Config) bool { return c.MaxOpenDuration == time.Minute }},
		{"explicit values kept", Config{Name: "n", WindowDuration: time.Minute, WindowBuckets: 60, FailureRate: 0.25, OpenJitter: 0.1, AutoHalfOpen: true},
			func(c Config) bool {
				return c.Name == "n" && c.WindowDuration == time.Minute && c.WindowBuckets == 60 && c.FailureRate == 0.25 && c.OpenJitter == 0.1 && c.AutoHalfOpen
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Clock = newFake()
			b, err := New(tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if c := b.Config(); !tt.check(c) {
				t.Errorf("Config() = %+v", c)
			}
			if b.Name() != tt.cfg.Name {
				t.Errorf("Name() = %q, want %q", b.Name(), tt.cfg.Name)
			}
		})
	}
}

// configEqual compares the comparable fields of two configs.
func configEqual(a, b Config) bool {
	a.Classifier, b.Classifier = nil, nil
	a.OnStateChange, b.OnStateChange = nil, nil
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb) && a.Clock == b.Clock
}

// Config round-trips through JSON with lowerCamel keys.
func TestConfigJSON(t *testing.T) {
	in := Config{Name: "api", Window: CountWindow, WindowSize: 50, FailureRate: 0.3, OpenDuration: 3 * time.Second, AutoHalfOpen: true}
	data, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"name":"api"`, `"window":"count"`, `"windowSize":50`, `"failureRate":0.3`, `"openDuration":3000000000`, `"autoHalfOpen":true`} {
		if !strings.Contains(string(data), key) {
			t.Errorf("JSON %s lacks %s", data, key)
		}
	}
	var out Config
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	if !configEqual(in, out) {
		t.Errorf("round trip: %+v, want %+v", out, in)
	}
}

func TestStateNames(t *testing.T) {
	want := []string{"closed", "open", "half-open", "forced-open", "disabled", "metrics-only"}
	if len(States) != len(want) {
		t.Fatalf("States has %d states, want %d", len(States), len(want))
	}
	for i, s := range States {
		if State(i) != s || s.String() != want[i] {
			t.Errorf("States[%d] = %d %q, want %d %q", i, s, s.String(), i, want[i])
		}
		text, err := s.MarshalText()
		if err != nil || string(text) != want[i] {
			t.Errorf("MarshalText = %q, %v", text, err)
		}
		var back State
		if err := back.UnmarshalText(text); err != nil || back != s {
			t.Errorf("UnmarshalText(%q) = %v, %v", text, back, err)
		}
	}
	var s State
	if err := s.UnmarshalText([]byte("ajar")); err == nil {
		t.Error("UnmarshalText of an unknown name succeeded")
	}
	for _, tc := range []struct {
		s    State
		want string
	}{{6, "state(6)"}, {9, "state(9)"}, {12, "state(12)"}, {255, "state(255)"}} {
		if got := tc.s.String(); got != tc.want {
			t.Errorf("State(%d).String() = %q, want %q", tc.s, got, tc.want)
		}
	}
}

func TestSnapshotJSON(t *testing.T) {
	b, _ := mustNew(t, Config{Name: "j", ConsecutiveFailures: 1})
	call(t, b, bad)
	data, err := json.Marshal(b.Snapshot())
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"name":"j"`, `"state":"open"`, `"failures":1`, `"reason":"consecutive failures"`, `"transitions":1`, `"lateOutcomes":0`} {
		if !strings.Contains(string(data), key) {
			t.Errorf("snapshot JSON %s lacks %s", data, key)
		}
	}
	var back Snapshot
	if err := json.Unmarshal(data, &back); err != nil || back.State != Open || back.Failures != 1 {
		t.Errorf("unmarshal: %+v, %v", back, err)
	}
}
