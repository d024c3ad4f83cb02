#!/usr/bin/env bash
# Runs the benchmarks of ../shared/benchmarks.md (every main package under
# test/bench, or only $1), prints each one's JSON line as it comes, then one
# summary table; fails at the end when any benchmark failed or missed its
# target. garden-create needs root (it runs a real garden) and holds the
# shared real-garden lock while it runs. scale (250,000 actual LRPs) takes
# about three minutes; the others under a minute each. BENCH_SIZE=2|4 runs
# task-e2e and lrp-burst at that multiple of their cells and load.
set -uo pipefail
cd "$(dirname "$0")/.."
only="${1:-}"
results=$(mktemp)
out=$(mktemp)
trap 'rm -f "$results" "$out"' EXIT
status=0
found=0
for dir in test/bench/*/; do
	name=$(basename "$dir")
	[ -n "$only" ] && [ "$only" != "$name" ] && continue
	# Only main packages are benchmarks (benchutil is their library).
	grep -qs '^package main' "$dir"*.go || continue
	found=1
	run=(go run "./$dir")
	if [ "$name" = garden-create ]; then
		if [ "$(id -u)" != 0 ]; then
			echo "{\"bench\":\"$name\",\"skipped\":\"needs root\"}" | tee -a "$results"
			continue
		fi
		run=(flock /tmp/diego-real-garden.lock "${run[@]}")
	fi
	echo "== $name" >&2
	"${run[@]}" | tee "$out"
	rc=${PIPESTATUS[0]}
	line=$(grep '^{' "$out" | tail -n1)
	if [ $rc -ne 0 ] || [ -z "$line" ]; then
		echo "{\"bench\":\"$name\",\"error\":\"exit status $rc\"}" >>"$results"
		status=1
		continue
	fi
	printf '%s\n' "$line" >>"$results"
done
if [ $found = 0 ]; then
	echo "no benchmark named ${only}" >&2
	exit 1
fi
go run ./test/bench/benchutil/summary <"$results" || status=1
exit $status
