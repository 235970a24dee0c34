#!/bin/sh
# make fuzz-long: runs every libFuzzer target in build/fuzz (ASan+UBSan), one
# at a time, to FUZZ_LONG_RUNS executions (10 million) or FUZZ_LONG_SECONDS
# (600) each, whichever comes first, from a copy of its seed corpus
# (tests/fuzz/corpus/<target>/), with each parser's -max_len and -timeout
# (tests/fuzz/params.sh). Everything goes to build/fuzz-long/: per target the
# log, the grown corpus and any crash-*, timeout-*, oom-* reproducer or
# slow-unit-* (over 2 s); summary.txt has one line per target (result, executions,
# execs/s, coverage cov/ft, corpus size, slowest unit in s (and how many
# over 2 s, when any), reproducer).
#
# Knobs (environment): FUZZ_LONG_SECONDS, FUZZ_LONG_RUNS, FUZZ_TIMEOUT (5),
# FUZZ_LONG_TARGETS (names, default all built), FUZZ_LONG_SKIP_SEEDS (a shell
# pattern of seed file names not to copy, e.g. 'g_*deep*' while a known slow
# input would stop a target at start-up). Exit status 1 when a target found
# anything.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/fuzz/params.sh

SECS=${FUZZ_LONG_SECONDS:-600}
RUNS=${FUZZ_LONG_RUNS:-10000000}
SKIP=${FUZZ_LONG_SKIP_SEEDS:-}
OUT=build/fuzz-long
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

targets=${FUZZ_LONG_TARGETS:-$(for t in build/fuzz/fuzz_*; do [ -x "$t" ] && basename "$t"; done)}
[ -n "$targets" ] || { echo "fuzz-long: no targets in build/fuzz; run 'make fuzz'" >&2; exit 1; }
mkdir -p "$OUT" || exit 1
summary=$OUT/summary.txt
found=0

# field LOG NAME: the last value of NAME from libFuzzer's status lines ("cov: 123")
field() {
	_v=$(grep -E '^#[0-9]+' "$1" | tail -1 | tr '\t' ' ' | sed -n "s/.* $2: \([^ ]*\).*/\1/p")
	echo "${_v:--}"
}
final_stat() { sed -n "s/^stat::$2: *//p" "$1" | tail -1; }

# verdict LOG STATUS: what ended the run
verdict() {
	if [ "$2" -eq 124 ] || [ "$2" -eq 137 ]; then
		echo "hung"  # killed by the guard: a timeout whose handler deadlocked, or worse
	elif grep -q 'ERROR: libFuzzer: timeout' "$1"; then
		echo "timeout"
	elif grep -q 'out-of-memory' "$1"; then
		echo "oom"
	elif grep -q '^SUMMARY: ' "$1"; then
		grep '^SUMMARY: ' "$1" | head -1 | sed 's/^SUMMARY: //; s/ .*//; s/Sanitizer:/:/'
	elif grep -q 'ERROR: libFuzzer: \|runtime error:' "$1"; then
		echo "crash"
	elif [ "$2" -ne 0 ]; then
		echo "exit-$2"
	else
		echo "ok"
	fi
}

{
	echo "# make fuzz-long, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs; per target: up to $RUNS runs or ${SECS}s," \
		"-timeout=$FUZZ_TIMEOUT, ASan+UBSan$([ -n "$SKIP" ] && echo ", seeds skipped: $SKIP")"
	printf '%-16s %-8s %10s %8s %6s %7s %14s %8s %9s %s\n' target result execs execs/s cov ft corpus max_len slowest_s \
		reproducer
} >"$summary"

for n in $targets; do
	t=build/fuzz/$n
	[ -x "$t" ] || { echo "fuzz-long: $t missing" >&2; found=1; continue; }
	dir=$OUT/$n
	rm -rf "$dir"
	mkdir -p "$dir/corpus"
	for f in tests/fuzz/corpus/"$n"/*; do
		[ -f "$f" ] || continue
		# shellcheck disable=SC2254
		[ -n "$SKIP" ] && case $(basename "$f") in $SKIP) continue ;; esac
		cp "$f" "$dir/corpus/"
	done
	ml=$(fuzz_max_len "$n")
	echo "fuzz-long: $n (${SECS}s or $RUNS runs, -max_len=$ml)" >&2
	fuzz_guard $((SECS + 300)) "$t" -runs="$RUNS" -max_total_time="$SECS" -max_len="$ml" \
		-timeout="$FUZZ_TIMEOUT" -rss_limit_mb="$FUZZ_RSS_MB" -print_final_stats=1 -report_slow_units=2 \
		-artifact_prefix="$dir/" $(fuzz_dict "$n") "$dir/corpus" >"$dir/log" 2>&1
	rc=$?
	result=$(verdict "$dir/log" "$rc")
	execs=$(final_stat "$dir/log" number_of_executed_units)
	eps=$(final_stat "$dir/log" average_exec_per_sec)
	units=$(ls "$dir/corpus" | wc -l)
	bytes=$(du -sk "$dir/corpus" | cut -f1)
	repro=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$dir/log" | grep -v '/slow-unit-' | tail -1)
	# a seed itself? (artifacts are named by their SHA-1)
	if [ -n "$repro" ] && [ -f "$repro" ]; then
		_h=$(sha1sum <"$repro" | cut -d' ' -f1)
		for f in tests/fuzz/corpus/"$n"/*; do
			[ "$(sha1sum <"$f" | cut -d' ' -f1)" = "$_h" ] && repro="$repro (= seed $(basename "$f"))" && break
		done
	fi
	[ "$result" = ok ] || found=1
	# units over 2 s are kept as slow-unit-* (a timeout in the making)
	slowest=$(final_stat "$dir/log" slowest_unit_time_sec)
	[ "${slowest:-0}" = 0 ] && slowest="<2"  # libFuzzer only times units over the threshold
	nslow=$(ls "$dir" | grep -c '^slow-unit-')
	[ "$nslow" -gt 0 ] && slowest="$slowest($nslow)"
	printf '%-16s %-8s %10s %8s %6s %7s %14s %8s %9s %s\n' "$n" "$result" "${execs:--}" "${eps:--}" \
		"$(field "$dir/log" cov)" "$(field "$dir/log" ft)" "$units/${bytes}KB" "$ml" "${slowest:--}" "${repro:--}" \
		>>"$summary"
	tail -1 "$summary" >&2
done
cat "$summary"
exit $found
