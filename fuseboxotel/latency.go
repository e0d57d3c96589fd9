package fuseboxotel

import (
	"context"
	"errors"
	"fmt"
	"math"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/clock"
)

// LatencyName is the name of the latency histogram of a LatencyPolicy.
const LatencyName = "fusebox.call.duration"

// LatencyPolicy is a fusebox.Policy that records how long each call of the
// rest of the pipeline takes, in seconds, in the Float64Histogram
// LatencyName, with the attributes AttrPolicyName and AttrOutcome. Where it
// sits decides what it measures: outermost, a whole call, waits and
// retries included; inside a retry, each attempt.
//
// A LatencyPolicy is safe for concurrent use. Recording allocates nothing
// of its own: the attribute sets are built once, in NewLatencyPolicy.
type LatencyPolicy struct {
	hist       metric.Float64Histogram
	clock      clock.Clock
	classifier fusebox.Classifier
	// opts holds, per outcome index, the record options with the outcome's
	// attribute set, so Record gets a ready slice.
	opts [len(outcomes)][]metric.RecordOption
}

// NewLatencyPolicy returns a LatencyPolicy named name (the AttrPolicyName of
// its measurements) that records into a histogram made with meter. It takes
// WithClassifier, WithClock and WithBuckets. It returns an error when meter
// is nil, name is empty, the buckets are not strictly increasing and not
// negative, or the meter refuses the instrument.
func NewLatencyPolicy(meter metric.Meter, name string, opts ...Option) (*LatencyPolicy, error) {
	if meter == nil {
		return nil, errors.New("fuseboxotel: meter is nil")
	}
	if name == "" {
		return nil, errors.New("fuseboxotel: name is empty: want the policy's name")
	}
	o := options{buckets: DefaultBuckets}
	for _, op := range opts {
		if op != nil {
			op.apply(&o)
		}
	}
	for i, b := range o.buckets {
		if math.IsNaN(b) || math.IsInf(b, 0) || b < 0 || (i > 0 && b <= o.buckets[i-1]) {
			return nil, fmt.Errorf("fuseboxotel: bucket boundary %v (index %d) out of range: want finite, not negative and strictly increasing boundaries", b, i)
		}
	}
	h, err := meter.Float64Histogram(LatencyName,
		metric.WithDescription("Duration of calls through a Fusebox pipeline."),
		metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(o.buckets...),
	)
	if err != nil {
		return nil, fmt.Errorf("fuseboxotel: %s: %w", LatencyName, err)
	}
	p := &LatencyPolicy{hist: h, clock: o.clock, classifier: o.classifier}
	if p.clock == nil {
		p.clock = clock.Real()
	}
	for i, out := range outcomes {
		set := attribute.NewSet(AttrPolicyName.String(name), AttrOutcome.String(out))
		p.opts[i] = []metric.RecordOption{metric.WithAttributeSet(set)}
	}
	return p, nil
}

// Run runs next and records its duration with its outcome. A panic in next
// is recorded as a failure and goes on.
func (p *LatencyPolicy) Run(ctx context.Context, next fusebox.Next) (err error) {
	start := p.clock.Nanotime()
	finished := false
	defer func() {
		o := OutcomeFailure // a panic
		if finished {
			o = outcomeOf(ctx, err, p.classifier)
		}
		secs := float64(p.clock.Nanotime()-start) / 1e9
		p.hist.Record(ctx, secs, p.opts[outcomeIndex(o)]...)
	}()
	err = next.Run(ctx)
	finished = true
	return err
}

// Execute runs fn under the policy: Run with fusebox.NextFunc(fn).
func (p *LatencyPolicy) Execute(ctx context.Context, fn func(context.Context) error) error {
	return p.Run(ctx, fusebox.NextFunc(fn))
}
