//go:build race

package fuseboxhttp_test

// raceEnabled: the race detector is on. Under it, sync.Pool drops a random
// share of what is put back, so allocation counts that rely on pools say
// nothing.
const raceEnabled = true
