package fuseboxprom_test

import (
	"os"
	"os/exec"
	"testing"
)

// needTool returns the path of a program an integration test runs
// (promtool, prometheus). When it is not in PATH the test is skipped with
// a one-line reason, so that `go test` works on a machine without it,
// except under CI (the environment variable CI is "true"), where the test
// fails instead: CI installs the tools (.ci/run), so a missing one there
// is a broken setup, and a skip would let the test pass without running.
func needTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	const install = "install the Debian package prometheus (apt-get install prometheus), as .ci/run does"
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s not found in PATH (%v), and CI=true: %s", name, err, install)
	}
	t.Skipf("%s not found in PATH (CI unset, so skipping; with CI=true this fails): %s", name, install)
	return ""
}
