// Package demo is the engine of `fusebox demo`: it starts a small service
// topology on loopback, drives it with an open-model load through an outage
// of one dependency, once without protection and once with Fusebox, and
// reports what happened on the wire.
//
// The topology (see topology.go for why the outage cascades):
//
//	clients ──▶ gateway ──┬─▶ /users   answered by the gateway itself
//	                      └─▶ /orders ──▶ orders ──▶ inventory, catalog, payments
//
// A Scenario holds every number (phases, load, service times, capacities,
// the protections and their settings); Run runs it and returns a Result
// with each run's Summary; Result.WriteSummary prints the summary table and
// WriteReport writes an HTML page with SVG charts of both runs.
//
// Nothing is scripted: the summary is computed from the requests the load
// generator sent and the answers it got, the attempts the services' clients
// made, the payments server's own counters and the breakers' transitions.
// Turn the protections off (Protection.SetEnabled("none")) and the protected
// run shows the cascade too.
package demo
