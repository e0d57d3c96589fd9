//go:build !race

package fuseboxhttp_test

// raceEnabled: the race detector is on (see race_test.go).
const raceEnabled = false
