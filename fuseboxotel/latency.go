package fuseboxotel

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"sync"

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
//
// Buckets are per meter, not per policy: every LatencyPolicy of a meter
// records into the one LatencyName histogram the meter holds, whose bucket
// boundaries are those of the first policy (OpenTelemetry identifies an
// instrument by its name, kind, unit and description, all fixed here, and
// hands the first one back to later requests whatever boundaries they
// advise). So NewLatencyPolicy also returns an
// error when an earlier LatencyPolicy of the same meter asked for other
// buckets: give all the policies of a meter the same WithBuckets, or use
// meters of different instrumentation scopes. This is checked for meters
// whose type is a pointer, as the SDK's and otel.Meter's are; the package
// remembers each such meter, and its buckets, for the life of the program.
// A view on the MeterProvider overrides the buckets of all of them.
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
	claimed, err := claimBuckets(meter, name, o.buckets)
	if err != nil {
		return nil, err
	}
	h, err := meter.Float64Histogram(LatencyName,
		metric.WithDescription("Duration of calls through a Fusebox pipeline."),
		metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(o.buckets...),
	)
	if err != nil {
		if claimed {
			releaseBuckets(meter)
		}
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

// latencyBuckets remembers, per meter, the bucket boundaries its LatencyName
// histogram was made with, and by which policy.
var latencyBuckets struct {
	mu sync.Mutex
	m  map[metric.Meter]latencyInstrument // requires mu
}

type latencyInstrument struct {
	buckets []float64
	policy  string
}

// claimBuckets records that policy makes meter's LatencyName histogram with
// buckets, unless an earlier policy did (claimed false): then it returns an
// error if that policy's buckets differ. Meters whose type is not a pointer
// (noop.Meter, a shut-down provider's meter) are not checked: two such
// values can be equal and yet be different meters.
func claimBuckets(meter metric.Meter, policy string, buckets []float64) (claimed bool, err error) {
	if reflect.TypeOf(meter).Kind() != reflect.Pointer {
		return false, nil
	}
	latencyBuckets.mu.Lock()
	defer latencyBuckets.mu.Unlock()
	if have, ok := latencyBuckets.m[meter]; ok {
		if !slices.Equal(have.buckets, buckets) {
			return false, fmt.Errorf("fuseboxotel: latency policy %q asks for buckets %v, but this meter's %s histogram already has buckets %v (of policy %q): buckets are per meter; give every LatencyPolicy of a meter the same WithBuckets, or use another meter",
				policy, buckets, LatencyName, have.buckets, have.policy)
		}
		return false, nil
	}
	if latencyBuckets.m == nil {
		latencyBuckets.m = make(map[metric.Meter]latencyInstrument)
	}
	latencyBuckets.m[meter] = latencyInstrument{buckets: slices.Clone(buckets), policy: policy}
	return true, nil
}

// releaseBuckets forgets meter's claim, after it refused the instrument.
func releaseBuckets(meter metric.Meter) {
	latencyBuckets.mu.Lock()
	delete(latencyBuckets.m, meter)
	latencyBuckets.mu.Unlock()
}
