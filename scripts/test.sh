#!/usr/bin/env bash
# Runs every check of the project, over every Go module of the workspace:
# gofmt, go vet, staticcheck and the tests, without and with the race
# detector (a test whose claims rest on real latencies, such as the demo's
# headline, checks them only without it). The benchmark module's
# benchmarks run once, briefly, as a smoke test.
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
		echo "== module $rel: go test"
		(cd "$dir" && go test -count=1 -timeout 10m ./...)
		echo "== module $rel: go test -race"
		(cd "$dir" && go test -race -count=1 -timeout 10m ./...)
	fi
done
echo "== all checks passed"
