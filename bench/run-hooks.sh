#!/bin/bash
# run-hooks.sh measures what the observer hooks cost, in CPU time per
# verification, which a loaded shared machine disturbs far less than wall
# time:
#
#   - verify's BenchmarkVerify (nil hooks) built from this tree against the
#     same benchmark built from BASE (a git revision without the hooks,
#     default main);
#   - integrations/otel's BenchmarkVerify: no hooks, OpenTelemetry metrics,
#     metrics and spans.
#
# Each figure is (CPU(N2) - CPU(N1)) / (N2 - N1) over two runs of the test
# binary with -test.benchtime N1x and N2x, user+system time of the process,
# so that minting the assertions and starting up cancel out. Variants are
# interleaved, ROUNDS times; one line per round and benchmark:
#
#	bench/run-hooks.sh > hooks.txt     # ROUNDS=10 BASE=$(git merge-base HEAD main) N1=500 N2=10500
#	awk -f bench/hooks-ratio.awk hooks.txt
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-10}
base=${BASE:-main}
n1=${N1:-500}
n2=${N2:-10500}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/base"
git archive "$base" | tar -x -C "$tmp/base"
(cd "$tmp/base" && go test -c -o "$tmp/verify-base.test" ./verify)
go test -c -o "$tmp/verify-new.test" ./verify
(cd integrations/otel && go test -c -o "$tmp/otel.test" .)

# cpu DIR BINARY BENCH N: user+system seconds of one run.
cpu() {
	local TIMEFORMAT='%U %S' t
	t=$({ time (cd "$1" && "$2" -test.run '^$' -test.bench "$3" -test.benchtime "$4x" -test.cpu 1 >/dev/null); } 2>&1)
	awk '{ print $1 + $2 }' <<<"$t"
}

# perop DIR BINARY BENCH: CPU µs per operation.
perop() {
	local c1 c2
	c1=$(cpu "$1" "$2" "$3" "$n1")
	c2=$(cpu "$1" "$2" "$3" "$n2")
	awk -v a="$c1" -v b="$c2" -v n="$((n2 - n1))" 'BEGIN { printf "%.2f", (b - a) / n * 1e6 }'
}

echo "# nproc $(nproc); $(grep -m1 'model name' /proc/cpuinfo); base $(git rev-parse --short "$base"); start: $(uptime)"
for r in $(seq "$rounds"); do
	for alg in RS256 PS256 ES256 EdDSA; do
		if [ $((r % 2)) = 0 ]; then order="base new"; else order="new base"; fi
		for v in $order; do
			dir=verify
			[ "$v" = base ] && dir="$tmp/base/verify"
			echo "$r verify/$alg $v $(perop "$dir" "$tmp/verify-$v.test" "^BenchmarkVerify\$/^$alg\$")"
		done
	done
	for alg in RS256 ES256; do
		for mode in none metrics metrics-traces; do
			echo "$r otel/$alg $mode $(perop integrations/otel "$tmp/otel.test" "^BenchmarkVerify\$/^$alg\$/^$mode\$")"
		done
	done
	echo "# round $r done: $(uptime)"
done
