#!/usr/bin/env bash
# latency.sh measures the latency the HTTP RoundTripper adds, as
# percentiles under load (the design's limits: p99 added under 1 ms in the
# closed state, under 100 µs for a rejection). It runs
# BenchmarkHTTPClientLatency (latency_test.go) COUNT times, keeps the raw
# output, and prints for each sub-benchmark and metric the mean over the
# runs with a 95 % confidence interval, and the smallest and largest run.
#
#	bench/latency.sh [raw-output-file]
#
# COUNT (default 10) sets the number of runs, N (default 20000) the
# requests per side and run (-benchtime Nx). A run takes about 5 to 10 s
# on two busy cores. The environment passes through: GOGC=10
# bench/latency.sh runs the simulated "expensive allocator" host of
# docs/BENCHMARKS.md.
set -euo pipefail

cd "$(dirname "$0")"
out=${1:-${TMPDIR:-/tmp}/fusebox-latency-bench.txt}
count=${COUNT:-10}
n=${N:-20000}

echo "# GOGC=${GOGC:-} go test -run '^\$' -bench HTTPClientLatency -count $count -benchtime ${n}x . > $out" >&2
go test -run '^$' -bench HTTPClientLatency -count "$count" -benchtime "${n}x" . | tee "$out" >&2

if grep -Eq -- '^(--- FAIL|FAIL|panic:)' "$out"; then
	echo "latency.sh: the benchmark failed, see $out" >&2
	exit 1
fi

# Every metric is a value followed by its unit, "…-µs".
awk '
	$1 ~ /^BenchmarkHTTPClientLatency\// {
		name = $1; sub(/^BenchmarkHTTPClientLatency\//, "", name); sub(/-[0-9]+$/, "", name)
		if (!(name in seen)) { seen[name] = 1; names[++nn] = name }
		for (i = 3; i <= NF; i++) if ($i ~ /-µs$/) {
			k = name SUBSEP $i
			if (!(k in cnt)) { lo[k] = $(i - 1); hi[k] = $(i - 1) }
			x[k, ++cnt[k]] = $(i - 1); sum[k] += $(i - 1)
			if ($(i - 1) < lo[k]) lo[k] = $(i - 1)
			if ($(i - 1) > hi[k]) hi[k] = $(i - 1)
		}
	}
	END {
		split("12.706 4.303 3.182 2.776 2.571 2.447 2.365 2.306 2.262 2.228 2.201 2.179 2.160 2.145 2.131 2.120 2.110 2.101 2.093 2.086 2.080 2.074 2.069 2.064 2.060 2.056 2.052 2.048 2.045", t, " ")
		split("bare fusebox added aa reject", sides, " ")
		split("p50 p99 p99.9", ps, " ")
		for (a = 1; a <= nn; a++) {
			printf "%s (µs; mean ± 95 %% CI over runs [smallest, largest run])\n", names[a]
			for (s = 1; s <= 5; s++) {
				printf "  %-8s", sides[s]
				for (q = 1; q <= 3; q++) {
					k = names[a] SUBSEP sides[s] "-" ps[q] "-µs"
					m = cnt[k]
					if (m < 2) { printf "  %s: fewer than two runs", ps[q]; continue }
					mean = sum[k] / m; v = 0
					for (j = 1; j <= m; j++) v += (x[k, j] - mean) ^ 2
					tq = (m - 1 <= 29) ? t[m - 1] : 1.96
					printf "  %s %.1f ± %.1f [%.1f, %.1f]", ps[q], mean, tq * sqrt(v / (m - 1)) / sqrt(m), lo[k], hi[k]
				}
				printf "\n"
			}
		}
		print "added = fusebox − bare; aa = bare2 − bare, the A/A control (what the measurement scatters by);"
		print "limits: added p99 < 1000 µs (closed state), reject p99 < 100 µs."
	}' "$out"
