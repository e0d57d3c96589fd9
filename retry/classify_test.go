//go:build !plan9

package retry_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/retry"
)

// refusedErr dials a loopback port nobody listens on: a real ECONNREFUSED.
func refusedErr(t *testing.T) error {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Skipf("no loopback: %v", err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c, err := net.Dial("tcp", addr)
	if err == nil {
		c.Close()
		t.Skip("a closed port accepted a connection")
	}
	return err
}

// resetErr makes a loopback server abort a connection (SO_LINGER 0 sends
// RST on close) and returns the client's read error: a real ECONNRESET.
func resetErr(t *testing.T) error {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Skipf("no loopback: %v", err)
	}
	defer ln.Close()
	accepted := make(chan struct{})
	go func() {
		defer close(accepted)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		_ = c.(*net.TCPConn).SetLinger(0)
		c.Close()
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		ln.Close()
		<-accepted
		if errors.Is(err, syscall.ECONNRESET) {
			return err // the reset beat the dial: real all the same
		}
		t.Fatal(err)
	}
	defer c.Close()
	<-accepted
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = c.Read(make([]byte, 1))
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Skipf("the platform did not report a reset: %v", err)
	}
	return err
}

// timeoutErr reads from a loopback connection whose deadline has passed: a
// real i/o timeout.
func timeoutErr(t *testing.T) error {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Skipf("no loopback: %v", err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(-time.Second))
	_, err = c.Read(make([]byte, 1))
	return err
}

func unexpectedEOFErr() error {
	_, err := io.ReadFull(bytes.NewReader([]byte("ab")), make([]byte, 4))
	return err
}

func TestDefaultRetryable(t *testing.T) {
	tests := []struct {
		name string
		err  func(t *testing.T) error
		want bool
	}{
		{"nil", func(*testing.T) error { return nil }, false},
		{"connection refused (dialed)", refusedErr, true},
		{"connection reset (loopback RST)", resetErr, true},
		{"i/o timeout (deadline passed)", timeoutErr, true},
		{"connection aborted", func(*testing.T) error {
			return &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNABORTED)}
		}, true},
		{"broken pipe", func(*testing.T) error {
			return &net.OpError{Op: "write", Net: "tcp", Err: os.NewSyscallError("write", syscall.EPIPE)}
		}, true},
		{"unexpected EOF (short read)", func(*testing.T) error { return unexpectedEOFErr() }, true},
		{"wrapped unexpected EOF", func(*testing.T) error { return fmt.Errorf("decode body: %w", unexpectedEOFErr()) }, true},
		{"DNS timeout", func(*testing.T) error { return &net.DNSError{Err: "timeout", Name: "x.example", IsTimeout: true} }, true},
		{"DNS not found", func(*testing.T) error { return &net.DNSError{Err: "no such host", Name: "x.invalid", IsNotFound: true} }, false},
		{"os deadline", func(*testing.T) error { return os.ErrDeadlineExceeded }, true},
		{"inner context deadline", func(*testing.T) error { return context.DeadlineExceeded }, true},
		{"fusebox timeout", func(*testing.T) error { return fmt.Errorf("attempt: %w", fusebox.ErrTimeout) }, true},
		{"context canceled", func(*testing.T) error { return context.Canceled }, false},
		{"breaker open", func(*testing.T) error { return fusebox.ErrOpen }, false},
		{"bulkhead full", func(*testing.T) error { return fusebox.ErrBulkheadFull }, false},
		{"rate limited", func(*testing.T) error { return fusebox.ErrRateLimited }, false},
		{"closed", func(*testing.T) error { return fusebox.ErrClosed }, false},
		{"inner retries exhausted", func(*testing.T) error {
			return &retry.Error{Attempts: 3, Reason: retry.ErrRetriesExhausted, Err: syscall.ECONNREFUSED}
		}, false},
		{"inner budget exhausted", func(*testing.T) error {
			return &retry.Error{Attempts: 1, Reason: retry.ErrBudgetExhausted, Err: unavailable}
		}, false},
		{"permanent refused", func(t *testing.T) error { return retry.Permanent(refusedErr(t)) }, false},
		{"unknown error", func(*testing.T) error { return errors.New("boom") }, false},
		{"EOF", func(*testing.T) error { return io.EOF }, false},
		{"status 400 wrapping a timeout", func(*testing.T) error { return &retry.StatusError{Code: 400, Err: os.ErrDeadlineExceeded} }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.err(t)
			if got := retry.DefaultRetryable(err); got != tt.want {
				t.Errorf("DefaultRetryable(%v) = %v, want %v", err, got, tt.want)
			}
		})
	}
}

func TestRetryableStatus(t *testing.T) {
	retryable := map[int]bool{408: true, 425: true, 429: true, 500: true, 502: true, 503: true, 504: true}
	for code := 100; code < 600; code++ {
		if got := retry.RetryableStatus(code); got != retryable[code] {
			t.Errorf("RetryableStatus(%d) = %v, want %v", code, got, retryable[code])
		}
		err := fmt.Errorf("get: %w", &retry.StatusError{Code: code})
		if got := retry.DefaultRetryable(err); got != retryable[code] {
			t.Errorf("DefaultRetryable(status %d) = %v, want %v", code, got, retryable[code])
		}
	}
}

func TestStatusError(t *testing.T) {
	cause := errors.New("upstream overloaded")
	e := &retry.StatusError{Code: 503, Wait: 2 * time.Second, Err: cause}
	if got, want := e.Error(), "status 503: upstream overloaded"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if (&retry.StatusError{Code: 429}).Error() != "status 429" {
		t.Errorf("Error() without cause = %q", (&retry.StatusError{Code: 429}).Error())
	}
	wantIs(t, e, cause)
	if e.RetryAfter() != 2*time.Second {
		t.Errorf("RetryAfter() = %v", e.RetryAfter())
	}
}

// TestRealRefusedIsRetried runs the policy against a closed loopback port,
// through the default classifier, end to end.
func TestRealRefusedIsRetried(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Skipf("no loopback: %v", err)
	}
	addr := ln.Addr().String()
	ln.Close()
	p := mustNew(t, retry.Config{Clock: newInstant()})
	attempts := 0
	err = p.Execute(context.Background(), func(ctx context.Context) error {
		attempts++
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			c.Close()
		}
		return err
	})
	if attempts != 3 {
		t.Errorf("%d attempts, want 3", attempts)
	}
	wantIs(t, err, retry.ErrRetriesExhausted, syscall.ECONNREFUSED)
	var op *net.OpError
	if !errors.As(err, &op) || !strings.Contains(err.Error(), "refused") {
		t.Errorf("err = %v: want the *net.OpError reachable", err)
	}
}
