package chaos

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fusebox-go/fusebox/internal/testwait"
)

func newServer(t *testing.T, cfg ServerConfig) (*Server, *http.Client) {
	t.Helper()
	s, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(func() {
		c.CloseIdleConnections()
		s.Close()
	})
	return s, c
}

func TestServerDefaultHandler(t *testing.T) {
	s, c := newServer(t, ServerConfig{})
	if !strings.HasPrefix(s.URL(), "http://127.0.0.1:") || !strings.HasSuffix(s.URL(), s.Addr()) {
		t.Fatalf("URL %q, Addr %q", s.URL(), s.Addr())
	}
	resp, body, err := get(context.Background(), t, c, s.URL()+"/anything")
	if err != nil || resp.StatusCode != 200 || body != DefaultBody {
		t.Fatalf("%v %v %q", err, resp, body)
	}
	testwait.Eventually(t, "the handler to finish", func() bool { return s.InFlight() == 0 })
	if st := s.Stats(); st.Requests != 1 || st.Statuses[200] != 1 || s.StatusCount(200) != 1 || s.Requests() != 1 {
		t.Fatalf("Stats %+v", st)
	}
}

func TestServerUserHandlerAndBody(t *testing.T) {
	s, c := newServer(t, ServerConfig{Body: "pong"})
	if _, body, _ := get(context.Background(), t, c, s.URL()); body != "pong" {
		t.Fatalf("body %q", body)
	}
	s2, c2 := newServer(t, ServerConfig{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusCreated)
	})})
	resp, _, err := get(context.Background(), t, c2, s2.URL())
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("%v %v", err, resp)
	}
	testwait.Eventually(t, "the count", func() bool { return s2.StatusCount(201) == 1 })
}

func TestServerRejectsBadFault(t *testing.T) {
	if _, err := NewServer(ServerConfig{Fault: Fault{Error: ErrorFault{Probability: 2}}}); err == nil {
		t.Fatal("NewServer accepted a probability of 2")
	}
	s, _ := newServer(t, ServerConfig{})
	for _, err := range []error{s.SetFailureRate(-1), s.SetResetRate(1.1), s.SetLatency(-time.Second), s.SetStatus(42), s.Set(Fault{Status: StatusFault{Code: 1000}})} {
		if err == nil {
			t.Fatal("a setter accepted a bad value")
		}
	}
	if s.Fault() != (Fault{}) {
		t.Fatalf("rejected setters changed the fault: %+v", s.Fault())
	}
}

func TestServerFailureRateIsSeeded(t *testing.T) {
	const n = 200
	s, c := newServer(t, ServerConfig{Fault: Fault{Seed: 42}})
	if err := s.SetFailureRate(0.3); err != nil {
		t.Fatal(err)
	}
	// The decisions a plan with the same Fault makes.
	p, _ := newPlan(s.Fault())
	want := 0
	for i := range uint64(n) {
		if p.decide(i, true).act == actStatus {
			want++
		}
	}
	failed := 0
	for range n {
		resp, _, err := get(context.Background(), t, c, s.URL())
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode == 500 {
			failed++
			if resp.Header.Get(FaultHeader) != "status" {
				t.Fatal("an injected 500 without FaultHeader")
			}
		}
	}
	if failed != want || want < 40 || want > 80 {
		t.Fatalf("%d of %d requests failed, want %d (about 60)", failed, n, want)
	}
	testwait.Eventually(t, "the counts", func() bool { return s.Requests() == n && s.InFlight() == 0 })
	if s.StatusCount(500) != uint64(want) || s.StatusCount(200) != uint64(n-want) {
		t.Fatalf("counts 500: %d, 200: %d", s.StatusCount(500), s.StatusCount(200))
	}
}

func TestServerSetStatus(t *testing.T) {
	s, c := newServer(t, ServerConfig{})
	if err := s.SetStatus(503); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if resp, _, _ := get(context.Background(), t, c, s.URL()); resp.StatusCode != 503 {
			t.Fatalf("status %d, want 503", resp.StatusCode)
		}
	}
	// The failure rate now fails with 503.
	_ = s.SetFailureRate(1)
	if resp, _, _ := get(context.Background(), t, c, s.URL()); resp.StatusCode != 503 {
		t.Fatalf("status %d, want 503", resp.StatusCode)
	}
	_ = s.SetStatus(0)
	if resp, _, _ := get(context.Background(), t, c, s.URL()); resp.StatusCode != 200 {
		t.Fatalf("status %d after SetStatus(0), want 200", resp.StatusCode)
	}
	testwait.Eventually(t, "the counts", func() bool { return s.StatusCount(503) == 4 && s.StatusCount(200) == 1 })
}

func TestServerLatency(t *testing.T) {
	s, c := newServer(t, ServerConfig{})
	if err := s.SetLatency(30 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, body, err := get(context.Background(), t, c, s.URL()); err != nil || body != DefaultBody {
		t.Fatalf("%v %q", err, body)
	}
	if d := time.Since(start); d < 30*time.Millisecond {
		t.Fatalf("answered in %v, want at least 30ms", d)
	}
	// A client that gives up while the server holds its request: the
	// server counts it as unanswered. The client cancels once the request
	// is in flight at the server, and the latency is then long enough not
	// to end first: a 5 ms client deadline, as this was, could end on a
	// busy machine before the request reached the server, which then had
	// nothing unanswered to count.
	if err := s.SetLatency(time.Hour); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	gave := make(chan error, 1)
	go func() {
		_, _, err := get(ctx, t, c, s.URL())
		gave <- err
	}()
	testwait.Eventually(t, "the request in flight at the server", func() bool { return s.InFlight() == 1 })
	cancel()
	if err := testwait.Recv(t, gave, "the client to give up"); !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	testwait.Eventually(t, "the unanswered request", func() bool { return s.Stats().Unanswered == 1 && s.InFlight() == 0 })
	_ = s.SetLatency(0)
	delayed := s.Injector().Snapshot().Delayed
	if _, _, err := get(context.Background(), t, c, s.URL()); err != nil {
		t.Fatal(err)
	}
	if d := s.Injector().Snapshot().Delayed; d != delayed || s.Fault().Latency.Probability != 0 {
		t.Fatalf("delayed %d -> %d after SetLatency(0)", delayed, d)
	}
}

func TestServerReset(t *testing.T) {
	s, c := newServer(t, ServerConfig{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, strings.Repeat("y", 32<<10))
	}), Fault: Fault{Reset: ResetFault{AfterBytes: 1000}}})
	if err := s.SetResetRate(1); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		resp, body, err := get(context.Background(), t, c, s.URL())
		if !isReset(err) {
			t.Fatalf("response %v, %d bytes, error %v; want a connection reset", resp, len(body), err)
		}
		if len(body) > 1000 {
			t.Fatalf("%d body bytes, more than AfterBytes", len(body))
		}
	}
	testwait.Eventually(t, "the resets", func() bool { return s.ResetCount() == 3 && s.InFlight() == 0 })
	if s.StatusCount(200) != 0 {
		t.Fatal("reset requests counted as answered")
	}
	// Back to normal: the client, whose connections were reset, recovers.
	_ = s.SetResetRate(0)
	if resp, body, err := get(context.Background(), t, c, s.URL()); err != nil || resp.StatusCode != 200 || len(body) != 32<<10 {
		t.Fatalf("after SetResetRate(0): %v %v %d", err, resp, len(body))
	}
}

func TestServerBlackholeEndsWithClientContext(t *testing.T) {
	s, c := newServer(t, ServerConfig{})
	s.SetBlackhole(true)
	took, err := getWithin(t, c, s.URL(), 30*time.Millisecond)
	if !errors.Is(err, context.DeadlineExceeded) || took < 30*time.Millisecond {
		t.Fatalf("error %v after %v, want context.DeadlineExceeded after at least the 30ms timeout", err, took)
	}
	testwait.Eventually(t, "the blackholed handler to end", func() bool { return s.InFlight() == 0 && s.Stats().Blackholes == 1 })
	s.SetBlackhole(false)
	if _, body, err := get(context.Background(), t, c, s.URL()); err != nil || body != DefaultBody {
		t.Fatalf("%v %q", err, body)
	}
}

func TestServerCloseEndsBlackholes(t *testing.T) {
	s, err := NewServer(ServerConfig{Fault: Fault{Blackhole: BlackholeFault{Probability: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Transport: &http.Transport{}}
	defer c.CloseIdleConnections()
	const n = 5
	errs := make(chan error, n)
	for range n {
		go func() {
			_, _, err := get(context.Background(), t, c, s.URL()) // no deadline
			errs <- err
		}()
	}
	testwait.Eventually(t, "the requests to arrive", func() bool { return s.InFlight() == n })
	closed := make(chan struct{})
	go func() { s.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close hung on blackholed requests")
	}
	for range n {
		if err := <-errs; err == nil {
			t.Fatal("a blackholed request succeeded")
		}
	}
	if s.InFlight() != 0 || s.Stats().Blackholes != n {
		t.Fatalf("after Close: %+v", s.Stats())
	}
	s.Close() // idempotent
	if _, _, err := get(context.Background(), t, c, s.URL()); err == nil {
		t.Fatal("a closed server answered")
	}
}

func TestServerCloseEndsLatency(t *testing.T) {
	s, err := NewServer(ServerConfig{Fault: Fault{Latency: LatencyFault{Probability: 1, Duration: time.Hour}}})
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Transport: &http.Transport{}}
	defer c.CloseIdleConnections()
	errc := make(chan error, 1)
	go func() { _, _, err := get(context.Background(), t, c, s.URL()); errc <- err }()
	testwait.Eventually(t, "the request", func() bool { return s.InFlight() == 1 })
	s.Close()
	if err := <-errc; err == nil {
		t.Fatal("the delayed request succeeded")
	}
}

func TestServerSwitchingUnderLoad(t *testing.T) {
	s, c := newServer(t, ServerConfig{Fault: Fault{Seed: 5}})
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
				resp, _, err := get(ctx, t, c, s.URL())
				cancel()
				if err == nil && resp.StatusCode != 200 && resp.StatusCode != 500 && resp.StatusCode != 503 {
					t.Errorf("status %d", resp.StatusCode)
				}
			}
		})
	}
	steps := []func(){
		func() { _ = s.SetFailureRate(0.5) },
		func() { _ = s.SetLatency(time.Millisecond) },
		func() { _ = s.SetResetRate(0.2) },
		func() { _ = s.SetStatus(503) },
		func() { s.SetBlackhole(true) },
		func() { s.SetBlackhole(false) },
		func() { s.Injector().Disable() },
		func() { s.Injector().Enable() },
		func() { _ = s.Set(Fault{}) },
	}
	for _, step := range steps {
		step()
		time.Sleep(10 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	testwait.Eventually(t, "in-flight requests", func() bool { return s.InFlight() == 0 })
	st := s.Stats()
	var answered uint64
	for _, n := range st.Statuses {
		answered += n
	}
	if answered+st.Resets+st.Blackholes+st.Hijacked+st.Unanswered != st.Requests {
		t.Fatalf("counts do not add up: %+v", st)
	}
}
