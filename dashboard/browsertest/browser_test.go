package browsertest

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/breaker"
	"github.com/fusebox-go/fusebox/bulkhead"
	"github.com/fusebox-go/fusebox/dashboard"
	"github.com/fusebox-go/fusebox/ratelimit"
)

const (
	token     = "browser-test-token-0123456789"
	readToken = "browser-test-read-token-0123456789"
)

// chromium returns the browser's path. A missing browser skips the test
// with a one-line reason, so that `go test` works on a machine without
// it, except under CI (the environment variable CI is "true"), where it
// fails the test: CI installs Chromium (.ci/run), so a missing one there
// is a broken setup, and a skip would let the test pass without running.
func chromium(t *testing.T) string {
	t.Helper()
	path := os.Getenv("FUSEBOX_CHROMIUM")
	if path == "" {
		path = "/usr/bin/chromium"
	}
	_, err := exec.LookPath(path)
	if err == nil {
		return path
	}
	const install = "install the Debian package chromium (.ci/run does), or set FUSEBOX_CHROMIUM to its path"
	if os.Getenv("CI") == "true" {
		t.Fatalf("headless Chromium not found at %s (%v), and CI=true: %s", path, err, install)
	}
	t.Skipf("headless Chromium not found at %s (CI unset, so skipping; with CI=true this fails): %s", path, install)
	return ""
}

// artifacts returns the directory screenshots go to.
func artifacts(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("FUSEBOX_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// service is a small set of policies with traffic, for the page to show.
type service struct {
	bus      *fusebox.Events
	payments *breaker.Breaker
	d        *dashboard.Dashboard
	stop     chan struct{}
	wg       sync.WaitGroup
}

// newService starts the service; readTok, when set, is the dashboard's
// Config.ReadToken.
func newService(t *testing.T, readTok string) *service {
	t.Helper()
	s := &service{bus: fusebox.NewEvents(), stop: make(chan struct{})}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	var err error
	s.payments, err = breaker.New(breaker.Config{Name: "payments", Events: s.bus, MinimumCalls: 1000})
	must(err)
	search, err := breaker.New(breaker.Config{Name: "search", Events: s.bus, SlowCallRate: 0.5, SlowCallDuration: time.Millisecond, MinimumCalls: 1000})
	must(err)
	search.MetricsOnly()
	legacy, err := breaker.New(breaker.Config{Name: "legacy-billing", Events: s.bus})
	must(err)
	legacy.Disable()
	reports, err := breaker.New(breaker.Config{Name: "reports", Events: s.bus})
	must(err)
	reports.ForceOpen()
	pool, err := bulkhead.New(bulkhead.Config{Name: "inventory", MaxConcurrent: 4, MaxQueue: 8})
	must(err)
	limit, err := ratelimit.New(ratelimit.Config{Name: "partner-api", Rate: 40, Burst: 10})
	must(err)

	s.d, err = dashboard.New(dashboard.Config{
		Events: s.bus, Interval: 250 * time.Millisecond, Title: "Fusebox · checkout service",
		Actions: true, Token: token, ReadToken: readTok,
	})
	must(err)
	for _, p := range []struct {
		name   string
		policy any
	}{
		{"payments", s.payments}, {"search", search}, {"inventory", pool},
		{"partner-api", limit}, {"reports", reports}, {"legacy-billing", legacy},
	} {
		must(s.d.Add(p.name, p.policy))
	}
	payPipe, err := fusebox.New(pool, s.payments, s.d.LatencyPolicy("payments"))
	must(err)
	searchPipe, err := fusebox.New(search, s.d.LatencyPolicy("search"))
	must(err)
	limitPipe, err := fusebox.New(limit)
	must(err)

	// Traffic: about 200 calls/s, bounded by the test's life.
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		rng := rand.New(rand.NewPCG(1, 2))
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		ctx := context.Background()
		for {
			select {
			case <-s.stop:
				return
			case <-tick.C:
			}
			_ = payPipe.Run(ctx, func(context.Context) error {
				if rng.IntN(100) < 4 {
					return errors.New("card declined upstream")
				}
				return nil
			})
			_ = searchPipe.Run(ctx, func(context.Context) error {
				time.Sleep(time.Duration(rng.IntN(1500)) * time.Microsecond)
				return nil
			})
			_ = limitPipe.Run(ctx, func(context.Context) error { return nil })
		}
	}()
	return s
}

func (s *service) close() {
	close(s.stop)
	s.wg.Wait()
	_ = s.d.Close()
	s.bus.Close()
}

// serve serves d under /debug/fusebox/ on loopback until the test ends,
// and returns the page's URL.
func serve(t *testing.T, d *dashboard.Dashboard) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("/debug/fusebox/", http.StripPrefix("/debug/fusebox", d))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String() + "/debug/fusebox/"
}

// browser starts headless Chromium, and returns the context of a tab that
// the test has a minute to use.
func browser(t *testing.T) context.Context {
	t.Helper()
	exe := chromium(t)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	t.Cleanup(cancelAlloc)
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelTab)
	// The first Run starts the browser; the whole test gets a minute.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v", exe, err)
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func card(name, state string) chromedp.CSS {
	return chromedp.CSS(`article.card[data-name="` + name + `"][data-state="` + state + `"]`)
}

// within runs steps with a deadline, failing the test with what (and a
// screenshot in out).
// liveBound is how long a test waits for a change to reach an open page
// by itself, pushed by the server (the sampler ticks every 250 ms):
// typically tens of milliseconds, as logged. The bound is generous: under
// scripts/stress.sh, with other builds running too, a bound of 1 s failed
// once; a page that is not updated live never shows the change at all.
const liveBound = 5 * time.Second

func within(t *testing.T, ctx context.Context, out string, d time.Duration, what string, steps ...chromedp.Action[chromedp.Void]) time.Duration {
	t.Helper()
	start := time.Now()
	sctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	if err := chromedp.Do(sctx, steps...); err != nil {
		shot(t, ctx, out, "failure.png")
		t.Fatalf("%s: not within %v: %v", what, d, err)
	}
	return time.Since(start)
}

func TestDashboardInChromium(t *testing.T) {
	ctx := browser(t)
	out := artifacts(t)
	svc := newService(t, "")
	defer svc.close()
	url := serve(t, svc.d)

	// Console errors and exceptions (a Content-Security-Policy violation
	// included) fail the test.
	var consoleMu sync.Mutex
	var consoleErrs []string
	consoleCtx, stopConsole := context.WithCancel(ctx)
	defer stopConsole()
	messages := chromedp.Console(consoleCtx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				consoleMu.Lock()
				consoleErrs = append(consoleErrs, m.String())
				consoleMu.Unlock()
			}
		}
	}()
	// The page asks before forcing a breaker open: accept.
	dialogs := chromedp.Events(consoleCtx, page.JavascriptDialogOpening)
	go func() {
		for _, err := range dialogs {
			if err != nil {
				return
			}
			_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}
	}()

	within := func(d time.Duration, what string, steps ...chromedp.Action[chromedp.Void]) time.Duration {
		t.Helper()
		return within(t, ctx, out, d, what, steps...)
	}

	within(20*time.Second, "the page shows payments closed",
		chromedp.Navigate(url),
		chromedp.WaitVisible(card("payments", "closed")),
		chromedp.WaitVisible(card("reports", "forced-open")),
		chromedp.WaitVisible(card("search", "metrics-only")),
	)
	if title, err := chromedp.Run(ctx, chromedp.Title()); err != nil || title != "Fusebox · checkout service" {
		t.Errorf("page title %q (%v)", title, err)
	}
	// No event lost: the line saying so is hidden.
	if hidden, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById('timeline-lost').hidden`)); err != nil || !hidden {
		t.Errorf("the lost-events line is shown with no event lost (%v)", err)
	}
	// Actions are enabled, but locked until the operator gives the token.
	if n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('.actions button').length`)); err != nil || n != 0 {
		t.Errorf("%d action buttons before the token was given (%v), want none", n, err)
	}

	svc.payments.Trip()
	took := within(liveBound, "the page shows payments open", chromedp.WaitVisible(card("payments", "open")))
	t.Logf("open shown %v after the trip", took.Round(time.Millisecond))
	within(liveBound, "the timeline shows the change",
		chromedp.WaitVisible(chromedp.CSS(`#timeline li .tag[data-state="open"]`)))
	time.Sleep(1200 * time.Millisecond) // let the sparklines show the rejections
	shot(t, ctx, out, "dashboard-open.png")

	svc.payments.Reset()
	took = within(liveBound, "the page shows payments closed again", chromedp.WaitVisible(card("payments", "closed")))
	t.Logf("closed shown %v after the reset", took.Round(time.Millisecond))

	// The operator unlocks actions and forces payments open from the page.
	within(5*time.Second, "unlocking actions",
		chromedp.SendKeys(chromedp.ID("token"), token),
		chromedp.Click(chromedp.CSS(`#auth-form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`article[data-name="payments"] .actions button[data-action="force-open"]`)),
	)
	if stored, err := chromedp.Run(ctx, chromedp.Evaluate[string](`sessionStorage.getItem('fusebox.dashboard.token')`)); err != nil || stored != token {
		t.Errorf("token in sessionStorage = %q (%v)", stored, err)
	}
	within(5*time.Second, "forcing payments open from the page",
		chromedp.Click(chromedp.CSS(`article[data-name="payments"] .actions button[data-action="force-open"]`)),
		chromedp.WaitVisible(card("payments", "forced-open")),
	)
	if st := svc.payments.State(); st != breaker.ForcedOpen {
		t.Errorf("after the page's force-open the breaker is %v", st)
	}
	shot(t, ctx, out, "dashboard-actions.png")
	within(5*time.Second, "resetting payments from the page",
		chromedp.Click(chromedp.CSS(`article[data-name="payments"] .actions button[data-action="reset"]`)),
		chromedp.WaitVisible(card("payments", "closed")),
	)

	// A phone-sized viewport.
	within(5*time.Second, "a phone viewport",
		chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)),
		chromedp.WaitVisible(card("payments", "closed")),
	)
	shot(t, ctx, out, "dashboard-phone.png")

	// And the dark color scheme, on the desktop viewport.
	if _, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}},
	}); err != nil {
		t.Fatalf("emulating the dark scheme: %v", err)
	}
	within(5*time.Second, "a desktop viewport",
		chromedp.EmulateViewport(1280, 900),
		chromedp.WaitVisible(card("payments", "closed")),
	)
	shot(t, ctx, out, "dashboard-dark.png")

	stopConsole()
	consoleMu.Lock()
	defer consoleMu.Unlock()
	if len(consoleErrs) > 0 {
		t.Errorf("the page logged errors:\n%s", strings.Join(consoleErrs, "\n"))
	}
}

// With Config.ReadToken, the page opened without the token is refused;
// opened as ?token=<read token>, it loads, drops the token from the
// address bar and streams, its EventSource let in by the HttpOnly cookie
// the page's answer set; and it still does when opened again without the
// token.
func TestDashboardInChromiumWithReadToken(t *testing.T) {
	ctx := browser(t)
	out := artifacts(t)
	svc := newService(t, readToken)
	defer svc.close()
	url := serve(t, svc.d)

	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(url))
	if err != nil || resp.Status != http.StatusUnauthorized {
		t.Errorf("the page without the token: %v (%v), want 401", resp, err)
	}
	within(t, ctx, out, 20*time.Second, "the page opened with the read token shows payments closed",
		chromedp.Navigate(url+"?token="+readToken),
		chromedp.WaitVisible(card("payments", "closed")),
	)
	if loc, err := chromedp.Run(ctx, chromedp.Location()); err != nil || loc != url {
		t.Errorf("address %q (%v): want the token dropped, %q", loc, err, url)
	}
	if c, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.cookie`)); err != nil || c != "" {
		t.Errorf("document.cookie = %q (%v): want the read cookie out of the script's reach", c, err)
	}
	svc.payments.Trip()
	within(t, ctx, out, liveBound, "the stream shows payments open", chromedp.WaitVisible(card("payments", "open")))
	svc.payments.Reset()
	within(t, ctx, out, 20*time.Second, "the page opened again without the token streams",
		chromedp.Navigate(url),
		chromedp.WaitVisible(card("payments", "closed")),
		chromedp.WaitVisible(chromedp.CSS(`#conn[data-conn="live"]`)),
	)
	svc.payments.Trip()
	within(t, ctx, out, liveBound, "the stream shows payments open again", chromedp.WaitVisible(card("payments", "open")))
	shot(t, ctx, out, "dashboard-read-token.png")
}

// shot saves a screenshot of the viewport as a PNG in dir.
func shot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Errorf("screenshot %s: %v", name, err)
		return
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Errorf("saving %s: %v", path, err)
		return
	}
	t.Logf("screenshot: %s", path)
}
