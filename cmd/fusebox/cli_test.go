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

// runCLI runs the command line and returns its exit code and outputs.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
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
	code, y3, _ := runCLI(t, "demo", "--scenario", file, "--rate", "12", "--print-scenario")
	if code != 0 || !strings.Contains(y3, "rate: 12") || !strings.Contains(y3, "retry: false") {
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

// TestDemoJSON runs a very short demo with --json: stdout is one JSON
// document with both runs' summaries, and the report is written.
func TestDemoJSON(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo for a few seconds")
	}
	report := filepath.Join(t.TempDir(), "report.html")
	code, out, errOut := runCLI(t, "demo", "--json", "--duration", "2s", "--rate", "30", "--report", report)
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
		for _, k := range []string{"usersSuccessDown", "usersP99BaselineMs", "usersP99DownMs", "ordersOkDown", "ordersDegradedDown", "ordersFailedDown", "peakGoroutines", "paymentsRequestsDown", "timeToDetectMs", "timeToRecoverMs"} {
			if _, ok := r.Summary[k]; !ok {
				t.Errorf("run %s: summary lacks %q", r.Name, k)
			}
		}
	}
	if _, ok := got.UsersUnaffected["protected"]; !ok || got.Headline == "" {
		t.Errorf("headline %q, usersUnaffected %v", got.Headline, got.UsersUnaffected)
	}
	if got.Scenario["healthy"] != "400ms" || got.Scenario["rate"] != float64(30) {
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
	code, out, errOut := runCLI(t, "demo", "--duration", "2s", "--rate", "30", "--report", "")
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
