package fuseboxotel

import (
	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/breaker"
	"github.com/fusebox-go/fusebox/clock"
)

// Option configures a LatencyPolicy or a TracingPolicy. Each option says
// which of them it applies to; the other ignores it.
type Option interface {
	apply(*options)
}

type options struct {
	classifier fusebox.Classifier
	clock      clock.Clock
	buckets    []float64
	breakers   []*breaker.Breaker
}

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

// DefaultBuckets are the bucket boundaries, in seconds, of the latency
// histogram when WithBuckets is not given: those OpenTelemetry's semantic
// conventions advise for HTTP durations, from 5 ms to 10 s.
var DefaultBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}

// WithClassifier sets the classifier that judges a call's error (both
// policies). nil, the default, means fusebox.DefaultClassifier. Whatever it
// says, a call whose caller's context ended is "ignored", and a rejection by
// a policy is "rejected".
func WithClassifier(c fusebox.Classifier) Option {
	return optionFunc(func(o *options) { o.classifier = c })
}

// WithClock sets the clock a LatencyPolicy measures durations with. nil,
// the default, means clock.Real(): a coarse clock is too coarse for
// latencies.
func WithClock(c clock.Clock) Option {
	return optionFunc(func(o *options) { o.clock = c })
}

// WithBuckets sets the latency histogram's bucket boundaries in seconds
// (LatencyPolicy): strictly increasing, not negative. The default is
// DefaultBuckets. The histogram is one per meter, so its buckets are too:
// NewLatencyPolicy returns an error when another LatencyPolicy of the same
// meter asked for different ones. A view configured on the MeterProvider
// overrides them.
func WithBuckets(bounds ...float64) Option {
	b := append([]float64(nil), bounds...)
	return optionFunc(func(o *options) { o.buckets = b })
}

// WithBreaker makes a TracingPolicy watch b: when b's state differs after
// the call from what it was before, an EventStateChange span event is added
// to the current span. Give it several times to watch several breakers.
func WithBreaker(b *breaker.Breaker) Option {
	return optionFunc(func(o *options) { o.breakers = append(o.breakers, b) })
}
