#!/usr/bin/env bash
# Runs every check of the project, over every Go module of the workspace:
# gofmt, go vet, staticcheck, and the tests twice: with the race detector,
# and as built for users (without it, so that the code that ships is the
# code tested: the race build instruments every memory access, changes the
# timing and scheduling, and may select other files by build tag). The core module is also vetted and tested as built
# for 32-bit x86 (GOARCH=386 runs on an amd64 machine), where 64-bit atomics
# need alignment and int is 32 bits. The benchmark module's benchmarks run
# once, briefly, as a smoke test. Last, every example under examples/ is
# run with go run, as the README tells users to.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$(go env GOPATH 2>/dev/null || echo "$HOME/go")/bin:$PATH"

STATICCHECK=honnef.co/go/tools/cmd/staticcheck@v0.8.2
modules=$(go list -m -f '{{.Dir}}')

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
	echo "gofmt would change:"
	echo "$unformatted"
	exit 1
fi

# go.mod and go.sum as go mod tidy leaves them, in every module, each on its
# own (GOWORK=off: the replace directives keep the core local).
for dir in $modules; do
	rel=${dir#"$PWD"}; rel=${rel#/}; rel=${rel:-.}
	echo "== module $rel: go mod tidy -diff"
	(cd "$dir" && GOWORK=off go mod tidy -diff)
done

for dir in $modules; do
	rel=${dir#"$PWD"}; rel=${rel#/}; rel=${rel:-.}
	echo "== module $rel: go vet"
	(cd "$dir" && go vet ./...)
	echo "== module $rel: staticcheck"
	(cd "$dir" && go run "$STATICCHECK" ./...)
	if [ "$rel" = "bench" ]; then
		echo "== module $rel: benchmarks (smoke run)"
		(cd "$dir" && go test -count=1 -run . -bench . -benchtime 100x ./...)
	else
		echo "== module $rel: go test -race"
		(cd "$dir" && go test -race -count=1 -timeout 10m ./...)
		echo "== module $rel: go test (no race detector)"
		(cd "$dir" && go test -count=1 -timeout 10m ./...)
	fi
	if [ "$rel" = "." ]; then
		echo "== module $rel: GOARCH=386 go vet, go test"
		(cd "$dir" && GOARCH=386 go vet ./... && GOARCH=386 go test -count=1 -timeout 10m ./...)
	fi
done
# Each example as a user runs it (go run ./examples/NAME, from the root):
# it must build, end by itself and exit 0. Their tests above already ran
# them in process; this runs their main functions as built.
for dir in examples/*/; do
	[ -f "$dir/main.go" ] || continue
	echo "== example ${dir%/}: go run"
	out=$(mktemp)
	if ! timeout 120 go run "./${dir%/}" >"$out" 2>&1; then
		cat "$out"
		rm -f "$out"
		echo "example ${dir%/} failed"
		exit 1
	fi
	rm -f "$out"
done
echo "== all checks passed"
