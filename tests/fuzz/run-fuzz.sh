#!/bin/sh
# run-fuzz.sh SECONDS HARNESS... - replays tests/fuzz/regressions/<harness>/,
# then fuzzes each harness for SECONDS with its seeds and the dictionary.
# Run from the top of the tree after `make fuzz-build`. The working corpus
# grows in build-fuzz/corpus/<harness>/ (kept between runs); crash inputs go
# to build-fuzz/artifacts/, logs to build-fuzz/logs/. Exits 1 if any
# regression fails or any crash, leak, timeout or invariant failure is found.
set -u
secs=${1:?usage: run-fuzz.sh SECONDS HARNESS...}
shift
out=${FUZZ_OUT:-build-fuzz}
# fuzz_session makes its spool there; a crash leaves it behind, not in /tmp.
mkdir -p "$out/tmp"
export TMPDIR="$out/tmp"
mkdir -p "$out/artifacts" "$out/logs"
passed=0
failed=0

if ! sh tests/fuzz/run-regressions.sh "$@"; then
	failed=$((failed + 1))
fi

for h in "$@"; do
	case $h in
	address) maxlen=512 ;;
	line) maxlen=4096 ;;
	*) maxlen=8192 ;;
	esac
	bin="$out/fuzz_$h"
	corpus="$out/corpus/$h"
	log="$out/logs/$h.log"
	mkdir -p "$corpus"
	echo "fuzz: $h for ${secs}s"
	if "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len="$maxlen" \
		-dict=tests/fuzz/smtp.dict -artifact_prefix="$out/artifacts/$h-" \
		-print_final_stats=1 "$corpus" "$out/seeds/$h" >"$log" 2>&1; then
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
		speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
		echo "fuzz: $h ok: $runs runs, $speed exec/s"
		passed=$((passed + 1))
	else
		echo "fuzz: $h FAILED; log $log, input in $out/artifacts/:"
		grep -E '^\*\*\*|ERROR: |runtime error|Test unit written| in [a-z_0-9]+ .*(src|tests/fuzz)/' "$log" | head -30
		failed=$((failed + 1))
	fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
