#!/usr/bin/env bash
# perp.sh decides, by measurement, between the per-P counters Fusebox's
# breaker used up to commit fd35ba8 (internal/percpu: a plain increment of
# the running P's slot, pinned with runtime.procPin through go:linkname, for
# the open state's rejection count and the time window's successes) and the
# plain atomic counters it uses now.
#
#	bench/perp.sh [raw-output-file]
#
# Both variants run in one process: the script copies the breaker, window
# and percpu packages of the per-P commit (REV, default fd35ba8) out of git
# into bench/internal/perp/ (ignored by git; rewritten to import each other
# there), and testdata/perp_test.go, copied to perp_test.go for the run
# (build tag perpcompare; kept in testdata so that go mod tidy does not look
# for the packages only this script makes), runs each scenario's two
# variants as sub-benchmarks of one benchmark, so that -count interleaves
# them: per-P, atomic, per-P, atomic, ... Then benchstat compares them,
# atomic against per-P. COUNT (default 10) and CPU (default 2) override
# -count and -cpu. The copy is code of this repository's own history; it is
# never committed.
set -euo pipefail

cd "$(dirname "$0")"
root=$(git rev-parse --show-toplevel)
rev=${REV:-fd35ba8}
out=${1:-${TMPDIR:-/tmp}/fusebox-perp-bench.txt}
count=${COUNT:-10}
cpu=${CPU:-2}
benchstat=golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da
mod=github.com/fusebox-go/fusebox
dest=internal/perp

rm -rf "$dest"
mkdir -p "$dest"
cp testdata/perp_test.go perp_test.go
trap 'rm -f perp_test.go' EXIT
git -C "$root" archive "$rev" breaker internal/window internal/percpu | tar -x -C "$dest"
find "$dest" -name '*_test.go' -delete
find "$dest" -name '*.go' -exec sed -i \
	-e "s#\"$mod/breaker\"#\"$mod/bench/$dest/breaker\"#" \
	-e "s#\"$mod/internal/#\"$mod/bench/$dest/internal/#" {} +
gofmt -w "$dest"

echo "# per-P: $rev; atomic: the working tree ($(git -C "$root" rev-parse --short HEAD))" | tee "$out" >&2
echo "# go test -tags perpcompare -run '^\$' -bench '^BenchmarkPerP' -count $count -cpu $cpu ." | tee -a "$out" >&2
go test -tags perpcompare -run '^$' -bench '^BenchmarkPerP' -count "$count" -cpu "$cpu" -timeout 30m . | tee -a "$out" >&2
go run "$benchstat" -col /impl "$out"
