package fusebox_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/breaker"
	"github.com/fusebox-go/fusebox/bulkhead"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestDefaultClassifier(t *testing.T) {
	tests := []struct {
		err  error
		want fusebox.Outcome
	}{
		{nil, fusebox.Success},
		{errors.New("boom"), fusebox.Failure},
		{context.Canceled, fusebox.Ignored},
		{fmt.Errorf("wrapped: %w", context.Canceled), fusebox.Ignored},
		{context.DeadlineExceeded, fusebox.Failure},
		// A policy's rejection never reached the dependency.
		{fusebox.ErrOpen, fusebox.Ignored},
		{fmt.Errorf("bulkhead: %w", fusebox.ErrBulkheadFull), fusebox.Ignored},
		{fusebox.ErrRateLimited, fusebox.Ignored},
		{fusebox.ErrClosed, fusebox.Ignored},
		{fusebox.ErrTimeout, fusebox.Failure},
		{fusebox.ErrRetriesExhausted, fusebox.Failure},
	}
	for _, tt := range tests {
		if got := fusebox.DefaultClassifier(tt.err); got != tt.want {
			t.Errorf("DefaultClassifier(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

func TestClassifyCallerContext(t *testing.T) {
	live := context.Background()
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	always := func(error) fusebox.Outcome { return fusebox.Failure }
	tests := []struct {
		name string
		ctx  context.Context
		err  error
		c    fusebox.Classifier
		want fusebox.Outcome
	}{
		{"live nil", live, nil, nil, fusebox.Success},
		{"live failure", live, errors.New("x"), nil, fusebox.Failure},
		{"live deadline from elsewhere", live, context.DeadlineExceeded, nil, fusebox.Failure},
		{"caller canceled, any error", canceled, errors.New("conn closed"), always, fusebox.Ignored},
		{"caller canceled, nil error still judged", canceled, nil, always, fusebox.Failure},
		{"custom classifier", live, errors.New("x"), func(error) fusebox.Outcome { return fusebox.Ignored }, fusebox.Ignored},
	}
	for _, tt := range tests {
		if got := fusebox.Classify(tt.ctx, tt.err, tt.c); got != tt.want {
			t.Errorf("%s: Classify = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestOutcomeString(t *testing.T) {
	for o, want := range map[fusebox.Outcome]string{fusebox.Success: "success", fusebox.Failure: "failure", fusebox.Ignored: "ignored", 7: "outcome(7)"} {
		if got := o.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", o, got, want)
		}
	}
}

// tracer records the order in which policies are entered and left.
type tracer struct {
	name string
	log  *[]string
	mu   *sync.Mutex
}

func (p tracer) Run(ctx context.Context, next fusebox.Next) error {
	p.mu.Lock()
	*p.log = append(*p.log, "enter "+p.name)
	p.mu.Unlock()
	err := next.Run(ctx)
	p.mu.Lock()
	*p.log = append(*p.log, "leave "+p.name)
	p.mu.Unlock()
	return err
}

func TestPipelineOrder(t *testing.T) {
	var log []string
	var mu sync.Mutex
	p, err := fusebox.New(tracer{"a", &log, &mu}, tracer{"b", &log, &mu}, tracer{"c", &log, &mu})
	if err != nil {
		t.Fatal(err)
	}
	err = p.Run(context.Background(), func(context.Context) error {
		log = append(log, "fn")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "enter a,enter b,enter c,fn,leave c,leave b,leave a"
	if got := strings.Join(log, ","); got != want {
		t.Fatalf("order = %s, want %s", got, want)
	}
}

func TestNewRejectsNilPolicy(t *testing.T) {
	_, err := fusebox.New(tracer{}, nil)
	if err == nil || !strings.Contains(err.Error(), "policies[1]") {
		t.Fatalf("New with a nil policy: err = %v, want one naming policies[1]", err)
	}
}

func TestRunNilFunc(t *testing.T) {
	p, _ := fusebox.New()
	if err := p.Run(context.Background(), nil); err == nil {
		t.Fatal("Run(nil) returned no error")
	}
	if _, err := fusebox.Do[int](context.Background(), p, nil); err == nil {
		t.Fatal("Do(nil) returned no error")
	}
}

// retryTwice runs next up to twice: a stand-in for a retry policy.
type retryTwice struct{}

func (retryTwice) Run(ctx context.Context, next fusebox.Next) error {
	if err := next.Run(ctx); err == nil {
		return nil
	}
	return next.Run(ctx)
}

func TestDoReturnsSuccessfulAttemptValue(t *testing.T) {
	p, _ := fusebox.New(retryTwice{})
	calls := 0
	v, err := fusebox.Do(context.Background(), p, func(context.Context) (string, error) {
		calls++
		if calls == 1 {
			return "partial", errors.New("first attempt fails")
		}
		return "second", nil
	})
	if err != nil || v != "second" || calls != 2 {
		t.Fatalf("Do = %q, %v after %d calls; want second, nil after 2", v, err, calls)
	}
}

func TestDoKeepsValueOfFailedCall(t *testing.T) {
	p, _ := fusebox.New()
	boom := errors.New("boom")
	v, err := fusebox.Do(context.Background(), p, func(context.Context) (int, error) { return 42, boom })
	if !errors.Is(err, boom) || v != 42 {
		t.Fatalf("Do = %d, %v; want 42, boom", v, err)
	}
}

// substitute answers every failure with a value: a stand-in for a fallback.
type substitute struct{ v any }

func (s substitute) Run(ctx context.Context, next fusebox.Next) error {
	if err := next.Run(ctx); err != nil {
		return next.SetResult(s.v)
	}
	return nil
}

func TestSetResultFlowsToDo(t *testing.T) {
	p, _ := fusebox.New(substitute{"cached"})
	v, err := fusebox.Do(context.Background(), p, func(context.Context) (string, error) {
		return "", errors.New("down")
	})
	if err != nil || v != "cached" {
		t.Fatalf("Do = %q, %v; want cached, nil", v, err)
	}
}

func TestSetResultTypeMismatch(t *testing.T) {
	p, _ := fusebox.New(substitute{3.14})
	_, err := fusebox.Do(context.Background(), p, func(context.Context) (string, error) {
		return "", errors.New("down")
	})
	if err == nil || !strings.Contains(err.Error(), "float64") {
		t.Fatalf("err = %v, want a type mismatch naming float64", err)
	}
	err = p.Run(context.Background(), func(context.Context) error { return errors.New("down") })
	if err == nil || !strings.Contains(err.Error(), "fusebox.Do") {
		t.Fatalf("Run with a value fallback: err = %v, want an error pointing to fusebox.Do", err)
	}
}

// countingCall is a Call of its own: it counts attempts and keeps the
// value a fallback supplies.
type countingCall struct {
	attempts int
	fail     int // attempts that fail before one succeeds
	result   any
}

func (c *countingCall) Run(context.Context) error {
	c.attempts++
	if c.attempts <= c.fail {
		return fmt.Errorf("attempt %d fails", c.attempts)
	}
	return nil
}

func (c *countingCall) SetResult(v any) error {
	c.result = v
	return nil
}

func TestRunCall(t *testing.T) {
	p, _ := fusebox.New(retryTwice{})
	c := &countingCall{fail: 1}
	if err := p.RunCall(context.Background(), c); err != nil || c.attempts != 2 {
		t.Fatalf("RunCall = %v after %d attempts; want nil after 2", err, c.attempts)
	}

	// A fallback's value reaches the Call's SetResult.
	p, _ = fusebox.New(substitute{"cached"}, retryTwice{})
	c = &countingCall{fail: 2}
	if err := p.RunCall(context.Background(), c); err != nil || c.result != "cached" || c.attempts != 2 {
		t.Fatalf("RunCall = %v, result %v after %d attempts; want nil, cached after 2", err, c.result, c.attempts)
	}

	if err := p.RunCall(context.Background(), nil); err == nil || !strings.Contains(err.Error(), "nil Call") {
		t.Fatalf("RunCall(nil) = %v, want an error naming the nil Call", err)
	}

	// Running a Call of one's own allocates nothing.
	p, _ = fusebox.New(passthrough{}, passthrough{})
	ctx := context.Background()
	c = &countingCall{}
	if n := testing.AllocsPerRun(1000, func() { _ = p.RunCall(ctx, c) }); n != 0 {
		t.Fatalf("RunCall allocates %v times per call, want 0", n)
	}
}

// Result keeps the first success, until then the latest value; a set
// value replaces them for good; a value of another type is refused.
func TestResult(t *testing.T) {
	var r fusebox.Result[string]
	if v := r.Value(); v != "" {
		t.Fatalf("zero Result holds %q, want empty", v)
	}
	boom := errors.New("boom")
	r.Record("partial", boom)
	r.Record("later partial", boom)
	if v := r.Value(); v != "later partial" {
		t.Fatalf("after two failed attempts: %q, want the latest, later partial", v)
	}
	r.Record("won", nil)
	r.Record("after the win", nil)
	r.Record("failed after the win", boom)
	if v := r.Value(); v != "won" {
		t.Fatalf("after a success: %q, want the first success, won", v)
	}
	if err := r.Set(3.14); err == nil || !strings.Contains(err.Error(), "float64") {
		t.Fatalf("Set(3.14) = %v, want a type mismatch naming float64", err)
	}
	if err := r.Set("fallback"); err != nil {
		t.Fatal(err)
	}
	r.Record("attempt after the fallback", nil)
	if v := r.Value(); v != "fallback" {
		t.Fatalf("after Set: %q, want the fallback's value", v)
	}
	if err := r.Set(nil); err != nil || r.Value() != "" {
		t.Fatalf("Set(nil) = %v, value %q; want nil and the zero value", err, r.Value())
	}
}

type passthrough struct{}

func (passthrough) Run(ctx context.Context, next fusebox.Next) error { return next.Run(ctx) }

func TestPipelinePanicPropagates(t *testing.T) {
	p, _ := fusebox.New(passthrough{}, passthrough{})
	defer func() {
		if r := recover(); r != "boom" {
			t.Fatalf("recovered %v, want boom", r)
		}
	}()
	_ = p.Run(context.Background(), func(context.Context) error { panic("boom") })
	t.Fatal("Run returned after a panic")
}

func TestPipelineRunAllocatesNothing(t *testing.T) {
	p, _ := fusebox.New(passthrough{}, passthrough{}, passthrough{})
	ctx := context.Background()
	fn := func(context.Context) error { return nil }
	if n := testing.AllocsPerRun(1000, func() { _ = p.Run(ctx, fn) }); n != 0 {
		t.Fatalf("Run allocates %v times per call, want 0", n)
	}
}

func TestPoliciesIsACopy(t *testing.T) {
	p, _ := fusebox.New(passthrough{})
	ps := p.Policies()
	ps[0] = nil
	if p.Policies()[0] == nil {
		t.Fatal("Policies exposed the pipeline's own slice")
	}
}

func BenchmarkPipelineRun(b *testing.B) {
	p, _ := fusebox.New(passthrough{}, passthrough{}, passthrough{})
	ctx := context.Background()
	fn := func(context.Context) error { return nil }
	b.ReportAllocs()
	for b.Loop() {
		_ = p.Run(ctx, fn)
	}
}

// New refuses a nil policy of any kind: a nil interface, or a nil pointer
// (what a policy's New returns with its error), which would otherwise
// panic on the pipeline's first call, far from the unchecked error.
func TestNewRefusesNilPolicies(t *testing.T) {
	var nilPolicy *pickPolicy
	var nilFunc policyFunc
	tests := []struct {
		name     string
		policies []fusebox.Policy
		want     string
	}{
		{"nil interface", []fusebox.Policy{nil}, "fusebox: policies[0] is nil"},
		{"nil pointer", []fusebox.Policy{&pickPolicy{}, nilPolicy}, "fusebox: policies[1] is a nil *fusebox_test.pickPolicy (was the error of its New checked?)"},
		{"nil func", []fusebox.Policy{nilFunc}, "fusebox: policies[0] is a nil fusebox_test.policyFunc (was the error of its New checked?)"},
	}
	for _, tt := range tests {
		p, err := fusebox.New(tt.policies...)
		if err == nil || err.Error() != tt.want || p != nil {
			t.Errorf("%s: New = %v, %v; want the error %q", tt.name, p, err, tt.want)
		}
	}
}

type policyFunc func(ctx context.Context, next fusebox.Next) error

func (f policyFunc) Run(ctx context.Context, next fusebox.Next) error { return f(ctx, next) }

// pickPolicy runs the rest of the pipeline twice, one attempt after the
// other, and returns the error of the attempt it picks, as a hedge does
// when no attempt wins (it reports the last to finish, not the last to
// record) or when its Classifier calls an error a success.
type pickPolicy struct{ pick int }

func (p *pickPolicy) Run(ctx context.Context, next fusebox.Next) error {
	errs := []error{next.Run(ctx), next.Run(ctx)}
	return errs[p.pick]
}

// Do never pairs one attempt's value with another attempt's error: the
// value is the one of the attempt whose error the pipeline returned.
func TestDoPairsValueWithReturnedError(t *testing.T) {
	errA, errB := errors.New("A failed"), errors.New("B failed")
	for _, tt := range []struct {
		pick    int
		wantV   string
		wantErr error
	}{
		{0, "A", errA},
		{1, "B", errB},
	} {
		p, err := fusebox.New(&pickPolicy{pick: tt.pick})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		v, err := fusebox.Do(context.Background(), p, func(context.Context) (string, error) {
			n++
			if n == 1 {
				return "A", errA
			}
			return "B", fmt.Errorf("wrapped: %w", errB)
		})
		if v != tt.wantV || !errors.Is(err, tt.wantErr) {
			t.Errorf("pick %d: Do = (%q, %v), want (%q, %v)", tt.pick, v, err, tt.wantV, tt.wantErr)
		}
	}
}

// A breaker outside a full bulkhead does not count the bulkhead's
// rejections as failures of the dependency (issue 3: rejections never
// count as dependency failures).
func TestRejectionsAreNotFailures(t *testing.T) {
	br, err := breaker.New(breaker.Config{ConsecutiveFailures: 1})
	if err != nil {
		t.Fatal(err)
	}
	bh, err := bulkhead.New(bulkhead.Config{MaxConcurrent: 1})
	if err != nil {
		t.Fatal(err)
	}
	p, err := fusebox.New(br, bh)
	if err != nil {
		t.Fatal(err)
	}
	inside, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- p.Run(context.Background(), func(context.Context) error {
			close(inside)
			<-release
			return nil
		})
	}()
	<-inside // the only slot is taken
	if err := p.Run(context.Background(), func(context.Context) error { return nil }); !errors.Is(err, fusebox.ErrBulkheadFull) {
		t.Fatalf("second call: %v, want the bulkhead's rejection", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	s := br.Snapshot()
	if s.State != breaker.Closed || s.TotalFailures != 0 || s.TotalIgnored != 1 {
		t.Fatalf("breaker after a bulkhead rejection: state %v, failures %d, ignored %d; want closed, 0, 1",
			s.State, s.TotalFailures, s.TotalIgnored)
	}
}
