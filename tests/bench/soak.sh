#!/bin/sh
# make soak: switchboard holds SOAK_CONNS (10 000) connections with steady
# mixed traffic of every protocol for SOAK_SECS (600) seconds:
#   - WSChat direct messages, Messaging sends (each delivery answered with
#     `read`) and echo, from the load generator's soak mode
#     (tests/bench/loadgen_soak.c);
#   - SaltyRTC relays between paired peers (tests/bench/loadgen_salty.c);
#   - Galène private chat among the members of one group
#     (tests/bench/loadgen_galene.c);
#   - WebSocketStar: pairs of peers, each a dial whose chunks come back
#     (tests/bench/wsstar_relay.c, one process a pair; the crypto challenge
#     is off: that client signs nothing).
# Every message carries a sequence number (a loss, duplicate or misdelivery
# is an error). Reports the server's processes, fds, RSS and PSS at the start
# and at the end and the messages sent and delivered per protocol; fails when
# a count grew beyond its tolerance, a message was lost, duplicated or
# misdelivered, or the store kept messages that were read. Writes
# build/bench/soak.md.
#
# Knobs: SOAK_SECS (600), SOAK_CONNS (10000: 30 % WSChat, 35 % Messaging,
# SOAK_SALTY_PAIRS (3 %, 2 connections each) SaltyRTC pairs, SOAK_GALENE
# (8 %) Galène members, SOAK_WSSTAR_PAIRS (20) WebSocketStar pairs, the rest
# echo), SOAK_RATE (3000 messages/s in all: half for WSChat, Messaging and
# echo, a sixth each for SaltyRTC, Galène and WebSocketStar), SOAK_PAYLOAD
# (100), SOAK_RSS_TOL (5: % the server's total RSS may grow, start to end;
# plus 4 MB for small runs), SOAK_FD_TOL (0 fds). Processes must not grow.
set -u
cd "$(dirname "$0")/../.." || exit 1
SECS=${SOAK_SECS:-600}
CONNS=${SOAK_CONNS:-10000}
RATE=${SOAK_RATE:-3000}
PAYLOAD=${SOAK_PAYLOAD:-100}
RSS_TOL=${SOAK_RSS_TOL:-5}
FD_TOL=${SOAK_FD_TOL:-0}
NCHAT=$((CONNS * 30 / 100)) NMSG=$((CONNS * 35 / 100))
NSALTY=${SOAK_SALTY_PAIRS:-$((CONNS * 3 / 200))} NGALENE=${SOAK_GALENE:-$((CONNS * 8 / 100))}
NWSSTAR=${SOAK_WSSTAR_PAIRS:-20}
NECHO=$((CONNS - NCHAT - NMSG - 2 * NSALTY - NGALENE - 2 * NWSSTAR))
[ "$NSALTY" -ge 1 ] && [ "$NGALENE" -ge 2 ] && [ "$NWSSTAR" -ge 1 ] && [ "$NECHO" -ge 0 ] ||
	{ echo "soak: SOAK_CONNS $CONNS is too small for the mix" >&2; exit 2; }
# a sixth of the rate each for SaltyRTC, Galène and WebSocketStar (split over its pairs)
RATE6=$(awk -v r="$RATE" 'BEGIN { printf "%.3f", r / 6 }')
WS_RATE=$(awk -v r="$RATE6" -v n="$NWSSTAR" 'BEGIN { printf "%.3f", r / n }')
MAIN_RATE=$(awk -v r="$RATE" 'BEGIN { printf "%.3f", r / 2 }')

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
build_soak_tools || exit 1
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/sb-soak.XXXXXX") || exit 1
SB='' LGP='' GENS='' FAILED=''
trap 'kill_tree "$SB"; for _g in $LGP $GENS; do kill -KILL "$_g" 2>/dev/null; done; rm -rf "$TMP"' EXIT
trap 'log "soak: interrupted"; exit 1' INT TERM

# sample PREFIX: the server's processes, fds, RSS and PSS (kB) into PREFIX_*
sample() {
	_ps="$SB $(descendants "$SB")"
	eval "$1_procs=$(echo $_ps | wc -w) $1_fds=$(count_fds $_ps) $1_rss=$(sum_smaps Rss $_ps)" \
		"$1_pss=$(sum_smaps Pss $_ps) $1_used=$(mem_used) $1_t=$(date +%s)"
}

BUSY=$(cpu_busy)
log "soak: $CONNS connections ($NCHAT WSChat, $NMSG Messaging, $NECHO echo, $NSALTY SaltyRTC pairs, $NGALENE Galène" \
	"members, $NWSSTAR WebSocketStar pairs), $RATE msgs/s, ${SECS}s; machine busy $BUSY%"
mkdir -p "$TMP/groups" || exit 1
printf '{"wildcard-user": {"password": "soak", "permissions": "message"}}\n' >"$TMP/groups/soak.json"
SB_MAX_CONN=$((CONNS + 100)) start_sb --galene-groups "$TMP/groups" --wsstar-no-crypto-challenge
"$LG" soak "$SB_PORT" "$NCHAT" "$NMSG" "$NECHO" "$MAIN_RATE" "$PAYLOAD" "$TMP/ready" >"$LOGS/soak-result.txt" \
	2>"$LOGS/soak-loadgen.log" &
LGP=$!
waitfor 900 test -s "$TMP/ready"
grep -q '^ready' "$TMP/ready" 2>/dev/null || { log "soak: set-up failed: $(cat "$TMP/ready" 2>/dev/null)"; exit 1; }
log "soak: WSChat, Messaging and echo connected: $(cat "$TMP/ready")"
# the other protocols' generators: each writes READYFILE, and its result line on SIGTERM
"$OUT/loadgen_salty" soak "$SB_PORT" "$NSALTY" "$RATE6" "$((PAYLOAD < 128 ? 128 : PAYLOAD))" "$TMP/ready-salty" \
	>"$LOGS/soak-salty.txt" 2>"$LOGS/soak-salty.log" &
GENS="$GENS $!"
"$OUT/loadgen_galene" soak "$SB_PORT" soak soak "$NGALENE" "$RATE6" "$((PAYLOAD < 24 ? 24 : PAYLOAD))" \
	"$TMP/ready-galene" >"$LOGS/soak-galene.txt" 2>"$LOGS/soak-galene.log" &
GENS="$GENS $!"
_i=0
while [ $_i -lt "$NWSSTAR" ]; do
	"$OUT/wsstar_relay" "$SB_PORT" soak "$WS_RATE" "$TMP/ready-wsstar-$_i" >"$LOGS/soak-wsstar-$_i.txt" \
		2>>"$LOGS/soak-wsstar.log" &
	GENS="$GENS $!"
	_i=$((_i + 1))
done
for _r in salty galene; do
	waitfor 300 test -s "$TMP/ready-$_r"
	grep -q '^ready' "$TMP/ready-$_r" 2>/dev/null ||
		{ log "soak: $_r set-up failed: $(cat "$TMP/ready-$_r" 2>/dev/null) $(tail -2 "$LOGS/soak-$_r.log")"; exit 1; }
done
_i=0
while [ $_i -lt "$NWSSTAR" ]; do
	waitfor 120 test -s "$TMP/ready-wsstar-$_i" ||
		{ log "soak: WebSocketStar pair $_i set-up failed: $(tail -2 "$LOGS/soak-wsstar.log")"; exit 1; }
	_i=$((_i + 1))
done
log "soak: all connected; 10 s to settle"
sleep 10
sample s
log "soak: start: $s_procs processes, $s_fds fds, RSS $s_rss kB, PSS $s_pss kB"
_end=$(($(date +%s) + SECS))
while [ "$(date +%s)" -lt "$_end" ]; do
	alive "$LGP" || { FAILED="$FAILED; the load generator stopped early: $(tail -1 "$LOGS/soak-loadgen.log")"; break; }
	for _g in $GENS; do
		alive "$_g" || { FAILED="$FAILED; a protocol's load generator stopped early (see $LOGS/soak-*.log)"; break 2; }
	done
	alive "$SB" || { FAILED="$FAILED; switchboard stopped"; break; }
	sleep 5
done
sample e
log "soak: end: $e_procs processes, $e_fds fds, RSS $e_rss kB, PSS $e_pss kB"
kill -TERM "$LGP" $GENS 2>/dev/null
waitfor 30 grep -q '^soak' "$LOGS/soak-result.txt" || FAILED="$FAILED; the load generator gave no result"
for _f in "$LOGS"/soak-salty.txt "$LOGS"/soak-galene.txt "$LOGS"/soak-wsstar-*.txt; do
	waitfor 30 grep -q '^soak' "$_f" || FAILED="$FAILED; no result in $_f"
done
# one line: each kind's sent_ and delivered_ (the WebSocketStar pairs added up) and all errors
RES=$(cat "$LOGS/soak-result.txt" "$LOGS"/soak-salty.txt "$LOGS"/soak-galene.txt "$LOGS"/soak-wsstar-*.txt |
	grep -h '^soak' | tr ' ' '\n' | awk -F= '$1 ~ /^(sent|delivered|echoed)_/ || $1 == "errors" { v[$1] += $2 }
		$1 == "first_error" && $2 != "-" && fe == "" { fe = $2 }
		END { printf "soak"; for (k in v) printf " %s=%d", k, v[k]; printf " first_error=%s\n", fe == "" ? "-" : fe }')
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
for _g in $GENS; do
	waitfor 60 sh -c "! kill -0 $_g 2>/dev/null" || kill -KILL "$_g" 2>/dev/null
	wait "$_g" 2>/dev/null || LGRC=${LGRC}+$?
done
GENS=

r() { echo "$RES" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
KINDS="wschat messaging echo saltyrtc galene wsstar"
[ "$(r sent_wsstar)" = "$(r echoed_wsstar)" ] || FAILED="$FAILED; wsstar: sent $(r sent_wsstar), echoed back $(r echoed_wsstar)"
for k in $KINDS; do
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
	for k in $KINDS; do
		row "$k messages sent / delivered" "$(r "sent_$k")" "$(r "delivered_$k")" "—" "equal"
	done
	echo
	echo "\`make soak\` (tests/bench/soak.sh): $NCHAT identified WSChat clients, $NMSG Messaging clients, $NECHO echo" \
		"clients, $NSALTY SaltyRTC pairs (initiator and responder through the whole handshake), $NGALENE Galène" \
		"members of one group and $NWSSTAR WebSocketStar pairs (one dial each) on one switchboard; $RATE messages/s" \
		"in all: half of it in turn WSChat direct, Messaging \`send\` (answered with \`read\`, the store checked" \
		"empty after) and echo, each from a random client of its kind to a random other; a sixth each SaltyRTC" \
		"relays (a random side of a random pair to its peer), Galène private chat (a random member to a random" \
		"other) and WebSocketStar chunks (dialer to listener, each written back: echoed $(r echoed_wsstar));" \
		"every message carries a sequence number (loss, duplicates and misdelivery are errors). Start:" \
		"10 s after the last connection was ready; end: after ${SECS}s of traffic. Load generator errors:" \
		"$(r errors). $(machine); machine busy $BUSY% at the start; $(date -u '+%Y-%m-%d %H:%M UTC')."
	[ -z "$FAILED" ] && echo "**Valid:** flat and complete." || echo "**Not valid:** ${FAILED#; }."
} >"$OUT/soak.md"
cat "$OUT/soak.md"
[ -z "$FAILED" ] || exit 1
