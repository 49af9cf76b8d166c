#!/bin/sh
# run-micro.sh runs BenchmarkClientAuth interleaved: for each of ROUNDS
# rounds, one test-binary run per alg, each measuring the floor, golang-jwt,
# pkjwt, zitadel and fosite back to back for BENCHTIME each. On a shared
# machine that keeps each same-run ratio within a few seconds of load.
#
#	bench/run-micro.sh > micro.txt        # ROUNDS=10 BENCHTIME=300ms by default
#	go run ./cmd/benchtab < micro.txt     # in bench/
set -eu
cd "$(dirname "$0")"
rounds=${ROUNDS:-10}
benchtime=${BENCHTIME:-300ms}
bin=$(mktemp -d)/bench.test
trap 'rm -rf "$(dirname "$bin")"' EXIT
go test -c -o "$bin" .
echo "# nproc $(nproc); $(grep -m1 'model name' /proc/cpuinfo); start: $(uptime)"
for r in $(seq "$rounds"); do
	for alg in RS256 PS256 ES256 EdDSA; do
		"$bin" -test.run '^$' -test.bench "^BenchmarkClientAuth/$alg/" -test.benchtime "$benchtime" -test.benchmem
	done
	echo "# round $r done: $(uptime)"
done
