// Package bench holds Fusebox's benchmarks against peer libraries. It is its
// own module so that the peers never enter the core module's dependencies.
package bench
