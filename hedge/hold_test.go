package hedge_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/hedge"
)

// The winner's context is its own: canceling the losers does not reach it,
// Run's return ends it, and fusebox.Hold keeps it alive past Run for a
// result still being read, while a loser is canceled whether held or not.
func TestWinnerContextOutlivesTheRaceWhenHeld(t *testing.T) {
	for _, hold := range []bool{false, true} {
		name := "not held"
		if hold {
			name = "held"
		}
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, hedge.Config{Delay: 100 * time.Millisecond})
			ctxs := make([]context.Context, 2)
			releases := make([]func(), 2)
			winnerSawLoss := make(chan error, 1)
			s := newScript(func(ctx context.Context, i int) error {
				ctxs[i] = ctx
				if hold {
					releases[i] = fusebox.Hold(ctx)
				}
				if i == 0 {
					<-ctx.Done() // the slow attempt: loses
					return ctx.Err()
				}
				// The hedge wins. Its context must not carry the loss.
				winnerSawLoss <- ctx.Err()
				return nil
			})
			ch := f.runAsync(context.Background(), s.fn)
			f.hedgeAfter(s, 100*time.Millisecond)
			if err := <-ch; err != nil {
				t.Fatalf("Run = %v, want the hedge's success", err)
			}
			if err := <-winnerSawLoss; err != nil {
				t.Fatalf("the winning attempt's context ended while it ran: %v", err)
			}
			if cause := context.Cause(ctxs[0]); !errors.Is(cause, hedge.ErrLost) {
				t.Fatalf("loser's cause = %v, want ErrLost", cause)
			}
			winner := ctxs[1]
			if !hold {
				if winner.Err() == nil {
					t.Fatal("the winner's context is still alive after Run returned, with no hold")
				}
				return
			}
			if releases[0] == nil || releases[1] == nil {
				t.Fatal("fusebox.Hold found no hedge context")
			}
			if err := winner.Err(); err != nil {
				t.Fatalf("held winner's context ended when Run returned: %v", err)
			}
			releases[0]() // releasing the loser changes nothing for the winner
			if err := winner.Err(); err != nil {
				t.Fatalf("held winner's context ended with the loser's release: %v", err)
			}
			releases[1]()
			if winner.Err() == nil {
				t.Fatal("the winner's context is alive after its hold was released")
			}
			releases[1]() // idempotent
		})
	}
}

// Hold after Run returned holds nothing; a caller's cancellation still
// ends a held context.
func TestHoldLimits(t *testing.T) {
	f := newFixture(t, hedge.Config{Delay: time.Hour})
	var inside context.Context
	var release func()
	ctx, cancel := context.WithCancel(context.Background())
	if err := f.p.Execute(ctx, func(c context.Context) error {
		inside, release = c, fusebox.Hold(c)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if release == nil || inside.Err() != nil {
		t.Fatalf("held context after Run: release %v, Err %v", release != nil, inside.Err())
	}
	if late := fusebox.Hold(inside); late != nil {
		t.Fatal("Hold after Run returned held the context")
	}
	cancel()
	if !errors.Is(inside.Err(), context.Canceled) {
		t.Fatalf("the caller's cancellation did not reach the held context: %v", inside.Err())
	}
	release()
}
