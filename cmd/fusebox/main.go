// Command fusebox is the command-line companion of the Fusebox
// fault-tolerance toolkit.
//
//	fusebox demo      run a service topology through an outage of one of its
//	                  dependencies, without and then with Fusebox, and report
//	                  what happened on the wire
//	fusebox version   print the version
//
// Install it with
//
//	go install github.com/fusebox-go/fusebox/cmd/fusebox@latest
//
// Run `fusebox <command> --help` for a command's flags.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1 // the command failed
	exitUsage = 2 // the command line is wrong
)

// version is the command's version; the build info's module version when
// empty. Release builds may set it with -ldflags "-X main.version=v1.2.3".
var version string

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// command is a subcommand.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

func commands() []command {
	return []command{
		{"demo", "run a service topology through an outage, without and with Fusebox", runDemo},
		{"version", "print the version", runVersion},
	}
}

// run runs the command line args (without the program name) and returns the
// exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		if len(args) > 1 && args[0] == "help" {
			for _, c := range commands() {
				if c.name == args[1] {
					return c.run(ctx, []string{"--help"}, stdout, stderr)
				}
			}
			fmt.Fprintf(stderr, "fusebox: unknown command %q\nRun 'fusebox --help' for usage.\n", args[1])
			return exitUsage
		}
		usage(stdout)
		return exitOK
	case "-version", "--version":
		return runVersion(ctx, nil, stdout, stderr)
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdout, stderr)
		}
	}
	if len(args[0]) > 0 && args[0][0] == '-' {
		fmt.Fprintf(stderr, "fusebox: flag %s given before a command\nRun 'fusebox --help' for usage.\n", args[0])
	} else {
		fmt.Fprintf(stderr, "fusebox: unknown command %q\nRun 'fusebox --help' for usage.\n", args[0])
	}
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprint(w, `Fusebox stops cascading failures in Go services: circuit breakers, retries
with budgets, bulkheads, timeouts, fallbacks and load shedding, composed into
one pipeline. This command shows them at work.

Usage:
  fusebox <command> [flags]

Commands:
`)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, `
Run 'fusebox <command> --help' for a command's flags.
Start with 'fusebox demo': a minute, no flags, no files needed.
`)
}

func runVersion(_ context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		if args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
			fmt.Fprintln(stdout, "Usage: fusebox version\n\nPrints the version of the fusebox command and the Go toolchain that built it.")
			return exitOK
		}
		fmt.Fprintf(stderr, "fusebox version: unexpected argument %q\n", args[0])
		return exitUsage
	}
	fmt.Fprintln(stdout, versionString())
	return exitOK
}

// versionString is "fusebox <version> (<go version> <os>/<arch>)".
func versionString() string {
	v := version
	if v == "" {
		v = "(devel)"
		if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
			v = bi.Main.Version
		}
	}
	return fmt.Sprintf("fusebox %s (%s %s/%s)", v, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
