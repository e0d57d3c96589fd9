package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

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
	fs.DurationVar(&o.duration, "duration", 0, "length of each run; the phases keep their proportions (default 25s: two runs take under a minute)")
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
	fs.StringVar(&o.report, "report", filepath.Join(os.TempDir(), "fusebox-demo-report.html"), "write the HTML report to this `file` (\"\": no report)")
	fs.BoolVar(&o.json, "json", false, "write the summary as JSON to stdout (progress goes to stderr)")
	fs.BoolVar(&o.quiet, "quiet", false, "no live progress")
	fs.Func("runs", "the runs to make, in order, separated by commas: `runs` among unprotected and protected (default unprotected,protected)", func(v string) error {
		o.runs = nil
		for _, r := range strings.Split(v, ",") {
			r = strings.TrimSpace(r)
			if r != "unprotected" && r != "protected" {
				return fmt.Errorf("unknown run %q: want unprotected or protected", r)
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
	if o.duration != 0 {
		if err := sc.Scale(o.duration); err != nil {
			return sc, o, err
		}
	}
	return sc, o, sc.Validate()
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

	reportPath := ""
	if o.report != "" {
		reportPath, err = writeReport(o.report, res)
		if err != nil {
			fmt.Fprintf(stderr, "fusebox demo: writing the report: %v\n", err)
			return exitError
		}
	}
	if o.json {
		if err := writeJSON(stdout, res, reportPath); err != nil {
			fmt.Fprintf(stderr, "fusebox demo: %v\n", err)
			return exitError
		}
		return exitOK
	}
	fmt.Fprintln(stdout)
	if err := res.WriteSummary(stdout); err != nil {
		fmt.Fprintf(stderr, "fusebox demo: %v\n", err)
		return exitError
	}
	fmt.Fprintf(stdout, "\n%s\n", res.Headline())
	if reportPath != "" {
		fmt.Fprintf(stdout, "\nReport with charts: %s\n", reportPath)
	}
	return exitOK
}

// writeReport writes the HTML report to path and returns its absolute path.
func writeReport(path string, res *demo.Result) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	f, err := os.Create(abs)
	if err != nil {
		return "", err
	}
	if err := demo.WriteReport(f, res); err != nil {
		f.Close()
		return "", err
	}
	return abs, f.Close()
}

// jsonSummary is what --json writes.
type jsonSummary struct {
	Headline string `json:"headline"`
	// UsersUnaffected says, per run, whether /users kept ≥99% success and
	// its p99 within 2× baseline while payments was down.
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
