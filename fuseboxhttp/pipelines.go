package fuseboxhttp

import (
	"sort"
	"time"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/registry"
)

// Range calls fn with each pipeline the RoundTripper holds and its key, in
// no particular order, until fn returns false: the pipelines WithPipeline's
// factory built (a key whose factory failed has none), or the members of
// WithRegistry's registry (its Range). Without either option every request
// shares one empty pipeline, and Range calls fn for none. fn runs outside
// any lock; a pipeline built while Range runs may be missed.
//
// Range is how code outside the RoundTripper reaches its per-key breakers,
// whichever option built them: the dashboard's operator actions use it
// (see Snapshot), and so may code of one's own.
func (t *RoundTripper) Range(fn func(key string, p *fusebox.Pipeline) bool) {
	if t.o.registry != nil {
		t.o.registry.Range(fn)
		return
	}
	t.pipes.Range(func(k, v any) bool {
		e := v.(*pipeEntry)
		if !e.ready.Load() {
			return true
		}
		return fn(k.(string), e.p)
	})
}

// Snapshot returns the pipelines Range visits as registry members, sorted
// by key, each with its layers' snapshots (registry.MemberValue). With
// WithRegistry it is the registry's own Snapshot. With WithPipeline,
// nothing is evicted and use is not tracked: LastUsed is zero and Kept
// says what registry.DefaultKeep says of the pipeline (an open breaker,
// say).
//
// With Range, this makes a RoundTripper a dashboard.Source, whose rows are
// the layers of each key's pipeline ("https://api.example.com/breaker"),
// breakers that operator actions can reach, and a registry for fuseboxprom
// (Collector.AddRegistry): one way to see the per-key breakers, whichever
// option built them.
func (t *RoundTripper) Snapshot() []registry.Member {
	if t.o.registry != nil {
		return t.o.registry.Snapshot()
	}
	var out []registry.Member
	t.Range(func(key string, p *fusebox.Pipeline) bool {
		out = append(out, registry.Member{Key: key, Value: registry.MemberValue(p), LastUsed: time.Time{}, Kept: registry.DefaultKeep(p)})
		return true
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// CallKey implements fusebox.KeyedCall: a request's key is its pipeline's
// (see WithKeyFunc, WithRouteKey), made only when a fallback asks, so
// that a fallback in a shared pipeline can tell which key it answers for.
func (c *call) CallKey() string { return c.t.o.keyFunc(c.req) }

// SetFallback implements fusebox.FallbackCall: a fallback's response, with
// the error it answers for.
func (c *call) SetFallback(v any, cause error) error { return c.result.SetFallback(v, cause) }
