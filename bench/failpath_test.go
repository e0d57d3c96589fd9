package bench

// The failure path (issue 11): during an outage most calls fail or are
// rejected, so what a failure costs on its way out through a retry policy
// matters as much as what a success costs. Each scenario runs the same call
// through two pipelines built once: one without the retry policy
// (retry=without) and one with it (retry=with), so that
//
//	benchstat -col /retry failpath.txt
//
// shows, per scenario, the time and allocations the retry adds.
// BenchmarkFailPathPaired runs the same scenarios with both pipelines in one
// loop, which a noisy machine's drift cannot tell apart, and reports the
// retry's added ns per call directly. Every result is checked: a scenario
// that retries, or returns something other than the error it expects,
// fails the benchmark. docs/BENCHMARKS.md, "The failure path", holds a
// recorded run.
//
// Scenarios (no retry is ever made; the retry decides not to retry once):
//
//   - notRetried-default: the call fails with an error the default
//     classifier does not retry (an unknown error);
//   - notRetried-wrapped: the same with a protocol error wrapped once, a
//     *retry.StatusError 400 inside fmt.Errorf's %w, so that the default
//     classifier walks a chain;
//   - notRetried-permanent: the error is marked with retry.Permanent;
//   - notRetried-explicit: Config.Retryable, a cheap classifier of the
//     caller's, says no;
//   - rejected-default, rejected-explicit: retry outside an open breaker
//     (fusebox.New(retry, breaker)), which rejects the call; the baseline is
//     the breaker alone;
//   - lastAttempt: MaxAttempts 1 and a retryable error (503): the policy
//     gives up after the first attempt and returns its documented *retry.Error
//     matching ErrRetriesExhausted.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/breaker"
	"github.com/fusebox-go/fusebox/retry"
)

var (
	errTransient = errors.New("bench: transient")
	errPermanent = retry.Permanent(errFail)
	errWrapped   = fmt.Errorf("get /user: %w", &retry.StatusError{Code: 400})
	errRetryable = &retry.StatusError{Code: 503}

	// explicitRetryable is a caller's own classifier, as cheap as one gets:
	// only errTransient is retried.
	explicitRetryable = func(err error) bool { return err == errTransient }

	failPermanent = func(context.Context) error { return errPermanent }
	failWrapped   = func(context.Context) error { return errWrapped }
	failRetryable = func(context.Context) error { return errRetryable }
)

// failPathCase is one scenario: the retry's configuration, the policies
// inside the retry (an open breaker for a rejection), the call, and the
// check of the error the pipeline returns (okWith, when set, checks the
// pipeline with the retry instead).
type failPathCase struct {
	name   string
	config retry.Config
	open   bool // an open breaker inside the retry
	fn     func(context.Context) error
	ok     func(error) bool
	okWith func(error) bool
}

// isOpen reports whether err is an open breaker's rejection, with a type
// assertion: errors.Is would weigh on both sides of the comparison.
func isOpen(err error) bool {
	oe, ok := err.(*breaker.OpenError)
	return ok && oe.State == breaker.Open
}

func failPathCases() []failPathCase {
	is := func(want error) func(error) bool { return func(err error) bool { return err == want } }
	return []failPathCase{
		{name: "notRetried-default", fn: failCtx, ok: is(errFail)},
		{name: "notRetried-wrapped", fn: failWrapped, ok: is(errWrapped)},
		{name: "notRetried-permanent", fn: failPermanent, ok: is(errPermanent)},
		{name: "notRetried-explicit", config: retry.Config{Retryable: explicitRetryable}, fn: failCtx, ok: is(errFail)},
		{name: "rejected-default", open: true, fn: okCtx, ok: isOpen},
		{name: "rejected-explicit", config: retry.Config{Retryable: explicitRetryable}, open: true, fn: okCtx, ok: isOpen},
		{name: "lastAttempt", config: retry.Config{MaxAttempts: 1}, fn: failRetryable, ok: is(errRetryable), okWith: func(err error) bool {
			re, ok := err.(*retry.Error) // not errors.As, whose target would be an allocation of the loop's own
			return ok && re.Reason == retry.ErrRetriesExhausted && re.Err == errRetryable
		}},
	}
}

// failPathSide is one of a scenario's two pipelines and the check of its
// result.
type failPathSide struct {
	name string
	p    *fusebox.Pipeline
	ok   func(error) bool
}

// sides builds the scenario's pipelines, without and with the retry, and
// returns the retry too.
func (c failPathCase) sides(b *testing.B) ([2]failPathSide, *retry.Policy) {
	var inner []fusebox.Policy
	if c.open {
		cb := newFusebox(b)
		cb.Trip()
		inner = append(inner, cb)
	}
	rt, err := retry.New(c.config)
	if err != nil {
		b.Fatal(err)
	}
	without, err := fusebox.New(inner...)
	if err != nil {
		b.Fatal(err)
	}
	with, err := fusebox.New(append([]fusebox.Policy{rt}, inner...)...)
	if err != nil {
		b.Fatal(err)
	}
	okWith := c.okWith
	if okWith == nil {
		okWith = c.ok
	}
	return [2]failPathSide{{"without", without, c.ok}, {"with", with, okWith}}, rt
}

// BenchmarkFailPath: see the top of this file.
func BenchmarkFailPath(b *testing.B) {
	for _, c := range failPathCases() {
		sides, rt := c.sides(b)
		for _, side := range sides {
			b.Run("case="+c.name+"/retry="+side.name, func(b *testing.B) {
				b.ReportAllocs()
				p, fn, ok := side.p, c.fn, side.ok
				for b.Loop() {
					if err := p.Run(ctx, fn); !ok(err) {
						b.Fatalf("unexpected result %v", err)
					}
				}
			})
		}
		if s := rt.Snapshot(); s.Retries != 0 {
			b.Fatalf("%s: %d retries made, want none", c.name, s.Retries)
		}
	}
}

// BenchmarkFailPathPaired measures the same scenarios with both pipelines
// in one loop: blocks of failPathBlock calls through each in turn (which
// goes first alternates), each block timed, so that both sides share every
// moment of the run and the machine's drift (other processes, frequency)
// falls on both alike. An op is one call through each side: allocs/op is
// what the retry allocates per call (the side without it allocates
// nothing). The metrics are medians over the blocks, which a block that
// lost the processor midway does not move: each side's time per call, and
// added-ns/call, the median of the pairs' differences, the retry's cost.
func BenchmarkFailPathPaired(b *testing.B) {
	for _, c := range failPathCases() {
		sides, rt := c.sides(b)
		b.Run("case="+c.name, func(b *testing.B) {
			blocks := (b.N + failPathBlock - 1) / failPathBlock
			ns := [2][]float64{make([]float64, blocks), make([]float64, blocks)}
			added := make([]float64, blocks)
			fn := c.fn
			b.ReportAllocs()
			b.ResetTimer()
			for j, done := 0, 0; done < b.N; j++ {
				k := min(failPathBlock, b.N-done)
				for i := range 2 {
					side := (i + j) % 2
					p, ok := sides[side].p, sides[side].ok
					start := time.Now()
					for range k {
						if err := p.Run(ctx, fn); !ok(err) {
							b.Fatalf("retry=%s: unexpected result %v", sides[side].name, err)
						}
					}
					ns[side][j] = float64(time.Since(start)) / float64(k)
				}
				added[j] = ns[1][j] - ns[0][j]
				done += k
			}
			b.StopTimer()
			b.ReportMetric(median(ns[0]), "without-ns/call")
			b.ReportMetric(median(ns[1]), "with-ns/call")
			b.ReportMetric(median(added), "added-ns/call")
		})
		if s := rt.Snapshot(); s.Retries != 0 {
			b.Fatalf("%s: %d retries made, want none", c.name, s.Retries)
		}
	}
}

// median returns the median of xs, which it sorts (the mean of the two
// middle values of an even count). The paired benchmarks share it.
func median[T ~int64 | ~float64](xs []T) T {
	slices.Sort(xs)
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}

// failPathBlock is how many calls BenchmarkFailPathPaired makes through one
// side between two clock readings: enough that reading the clock weighs
// under a nanosecond per call, few enough that both sides alternate many
// times a millisecond.
const failPathBlock = 64
