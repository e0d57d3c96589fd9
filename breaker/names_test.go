package breaker

import "testing"

// The former name of DefaultSlowCallDuration still compiles, with the same
// value.
func TestDefaultSlowCallTimeIsDefaultSlowCallDuration(t *testing.T) {
	if DefaultSlowCallTime != DefaultSlowCallDuration {
		t.Fatalf("DefaultSlowCallTime = %v, DefaultSlowCallDuration = %v: want one value", DefaultSlowCallTime, DefaultSlowCallDuration)
	}
	s, err := Config{SlowCallRate: 0.5}.validate()
	if err != nil {
		t.Fatal(err)
	}
	if s.SlowCallDuration != DefaultSlowCallDuration {
		t.Fatalf("a zero SlowCallDuration became %v, want DefaultSlowCallDuration (%v)", s.SlowCallDuration, DefaultSlowCallDuration)
	}
}
