//go:build race

package demo

// raceEnabled reports whether the tests run under the race detector, which
// slows the demo's servers several times over: its latencies then say more
// about the detector than about the protections.
const raceEnabled = true
