#!/bin/sh
# make soak: switchboard holds SOAK_CONNS (10 000) connections with steady
# mixed traffic for SOAK_SECS (600) seconds: WSChat direct messages,
# Messaging sends (each delivery answered with `read`) and echo, from the
# load generator's soak mode (tests/bench/loadgen_soak.c). Reports the
# server's processes, fds, RSS and PSS at the start and at the end and the
# messages sent and delivered per protocol; fails when a count grew beyond
# its tolerance, a message was lost, duplicated or misdelivered, or the store
# kept messages that were read. Writes build/bench/soak.md.
#
# Knobs: SOAK_SECS (600), SOAK_CONNS (10000; 60 % WSChat, 20 % Messaging,
# 20 % echo), SOAK_RATE (3000 messages/s in all), SOAK_PAYLOAD (100),
# SOAK_RSS_TOL (5: % the server's total RSS may grow, start to end; plus
# 4 MB for small runs), SOAK_FD_TOL (0 fds). Processes must not grow.
set -u
cd "$(dirname "$0")/../.." || exit 1
SECS=${SOAK_SECS:-600}
CONNS=${SOAK_CONNS:-10000}
RATE=${SOAK_RATE:-3000}
PAYLOAD=${SOAK_PAYLOAD:-100}
RSS_TOL=${SOAK_RSS_TOL:-5}
FD_TOL=${SOAK_FD_TOL:-0}
NCHAT=$((CONNS * 6 / 10)) NMSG=$((CONNS * 2 / 10))
NECHO=$((CONNS - NCHAT - NMSG))

B=build
OUT=$B/bench
LOGS=$OUT/soak-logs   # its own: make bench may be writing $OUT/logs
LG=$OUT/loadgen
export NODE_PATH="$PWD/tests/e2e/node_modules"
for f in switchboard switchboard-worker switchboard-router; do
	[ -x "$B/$f" ] || { echo "soak: $B/$f missing; run 'make all' first" >&2; exit 1; }
done
command -v node >/dev/null || { echo "soak: node not found" >&2; exit 1; }
mkdir -p "$OUT" "$LOGS" || exit 1
rm -f "$LOGS"/*
. tests/bench/lib.sh
build_tools || exit 1
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/sb-soak.XXXXXX") || exit 1
SB='' LGP='' FAILED=''
trap 'kill_tree "$SB"; [ -n "$LGP" ] && kill -KILL "$LGP" 2>/dev/null; rm -rf "$TMP"' EXIT
trap 'log "soak: interrupted"; exit 1' INT TERM

# sample PREFIX: the server's processes, fds, RSS and PSS (kB) into PREFIX_*
sample() {
	_ps="$SB $(descendants "$SB")"
	eval "$1_procs=$(echo $_ps | wc -w) $1_fds=$(count_fds $_ps) $1_rss=$(sum_smaps Rss $_ps)" \
		"$1_pss=$(sum_smaps Pss $_ps) $1_used=$(mem_used) $1_t=$(date +%s)"
}

BUSY=$(cpu_busy)
log "soak: $CONNS connections ($NCHAT WSChat, $NMSG Messaging, $NECHO echo), $RATE msgs/s, ${SECS}s; machine busy $BUSY%"
SB_MAX_CONN=$((CONNS + 100)) start_sb
"$LG" soak "$SB_PORT" "$NCHAT" "$NMSG" "$NECHO" "$RATE" "$PAYLOAD" "$TMP/ready" >"$LOGS/soak-result.txt" \
	2>"$LOGS/soak-loadgen.log" &
LGP=$!
waitfor 900 test -s "$TMP/ready"
grep -q '^ready' "$TMP/ready" 2>/dev/null || { log "soak: set-up failed: $(cat "$TMP/ready" 2>/dev/null)"; exit 1; }
log "soak: all connected: $(cat "$TMP/ready"); 10 s to settle"
sleep 10
sample s
log "soak: start: $s_procs processes, $s_fds fds, RSS $s_rss kB, PSS $s_pss kB"
_end=$(($(date +%s) + SECS))
while [ "$(date +%s)" -lt "$_end" ]; do
	alive "$LGP" || { FAILED="$FAILED; the load generator stopped early: $(tail -1 "$LOGS/soak-loadgen.log")"; break; }
	alive "$SB" || { FAILED="$FAILED; switchboard stopped"; break; }
	sleep 5
done
sample e
log "soak: end: $e_procs processes, $e_fds fds, RSS $e_rss kB, PSS $e_pss kB"
kill -TERM "$LGP" 2>/dev/null
waitfor 30 grep -q '^soak' "$LOGS/soak-result.txt" || FAILED="$FAILED; the load generator gave no result"
RES=$(grep '^soak' "$LOGS/soak-result.txt")
log "soak: $RES"
# every Messaging delivery was answered with `read`: nothing may stay stored
stored() { "$B/switchboard-router" --state-dir "$SB_STATE" --store-stats 2>/dev/null | awk '$1 ~ /^s[0-9]+$/ { n += $2 } END { print n + 0 }'; }
no_store() { [ "$(stored)" = 0 ]; }
waitfor 10 no_store || FAILED="$FAILED; the store kept $(stored) Messaging messages that were read"
kill_tree "$SB"
SB=
waitfor 60 sh -c "! kill -0 $LGP 2>/dev/null"
wait "$LGP" 2>/dev/null
LGRC=$?
LGP=

r() { echo "$RES" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
for k in wschat messaging echo; do
	[ -n "$(r "sent_$k")" ] && [ "$(r "sent_$k")" = "$(r "delivered_$k")" ] && [ "$(r "sent_$k")" -gt 0 ] ||
		FAILED="$FAILED; $k: sent $(r "sent_$k"), delivered $(r "delivered_$k")"
done
[ "$(r errors)" = 0 ] || FAILED="$FAILED; the load generator saw $(r errors) errors (first: $(r first_error))"
[ "$LGRC" = 0 ] || [ -n "$FAILED" ] || FAILED="$FAILED; the load generator exited with $LGRC"
[ "$e_procs" -le "$s_procs" ] || FAILED="$FAILED; processes grew from $s_procs to $e_procs"
[ "$e_fds" -le $((s_fds + FD_TOL)) ] || FAILED="$FAILED; fds grew from $s_fds to $e_fds (tolerance $FD_TOL)"
RSS_MAX=$((s_rss + s_rss * RSS_TOL / 100 + 4096))
[ "$e_rss" -le "$RSS_MAX" ] || FAILED="$FAILED; RSS grew from $s_rss to $e_rss kB (tolerance $RSS_TOL % + 4 MB: $RSS_MAX)"

pct() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "—"; else printf "%+.2f %%", 100 * (a - b) / b }'; }
row() { printf '| %s | %s | %s | %s | %s |\n' "$@"; }
{
	echo "| soak: $CONNS connections, ${SECS}s | start | end | change | tolerance |"
	echo "|---|---:|---:|---:|---:|"
	row "server processes (supervisor, router, workers)" "$s_procs" "$e_procs" "$((e_procs - s_procs))" "0"
	row "their open fds" "$s_fds" "$e_fds" "$((e_fds - s_fds))" "$FD_TOL"
	row "their RSS, kB (sum)" "$s_rss" "$e_rss" "$(pct "$e_rss" "$s_rss")" "+$RSS_TOL % + 4 MB"
	row "their PSS, kB (sum)" "$s_pss" "$e_pss" "$(pct "$e_pss" "$s_pss")" "—"
	row "system memory in use, kB (MemTotal − MemFree − Buffers − Cached)" "$s_used" "$e_used" "$(pct "$e_used" "$s_used")" "—"
	for k in wschat messaging echo; do
		row "$k messages sent / delivered" "$(r "sent_$k")" "$(r "delivered_$k")" "—" "equal"
	done
	echo
	echo "\`make soak\` (tests/bench/soak.sh): $NCHAT identified WSChat clients, $NMSG Messaging clients, $NECHO echo" \
		"clients on one switchboard; $RATE messages/s in all, in turn WSChat direct, Messaging \`send\` (answered" \
		"with \`read\`, the store checked empty after) and echo, each from a random client of its kind to a random" \
		"other; every message carries a sequence number (loss, duplicates and misdelivery are errors). Start:" \
		"10 s after the last connection was ready; end: after ${SECS}s of traffic. Load generator errors:" \
		"$(r errors). $(machine); machine busy $BUSY% at the start; $(date -u '+%Y-%m-%d %H:%M UTC')."
	[ -z "$FAILED" ] && echo "**Valid:** flat and complete." || echo "**Not valid:** ${FAILED#; }."
} >"$OUT/soak.md"
cat "$OUT/soak.md"
[ -z "$FAILED" ] || exit 1
