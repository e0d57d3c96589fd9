// Package releasetest holds the tests of Fusebox's release: the licence in
// every module, scripts/release.sh, and the release as its users get it,
// through a module proxy (a local one, made by the test from the working
// tree; nothing leaves the machine). It has no code of its own and is not
// released: it is a module of its own only so that the core module keeps
// importing nothing but the standard library.
package releasetest
