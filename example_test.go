package fusebox_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/breaker"
)

// A pipeline is built once and run for every call. Here a breaker guards a
// dependency that keeps failing: after three failures in a row the breaker
// opens and later calls are rejected without reaching the dependency.
func ExamplePipeline() {
	b, err := breaker.New(breaker.Config{Name: "inventory", ConsecutiveFailures: 3})
	if err != nil {
		panic(err)
	}
	p, err := fusebox.New(b)
	if err != nil {
		panic(err)
	}
	reached := 0
	for i := 0; i < 5; i++ {
		err := p.Run(context.Background(), func(context.Context) error {
			reached++
			return errors.New("inventory: 503")
		})
		fmt.Printf("call %d: open=%v\n", i+1, errors.Is(err, fusebox.ErrOpen))
	}
	fmt.Println("calls that reached inventory:", reached)
	// Output:
	// call 1: open=false
	// call 2: open=false
	// call 3: open=false
	// call 4: open=true
	// call 5: open=true
	// calls that reached inventory: 3
}

// Do returns the function's value through the pipeline.
func ExampleDo() {
	p, _ := fusebox.New()
	n, err := fusebox.Do(context.Background(), p, func(context.Context) (int, error) {
		return 42, nil
	})
	fmt.Println(n, err)
	// Output: 42 <nil>
}
