package fuseboxhttp_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/internal/testwait"
)

// The RoundTripper reuses the state of finished calls and the buffers that
// bodies are read ahead into. These tests hold it to never letting a body
// handed to the caller, or an attempt still running, see memory that
// another request reuses.

// echoRT answers in memory: the status is the URL's path ("/503"), the body
// the query's "body" value, repeated "n" times, with its length declared
// unless the query has "chunked".
type echoRT struct{}

func (echoRT) RoundTrip(req *http.Request) (*http.Response, error) {
	q := req.URL.Query()
	status, err := strconv.Atoi(strings.TrimPrefix(req.URL.Path, "/"))
	if err != nil {
		return nil, err
	}
	n, _ := strconv.Atoi(q.Get("n"))
	body := strings.Repeat(q.Get("body"), max(n, 1))
	length := int64(len(body))
	if q.Has("chunked") {
		length = -1
	}
	return &http.Response{
		StatusCode: status, Header: http.Header{}, ContentLength: length,
		Body: io.NopCloser(strings.NewReader(body)), Request: req,
	}, nil
}

func echoURL(status int, body string, n int, chunked bool) string {
	u := fmt.Sprintf("http://echo.test/%d?body=%s&n=%d", status, body, n)
	if chunked {
		u += "&chunked"
	}
	return u
}

// churn sends requests whose bodies are read ahead into buffers of every
// size the tests use, reads and closes them.
func churn(t *testing.T, rt http.RoundTripper, rounds int) {
	t.Helper()
	for i := range rounds {
		for _, status := range []int{200, 503} {
			for _, n := range []int{1, 100, 1000} {
				body := fmt.Sprintf("other%d-", i%10)
				req, _ := http.NewRequest(http.MethodGet, echoURL(status, body, n, i%2 == 0), nil)
				resp, err := rt.RoundTrip(req)
				if err != nil {
					t.Fatal(err)
				}
				got, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || string(got) != strings.Repeat(body, n) {
					t.Fatalf("churn: %d bytes, %v; want %d bytes of %q", len(got), err, n*len(body), body)
				}
			}
		}
	}
}

// A body handed to the caller keeps its bytes however many requests run
// before it is read: a short success read ahead, a failed last attempt's
// answer, of declared length or not.
func TestRoundTripperHeldBodiesKeepTheirBytes(t *testing.T) {
	rt := mustRT(t, echoRT{}, fixed(t, quickRetry(t, 3)))
	type held struct {
		want string
		resp *http.Response
	}
	var bodies []held
	for _, status := range []int{200, 503} {
		for _, n := range []int{1, 60, 600} {
			for _, chunked := range []bool{false, true} {
				want := strings.Repeat(fmt.Sprintf("mine%d-%d-", status, n), n)
				req, _ := http.NewRequest(http.MethodGet, echoURL(status, fmt.Sprintf("mine%d-%d-", status, n), n, chunked), nil)
				resp, err := rt.RoundTrip(req)
				if err != nil || resp.StatusCode != status {
					t.Fatalf("GET: %v, %v; want a %d", resp, err, status)
				}
				bodies = append(bodies, held{want, resp})
			}
		}
	}
	// Half of each body now, the rest after other requests reused the
	// pools many times over.
	for _, h := range bodies {
		p := make([]byte, len(h.want)/2)
		if _, err := io.ReadFull(h.resp.Body, p); err != nil || string(p) != h.want[:len(p)] {
			t.Fatalf("first half %q, %v; want %q", p, err, h.want[:len(p)])
		}
	}
	churn(t, rt, 50)
	for i, h := range bodies {
		got, err := io.ReadAll(h.resp.Body)
		h.resp.Body.Close()
		if err != nil || string(got) != h.want[len(h.want)/2:] {
			t.Fatalf("body %d after other requests: %q, %v; want %q", i, got, err, h.want[len(h.want)/2:])
		}
	}
}

// A body read after Close gives nothing, not the bytes of the response
// whose buffer it was, and a body closed by one goroutine while another
// reads it gives that reader only its own bytes.
func TestRoundTripperClosedBodyReadsNothing(t *testing.T) {
	rt := mustRT(t, echoRT{}, fixed(t, quickRetry(t, 2)))
	for _, status := range []int{200, 503} {
		req, _ := http.NewRequest(http.MethodGet, echoURL(status, "x", 1000, false), nil)
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		churn(t, rt, 5)
		p := make([]byte, 100)
		if n, err := resp.Body.Read(p); n != 0 || err == nil {
			t.Fatalf("status %d: read after Close %q, %v; want nothing and an error", status, p[:n], err)
		}
	}

	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
				churn(t, rt, 1)
			}
		}
	})
	for i := range 200 {
		req, _ := http.NewRequest(http.MethodGet, echoURL(200+i%2*303, "y", 2000, i%3 == 0), nil)
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		read := make(chan error, 1)
		go func() {
			p := make([]byte, 7)
			for {
				n, err := resp.Body.Read(p)
				if strings.Trim(string(p[:n]), "y") != "" {
					read <- fmt.Errorf("read %q, not the body's own bytes", p[:n])
					return
				}
				if err != nil {
					read <- nil
					return
				}
			}
		}()
		resp.Body.Close()
		if err := <-read; err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
}

// leakyPolicy breaks the Policy contract: it runs the attempt on a
// goroutine of its own and returns without waiting for it, once it has
// started.
type leakyPolicy struct {
	started chan struct{}
	wg      *sync.WaitGroup
}

func (p leakyPolicy) Run(ctx context.Context, next fusebox.Next) error {
	p.wg.Go(func() { _ = next.Run(ctx) })
	<-p.started
	return errors.New("leaky: gave up on the attempt")
}

// gatedRT answers like echoRT once release is closed, after closing
// started.
type gatedRT struct {
	started, release chan struct{}
	body             *trackingBody
}

func (g gatedRT) RoundTrip(req *http.Request) (*http.Response, error) {
	close(g.started)
	<-g.release
	return &http.Response{StatusCode: 200, Header: http.Header{}, ContentLength: -1, Body: g.body, Request: req}, nil
}

// An attempt that outlives its call (which only a policy breaking its
// contract allows) keeps the call's state to itself until it returns:
// later calls, which reuse finished calls' state, never see its response,
// and the response is closed, since no caller will get it.
func TestRoundTripperLateAttemptKeepsItsCall(t *testing.T) {
	var wg sync.WaitGroup
	gate := gatedRT{started: make(chan struct{}), release: make(chan struct{}), body: &trackingBody{Reader: strings.NewReader("late")}}
	leaky := mustRT(t, gate, fixed(t, leakyPolicy{started: gate.started, wg: &wg}))
	req, _ := http.NewRequest(http.MethodGet, "http://late.test/", nil)
	if resp, err := leaky.RoundTrip(req); resp != nil || err == nil {
		t.Fatalf("leaky call: %v, %v; want the policy's error", resp, err)
	}
	// The attempt is still running; other calls take and return states.
	rt := mustRT(t, echoRT{}, fixed(t, quickRetry(t, 2)))
	churn(t, rt, 10)
	close(gate.release)
	testwait.Within(t, "the late attempt", wg.Wait)
	churn(t, rt, 10)
	if !gate.body.closed.Load() {
		t.Fatal("the late attempt's response was not closed")
	}
}
