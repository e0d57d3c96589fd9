// Package readme holds the test that keeps the repository's README.md
// honest: every Go block in it is a complete program (package main, its
// imports, every error checked), formatted by gofmt, and it builds and
// passes go vet against the modules of this repository. It lives in the
// examples module, which requires every module a README snippet may
// import.
//
// Run it from the repository root with
//
//	go test ./examples/readme
package readme
