package timeout

import "context"

// Hold implements fusebox.Holdable: it marks the context held, unless its
// Run already finished.
func (c *clockCtx) Hold() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.finished {
		return false
	}
	c.holds++
	return true
}

// Unhold implements fusebox.Holdable: it ends a hold; the last one
// releases a context whose Run finished.
func (c *clockCtx) Unhold() {
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

// Outer implements fusebox.Holdable.
func (c *clockCtx) Outer() context.Context { return c.parent }
