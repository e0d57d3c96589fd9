package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/fusebox-go/fusebox/cmd/fusebox/internal/demo"
)

// demoOptions are the demo's flags that are not part of the scenario.
type demoOptions struct {
	scenarioFile  string
	printScenario bool
	duration      time.Duration
	report        string
	json          bool
	quiet         bool
	dashboard     bool
	dashboardAddr string
	runs          []string
}

// demoFlags declares the demo's flags, bound to sc and o.
func demoFlags(sc *demo.Scenario, o *demoOptions) *flag.FlagSet {
	fs := flag.NewFlagSet("fusebox demo", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported by runDemo
	fs.StringVar(&o.scenarioFile, "scenario", "", "read the scenario from this YAML `file` (flags given too override it; see --print-scenario)")
	fs.BoolVar(&o.printScenario, "print-scenario", false, "print the scenario as YAML, with the flags applied, and exit")
	fs.DurationVar(&o.duration, "duration", 0, "length of each run, at most 1h; the phases keep their proportions (default 25s: two runs take under a minute). "+
		"It must be long enough to show the cascade: the slow phase must last as long as slow /orders take to fill the gateway's workers and queue, "+
		"and payments must be down long enough for a verdict on /users; "+minDurationText())
	fs.DurationVar(&sc.Healthy, "healthy", sc.Healthy, "length of the healthy baseline phase")
	fs.DurationVar(&sc.Slow, "slow", sc.Slow, "length of the phase where payments is slow")
	fs.DurationVar(&sc.Errors, "errors", sc.Errors, "length of the phase where payments fails")
	fs.DurationVar(&sc.Recovery, "recovery", sc.Recovery, "length of the phase after payments recovered")
	fs.Float64Var(&sc.Rate, "rate", sc.Rate, "requests per second sent to the gateway (an open model: sent on schedule, answered or not)")
	fs.Float64Var(&sc.UsersShare, "users-share", sc.UsersShare, "share of the requests for /users; the rest go to /orders")
	fs.DurationVar(&sc.ClientTimeout, "client-timeout", sc.ClientTimeout, "how long a client waits for the gateway before giving up")
	fs.DurationVar(&sc.SlowLatency, "slow-latency", sc.SlowLatency, "latency payments adds while slow")
	fs.IntVar(&sc.ErrorStatus, "error-status", sc.ErrorStatus, "status payments answers while failing")
	fs.IntVar(&sc.GatewayWorkers, "gateway-workers", sc.GatewayWorkers, "requests the gateway serves at once, all endpoints together (same in both runs)")
	fs.IntVar(&sc.GatewayQueue, "gateway-queue", sc.GatewayQueue, "requests that may wait for a gateway worker; the gateway answers 503 beyond that (same in both runs)")
	fs.IntVar(&sc.OrdersWorkers, "orders-workers", sc.OrdersWorkers, "requests the orders service serves at once (same in both runs)")
	fs.IntVar(&sc.OrdersQueue, "orders-queue", sc.OrdersQueue, "requests that may wait for an orders worker (same in both runs)")
	fs.DurationVar(&sc.ServiceTimeout, "service-timeout", sc.ServiceTimeout, "timeout of the plain service-to-service clients")
	fs.Func("protect", "protections of the protected run: all, none, or a `list` of "+strings.Join(demo.ProtectionNames(), ",")+" (default all)", sc.Protection.SetEnabled)
	fs.IntVar(&sc.Port, "port", sc.Port, "gateway port on 127.0.0.1 (0: any free port)")
	fs.Uint64Var(&sc.Seed, "seed", sc.Seed, "seed of the order IDs the clients ask for")
	fs.StringVar(&o.report, "report", filepath.Join(os.TempDir(), "fusebox-demo-report.html"), "write the HTML report to this `file`, opened before the runs start (\"\": no report)")
	fs.BoolVar(&o.json, "json", false, "write the summary as JSON to stdout (progress goes to stderr)")
	fs.BoolVar(&o.quiet, "quiet", false, "no live progress")
	fs.Func("runs", "the runs to make, in order, separated by commas: `runs` among unprotected and protected, each at most once (default unprotected,protected)", func(v string) error {
		o.runs = nil
		for _, r := range strings.Split(v, ",") {
			r = strings.TrimSpace(r)
			if r != "unprotected" && r != "protected" {
				return fmt.Errorf("unknown run %q: want unprotected or protected", r)
			}
			if slices.Contains(o.runs, r) {
				return fmt.Errorf("run %q named twice: want each run at most once", r)
			}
			o.runs = append(o.runs, r)
		}
		return nil
	})
	fs.BoolVar(&o.dashboard, "dashboard", false, "serve the live dashboard during the runs and print its URL")
	fs.StringVar(&o.dashboardAddr, "dashboard-addr", "127.0.0.1:0", "address of the live dashboard")
	return fs
}

func demoUsage(w io.Writer) {
	fmt.Fprint(w, `Usage: fusebox demo [flags]

Runs a small service topology on loopback and shows the same outage twice:
without protection (plain clients with generous timeouts, as most services
have), then with Fusebox (deadlines, bulkheads, breakers, retries with a
budget, a fallback with a degraded cache, load shedding).

  clients ──▶ gateway ──┬─▶ /users  (answered by the gateway itself)
                        └─▶ /orders ──▶ orders ──▶ inventory, catalog, payments

payments is healthy, then slow, then failing, then healthy again. Both runs
keep the same limits: the gateway serves --gateway-workers requests at once,
every endpoint together. Everything shown is measured on the wire.

At the end it prints a summary, writes an HTML report with charts, and with
--json writes the summary as JSON instead.

`+wrap("The summary's verdict on /users follows from its numbers: "+demo.VerdictRules(), 76)+`

Flags:
`)
	var sc demo.Scenario = demo.DefaultScenario()
	var o demoOptions
	fs := demoFlags(&sc, &o)
	fs.SetOutput(w)
	fs.PrintDefaults()
	fmt.Fprint(w, `
Every number of the scenario, the protections' included, can be set in a
YAML file: 'fusebox demo --print-scenario > demo.yaml', edit, then
'fusebox demo --scenario demo.yaml'.
`)
}

// minDurationText says the shortest --duration of the default scenario.
func minDurationText() string {
	d, err := demo.DefaultScenario().MinDuration()
	if err != nil {
		return "the default scenario cannot: " + err.Error()
	}
	return "at least " + d.String() + " with the default scenario"
}

// wrap breaks text into lines of at most width runes, between words (a
// longer word has a line of its own).
func wrap(text string, width int) string {
	var b strings.Builder
	col := 0
	for _, w := range strings.Fields(text) {
		n := utf8.RuneCountInString(w)
		switch {
		case col == 0:
		case col+1+n > width:
			b.WriteByte('\n')
			col = 0
		default:
			b.WriteByte(' ')
			col++
		}
		b.WriteString(w)
		col += n
	}
	return b.String()
}

// parseDemo reads the scenario: the defaults, then the YAML file named by
// --scenario, then the other flags.
func parseDemo(args []string) (demo.Scenario, demoOptions, error) {
	// First pass: find the scenario file, and catch flag errors early.
	sc := demo.DefaultScenario()
	var o demoOptions
	if err := demoFlags(&sc, &o).Parse(args); err != nil {
		return sc, o, err
	}
	sc = demo.DefaultScenario()
	if o.scenarioFile != "" {
		f, err := os.Open(o.scenarioFile)
		if err != nil {
			return sc, o, err
		}
		sc, err = demo.LoadScenario(f, sc)
		f.Close()
		if err != nil {
			return sc, o, fmt.Errorf("%s: %w", o.scenarioFile, err)
		}
	}
	fs := demoFlags(&sc, &o)
	if err := fs.Parse(args); err != nil {
		return sc, o, err
	}
	if fs.NArg() > 0 {
		return sc, o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	// --duration 0 is out of range like --duration -5s, not the default.
	durationSet := false
	fs.Visit(func(f *flag.Flag) { durationSet = durationSet || f.Name == "duration" })
	if durationSet {
		if err := sc.Scale(o.duration); err != nil {
			return sc, o, err
		}
	}
	if err := sc.Validate(); err != nil {
		return sc, o, err
	}
	return sc, o, sc.CheckCascade()
}

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	sc, o, err := parseDemo(args)
	if errors.Is(err, flag.ErrHelp) {
		demoUsage(stdout)
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "fusebox demo: %v\nRun 'fusebox demo --help' for usage.\n", err)
		return exitUsage
	}
	if o.printScenario {
		b, err := sc.YAML()
		if err != nil {
			fmt.Fprintf(stderr, "fusebox demo: %v\n", err)
			return exitError
		}
		_, _ = stdout.Write(b)
		return exitOK
	}

	// The report file is opened first: a path that cannot be written
	// fails now, not after the runs.
	var report *reportFile
	if o.report != "" {
		report, err = openReport(o.report)
		if err != nil {
			fmt.Fprintf(stderr, "fusebox demo: cannot write the report: %v\nChoose another --report, or --report \"\" for none.\n", err)
			return exitError
		}
		defer report.abandon()
	}

	out := stdout // what people read
	if o.json {
		out = stderr
	}
	opt := demo.Options{Runs: o.runs}
	if !o.quiet {
		opt.Progress = out
		opt.Live = isTerminal(out)
	}
	var dash *dashboardServer
	if o.dashboard {
		dash, err = startDashboard(o.dashboardAddr)
		if err != nil {
			fmt.Fprintf(stderr, "fusebox demo: %v\n", err)
			return exitError
		}
		defer dash.Close()
		opt.Latency = dash.Latency
		fmt.Fprintf(out, "Live dashboard: %s (open during the runs)\n", dash.URL())
	}
	opt.OnRun = func(ri demo.RunInfo) func() {
		if !o.quiet {
			fmt.Fprintf(out, "\n== Run %d/%d: %s (protections: %s) — gateway on %s\n", ri.Index, ri.Of, ri.Name, ri.Protection, ri.GatewayURL)
		}
		if dash != nil {
			return dash.Show(ri)
		}
		return nil
	}
	if !o.quiet {
		fmt.Fprintf(out, "Fusebox demo: %s per run, payments slow after %s, failing after %s, back after %s; %.0f requests/s.\n",
			sc.Total(), sc.Healthy, sc.Healthy+sc.Slow, sc.Healthy+sc.Slow+sc.Errors, sc.Rate)
	}

	res, err := demo.Run(ctx, sc, opt)
	if err != nil {
		var be *demo.BindError
		switch {
		case errors.As(err, &be) && be.Service == "gateway":
			fmt.Fprintf(stderr, "fusebox demo: %v\nChoose another --port, or --port 0 for any free port.\n", err)
		case errors.Is(err, context.Canceled) && ctx.Err() != nil:
			fmt.Fprintln(stderr, "fusebox demo: interrupted")
		default:
			fmt.Fprintf(stderr, "fusebox demo: %v\n", err)
		}
		return exitError
	}

	// A report that cannot be written does not lose the results: the
	// summary is written all the same, and the error after it.
	reportPath := ""
	var reportErr error
	if report != nil {
		if reportErr = report.write(res); reportErr == nil {
			reportPath = report.path
		}
	}
	code := exitOK
	if reportErr != nil {
		code = exitError
	}
	if o.json {
		if err := writeJSON(stdout, res, reportPath); err != nil {
			fmt.Fprintf(stderr, "fusebox demo: %v\n", err)
			code = exitError
		}
	} else {
		fmt.Fprintln(stdout)
		if err := res.WriteSummary(stdout); err != nil {
			fmt.Fprintf(stderr, "fusebox demo: %v\n", err)
			code = exitError
		} else {
			fmt.Fprintf(stdout, "\n%s\n", res.Headline())
			if reportPath != "" {
				fmt.Fprintf(stdout, "\nReport with charts: %s\n", reportPath)
			}
		}
	}
	if reportErr != nil {
		fmt.Fprintf(stderr, "fusebox demo: cannot write the report: %v\n", reportErr)
	}
	return code
}

// reportFile is the --report file, opened before the runs so that a path
// that cannot be written is reported before them. Opening it neither
// truncates an existing file nor writes anything: if the runs fail, a
// report left by an earlier demo stays as it was, and a file the demo
// created is removed.
type reportFile struct {
	f       *os.File
	path    string // absolute
	created bool   // the file did not exist before
}

// openReport opens (or creates) the report file at path for writing.
func openReport(path string) (*reportFile, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	r := &reportFile{path: abs, created: true}
	r.f, err = os.OpenFile(abs, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, os.ErrExist) {
		r.created = false
		r.f, err = os.OpenFile(abs, os.O_WRONLY, 0)
	}
	if err != nil {
		return nil, err
	}
	return r, nil
}

// write replaces the file's content with the report of res and closes it.
func (r *reportFile) write(res *demo.Result) error {
	f := r.f
	r.f = nil
	err := func() error {
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
			if err := f.Truncate(0); err != nil {
				return err
			}
		}
		w := bufio.NewWriter(f)
		if err := demo.WriteReport(w, res); err != nil {
			return err
		}
		return w.Flush()
	}()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	var pe *os.PathError
	if err != nil && !errors.As(err, &pe) {
		err = fmt.Errorf("%s: %w", r.path, err)
	}
	return err
}

// abandon closes a report file that was never written, and removes it if
// the demo created it. It does nothing after write.
func (r *reportFile) abandon() {
	if r.f == nil {
		return
	}
	r.f.Close()
	r.f = nil
	if r.created {
		os.Remove(r.path)
	}
}

// jsonSummary is what --json writes.
type jsonSummary struct {
	Headline string `json:"headline"`
	// UsersUnaffected says, per run, whether /users stayed up while
	// payments was down (see demo.VerdictRules); each run's summary has
	// the verdict itself, usersVerdict.
	UsersUnaffected map[string]bool   `json:"usersUnaffected"`
	Runs            []*demo.RunResult `json:"runs"`
	Report          string            `json:"report,omitempty"`
	Scenario        any               `json:"scenario"`
}

func writeJSON(w io.Writer, res *demo.Result, report string) error {
	// The scenario goes through YAML so that durations read "5s".
	y, err := res.Scenario.YAML()
	if err != nil {
		return err
	}
	var sc map[string]any
	if err := yaml.Unmarshal(y, &sc); err != nil {
		return err
	}
	js := jsonSummary{Headline: res.Headline(), UsersUnaffected: map[string]bool{}, Runs: res.Runs, Report: report, Scenario: sc}
	for _, r := range res.Runs {
		js.UsersUnaffected[r.Name] = r.Summary.UsersUnaffected
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(js)
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0 && os.Getenv("TERM") != "dumb"
}
