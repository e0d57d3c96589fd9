package retry

import (
	"testing"
	"time"
)

// TestJitteredDelayBounds draws the delays of many seeded policies and checks
// every one against its strategy's bounds, and that the draws do spread over
// the range rather than sit at one end.
func TestJitteredDelayBounds(t *testing.T) {
	const seeds, retries = 300, 8
	ms := time.Millisecond
	tests := []struct {
		name string
		c    Config
		// bounds returns the closed range delay n (1-based) must fall in,
		// given the previous delay.
		bounds func(n int, prev time.Duration) (lo, hi time.Duration)
	}{
		{"exponential full", Config{InitialInterval: 100 * ms, MaxInterval: 5 * time.Second},
			func(n int, _ time.Duration) (time.Duration, time.Duration) {
				hi := min(100*ms<<(n-1), 5*time.Second)
				return 0, hi
			}},
		{"exponential equal", Config{Jitter: JitterEqual, InitialInterval: 100 * ms, MaxInterval: 5 * time.Second},
			func(n int, _ time.Duration) (time.Duration, time.Duration) {
				hi := min(100*ms<<(n-1), 5*time.Second)
				return hi / 2, hi
			}},
		{"exponential full, factor 0.2", Config{JitterFactor: 0.2, InitialInterval: 100 * ms, MaxInterval: 5 * time.Second},
			func(n int, _ time.Duration) (time.Duration, time.Duration) {
				hi := min(100*ms<<(n-1), 5*time.Second)
				return hi - hi/5, hi
			}},
		{"constant full", Config{Backoff: BackoffConstant, Jitter: JitterFull, InitialInterval: time.Second},
			func(int, time.Duration) (time.Duration, time.Duration) { return 0, time.Second }},
		{"decorrelated", Config{Backoff: BackoffDecorrelated, InitialInterval: 100 * ms, MaxInterval: 3 * time.Second},
			func(_ int, prev time.Duration) (time.Duration, time.Duration) {
				return 100 * ms, min(3*prev, 3*time.Second)
			}},
		{"decorrelated, factor 0.5", Config{Backoff: BackoffDecorrelated, JitterFactor: 0.5, InitialInterval: 100 * ms, MaxInterval: 3 * time.Second},
			func(_ int, prev time.Duration) (time.Duration, time.Duration) {
				hi := min(3*prev, 3*time.Second)
				return hi - (hi-100*ms)/2, hi
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// For each retry number, the lowest and highest delay seen, as
			// fractions of the allowed range.
			lowest, highest := make([]float64, retries+1), make([]float64, retries+1)
			for n := range lowest {
				lowest[n], highest[n] = 1, 0
			}
			for seed := uint64(1); seed <= seeds; seed++ {
				c := tt.c
				c.Seed = seed
				p, err := New(c)
				if err != nil {
					t.Fatal(err)
				}
				prev := p.backoff.initial
				for n := 1; n <= retries; n++ {
					d := p.nextDelay(n, prev)
					lo, hi := tt.bounds(n, prev)
					if d < lo || d > hi {
						t.Fatalf("seed %d retry %d: delay %v outside [%v, %v]", seed, n, d, lo, hi)
					}
					if hi > lo {
						f := float64(d-lo) / float64(hi-lo)
						lowest[n], highest[n] = min(lowest[n], f), max(highest[n], f)
					}
					prev = d
				}
			}
			for n := 1; n <= retries; n++ {
				if lowest[n] > 0.05 || highest[n] < 0.95 {
					t.Errorf("retry %d: delays spread over [%.2f, %.2f] of their range, want nearly all of it", n, lowest[n], highest[n])
				}
			}
		})
	}
}

func TestDefaultsResolved(t *testing.T) {
	p, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	want := backoff{kind: BackoffExponential, jitter: JitterFull, factor: 1, initial: 100 * time.Millisecond, multiplier: 2, max: 10 * time.Second}
	if p.backoff != want {
		t.Errorf("backoff = %+v, want %+v", p.backoff, want)
	}
	if p.maxAttempts != 3 || p.maxRA != 30*time.Second || p.maxElapsed != 0 || p.rng != nil || p.clock == nil {
		t.Errorf("defaults: %+v", p)
	}
	d, _ := New(Config{Backoff: BackoffDecorrelated})
	if d.backoff.multiplier != 3 {
		t.Errorf("decorrelated multiplier = %v, want 3", d.backoff.multiplier)
	}
	c, _ := New(Config{Backoff: BackoffConstant})
	if c.backoff.jitter != JitterNone {
		t.Errorf("constant jitter = %q, want none", c.backoff.jitter)
	}
	l, _ := New(Config{InitialInterval: time.Minute})
	if l.backoff.max != time.Minute {
		t.Errorf("max with a long InitialInterval = %v, want 1m", l.backoff.max)
	}
}

func TestScaleDoesNotOverflow(t *testing.T) {
	b := backoff{kind: BackoffExponential, jitter: JitterNone, factor: 1, initial: time.Second, multiplier: 10, max: 1<<63 - 1}
	for n := 1; n < 2000; n += 97 {
		if d := b.delay(n, 0, 0); d <= 0 {
			t.Fatalf("retry %d: delay %v", n, d)
		}
	}
}
