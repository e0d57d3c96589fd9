package fuseboxhttp_test

import (
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/clock"
	"github.com/fusebox-go/fusebox/timeout"
)

// A 101 Switching Protocols response (a WebSocket or other upgrade made
// with an http.Client) carries the upgraded connection as its Body, an
// io.ReadWriteCloser, as net/http documents. Its Content-Length reads 0,
// but it is not a short body to read ahead: the caller talks over it, with
// or without a timeout policy (whose context it holds) in the pipeline.
func TestUpgradeResponseKeepsConnection(t *testing.T) {
	ts := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
		brw.Flush()
		line, _ := brw.ReadString('\n')
		brw.WriteString("echo:" + line)
		brw.Flush()
	})
	to, err := timeout.New(timeout.Config{Timeout: time.Minute, Clock: clock.NewFake(time.Time{})})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		policies []fusebox.Policy
	}{
		{"empty pipeline", nil},
		{"timeout policy", []fusebox.Policy{to}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t, mustRT(t, newBase(t), fixed(t, tc.policies...)))
			req, err := http.NewRequest(http.MethodGet, ts.URL, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Connection", "Upgrade")
			req.Header.Set("Upgrade", "echo")
			resp, err := c.Do(req)
			if err != nil {
				t.Fatalf("Do: %v", err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusSwitchingProtocols {
				t.Fatalf("status %d, want 101", resp.StatusCode)
			}
			rwc, ok := resp.Body.(io.ReadWriteCloser)
			if !ok {
				t.Fatalf("the 101 response's Body is a %T, not the io.ReadWriteCloser of the upgraded connection", resp.Body)
			}
			if _, err := rwc.Write([]byte("hi\n")); err != nil {
				t.Fatalf("writing to the upgraded connection: %v", err)
			}
			got, err := io.ReadAll(io.LimitReader(rwc, 8))
			if string(got) != "echo:hi\n" {
				t.Fatalf("read %q, %v from the upgraded connection; want %q", got, err, "echo:hi\n")
			}
		})
	}
}
