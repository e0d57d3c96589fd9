// Package browsertest holds the dashboard's browser test: it serves the
// dashboard on loopback, opens it in headless Chromium through the DevTools
// protocol (github.com/chromedp/chromedp), changes a breaker's state and
// checks that the page follows within a second. It is a module of its own
// so that the core module keeps to the standard library.
//
// The test needs Chromium at /usr/bin/chromium (the Debian package
// chromium), or at the path in FUSEBOX_CHROMIUM; without it the test is
// skipped, or fails when the environment variable CI is "true".
// Screenshots go to the directory in FUSEBOX_ARTIFACTS, or to a temporary
// directory; the test logs their paths.
package browsertest
