#!/usr/bin/env bash
# http.sh measures the HTTP integration's overhead (issue 4's target: within
# 5 % of bare net/http): it runs the paired benchmarks of http_test.go,
# keeps the raw output, and prints each side's mean overhead over the runs
# with a 95 % confidence interval, of the mean times per request and of the
# median times.
#
#	bench/http.sh [raw-output-file]
#
# COUNT (default 30) sets the number of 3-second runs; a run takes about
# 4.5 s per benchmark, so the default takes about 5 minutes.
set -euo pipefail

cd "$(dirname "$0")"
out=${1:-${TMPDIR:-/tmp}/fusebox-http-bench.txt}
count=${COUNT:-30}

echo "# go test -run '^\$' -bench Paired -count $count -benchtime 3s . > $out" >&2
go test -run '^$' -bench Paired -count "$count" -benchtime 3s . | tee "$out" >&2

# A metric is the field before its unit: "overhead-%", the overhead of the
# mean times per request (the throughput ratio), and "overhead-p50-%", of
# the median times, which stalls of the machine cannot move (see pairedGet
# in http_test.go). The interval uses Student's t for the run count (1.96
# past 30 runs).
for side in Client Server; do
	for metric in overhead-% overhead-p50-%; do
		awk -v side="$side" -v metric="$metric" '
			$1 ~ "^BenchmarkHTTP" side "Paired" {
				for (i = 2; i <= NF; i++) if ($i == metric) x[++n] = $(i - 1)
			}
			END {
				if (n < 2) { printf "%s: fewer than two runs\n", side; exit 1 }
				for (i = 1; i <= n; i++) sum += x[i]
				m = sum / n
				for (i = 1; i <= n; i++) v += (x[i] - m) ^ 2
				sd = sqrt(v / (n - 1))
				split("12.706 4.303 3.182 2.776 2.571 2.447 2.365 2.306 2.262 2.228 2.201 2.179 2.160 2.145 2.131 2.120 2.110 2.101 2.093 2.086 2.080 2.074 2.069 2.064 2.060 2.056 2.052 2.048 2.045", t, " ")
				tq = (n - 1 <= 29) ? t[n - 1] : 1.96
				printf "%s %s: %+.2f %% ± %.2f %% (mean of %d runs, 95 %% confidence; target: within 5 %%)\n", side, metric, m, tq * sd / sqrt(n), n
			}' "$out"
	done
done
