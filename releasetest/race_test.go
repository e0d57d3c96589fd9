//go:build race

package releasetest

// raceEnabled: the race detector is on. The proxy test, which only runs
// the go command and programs, gains nothing from it and runs once, without.
const raceEnabled = true
