package fusebox

import "context"

// callKeyContextKey is the context key of WithCallKey.
type callKeyContextKey struct{}

// WithCallKey returns a copy of ctx that says what the call made with it
// is for: a product ID, a cache key, a tenant. Policies pass their
// context on to the call and to their fallback, so a fallback function
// reads it back with [CallKeyFromContext] and answers for that key (the
// cached product of that ID, say):
//
//	ctx = fusebox.WithCallKey(ctx, id)
//	product, err := fusebox.Do(ctx, p, func(ctx context.Context) (Product, error) { return getProduct(ctx, id) })
//
// A call whose context has no key may still have one: a [KeyedCall]
// (fuseboxhttp's requests, keyed by their pipeline's key) says it through
// [Next.CallKey], and the fallback package puts it in the context its
// fallback gets. WithCallKey costs one small allocation, as any
// context.WithValue; a call that does not set one pays nothing.
func WithCallKey(ctx context.Context, key string) context.Context {
	return context.WithValue(ctx, callKeyContextKey{}, key)
}

// CallKeyFromContext returns the key WithCallKey put in ctx, or "" and
// false when there is none.
func CallKeyFromContext(ctx context.Context) (string, bool) {
	key, ok := ctx.Value(callKeyContextKey{}).(string)
	return key, ok
}
