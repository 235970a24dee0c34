#!/bin/sh
# Runs every test suite and ends with one line: "N passed, N failed".
# Suites: the protocol seam check (tests/check-seam.sh), C unit tests (plain and ASan+UBSan), end-to-end tests with real
# clients against the real processes (plain build, then ASan build), and a
# short smoke run of every libFuzzer target.
cd "$(dirname "$0")/.." || exit 1
out=build/test-logs
rm -rf "$out"
mkdir -p "$out"
FUZZ_SECONDS=${FUZZ_SECONDS:-15}
. tests/fuzz/params.sh
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

suite() { # name, command...
	name=$1
	shift
	printf '== %s\n' "$name"
	"$@" >"$out/$name.log" 2>&1
	rc=$?
	# each failure with the first lines of its diagnostic, so a CI log says why
	awk '/^not ok /{n=8; print; next} n>0 && /^  #/{print; n--; next} {n=0}' "$out/$name.log" | head -120
	# a suite that crashed without reporting counts as one failure
	if [ $rc -ne 0 ] && ! grep -q '^not ok ' "$out/$name.log"; then
		echo "not ok - $name exited with status $rc" >>"$out/$name.log"
		echo "not ok - $name exited with status $rc"
		tail -20 "$out/$name.log"
	fi
	grep -E -c '^ok ' "$out/$name.log" | sed "s/^/   passed: /"
}

suite seam sh tests/check-seam.sh
suite unit ./build/unit-tests
suite unit-asan ./build/asan/unit-tests
for f in tests/e2e/*.test.js; do
	n=$(basename "$f" .test.js)
	suite "e2e-$n" node "$f"
done
for f in tests/e2e/*.test.js; do
	n=$(basename "$f" .test.js)
	SB_BUILD=build/asan suite "e2e-asan-$n" node "$f"
done
for t in build/fuzz/fuzz_*; do
	[ -x "$t" ] || continue
	n=$(basename "$t")
	corpus=$(mktemp -d)
	[ -d "tests/fuzz/corpus/$n" ] && cp "tests/fuzz/corpus/$n"/* "$corpus"/ 2>/dev/null
	# each parser's -max_len and a -timeout, so a slow input fails the run
	if fuzz_guard $((FUZZ_SECONDS + 120)) "$t" -max_total_time="$FUZZ_SECONDS" -max_len="$(fuzz_max_len "$n")" \
		-timeout="$FUZZ_TIMEOUT" -rss_limit_mb="$FUZZ_RSS_MB" $(fuzz_dict "$n") "$corpus" >"$out/$n.log" 2>&1; then
		echo "ok - fuzz smoke $n (${FUZZ_SECONDS}s)" >>"$out/fuzz.log"
	else
		echo "not ok - fuzz smoke $n: see $out/$n.log" >>"$out/fuzz.log"
		# the sanitizer's report (its first lines name the fault) and the end
		grep -E -m1 -A25 '^==[0-9]+==(ERROR|WARNING)|runtime error|deadly signal' "$out/$n.log"
		tail -8 "$out/$n.log"
	fi
	rm -rf "$corpus"
done
[ -f "$out/fuzz.log" ] && cat "$out/fuzz.log"

passed=$(cat "$out"/*.log | grep -E -c '^ok ')
failed=$(cat "$out"/*.log | grep -E -c '^not ok ')
echo "logs: $out"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
