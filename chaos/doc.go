// Package chaos injects faults, so that the policies that guard against
// them can be seen to work: in tests, in demos, and in staging under an
// operator's control.
//
// A [Fault] describes what to inject, each fault with its own probability:
// latency (fixed, or spread uniformly by a jitter), an error, an HTTP
// status, a connection reset in the middle of a response body, and a
// blackhole that hangs a call until its context ends. Decisions come from a
// seeded random source: with the same Seed, the same calls get the same
// faults, run after run.
//
// An [Injector] applies a Fault, switchable at run time ([Injector.Set],
// [Injector.Disable], [Injector.Enable]) while calls go on, in three forms:
//
//   - as a [fusebox.Policy] ([Injector.Run], [Injector.Execute]): put it
//     innermost in a pipeline to make the dependency look slow or failing;
//   - as an [http.RoundTripper] ([NewRoundTripper]): the client's view of a
//     flaky server, without one;
//   - as HTTP middleware ([Middleware]): a real server that misbehaves.
//
// A [Server] is a real HTTP server on a loopback port with an Injector in
// front of its handler and knobs to turn at run time (SetFailureRate,
// SetLatency, SetStatus, SetResetRate, SetBlackhole), counting what it
// served: the flaky dependency of integration tests and demos. Its Close
// never hangs on a blackholed request.
//
// Time comes from an injected [clock.Clock], so tests drive injected
// latency with a fake clock.
package chaos
