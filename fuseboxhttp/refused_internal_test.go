package fuseboxhttp

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/fusebox-go/fusebox/retry"
)

// closeCounter is a response body that counts its Closes.
type closeCounter struct {
	io.Reader
	closed int
}

func (b *closeCounter) Close() error { b.closed++; return nil }

// A hedge of a request that may be sent only once runs an extra attempt
// that sends nothing. When the attempt that was sent failed with a status
// and the refused one happened to finish last (so the hedge reports its
// error), the caller still gets the server's answer, body intact: the
// refused attempt neither released that response nor replaced it.
func TestRefusedExtraAttemptKeepsEarlierAnswer(t *testing.T) {
	rt, err := NewRoundTripper(nil)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, "http://svc.test/charge", strings.NewReader("charge the card"))
	if err != nil {
		t.Fatal(err)
	}
	c := &call{t: rt, req: req}
	c.resps = c.first[:0]
	c.retryable = rt.idempotent(req) // false: a POST without an idempotency key
	ctx := context.Background()

	// The first attempt, sent: the server answered 503.
	c.attempts.Add(1)
	body := &closeCounter{Reader: strings.NewReader("overloaded")}
	answer := &http.Response{StatusCode: http.StatusServiceUnavailable, Body: body, Request: req}
	c.track(answer, true)
	first := c.mark(&retry.StatusError{Code: http.StatusServiceUnavailable})
	c.result.Record(answer, first)

	// The hedge's extra attempt: refused without sending.
	resp, refused := c.attempt(ctx)
	if resp != nil || !errors.Is(refused, errNotIdempotent) || !retry.IsPermanent(refused) {
		t.Fatalf("extra attempt = %v, %v; want nothing sent and a permanent errNotIdempotent", resp, refused)
	}
	c.result.Record(resp, refused)
	if body.closed != 0 {
		t.Fatal("the refused attempt released the earlier attempt's answer")
	}

	// The hedge reports the last attempt to finish: the refused one.
	out, err := c.finish(ctx, refused)
	if out != answer || err != nil {
		t.Fatalf("finish = %v, %v; want the server's 503 answer and no error", out, err)
	}
	if body.closed != 0 {
		t.Fatal("the answer handed to the caller was closed")
	}
	if got, _ := io.ReadAll(out.Body); string(got) != "overloaded" {
		t.Fatalf("answer body %q, want %q", got, "overloaded")
	}
}
