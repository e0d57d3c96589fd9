package timeout

import (
	"context"
	"sync"
)

// holdKey finds the innermost timeout context of a context chain.
type holdKey struct{}

// Hold keeps the deadline contexts of the timeout policies around ctx (the
// per-attempt timeout, the overall deadline) from being released when their
// Run returns, until the returned release function is called. It is for
// results that are still being consumed after the call returned: an HTTP
// response whose body the caller reads later must keep its request's
// context alive, or the read fails with context.Canceled.
//
// The deadlines still apply: a body read that runs past one ends with
// context.DeadlineExceeded, as the per-attempt timeout promised. Call
// release exactly when the result is done with (fuseboxhttp calls it when
// the response body is closed); it is idempotent. Hold returns nil when no
// timeout policy's context is in ctx. It must be called while the policy's
// Run is still running, that is, from inside the call.
func Hold(ctx context.Context) (release func()) {
	var held []*clockCtx
	c, _ := ctx.Value(holdKey{}).(*clockCtx)
	for c != nil {
		if c.hold() {
			held = append(held, c)
		}
		c, _ = c.parent.Value(holdKey{}).(*clockCtx)
	}
	if len(held) == 0 {
		return nil
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			for _, c := range held {
				c.unhold()
			}
		})
	}
}

// hold marks the context held, unless its Run already finished.
func (c *clockCtx) hold() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.finished {
		return false
	}
	c.holds++
	return true
}

// unhold ends a hold; the last one releases a context whose Run finished.
func (c *clockCtx) unhold() {
	c.mu.Lock()
	c.holds--
	release := c.holds == 0 && c.finished
	c.mu.Unlock()
	if release {
		c.release()
	}
}

// finish is what Run does when next returned: release the context, unless
// something holds it.
func (c *clockCtx) finish() {
	c.mu.Lock()
	c.finished = true
	held := c.holds > 0
	c.mu.Unlock()
	if !held {
		c.release()
	}
}
