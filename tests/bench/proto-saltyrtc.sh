#!/bin/sh
# SaltyRTC figures for make bench (tests/bench/run.sh runs this; see the
# convention there): handshakes/s, relayed msgs/s at 256 B, MB/s at 1 KiB
# and 64 KiB with PAIRS initiator-responder pairs, and an idle worker's PSS,
# each beside WSChat's direct path measured in the same run with the same
# generator (tests/bench/loadgen_salty.c, the project's own SaltyRTC client
# library) so that the crypto's cost shows. saltyrtc-server-python cannot be
# installed here: its figures are ones recorded earlier, labelled so.
# Rows on stdout, notes in $OUT/notes-saltyrtc.md, logs on stderr; exit 1
# when the run is not valid.
#
# Alone: B=build OUT=build/bench LOGS=build/bench/logs LG=build/bench/loadgen \
#        SECS=5 WARMUP=1 TMP=$(mktemp -d) sh tests/bench/proto-saltyrtc.sh
# (LG is run.sh's generator, built there; this script builds its own.)
# Knobs: SALTY_PAIRS (50), SALTY_WINDOW (16 packets in flight per side; 8 at
# 64 KiB), SALTY_HS (400 handshake pairs, SALTY_HS_CONC 10 at a time),
# SALTY_IDLE (10 idle pairs).
set -u
cd "$(dirname "$0")/../.." || exit 1
: "${B:=build}" "${OUT:=$B/bench}" "${LOGS:=$OUT/logs}" "${LG:=$OUT/loadgen}" "${SECS:=5}" "${WARMUP:=1}"
PAIRS=${SALTY_PAIRS:-50}
WINDOW=${SALTY_WINDOW:-16}
WINDOW_BIG=8          # 64 KiB packets: 8 in flight per side
# A pair's packets can all be on their way to one side at once (each side
# answers every packet it gets): 16 x 64 KiB, just over the default 1 MiB
# relay queue, which then answers with send-error, as it should. The bench
# measures throughput, so the queue is 2 MiB here.
RELAY_QUEUE=2097152
HS=${SALTY_HS:-400}
HS_CONC=${SALTY_HS_CONC:-10}
IDLE=${SALTY_IDLE:-10}
BUDGET_KB=150
# saltyrtc-server-python 5.0.1, measured earlier on this kind of machine (issue 8)
REF_MSGS=19000        # relayed 256-byte messages per second
REF_MBS=16            # MB/s at 1 KiB
REF_NOTE="saltyrtc-server-python 5.0.1, recorded earlier, not this run"
SLG=$OUT/loadgen_salty

mkdir -p "$OUT" "$LOGS" || exit 1
own_tmp=''
[ -n "${TMP:-}" ] || { TMP=$(mktemp -d "${TMPDIR:-/tmp}/sb-salty.XXXXXX") && own_tmp=$TMP; } || exit 1
. tests/bench/lib.sh
SB='' LGP='' FAILED=''
cleanup() {
	[ -n "$LGP" ] && kill_wait "$LGP" 5
	stop_sb
	[ -n "$own_tmp" ] && rm -rf "$own_tmp"
}
trap cleanup EXIT
trap 'log "saltyrtc bench: interrupted"; exit 1' INT TERM

cc -O2 -Wall -Wextra -o "$SLG" tests/bench/loadgen_salty.c tests/bench/loadgen_net.c tests/bench/loadgen_cpu.c \
	proto/saltyrtc/client.c proto/saltyrtc/client_crypto.c proto/saltyrtc/client_mp.c \
	proto/saltyrtc/client_server.c proto/saltyrtc/client_peer.c common/mp.c common/alloc.c common/log.c common/log_sink.c \
	-lsodium -lmsgpackc || exit 1
[ -x "$LG" ] || build_loadgen || exit 1

# helpers of this script (run.sh has its own row/ratio, defined after the protocol scripts run)
row() { printf '| %s | %s | %s | %s | %s |\n' "$@"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "n/a"; else printf "%.2f×", a / b }'; }
g() { _v=$(kv "$1" "$LOGS/salty-$2.txt"); echo "${_v:-0}"; } # KEY RUN
fail() { FAILED="$FAILED; $*"; }
# run NAME CMD...: one generator run into $LOGS/salty-NAME.txt, after the last one's workers left
run() {
	_rn=$1
	shift
	waitfor 15 no_workers || log "saltyrtc bench: workers of the last run still there"
	"$@" >"$LOGS/salty-$_rn.txt" 2>&1 || fail "saltyrtc $_rn run reported errors: $(tail -c 300 "$LOGS/salty-$_rn.txt")"
	log "saltyrtc bench:   $_rn: $(cat "$LOGS/salty-$_rn.txt")"
}
# avg_pss: the average PSS (kB) of the server's workers
avg_pss() {
	for _w in $(workers "$SB"); do smaps "$_w" Pss; done | awk '{ s += $1; n++ } END { if (n) printf "%.0f", s / n; else print 0 }'
}
nworkers() { workers "$SB" | wc -l; }

BUSY=$(cpu_busy)
log "saltyrtc bench: machine busy before start: $BUSY% of $(nproc) CPUs"
KEY=$TMP/saltyrtc.key
"$B/switchboard-router" --saltyrtc-keygen "$KEY" >"$LOGS/salty-key.txt" 2>&1 || { log "saltyrtc bench: keygen failed"; exit 1; }
start_sb --saltyrtc-key "$KEY" --saltyrtc-relay-queue "$RELAY_QUEUE"

# ---- idle workers: SaltyRTC pairs through the whole handshake; WSChat identified clients
log "saltyrtc bench: idle memory ($IDLE SaltyRTC pairs, $((2 * IDLE)) identified WSChat clients)"
rm -f "$TMP/ready"
"$SLG" idle "$SB_PORT" "$IDLE" "$TMP/ready" >"$LOGS/salty-idle.txt" 2>&1 &
LGP=$!
if waitfor 60 test -s "$TMP/ready" && grep -q '^ready' "$TMP/ready"; then
	sleep 0.5
	S_NW=$(nworkers) S_PSS=$(avg_pss)
else
	fail "SaltyRTC idle pairs failed: $(cat "$TMP/ready" 2>/dev/null)"
	S_NW=0 S_PSS=0
fi
kill_wait "$LGP" 10
LGP=''
waitfor 15 no_workers || log "saltyrtc bench: idle workers still alive after their clients left"
idle_open "$SB_PORT" $((2 * IDLE)) i
sleep 0.5
W_NW=$(nworkers) W_PSS=$(avg_pss)
idle_close
[ "$S_NW" -eq $((2 * IDLE)) ] || fail "expected $((2 * IDLE)) SaltyRTC workers, found $S_NW"
log "saltyrtc bench:   worker PSS: SaltyRTC $S_PSS kB ($S_NW), WSChat $W_PSS kB ($W_NW)"

# ---- handshakes: a pair = initiator + responder, both to server-auth; WSChat: two connections identified
log "saltyrtc bench: handshakes ($HS pairs, $HS_CONC at a time)"
run hs-warm "$SLG" hs "$SB_PORT" 40 "$HS_CONC" "$SB"
run hs "$SLG" hs "$SB_PORT" "$HS" "$HS_CONC" "$SB"
run chaths "$SLG" chaths "$SB_PORT" "$HS" "$HS_CONC" "$SB"

# ---- relay: PAIRS pairs, closed loop, both ways
relay() { # SIZE WINDOW
	log "saltyrtc bench: relay, $PAIRS pairs, $1-byte packets, $2 in flight per side"
	run "relay-$1" "$SLG" relay "$SB_PORT" "$PAIRS" "$2" "$1" "$WARMUP" "$SECS" "$SB"
	run "chat-$1" "$SLG" chat "$SB_PORT" "$PAIRS" "$2" "$1" "$WARMUP" "$SECS" "$SB"
}
relay 256 "$WINDOW"
relay 1024 "$WINDOW"
relay 65536 "$WINDOW_BIG"
log "saltyrtc bench: relay of sealed task messages (the generator boxes and opens each), 256 bytes"
run relay-256-sealed "$SLG" relay "$SB_PORT" "$PAIRS" "$WINDOW" 256 "$WARMUP" "$SECS" "$SB" sealed
log "saltyrtc bench: WSChat as run.sh measures it ($LG chat: $((2 * PAIRS)) clients, random peers)"
run lgchat-256 "$LG" chat "$SB_PORT" $((2 * PAIRS)) "$WINDOW" 0 "$WARMUP" "$SECS" 256 "$SB"
stop_sb

# ---- rows
split() { echo "router $(g us_per_msg:switchboard-rou "$1") + workers $(g us_per_msg:switchboard-wor "$1")"; }
vs() { echo "$(ratio "$1" "$2") vs WSChat"; } # SALTY WSCHAT
row "SaltyRTC idle connection: worker PSS (avg of $S_NW, paired, after the peer handshake)" "$S_PSS KB" \
	"WSChat identified, this run: $W_PSS KB; ~40 MB RSS in all ($REF_NOTE)" "$(vs "$S_PSS" "$W_PSS")" "$BUDGET_KB KB"
row "SaltyRTC handshakes/s (pairs: initiator + responder to server-auth, $HS_CONC pairs at a time)" \
	"$(g rate hs) ($(g ms_per_pair hs) ms per pair; $(g us_per_pair hs) µs CPU)" \
	"WSChat pairs connected + identified, this run: $(g rate chaths) ($(g us_per_pair chaths) µs CPU); 3 ms per handshake ($REF_NOTE)" \
	"$(vs "$(g rate hs)" "$(g rate chaths)")" "—"
row "SaltyRTC relayed msgs/s, 256 B, $PAIRS pairs, $WINDOW in flight per side" "$(g rate relay-256)" \
	"$REF_MSGS ($REF_NOTE); WSChat direct, this run: $(g rate chat-256) (run.sh's shape: $(g rate lgchat-256))" \
	"$(ratio "$(g rate relay-256)" "$REF_MSGS") ($(vs "$(g rate relay-256)" "$(g rate chat-256)"))" \
	"≥ $((5 * REF_MSGS)) (5× ref)"
row "SaltyRTC CPU µs per relayed 256 B message (all server processes)" "$(g us_per_msg relay-256) ($(split relay-256))" \
	"WSChat direct, this run: $(g us_per_msg chat-256) ($(split chat-256))" \
	"$(vs "$(g us_per_msg relay-256)" "$(g us_per_msg chat-256)")" "—"
row "SaltyRTC relayed msgs/s, 256 B sealed task messages (generator boxes and opens each)" \
	"$(g rate relay-256-sealed)" "$REF_MSGS ($REF_NOTE)" "$(ratio "$(g rate relay-256-sealed)" "$REF_MSGS")" "—"
row "SaltyRTC relayed MB/s, 1 KiB, $PAIRS pairs, $WINDOW in flight per side" "$(g mb_per_s relay-1024)" \
	"$REF_MBS ($REF_NOTE); WSChat direct, this run: $(g mb_per_s chat-1024)" \
	"$(ratio "$(g mb_per_s relay-1024)" "$REF_MBS") ($(vs "$(g mb_per_s relay-1024)" "$(g mb_per_s chat-1024)"))" \
	"≥ $((5 * REF_MBS)) (5× ref)"
row "SaltyRTC relayed MB/s, 64 KiB, $PAIRS pairs, $WINDOW_BIG in flight per side" "$(g mb_per_s relay-65536)" \
	"WSChat direct, this run: $(g mb_per_s chat-65536) (no recorded reference at 64 KiB)" \
	"$(vs "$(g mb_per_s relay-65536)" "$(g mb_per_s chat-65536)") ($(g us_per_msg relay-65536) / $(g us_per_msg chat-65536) µs CPU per message)" "—"

cat >"$OUT/notes-saltyrtc.md" <<EOF
SaltyRTC: \`tests/bench/loadgen_salty.c\` drives the project's own client library (proto/saltyrtc/client*.c) without
blocking, on loadgen's epoll loop; one switchboard with \`--saltyrtc-key\` and \`--saltyrtc-relay-queue $RELAY_QUEUE\`
(at 64 KiB all 16 packets of a pair can be queued for one side, just over the default 1 MiB). A handshake pair is an initiator and a
responder on a fresh path both reaching server-auth (then both close; $HS_CONC pairs at a time, $HS in all); WSChat's
counterpart: two /wschat connections identified. Relay: $PAIRS pairs after the whole handshake (server and peer:
token, key, auth), each side keeping $WINDOW packets ($WINDOW_BIG at 64 KiB) in flight to its peer, every packet
received answered with one; packets carry a valid nonce and opaque bytes (the server forwards relays whole and never
opens them, so the generator spends no crypto); the sealed row boxes and opens real task messages on both ends.
WSChat's counterpart: pairs a<i>/b<i> sending each other \`message\` commands whose frame is the same size, same
window; "run.sh's shape" is \`loadgen chat\` with $((2 * PAIRS)) clients and random peers. MB/s counts WebSocket
payload bytes delivered. ${WARMUP}s warm-up, ${SECS}s measured; CPU from /proc of all server processes. The
reference column's saltyrtc-server-python figures were recorded earlier on this kind of machine (PyPI is out of
reach here), not in this run. Machine busy before the SaltyRTC runs: $BUSY% of $(nproc) CPUs.
EOF
[ -z "$FAILED" ] || { log "saltyrtc bench: not valid: ${FAILED#; }"; exit 1; }
exit 0
