package fuseboxprom

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/clock"
)

// Native histogram settings of the call-duration histogram.
const (
	// NativeBucketFactor is the growth factor from one native bucket to the
	// next: bucket boundaries about 10% apart, under 5% relative error.
	NativeBucketFactor = 1.1
	// NativeMaxBuckets caps the native buckets of one series; past it the
	// resolution is halved (or the histogram reset, see
	// NativeMinResetDuration), so memory stays bounded.
	NativeMaxBuckets = 160
	// NativeMinResetDuration is how long a native histogram runs before it
	// may be reset to stay within NativeMaxBuckets.
	NativeMinResetDuration = time.Hour
)

// Latency is a policy that times the rest of the pipeline: put it where the
// durations should be measured (outermost, to time what the caller waits,
// rejections and retries included; innermost, to time each attempt). Each
// call's duration goes into the histogram namespace_call_duration_seconds
// with the label name set to the Latency's name and key empty, classic
// buckets (Config.LatencyBuckets) and native buckets (NativeBucketFactor).
//
// Recording takes two clock readings and an atomic histogram update: no
// lock, no event, no allocation once the call's bucket exists. A call that
// panics is timed too.
type Latency struct {
	h   prometheus.Observer
	clk clock.Clock
}

// NewLatencyPolicy returns the latency policy named name, made on the first
// call with that name: later calls return the same one, so a registry
// factory may ask for it once per key and all the keys share one series.
// Its histogram is exported by c.
func (c *Collector) NewLatencyPolicy(name string) *Latency {
	c.mu.Lock()
	defer c.mu.Unlock()
	if l, ok := c.latencies[name]; ok {
		return l
	}
	l := &Latency{h: c.latency.WithLabelValues(name, ""), clk: c.clk}
	c.latencies[name] = l
	return l
}

// Run runs next and records how long it took.
func (l *Latency) Run(ctx context.Context, next fusebox.Next) error {
	defer l.since(l.clk.Nanotime())
	return next.Run(ctx)
}

// Execute runs fn and records how long it took: Run with
// fusebox.NextFunc(fn).
func (l *Latency) Execute(ctx context.Context, fn func(context.Context) error) error {
	return l.Run(ctx, fusebox.NextFunc(fn))
}

// Observe records a duration measured elsewhere, for code that cannot be
// wrapped in a function (a stream, a proxied request).
func (l *Latency) Observe(d time.Duration) {
	l.h.Observe(d.Seconds())
}

func (l *Latency) since(start int64) {
	l.h.Observe(float64(l.clk.Nanotime()-start) / 1e9)
}
