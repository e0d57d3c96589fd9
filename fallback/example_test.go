package fallback_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/clock"
	"github.com/fusebox-go/fusebox/fallback"
)

// The fallback is the outermost policy of a pipeline; its value becomes the
// result of fusebox.Do when the call fails.
func Example() {
	fb, err := fallback.New(fallback.Config{Func: fallback.Static("default greeting")})
	if err != nil {
		panic(err)
	}
	pipeline, err := fusebox.New(fb)
	if err != nil {
		panic(err)
	}

	greeting, err := fusebox.Do(context.Background(), pipeline, func(ctx context.Context) (string, error) {
		return "", errors.New("greeting service unavailable")
	})
	fmt.Println(greeting, err)
	// Output: default greeting <nil>
}

// Chain tries alternatives in order; When limits the fallback to rejections.
func ExampleChain() {
	fromReplica := func(ctx context.Context, err error) (any, error) {
		return nil, errors.New("replica down too")
	}
	fb, err := fallback.New(fallback.Config{
		Func: fallback.Chain(fromReplica, fallback.Static(0)),
		When: func(err error) bool { return errors.Is(err, fusebox.ErrOpen) },
	})
	if err != nil {
		panic(err)
	}
	pipeline, _ := fusebox.New(fb)

	n, err := fusebox.Do(context.Background(), pipeline, func(ctx context.Context) (int, error) {
		return 0, fusebox.ErrOpen // as a circuit breaker inside would reject
	})
	fmt.Println(n, err)

	_, err = fusebox.Do(context.Background(), pipeline, func(ctx context.Context) (int, error) {
		return 0, errors.New("bad request")
	})
	fmt.Println(err)
	// Output:
	// 0 <nil>
	// bad request
}

// A Cache answers with the last good value when the fetch fails
// (stale-if-error). The fake clock stands in for time passing.
func ExampleCache() {
	fake := clock.NewFake(time.Time{})
	cache, err := fallback.NewCache[string, float64](fallback.CacheConfig{
		TTL:      time.Minute,
		StaleTTL: time.Hour,
		Clock:    fake,
	})
	if err != nil {
		panic(err)
	}
	defer cache.Close()

	rate := func(ctx context.Context) (float64, error) { return 1.08, nil }
	down := func(ctx context.Context) (float64, error) { return 0, errors.New("rates service down") }

	r, err := cache.Get(context.Background(), "EURUSD", rate)
	fmt.Println(r.Value, r.Degraded, err)

	fake.Advance(10 * time.Minute)
	r, err = cache.Get(context.Background(), "EURUSD", down)
	fmt.Println(r.Value, r.Degraded, r.Age, r.Err, err)
	// Output:
	// 1.08 false <nil>
	// 1.08 true 10m0s rates service down <nil>
}

// NewPipeline builds a pipeline whose fallback and calls agree on their
// type at compile time: a fallback.Value("unavailable") here would not
// compile. DoAnswer tells a degraded answer from a fresh one, and why.
func ExampleNewPipeline() {
	type Product struct{ Name string }
	products, err := fallback.NewPipeline(fallback.Value(Product{Name: "unavailable"}), fallback.Config{Name: "products"})
	if err != nil {
		panic(err)
	}

	p, err := products.Do(context.Background(), func(ctx context.Context) (Product, error) {
		return Product{Name: "lamp"}, nil
	})
	fmt.Println(p.Name, err)

	a, err := products.DoAnswer(context.Background(), func(ctx context.Context) (Product, error) {
		return Product{}, fusebox.ErrOpen // as a circuit breaker inside would reject
	})
	fmt.Println(a.Value.Name, a.Degraded, a.Cause, err)
	// Output:
	// lamp <nil>
	// unavailable true fusebox: circuit breaker is open <nil>
}

// A fallback answers for what the call was for: the key the caller put in
// the context with fusebox.WithCallKey.
func ExampleFuncOf() {
	lastKnown := map[string]float64{"EURUSD": 1.08}
	rates, err := fallback.NewPipeline(func(ctx context.Context, err error) (float64, error) {
		pair, _ := fusebox.CallKeyFromContext(ctx)
		if r, ok := lastKnown[pair]; ok {
			return r, nil
		}
		return 0, err
	}, fallback.Config{})
	if err != nil {
		panic(err)
	}
	down := func(ctx context.Context) (float64, error) { return 0, errors.New("rates service down") }

	r, err := rates.Do(fusebox.WithCallKey(context.Background(), "EURUSD"), down)
	fmt.Println(r, err)
	_, err = rates.Do(fusebox.WithCallKey(context.Background(), "GBPJPY"), down)
	fmt.Println(err)
	// Output:
	// 1.08 <nil>
	// fallback: rates service down (call failed: rates service down)
}
