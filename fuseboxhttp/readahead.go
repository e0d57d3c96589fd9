package fuseboxhttp

import (
	"errors"
	"fmt"
	"io"
	"math/bits"
	"net/http"
	"sync"
)

// Reading ahead of response bodies. An attempt reads a failed response's
// body ahead (up to maxReadAhead bytes), so that its connection goes back
// to the pool even when the attempt is retried, and, by default, a short
// successful body of declared length, so that a body that breaks off fails
// the attempt. The bytes go into buffers taken from size-class pools; the
// body that replaces the response's, a memBody, puts its buffer back once
// its reader has read every byte of it or closed it, and never hands a
// slice of it out: its Read copies. So a buffer back in a pool is
// referenced by no body that can still read it, whatever the caller does
// with the body afterwards (read it after Close, close it while another
// goroutine reads it).

// errBodyClosed is what a read-ahead body's Read returns after Close, as
// net/http's bodies do.
var errBodyClosed = errors.New("fuseboxhttp: read on closed response body")

// The pooled buffers have a capacity of 1<<k bytes for k from minBufShift
// to maxBufShift: 512 B to 64 KiB, maxReadAhead. A larger read-ahead
// (WithBodyReadAhead past 64 KiB) gets a buffer of its own.
const (
	minBufShift = 9
	maxBufShift = 16
)

var bufPools [maxBufShift - minBufShift + 1]sync.Pool

// bodyBuf is a read-ahead buffer. The pools hold pointers to it, so that
// putting one back allocates nothing.
type bodyBuf struct {
	b    []byte
	pool int // index in bufPools; -1 for a buffer of its own
}

// getBuf returns an empty buffer of capacity at least n.
func getBuf(n int) *bodyBuf {
	if n > 1<<maxBufShift {
		return &bodyBuf{b: make([]byte, 0, n), pool: -1}
	}
	i := 0
	if n > 1<<minBufShift {
		i = bits.Len(uint(n-1)) - minBufShift
	}
	if v := bufPools[i].Get(); v != nil {
		bb := v.(*bodyBuf)
		bb.b = bb.b[:0]
		return bb
	}
	return &bodyBuf{b: make([]byte, 0, 1<<(i+minBufShift)), pool: i}
}

// put returns bb to its pool. Nothing may use bb afterwards.
func (bb *bodyBuf) put() {
	if bb.pool >= 0 {
		bufPools[bb.pool].Put(bb)
	}
}

// memBody is a body whose first bytes, or all, were read ahead into a
// pooled buffer.
type memBody struct {
	mu     sync.Mutex
	closed bool
	data   []byte        // the bytes read ahead and not read yet, in bb
	bb     *bodyBuf      // data's buffer; nil once it went back to its pool
	rest   io.ReadCloser // the body past the bytes read ahead; nil when they are all of it
	err    error         // what stopped the read-ahead, returned after the bytes
}

// newBody returns the body that replaces one read ahead into bb: bb's
// bytes, then, unless rest is nil, rest's; or err after the bytes, when
// the read-ahead stopped on one. A body read in full and empty is
// http.NoBody.
func newBody(bb *bodyBuf, rest io.ReadCloser, err error) io.ReadCloser {
	if len(bb.b) == 0 {
		bb.put()
		if rest == nil && err == nil {
			return http.NoBody
		}
		return &memBody{rest: rest, err: err}
	}
	return &memBody{data: bb.b, bb: bb, rest: rest, err: err}
}

// releaseLocked puts the buffer back; b.mu is held.
func (b *memBody) releaseLocked() {
	if b.bb != nil {
		b.data = nil
		b.bb.put()
		b.bb = nil
	}
}

func (b *memBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return 0, errBodyClosed
	}
	if len(b.data) > 0 {
		n := copy(p, b.data)
		b.data = b.data[n:]
		var err error
		if len(b.data) == 0 {
			b.releaseLocked()
			if b.rest == nil && b.err == nil {
				// The last bytes: say so now, as net/http's bodies do,
				// sparing the caller a Read.
				err = io.EOF
			}
		}
		b.mu.Unlock()
		return n, err
	}
	rest, err := b.rest, b.err
	b.mu.Unlock()
	switch {
	case err != nil:
		return 0, err
	case rest == nil:
		return 0, io.EOF
	}
	// Not under the lock: a Close from another goroutine must be able to
	// interrupt a read of the network.
	return rest.Read(p)
}

func (b *memBody) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	b.releaseLocked()
	rest := b.rest
	b.mu.Unlock()
	if rest != nil {
		return rest.Close()
	}
	return nil
}

// drainAndClose is drainAndClose for a body of the RoundTripper's own,
// which no other goroutine reads: the bytes read ahead need no draining.
func (b *memBody) drainAndClose() {
	b.mu.Lock()
	rest, err := b.rest, b.err
	b.mu.Unlock()
	if rest != nil && err == nil {
		_, _ = io.CopyN(io.Discard, rest, maxReadAhead)
	}
	b.Close()
}

// readUpTo reads r into a pooled buffer until EOF, an error, or limit
// bytes, whichever comes first; hint is the length r declared (-1 for
// none), which sizes the first buffer. complete reports that EOF came.
// The buffer holds the bytes read, also with an error.
func readUpTo(r io.Reader, limit, hint int64) (bb *bodyBuf, complete bool, err error) {
	size := int64(1 << minBufShift)
	if hint >= 0 {
		size = hint + 1 // room for the EOF that follows the last byte
	}
	bb = getBuf(int(min(size, limit)))
	for {
		end := int(min(int64(cap(bb.b)), limit))
		if len(bb.b) == end {
			if int64(end) >= limit {
				return bb, false, nil
			}
			nb := getBuf(int(min(2*int64(cap(bb.b)), limit)))
			nb.b = append(nb.b, bb.b...)
			bb.put()
			bb = nb
			continue
		}
		n, err := r.Read(bb.b[len(bb.b):end])
		bb.b = bb.b[:len(bb.b)+n]
		switch {
		case err == io.EOF:
			return bb, true, nil
		case err != nil:
			return bb, false, err
		}
	}
}

// readAhead reads up to maxReadAhead bytes of a failed response's body.
// When that is all of it, the body is closed, so that its connection
// returns to the pool at once, and replaced by the bytes read; otherwise
// the bytes read are put in front of the rest (or of the error that
// stopped the reading).
func readAhead(resp *http.Response) {
	bb, complete, err := readUpTo(resp.Body, maxReadAhead, resp.ContentLength)
	if complete {
		resp.Body.Close()
		resp.Body = newBody(bb, nil, nil)
		return
	}
	resp.Body = newBody(bb, resp.Body, err)
}

// readAheadChecked reads up to limit bytes of a successful response's body
// into memory, so that a broken body fails the attempt. On an error it
// closes the body and returns the error; otherwise the caller reads the
// bytes from memory, then whatever is left.
func readAheadChecked(resp *http.Response, limit int64) error {
	if n := resp.ContentLength; n >= 0 && n <= limit {
		// The common case, a short body of declared length: exactly its
		// bytes, into a buffer big enough for them.
		bb := getBuf(int(n))
		bb.b = bb.b[:n]
		if _, err := io.ReadFull(resp.Body, bb.b); err != nil {
			bb.put()
			resp.Body.Close()
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("fuseboxhttp: reading the response body: %w", err)
		}
		resp.Body.Close()
		resp.Body = newBody(bb, nil, nil)
		return nil
	}
	bb, complete, err := readUpTo(resp.Body, limit, resp.ContentLength)
	if err != nil {
		bb.put()
		resp.Body.Close()
		return fmt.Errorf("fuseboxhttp: reading the response body: %w", err)
	}
	if complete {
		resp.Body.Close()
		resp.Body = newBody(bb, nil, nil)
		return nil
	}
	resp.Body = newBody(bb, resp.Body, nil)
	return nil
}

// drainAndClose reads what is left of a response body, up to maxReadAhead
// bytes, so that its connection can be reused, and closes it.
// The bytes already read ahead are in memory and need no draining.
func drainAndClose(resp *http.Response) {
	if resp.StatusCode == http.StatusSwitchingProtocols {
		// The body is the upgraded connection: reading it would wait for
		// the peer. Closing it is all there is to release.
		resp.Body.Close()
		return
	}
	if mb, ok := resp.Body.(*memBody); ok {
		mb.drainAndClose()
		return
	}
	_, _ = io.CopyN(io.Discard, resp.Body, maxReadAhead)
	resp.Body.Close()
}
