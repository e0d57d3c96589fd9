#!/usr/bin/env bash
# run.sh runs the circuit-breaker benchmarks (breaker_test.go) with
# -count 6 -cpu 1,2, keeps the raw output in a file, and prints the benchstat
# summary followed by the Fusebox/gobreaker ratios and the targets of
# docs/BENCHMARKS.md.
#
#	bench/run.sh [raw-output-file]
#
# The raw output (default: $TMPDIR/fusebox-breaker-bench.txt) is also echoed
# to stderr as it arrives; keep it to compare a later run with
#	go run golang.org/x/perf/cmd/benchstat@<version> old.txt new.txt
#
# COUNT and CPU override -count and -cpu, e.g. COUNT=1 for a quick look.
# A full run takes 15 to 20 minutes.
set -euo pipefail

cd "$(dirname "$0")"
out=${1:-${TMPDIR:-/tmp}/fusebox-breaker-bench.txt}
count=${COUNT:-6}
cpu=${CPU:-1,2}
benchstat=golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da
pattern='^Benchmark(ClosedSuccess|ClosedMixed10pct|OpenReject|ClosedSuccessParallel|ClosedMixed10pctParallel|OpenRejectParallel|BreakerMemory)$'

echo "# go test -run '^\$' -bench '$pattern' -count $count -cpu $cpu -timeout 60m . > $out" >&2
go test -run '^$' -bench "$pattern" -count "$count" -cpu "$cpu" -timeout 60m . | tee "$out" >&2

go run "$benchstat" "$out"

# A benchmark that saw a wrong result (a closed breaker that tripped, an open
# one that admitted a call) reports --- FAIL but its numbers still parse.
if grep -Eq -- '^(--- FAIL|FAIL|panic:)' "$out"; then
	echo "run.sh: some benchmarks failed, see $out; these numbers are not valid" >&2
	failed=1
fi

# Ratios, from benchstat's medians.
echo
go run "$benchstat" -format csv "$out" 2>/dev/null | awk -F, '
	/^,/ { if ($2 ~ /\/op$/ || $2 == "B/breaker") unit = $2; next }
	NF >= 2 && unit != "" { v[unit, $1] = $2 }
	function verdict(ok) { return ok ? "met" : "NOT met" }
	END {
		n = split("ClosedSuccess ClosedMixed10pct OpenReject ClosedSuccessParallel ClosedMixed10pctParallel OpenRejectParallel", sc, " ")
		printf "%-34s %12s %12s %8s\n", "scenario (-cpu suffix)", "fusebox", "gobreaker", "ratio"
		for (i = 1; i <= n; i++) {
			for (c = 1; c <= 2; c++) {
				suf = (c == 1) ? "" : "-2"
				f = v["sec/op", sc[i] "/fusebox" suf]
				g = v["sec/op", sc[i] "/gobreaker" suf]
				if (f == "" || g == "") continue
				r[sc[i] suf] = f / g
				printf "%-34s %10.2fns %10.2fns %8.3f\n", sc[i] suf, f * 1e9, g * 1e9, f / g
			}
		}
		print ""
		print "targets:"
		for (c = 1; c <= 2; c++) {
			suf = (c == 1) ? "" : "-2"
			if ((("ClosedSuccess" suf) in r))
				printf "  ClosedSuccess%s fusebox/gobreaker <= 0.10: %.3f, %s\n", suf, r["ClosedSuccess" suf], verdict(r["ClosedSuccess" suf] <= 0.10)
			if ((("OpenReject" suf) in r))
				printf "  OpenReject%s fusebox/gobreaker <= 0.05: %.3f, %s\n", suf, r["OpenReject" suf], verdict(r["OpenReject" suf] <= 0.05)
		}
		single = v["sec/op", "ClosedSuccess/fusebox"]
		par = v["sec/op", "ClosedSuccessParallel/fusebox-2"]
		if (single != "" && par != "")
			printf "  fusebox ClosedSuccessParallel -cpu 2 <= ClosedSuccess -cpu 1: %.2fns vs %.2fns, %s\n", par * 1e9, single * 1e9, verdict(par + 0 <= single + 0)
		allocs = 0; rows = 0
		for (k in v) {
			split(k, kk, SUBSEP)
			if (kk[1] == "allocs/op" && kk[2] ~ /\/fusebox(-[0-9]+)?$/ && kk[2] !~ /^BreakerMemory/) {
				rows++
				if (v[k] + 0 != 0) { allocs++; printf "  allocs: %s has %s allocs/op\n", kk[2], v[k] }
			}
		}
		printf "  fusebox 0 allocs/op in all %d call benchmarks: %s\n", rows, verdict(rows > 0 && allocs == 0)
		m = v["B/breaker", "BreakerMemory/fusebox"]
		if (m != "")
			printf "  fusebox memory <= 1024 B/breaker: %.0f B (gobreaker %.0f B), %s\n", m, v["B/breaker", "BreakerMemory/gobreaker"], verdict(m + 0 <= 1024)
	}'
exit "${failed:-0}"
