package fuseboxslog_test

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/breaker"
	"github.com/fusebox-go/fusebox/clock"
	"github.com/fusebox-go/fusebox/fuseboxslog"
)

// A breaker opens: its state change is logged with the counts behind it,
// and of the many rejections that follow only the first two are written;
// the rest are summed up in one line when the interval ends.
func ExampleSubscribe() {
	// A text handler without time, so the output is stable.
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey && len(groups) == 0 {
				return slog.Attr{}
			}
			return a
		},
	}))
	fc := clock.NewFake(time.Time{})
	events := fusebox.NewEvents()
	sub, err := fuseboxslog.Subscribe(events, logger, fuseboxslog.Config{MaxPerInterval: 2, Interval: time.Minute, Clock: fc})
	if err != nil {
		panic(err)
	}
	defer sub.Close()

	b, err := breaker.New(breaker.Config{Name: "payments", ConsecutiveFailures: 2, OpenDuration: 2 * time.Minute, Clock: fc, Events: events})
	if err != nil {
		panic(err)
	}
	fail := func(context.Context) error { return os.ErrDeadlineExceeded }
	for range 10 {
		_ = b.Execute(context.Background(), fail)
	}
	fc.Advance(time.Minute)
	_ = b.Execute(context.Background(), fail)
	events.Close() // deliver everything before the example ends

	// Output:
	// level=WARN msg="fusebox state change" policy=breaker name=payments event=state-change from=closed to=open reason="consecutive failures" failureRate=1 calls=2 failures=2 rejections=0 openDuration=2m0s
	// level=WARN msg="fusebox rejected" policy=breaker name=payments event=rejected reason=open error="breaker payments: open"
	// level=WARN msg="fusebox rejected" policy=breaker name=payments event=rejected reason=open error="breaker payments: open"
	// level=WARN msg="fusebox suppressed 6 rejections" policy=breaker name=payments event=rejected suppressed=6 interval=1m0s
	// level=WARN msg="fusebox rejected" policy=breaker name=payments event=rejected reason=open error="breaker payments: open"
}
