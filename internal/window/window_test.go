package window

import "testing"

func TestCountsRates(t *testing.T) {
	tests := []struct {
		c          Counts
		fail, slow float64
	}{
		{Counts{}, 0, 0},
		{Counts{Ignored: 5}, 0, 0},
		{Counts{Calls: 4}, 0, 0},
		{Counts{Calls: 4, Failures: 1, Slow: 3}, 0.25, 0.75},
		{Counts{Calls: 2, Failures: 2, Slow: 2, Ignored: 9}, 1, 1},
	}
	for _, tt := range tests {
		if got := tt.c.FailureRate(); got != tt.fail {
			t.Errorf("%+v.FailureRate() = %v, want %v", tt.c, got, tt.fail)
		}
		if got := tt.c.SlowRate(); got != tt.slow {
			t.Errorf("%+v.SlowRate() = %v, want %v", tt.c, got, tt.slow)
		}
	}
}

// countOf is the contribution of one record of kind k: the documented
// meaning of the Kind bits, written independently of the windows.
func countOf(k Kind) Counts {
	if k&Ignored != 0 {
		return Counts{Ignored: 1}
	}
	c := Counts{Calls: 1}
	if k&FailureBit != 0 {
		c.Failures = 1
	}
	if k&SlowBit != 0 {
		c.Slow = 1
	}
	return c
}

func (c Counts) plus(o Counts) Counts {
	return Counts{c.Calls + o.Calls, c.Failures + o.Failures, c.Slow + o.Slow, c.Ignored + o.Ignored}
}

func (c Counts) times(n uint64) Counts {
	return Counts{c.Calls * n, c.Failures * n, c.Slow * n, c.Ignored * n}
}
