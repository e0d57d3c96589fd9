package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// quickDemo is a demo of two runs of 3s that can still show the cascade
// (CheckCascade): at 20 /orders/s, slow ones fill a gateway of 4 workers
// and 4 queue places in 0.24s, less than the 1s they hold a worker and the
// 0.96s slow phase; at 80 /users/s, the 1.44s outage sends more than the
// 100 a verdict needs.
var quickDemo = []string{"--duration", "3s", "--users-share", "0.8", "--gateway-workers", "4", "--gateway-queue", "4", "--client-timeout", "1s", "--slow-latency", "2s"}

// runCLI runs the command line and returns its exit code and outputs.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// runDemoCLI is runCLI for a command that runs the demo. A run whose load
// generator fell behind its schedule on a busy machine ends the command
// with "the machine is too slow to produce the load" (exit 1): runDemoCLI
// tries again, up to 3 times in all, and skips the test, saying so, if
// every attempt was too slow. Tests that judge no latency use it.
func runDemoCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	const attempts = 3
	for attempt := 1; attempt <= attempts; attempt++ {
		code, stdout, stderr = runCLI(t, args...)
		if code == 0 || !strings.Contains(stderr, "too slow to produce the load") {
			return code, stdout, stderr
		}
		lines := strings.Split(strings.TrimSpace(stderr), "\n")
		t.Logf("attempt %d of %d: %s", attempt, attempts, lines[len(lines)-1])
	}
	t.Skipf("the machine was too busy to produce the demo's load in %d attempts", attempts)
	return code, stdout, stderr
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}} {
		code, out, errOut := runCLI(t, args...)
		if code != 0 || errOut != "" {
			t.Errorf("%v: exit %d, stderr %q; want 0 and nothing", args, code, errOut)
		}
		for _, want := range []string{"Usage:", "fusebox <command>", "demo", "version"} {
			if !strings.Contains(out, want) {
				t.Errorf("%v: help lacks %q:\n%s", args, want, out)
			}
		}
	}
}

func TestNoCommand(t *testing.T) {
	code, out, errOut := runCLI(t)
	if code != 2 || out != "" || !strings.Contains(errOut, "Usage:") {
		t.Errorf("no command: exit %d, stdout %q, stderr %q; want 2 with the usage on stderr", code, out, errOut)
	}
}

func TestUnknownCommand(t *testing.T) {
	for _, args := range [][]string{{"frobnicate"}, {"--frobnicate"}, {"help", "frobnicate"}} {
		code, out, errOut := runCLI(t, args...)
		if code != 2 || out != "" || !strings.Contains(errOut, "frobnicate") || !strings.Contains(errOut, "fusebox --help") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want 2, a message naming it on stderr", args, code, out, errOut)
		}
	}
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		code, out, errOut := runCLI(t, args...)
		if code != 0 || errOut != "" || !strings.HasPrefix(out, "fusebox ") || !strings.Contains(out, "go1.") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, out, errOut)
		}
	}
	if code, _, errOut := runCLI(t, "version", "extra"); code != 2 || errOut == "" {
		t.Errorf("version extra: exit %d, stderr %q; want 2", code, errOut)
	}
}

func TestDemoHelp(t *testing.T) {
	for _, args := range [][]string{{"demo", "--help"}, {"demo", "-h"}, {"help", "demo"}} {
		code, out, errOut := runCLI(t, args...)
		if code != 0 || errOut != "" {
			t.Errorf("%v: exit %d, stderr %q", args, code, errOut)
		}
		for _, want := range []string{"Usage: fusebox demo", "-json", "-port", "-protect", "-scenario", "-duration", "-dashboard"} {
			if !strings.Contains(out, want) {
				t.Errorf("%v: help lacks %q", args, want)
			}
		}
	}
}

func TestDemoBadFlags(t *testing.T) {
	tests := [][]string{
		{"demo", "--no-such-flag"},
		{"demo", "--rate", "fast"},
		{"demo", "--rate", "0"},
		{"demo", "--protect", "teleport"},
		{"demo", "--duration", "-5s"},
		{"demo", "extra"},
		{"demo", "--scenario", "/no/such/file.yaml"},
	}
	for _, args := range tests {
		code, out, errOut := runCLI(t, args...)
		if code != 2 || out != "" || !strings.HasPrefix(errOut, "fusebox demo: ") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want 2 and a message on stderr", args, code, out, errOut)
		}
	}
}

// TestDemoOutOfRange: values out of range are refused at once, with exit 2
// and a message naming the flag or the scenario field and the range; with
// --print-scenario, which would otherwise print them.
func TestDemoOutOfRange(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		// 0 is out of range like any other duration not above 0.
		{[]string{"--duration", "0"}, "duration 0s out of range: want more than 0"},
		{[]string{"--duration", "-5s"}, "duration -5s out of range: want more than 0"},
		{[]string{"--duration", "2h"}, "duration 2h0m0s out of range: want more than 0, at most 1h"},
		// Phases whose total wraps around to a negative duration.
		{[]string{"--healthy", "2000000h", "--slow", "2000000h"}, "healthy 2000000h0m0s out of range: want 200ms (the baseline needs requests) to 1h"},
		{[]string{"--slow", "2000000h", "--errors", "2000000h"}, "slow 2000000h0m0s out of range: want 0 to 1h"},
		{[]string{"--runs", "protected,protected"}, `run "protected" named twice`},
		{[]string{"--runs", "unprotected,protected,unprotected"}, `run "unprotected" named twice`},
	}
	for _, tt := range tests {
		args := append([]string{"demo", "--print-scenario"}, tt.args...)
		code, out, errOut := runCLI(t, args...)
		if code != 2 || out != "" || !strings.HasPrefix(errOut, "fusebox demo: ") || !strings.Contains(errOut, tt.want) {
			t.Errorf("%v: exit %d, stdout %.40q, stderr %q; want 2 and %q", args, code, out, errOut, tt.want)
		}
	}
}

// TestDemoScenarioPolicyLimits: scenario values the protected run's
// policies reject are refused before any run (exit 2 at once, naming the
// scenario's field), not when the protected run builds its policies after
// the whole unprotected run.
func TestDemoScenarioPolicyLimits(t *testing.T) {
	for _, tc := range []struct{ field, yaml string }{
		{"protection.retryBudget +Inf", "protection:\n  retryBudget: .inf\n"},
		{"protection.breakerWindow 100.000001ms", "protection:\n  breakerWindow: 100000001ns\n"},
		{"protection.dependencyBulkhead 3000000000", "protection:\n  dependencyBulkhead: 3000000000\n"},
		{"protection.ordersBulkhead 3000000000", "protection:\n  ordersBulkhead: 3000000000\n"},
		{"protection.breakerMinCalls 5000000000", "protection:\n  breakerMinCalls: 5000000000\n"},
		{"protection.breakerConsecutive 5000000000", "protection:\n  breakerConsecutive: 5000000000\n"},
	} {
		file := filepath.Join(t.TempDir(), "demo.yaml")
		if err := os.WriteFile(file, []byte(tc.yaml), 0o644); err != nil {
			t.Fatal(err)
		}
		code, out, errOut := runCLI(t, "demo", "--scenario", file, "--print-scenario")
		if code != 2 || out != "" || !strings.Contains(errOut, "scenario: "+tc.field+" out of range: want ") {
			t.Errorf("%q: exit %d, stderr %q; want 2 naming %s and its range", tc.yaml, code, errOut, tc.field)
		}
	}
}

// TestScenarioFileRejected: a scenario file with a second YAML document, or
// a field without a value, is refused rather than partly ignored.
func TestScenarioFileRejected(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"rate: 50\n---\nrats: 3\n", "more than one YAML document"},
		{"rate: ~\n", "rate has no value"},
		{"rate:\n", "rate has no value"},
		{"protection:\n  breakerOpen: null\n", "protection.breakerOpen has no value"},
	} {
		file := filepath.Join(t.TempDir(), "demo.yaml")
		if err := os.WriteFile(file, []byte(tc.yaml), 0o644); err != nil {
			t.Fatal(err)
		}
		code, out, errOut := runCLI(t, "demo", "--scenario", file, "--print-scenario")
		if code != 2 || out != "" || !strings.Contains(errOut, file+": scenario: ") || !strings.Contains(errOut, tc.want) {
			t.Errorf("%q: exit %d, stderr %q; want 2 and %q", tc.yaml, code, errOut, tc.want)
		}
	}
}

// TestScenarioFile: --print-scenario writes YAML that --scenario reads
// back; flags given too win over the file.
func TestScenarioFile(t *testing.T) {
	code, y, errOut := runCLI(t, "demo", "--print-scenario", "--rate", "77", "--protect", "breaker,fallback")
	if code != 0 || errOut != "" || !strings.Contains(y, "rate: 77") || !strings.Contains(y, "breaker: true") || !strings.Contains(y, "retry: false") {
		t.Fatalf("--print-scenario: exit %d, stderr %q:\n%s", code, errOut, y)
	}
	file := filepath.Join(t.TempDir(), "demo.yaml")
	if err := os.WriteFile(file, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	code, y2, _ := runCLI(t, "demo", "--scenario", file, "--print-scenario")
	if code != 0 || y2 != y {
		t.Errorf("round trip through --scenario changed the scenario:\n%s\nvs\n%s", y2, y)
	}
	code, y3, _ := runCLI(t, "demo", "--scenario", file, "--rate", "120", "--print-scenario")
	if code != 0 || !strings.Contains(y3, "rate: 120") || !strings.Contains(y3, "retry: false") {
		t.Errorf("a flag should override the file and keep the rest:\n%s", y3)
	}
	if err := os.WriteFile(file, []byte("rats: 3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = runCLI(t, "demo", "--scenario", file)
	if code != 2 || !strings.Contains(errOut, "rats") {
		t.Errorf("unknown field: exit %d, stderr %q; want 2 naming the field", code, errOut)
	}
}

// TestDemoPortInUse occupies a port and points the demo's gateway at it:
// the demo exits 1 with a message that says which port and what to do.
func TestDemoPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	code, _, errOut := runCLI(t, "demo", "--port", port, "--quiet", "--report", "")
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	for _, want := range []string{"fusebox demo: cannot listen on 127.0.0.1:" + port + " for the gateway", "address already in use", "--port"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr %q lacks %q", errOut, want)
		}
	}
}

// TestDemoReportPathCheckedFirst: a --report path that cannot be created
// fails at once, with exit 1, before any run, rather than after the runs
// with their results lost.
func TestDemoReportPathCheckedFirst(t *testing.T) {
	report := filepath.Join(t.TempDir(), "no-such-dir", "report.html")
	// A short run, should the path be checked only after it.
	code, out, errOut := runCLI(t, append([]string{"demo", "--json", "--runs", "protected", "--report", report}, quickDemo...)...)
	if code != 1 || out != "" || !strings.HasPrefix(errOut, "fusebox demo: cannot write the report: ") || !strings.Contains(errOut, report) || !strings.Contains(errOut, "--report") {
		t.Errorf("exit %d, stdout %q, stderr %q; want 1 and a message naming the path", code, out, errOut)
	}
	if strings.Contains(errOut, "Run 1/1") {
		t.Errorf("the run started before the report path was checked:\n%s", errOut)
	}
}

// TestDemoReportLeftAlone: when the runs fail, opening the report before
// them has changed nothing: a report of an earlier demo is kept as it was,
// a new file is removed.
func TestDemoReportLeftAlone(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port) // the runs fail: the port is taken
	dir := t.TempDir()
	old := filepath.Join(dir, "old.html")
	if err := os.WriteFile(old, []byte("earlier report"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := runCLI(t, "demo", "--port", port, "--quiet", "--report", old); code != 1 {
		t.Errorf("exit %d, stderr %q; want 1", code, errOut)
	}
	if b, err := os.ReadFile(old); err != nil || string(b) != "earlier report" {
		t.Errorf("earlier report now %q, %v", b, err)
	}
	created := filepath.Join(dir, "new.html")
	if code, _, errOut := runCLI(t, "demo", "--port", port, "--quiet", "--report", created); code != 1 {
		t.Errorf("exit %d, stderr %q; want 1", code, errOut)
	}
	if _, err := os.Stat(created); !os.IsNotExist(err) {
		t.Errorf("report file left behind after the runs failed: %v", err)
	}
}

// TestDemoReportWriteFails: a report that cannot be written at the end
// (here a full disk, /dev/full) does not lose the results: the summary is
// written all the same, JSON with --json, and the command exits 1 with the
// reason.
func TestDemoReportWriteFails(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo for a few seconds")
	}
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full:", err)
	}
	short := append([]string{"--runs", "protected", "--quiet", "--report", "/dev/full"}, quickDemo...)
	for _, asJSON := range []bool{true, false} {
		args := append([]string{"demo"}, short...)
		if asJSON {
			args = append(args, "--json")
		}
		code, out, errOut := runDemoCLI(t, args...)
		if code != 1 || !strings.Contains(errOut, "fusebox demo: cannot write the report: ") || !strings.Contains(errOut, "/dev/full") {
			t.Errorf("json %v: exit %d, stderr %q; want 1 and the report's error", asJSON, code, errOut)
		}
		if asJSON {
			var v struct {
				Report string `json:"report"`
				Runs   []struct {
					Name string `json:"name"`
				} `json:"runs"`
			}
			if err := json.Unmarshal([]byte(out), &v); err != nil || len(v.Runs) != 1 || v.Runs[0].Name != "protected" || v.Report != "" {
				t.Errorf("stdout is not the JSON summary (without a report): %v\n%s", err, out)
			}
		} else if !strings.Contains(out, "/users success") || strings.Contains(out, "Report with charts") {
			t.Errorf("stdout lacks the summary, or names a report that was not written:\n%s", out)
		}
	}
}

// TestDemoJSON runs a very short demo with --json: stdout is one JSON
// document with both runs' summaries, and the report is written.
func TestDemoJSON(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo for a few seconds")
	}
	report := filepath.Join(t.TempDir(), "report.html")
	code, out, errOut := runDemoCLI(t, append([]string{"demo", "--json", "--report", report}, quickDemo...)...)
	if code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut)
	}
	var got struct {
		Headline        string          `json:"headline"`
		UsersUnaffected map[string]bool `json:"usersUnaffected"`
		Report          string          `json:"report"`
		Scenario        map[string]any  `json:"scenario"`
		Runs            []struct {
			Name       string         `json:"name"`
			Protection string         `json:"protection"`
			Summary    map[string]any `json:"summary"`
		} `json:"runs"`
	}
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("stdout is not the JSON summary: %v\n%s", err, out)
	}
	if len(got.Runs) != 2 || got.Runs[0].Name != "unprotected" || got.Runs[1].Name != "protected" || got.Runs[1].Protection != "all" {
		t.Errorf("runs %+v", got.Runs)
	}
	for _, r := range got.Runs {
		for _, k := range []string{"usersSuccessDown", "usersP99BaselineMs", "usersP99DownMs", "ordersOkDown", "ordersDegradedDown", "ordersFailedDown", "peakGoroutines", "paymentsRequestsDown", "timeToDetectMs", "usersVerdict", "usersUnhealthyMs", "ordersFullAgainMs"} {
			if _, ok := r.Summary[k]; !ok {
				t.Errorf("run %s: summary lacks %q", r.Name, k)
			}
		}
	}
	if _, ok := got.UsersUnaffected["protected"]; !ok || got.Headline == "" {
		t.Errorf("headline %q, usersUnaffected %v", got.Headline, got.UsersUnaffected)
	}
	if got.Scenario["healthy"] != "600ms" || got.Scenario["usersShare"] != 0.8 {
		t.Errorf("scenario %v: want the durations as text and the flags applied", got.Scenario)
	}
	if got.Report != report {
		t.Errorf("report %q, want %q", got.Report, report)
	}
	if b, err := os.ReadFile(report); err != nil || !bytes.Contains(b, []byte("<svg")) {
		t.Errorf("report not written: %v", err)
	}
	if !strings.Contains(errOut, "Run 2/2: protected") {
		t.Errorf("progress should go to stderr with --json:\n%s", errOut)
	}
}

// TestDemoText runs a very short demo as people do: the summary table and
// the headline on stdout, progress as plain lines (stdout is no terminal).
func TestDemoText(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo for a few seconds")
	}
	code, out, errOut := runDemoCLI(t, append([]string{"demo", "--report", ""}, quickDemo...)...)
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut)
	}
	for _, want := range []string{"== Run 1/2: unprotected", "== Run 2/2: protected", "while payments was down", "/users success", "time to detect", "While payments was down, /users"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\x1b[") || strings.Contains(out, "Report with charts") {
		t.Errorf("escape sequences or a report line in:\n%s", out)
	}
}

// A --duration so short that the scaled healthy phase would fall under its
// minimum is refused with an error about --duration and its real lower
// bound, not about "healthy", a field the user never set.
func TestDemoDurationTooShortForPhases(t *testing.T) {
	for _, d := range []string{"1ns", "500ms", "999ms"} {
		code, _, errOut := runCLI(t, "demo", "--print-scenario", "--duration", d)
		if code == 0 || !strings.Contains(errOut, "duration "+d+" out of range: want at least") {
			t.Errorf("--duration %s: exit %d, stderr %q; want an error about --duration and its lower bound", d, code, errOut)
		}
	}
}

// TestDemoDurationTooShortForCascade (issue 12): a --duration too short
// for the unprotected run to show the cascade is refused, naming
// --duration, its value and the real lower bound, worked out from the
// default scenario: slow /orders (60/s) take 64/60 s to hold every one of
// the gateway's 64 workers, then every request (100/s) waits, and 64/100 s
// later its queue is full: 1.71s (rounded up to 10ms). The slow phase is
// 8/25 of the run: 1.71s/0.32 = 5.34s, 5.4s rounded up to 100ms.
func TestDemoDurationTooShortForCascade(t *testing.T) {
	for _, d := range []string{"1s", "2s", "5.3s"} {
		code, out, errOut := runCLI(t, "demo", "--print-scenario", "--duration", d)
		want := "duration " + d + " out of range: want at least 5.4s"
		if code != 2 || out != "" || !strings.Contains(errOut, want) || !strings.Contains(errOut, "1.71s") {
			t.Errorf("--duration %s: exit %d, stderr %q; want 2 and %q, with the 1.71s the gateway takes to fill", d, code, errOut, want)
		}
	}
	for _, args := range [][]string{{"--duration", "5.4s"}, {"--duration", "25s"}, nil} {
		code, _, errOut := runCLI(t, append([]string{"demo", "--print-scenario"}, args...)...)
		if code != 0 {
			t.Errorf("%v: exit %d, stderr %q; want it accepted", args, code, errOut)
		}
	}
	_, help, _ := runCLI(t, "demo", "--help")
	if !strings.Contains(help, "at least 5.4s with the default scenario") {
		t.Errorf("--help does not give the shortest --duration:\n%s", help)
	}
}

// TestScenarioTooShortForCascade (issue 12): a scenario whose numbers
// cannot show the cascade is refused before any run, naming the field,
// its value and what it needs.
func TestScenarioTooShortForCascade(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		// A slow phase shorter than the client timeout (4s) and shorter
		// than the 1.71s slow /orders take to fill the gateway.
		{"slow: 1s\n", "scenario: slow 1s too short to show the cascade: want at least 1.71s"},
		{"slow: 0s\nerrors: 5s\n", "scenario: slow 0s too short to show the cascade: want at least 1.71s"},
		// Slow /orders give up, and free their workers, before the
		// gateway is full.
		{"clientTimeout: 1s\n", "scenario: clientTimeout 1s too short to show the cascade: want at least 1.71s"},
		{"slowLatency: 1500ms\n", "scenario: slowLatency 1.5s too short to show the cascade: want at least 1.71s"},
		{"usersShare: 0\n", "scenario: usersShare 0 cannot show the cascade"},
		{"usersShare: 1\n", "scenario: usersShare 1 cannot show the cascade"},
		{"ordersWorkers: 16\nordersQueue: 16\n", "scenario: ordersWorkers+ordersQueue 32 too small to show the cascade: want at least 64"},
		// 2s of outage at 40 /users per second: too few for a verdict.
		{"slow: 2s\nerrors: 0s\n", "scenario: slow+errors 2s too short to judge /users: want at least 2.5s"},
	} {
		file := filepath.Join(t.TempDir(), "demo.yaml")
		if err := os.WriteFile(file, []byte(tc.yaml), 0o644); err != nil {
			t.Fatal(err)
		}
		code, out, errOut := runCLI(t, "demo", "--scenario", file, "--print-scenario")
		if code != 2 || out != "" || !strings.Contains(errOut, tc.want) {
			t.Errorf("%q: exit %d, stderr %q; want 2 and %q", tc.yaml, code, errOut, tc.want)
		}
	}
	// A slow phase shorter than the client timeout is not too short in
	// itself: what matters is the gateway filling up. (Measured: runs of
	// 9s and 5s, slow phases of 2.88s and 1.6s, showed the cascade, /users
	// at 46% and 70% success.)
	file := filepath.Join(t.TempDir(), "demo.yaml")
	if err := os.WriteFile(file, []byte("slow: 3s\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := runCLI(t, "demo", "--scenario", file, "--print-scenario"); code != 0 {
		t.Errorf("slow: 3s: exit %d, stderr %q; want it accepted", code, errOut)
	}
}
