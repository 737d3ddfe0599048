#!/bin/sh
# run-regressions.sh [HARNESS...] - replays every file in
# tests/fuzz/regressions/<harness>/ through build-fuzz/fuzz_<harness>
# (default: every harness that has such a folder). Each file is an input
# that once crashed a harness or broke one of its invariants; it must now
# pass. Exits 1 when any fails.
set -u
out=${FUZZ_OUT:-build-fuzz}
# fuzz_session makes its spool there; a crash leaves it behind, not in /tmp.
mkdir -p "$out/tmp"
export TMPDIR="$out/tmp"
dir=tests/fuzz/regressions
passed=0
failed=0
if [ $# -eq 0 ]; then
	set -- $(ls "$dir" 2>/dev/null)
fi
for h in "$@"; do
	[ -d "$dir/$h" ] || continue
	for f in "$dir/$h"/*; do
		[ -f "$f" ] || continue
		case $f in *.txt | *.md) continue ;; esac
		if "$out/fuzz_$h" -runs=1 "$f" >"$out/regression.log" 2>&1; then
			passed=$((passed + 1))
		else
			echo "regression: FAILED $h $f"
			grep -E '^\*\*\*|ERROR: |runtime error| in [a-z_0-9]+ .*(src|tests/fuzz)/' "$out/regression.log" | head -20
			failed=$((failed + 1))
		fi
	done
done
echo "regressions: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
