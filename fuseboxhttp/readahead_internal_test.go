package fuseboxhttp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/iotest"
)

// getBuf hands out buffers of the smallest class that holds the size
// asked for, and of their own size past the largest class.
func TestGetBufClasses(t *testing.T) {
	for _, tt := range []struct{ n, cap, pool int }{
		{0, 512, 0}, {1, 512, 0}, {512, 512, 0}, {513, 1024, 1},
		{4096, 4096, 3}, {4097, 8192, 4}, {64 << 10, 64 << 10, 7},
		{64<<10 + 1, 64<<10 + 1, -1},
	} {
		bb := getBuf(tt.n)
		if len(bb.b) != 0 || cap(bb.b) != tt.cap || bb.pool != tt.pool {
			t.Errorf("getBuf(%d): len %d cap %d pool %d, want 0, %d, %d", tt.n, len(bb.b), cap(bb.b), bb.pool, tt.cap, tt.pool)
		}
		bb.put()
	}
}

// readUpTo reads up to its limit, growing its buffer as the bytes come,
// whatever the declared length says, and tells a body read to its end
// from one cut at the limit or by an error.
func TestReadUpTo(t *testing.T) {
	broken := errors.New("connection reset")
	for _, tt := range []struct {
		size, limit, hint int64
		oneByte           bool  // the reader returns one byte per Read
		dataEOF           bool  // the reader returns EOF with the last bytes, as net/http's do
		err               error // after size bytes, instead of EOF
		complete          bool
	}{
		{size: 0, limit: 100, hint: -1, complete: true},
		{size: 10, limit: 100, hint: 10, complete: true},
		{size: 10, limit: 100, hint: -1, oneByte: true, complete: true},
		{size: 100, limit: 100, hint: -1, oneByte: true},                  // EOF comes after the limit
		{size: 100, limit: 100, hint: 100, dataEOF: true, complete: true}, // EOF with the last bytes
		{size: 5000, limit: 64 << 10, hint: -1, complete: true},           // grows 512 → 8192
		{size: 5000, limit: 64 << 10, hint: 10, complete: true},           // a length that lies
		{size: 70 << 10, limit: 64 << 10, hint: -1},
		{size: 70 << 10, limit: 100 << 10, hint: 70 << 10, complete: true}, // a buffer of its own
		{size: 300, limit: 1000, hint: -1, err: broken},
	} {
		name := fmt.Sprintf("%d bytes, limit %d, hint %d, one byte %v, EOF with data %v, error %v",
			tt.size, tt.limit, tt.hint, tt.oneByte, tt.dataEOF, tt.err)
		data := bytes.Repeat([]byte("0123456789"), int(tt.size+9)/10)[:tt.size]
		var r io.Reader = bytes.NewReader(data)
		if tt.err != nil {
			r = io.MultiReader(r, iotest.ErrReader(tt.err))
		}
		if tt.oneByte {
			r = iotest.OneByteReader(r)
		}
		if tt.dataEOF {
			r = iotest.DataErrReader(r)
		}
		bb, complete, err := readUpTo(r, tt.limit, tt.hint)
		want := data[:min(tt.size, tt.limit)]
		if !bytes.Equal(bb.b, want) || complete != tt.complete || err != tt.err {
			t.Errorf("%s: %d bytes read (equal %v), complete %v, error %v; want %d, %v, %v",
				name, len(bb.b), bytes.Equal(bb.b, want), complete, err, len(want), tt.complete, tt.err)
		}
		bb.put()
	}
}

// countingCloser counts its Closes and reads from r.
type countingCloser struct {
	io.Reader
	closes int
}

func (c *countingCloser) Close() error { c.closes++; return nil }

// A body read ahead gives its bytes, then the rest or the error that
// stopped the read-ahead; after Close it reads nothing, even once its
// buffer serves another body, and closes the rest once.
func TestMemBody(t *testing.T) {
	fill := func(s string) *bodyBuf {
		bb := getBuf(len(s))
		bb.b = append(bb.b, s...)
		return bb
	}
	rest := &countingCloser{Reader: strings.NewReader(" and the rest")}
	b := newBody(fill("ahead"), rest, nil)
	if got, err := io.ReadAll(b); string(got) != "ahead and the rest" || err != nil {
		t.Fatalf("read %q, %v; want the bytes read ahead, then the rest", got, err)
	}
	b.Close()
	b.Close()
	if rest.closes != 1 {
		t.Fatalf("rest closed %d times, want once", rest.closes)
	}

	broken := errors.New("reset")
	b = newBody(fill("ahead"), &countingCloser{Reader: strings.NewReader("unread")}, broken)
	if got, err := io.ReadAll(b); string(got) != "ahead" || err != broken {
		t.Fatalf("read %q, %v; want the bytes read ahead, then the error", got, err)
	}

	b = newBody(fill("all of it"), nil, nil)
	if n, err := b.Read(make([]byte, 64)); n != len("all of it") || err != io.EOF {
		t.Fatalf("reading a body read ahead in full: %d bytes, %v; want all 9 and io.EOF with them", n, err)
	}

	if b := newBody(getBuf(10), nil, nil); b != http.NoBody {
		t.Fatalf("an empty body read in full is %T, want http.NoBody", b)
	}

	b = newBody(fill("secret of the first response"), nil, nil)
	p := make([]byte, 6)
	if n, _ := b.Read(p); string(p[:n]) != "secret" {
		t.Fatalf("read %q, want %q", p[:n], "secret")
	}
	b.Close()
	for range 10 { // the buffer went back to its pool: others fill it
		fill("another response's bytes").put()
	}
	if n, err := b.Read(p); n != 0 || !errors.Is(err, errBodyClosed) {
		t.Fatalf("read after Close: %q, %v; want nothing and errBodyClosed", p[:n], err)
	}
}
