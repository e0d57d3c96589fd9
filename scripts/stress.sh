#!/usr/bin/env bash
# Runs every module's tests on a machine kept busy, to find the tests that
# depend on timing or scheduling. One CPU burner per core (a shell busy
# loop) runs for the whole script and is killed however the script ends.
# Under that load, for every Go module of the workspace:
#
#   - the plain build, -count=3 -shuffle=on: three runs of every test in a
#     random order, so a test that leans on the one before it, or on state a
#     previous run left, shows;
#   - the race build, -count=1 -shuffle=on: the race detector slows the code
#     and changes its scheduling, so once is enough to shake it differently
#     (three race runs would double the script's time for little more);
#   - the bench module: its tests as above, its benchmarks once as a smoke
#     run (-benchtime 100x), as scripts/test.sh runs them.
#
# Each go test has a -timeout, so a hang fails (its goroutines are dumped)
# instead of stalling the script. The tests run with -v, the whole output
# goes to a log file (STRESS_LOG), and the terminal shows each package's
# result and, of the tests, only those that failed or were skipped, with
# their output; a failing package's -test.shuffle seed replays its order:
# go test -shuffle=SEED -count=1. The script goes on after a failure,
# prints every failing step at the end and exits non-zero if there was one.
#
# The integration tests need what .ci/run installs: promtool and prometheus
# (Debian package prometheus) for fuseboxprom, Chromium for the dashboard's
# browser test. Environment: STRESS_COUNT (3), STRESS_BURNERS (one per
# core), STRESS_TIMEOUT (go test -timeout, 8m), STRESS_LOG (the log file,
# $TMPDIR/fusebox-stress.log).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$(go env GOPATH 2>/dev/null || echo "$HOME/go")/bin:$PATH"

count=${STRESS_COUNT:-3}
burners=${STRESS_BURNERS:-$(getconf _NPROCESSORS_ONLN 2>/dev/null || nproc)}
timeout=${STRESS_TIMEOUT:-8m}
log=${STRESS_LOG:-${TMPDIR:-/tmp}/fusebox-stress.log}
: >"$log"

# filter reads go test -v output: a test's lines are held until its result
# and shown only if it failed or was skipped; a package's shuffle seed only
# if the package failed.
filter() {
	awk '
	function flush(name,   k) { for (k in buf) if (k == name || index(k, name "/") == 1) { printf "%s", buf[k]; delete buf[k] } }
	function drop(name,   k) { for (k in buf) if (k == name || index(k, name "/") == 1) delete buf[k] }
	function flushall(   k) { for (k in buf) { printf "%s", buf[k]; delete buf[k] } }
	function result() { if (seed != "") print seed; seed = ""; cur = ""; print; fflush() }
	/^=== (RUN|CONT|NAME|PAUSE) / { cur = $3; next }
	/^ *--- PASS: / { drop($3); next }
	/^ *--- (FAIL|SKIP): / { flush($3); print; fflush(); next }
	/^-test\.shuffle / { seed = $0; next }
	/^PASS$/ { next }
	/^ok  / || /^\?  / { for (k in buf) delete buf[k]; seed = ""; cur = ""; print; fflush(); next }
	/^FAIL$/ || /^FAIL\t/ { flushall(); result(); next }
	{ if (cur != "") buf[cur] = buf[cur] $0 "\n"; else { print; fflush() } }
	'
}

# benchsmoke runs go test with its arguments, the whole output to the log,
# all but the benchmarks' results to the terminal.
benchsmoke() {
	go test "$@" 2>&1 | tee -a "$log" | awk '!/^(Benchmark|goos:|goarch:|pkg:|cpu:|PASS$)/'
}

# gotest runs go test -v with its arguments, the whole output to the log,
# the filtered output to the terminal.
gotest() {
	go test -v "$@" 2>&1 | tee -a "$log" | filter
}

pids=()
stop_burners() {
	if [ ${#pids[@]} -gt 0 ]; then
		kill "${pids[@]}" 2>/dev/null || true
		wait "${pids[@]}" 2>/dev/null || true
		pids=()
	fi
}
trap stop_burners EXIT
trap 'stop_burners; exit 130' INT
trap 'stop_burners; exit 143' TERM
for _ in $(seq "$burners"); do
	sh -c 'while :; do :; done' &
	pids+=($!)
done
echo "== stress: $burners CPU burner(s) running (pids ${pids[*]}); full output in $log"

start=$SECONDS
failed=()
step() { # step NAME DIR CMD...: runs CMD in DIR, timed; records a failure
	local name=$1 dir=$2 t0=$SECONDS
	shift 2
	echo "== $name: $*" | tee -a "$log"
	if (cd "$dir" && "$@"); then
		echo "== $name: ok in $((SECONDS - t0))s"
	else
		echo "== $name: FAILED after $((SECONDS - t0))s"
		failed+=("$name")
	fi
}

for dir in $(go list -m -f '{{.Dir}}'); do
	rel=${dir#"$PWD"}; rel=${rel#/}; rel=${rel:-.}
	step "module $rel: go test -count=$count -shuffle=on" "$dir" \
		gotest -count="$count" -shuffle=on -timeout "$timeout" ./...
	step "module $rel: go test -race -count=1 -shuffle=on" "$dir" \
		gotest -race -count=1 -shuffle=on -timeout "$timeout" ./...
	if [ "$rel" = "bench" ]; then
		step "module $rel: benchmarks (smoke run)" "$dir" \
			benchsmoke -count=1 -run '^$' -bench . -benchtime 100x -timeout "$timeout" ./...
	fi
done

stop_burners
took=$((SECONDS - start))
if [ ${#failed[@]} -gt 0 ]; then
	echo "== stress: ${#failed[@]} step(s) FAILED in $((took / 60))m$((took % 60))s (full output in $log):"
	printf '   %s\n' "${failed[@]}"
	exit 1
fi
echo "== stress: all passed in $((took / 60))m$((took % 60))s (full output in $log)"
