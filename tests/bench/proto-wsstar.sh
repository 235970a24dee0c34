#!/bin/sh
# WebSocketStar figures beside the reference rendezvous
# (libp2p-websocket-star-rendezvous@0.4.1 from tests/e2e/node_modules), in
# the same run with the same load clients (tests/bench/wsstar_relay.c for the
# relay and the echo, tests/bench/wsstar_load.js for dials and idle peers): dial
# latency, echo round trip and relay MB/s through one dial; router CPU per
# announcement round and memory per idle peer at 100 and 1000 registered
# peers; and the floor under the echo and the relay: the same C client through
# servers that only forward bytes (tests/bench/wsstar_floor.c), one process (the
# reference's shape) and three (switchboard's: worker -> router -> worker). Prints the table rows (tests/bench/run.sh's five columns) on stdout,
# notes to $OUT/notes-wsstar.md, logs to stderr; exits non-zero when a run is
# not valid. Run alone: B=build OUT=/tmp/o LOGS=/tmp/l TMP=/tmp/t sh tests/bench/proto-wsstar.sh
# WSSTAR_PEERS ("100 1000") and WSSTAR_ROUNDS (announcement rounds measured, 3) scale it;
# WSSTAR_NO_RELAY, WSSTAR_NO_SB, WSSTAR_NO_REF leave parts out (for a partial run).
# From WSSTAR_BIG (1000) peers on, the announcement interval is WSSTAR_BIG_INTERVAL_MS
# (60000) for both servers, over one round: at 10 s the reference cannot keep up (notes).
cd "$(dirname "$0")/../.." || exit 1
B=${B:-build}
SECS=${SECS:-5}
OUT=${OUT:-$(mktemp -d)}
LOGS=${LOGS:-$OUT}
TMP=${TMP:-$(mktemp -d)}
mkdir -p "$OUT" "$LOGS" "$TMP"
NODE_PATH=${NODE_PATH:-$PWD/tests/e2e/node_modules}
export NODE_PATH
. tests/bench/lib.sh

REF_BIN=tests/e2e/node_modules/libp2p-websocket-star-rendezvous/src/bin.js
LOAD=tests/bench/wsstar_load.js
PEERS=${WSSTAR_PEERS:-100 1000}
ROUNDS=${WSSTAR_ROUNDS:-3}
INTERVAL_MS=10000 # the reference's refreshPeerListIntervalMS; ours by default
BIG=${WSSTAR_BIG:-1000}
BIG_INTERVAL_MS=${WSSTAR_BIG_INTERVAL_MS:-60000}
HZ=$(getconf CLK_TCK)
SB= REF= PL= FL=
trap 'kill_wait "$PL" 5; kill_wait "$FL" 5; kill_wait "$REF" 5; stop_sb' EXIT
[ -f "$REF_BIN" ] || { log "bench: wsstar: $REF_BIN missing (make test-deps)"; exit 1; }

start_ref() {
	REF_PORT=$(free_port)
	node "$REF_BIN" --port "$REF_PORT" --host 127.0.0.1 --disableMetrics "$@" >>"$LOGS/wsstar-ref.log" 2>&1 &
	REF=$!
	waitfor 60 listening "$REF_PORT" || { log "bench: wsstar: the reference did not come up (see $LOGS/wsstar-ref.log)"; exit 1; }
}
# the reference as its bin.js starts it (challenge and strict multiaddrs on), with
# another announcement interval: its CLI has none, its module takes refreshPeerListIntervalMS
start_ref_interval() { # MS
	REF_PORT=$(free_port)
	node -e 'require(process.argv[1]).start({ port: +process.argv[2], host: "127.0.0.1", metrics: false,
		refreshPeerListIntervalMS: +process.argv[3], cryptoChallenge: true, strictMultiaddr: true })
		.then(() => console.log("Listening"), (e) => { console.error(e); process.exit(1); })' \
		"$PWD/${REF_BIN%/bin.js}/index.js" "$REF_PORT" "$1" >>"$LOGS/wsstar-ref.log" 2>&1 &
	REF=$!
	waitfor 60 listening "$REF_PORT" || { log "bench: wsstar: the reference did not come up (see $LOGS/wsstar-ref.log)"; exit 1; }
}
stop_ref() { kill_wait "$REF" 5; REF=; }

# PID... -> utime + stime + the reaped children's, summed, in clock ticks (one awk for
# all: 1000 workers); a worker gone by the second reading is in the supervisor's cutime
ticks() {
	for _p in "$@"; do echo "/proc/$_p/stat"; done | xargs -r cat 2>/dev/null |
		awk '{ sub(/^.*\) /, ""); t += $12 + $13 + $14 + $15 } END { print t + 0 }'
}
# PID... -> ms on a CPU, every thread, from the scheduler's nanoseconds: clock ticks
# would round each of 1000 workers' few ms per round down to nothing
cpu_ms() {
	_f=
	for _p in "$@"; do _f="$_f /proc/$_p/task/*/schedstat"; done
	# shellcheck disable=SC2086 # the globs expand here, in one cat for all
	cat $_f 2>/dev/null | awk '{ t += $1 } END { printf "%.1f", t / 1e6 }'
}
pss_all() { # PID... -> summed Pss in kB
	for _p in "$@"; do echo "/proc/$_p/smaps_rollup"; done | xargs -r cat 2>/dev/null |
		awk '$1 == "Pss:" { t += $2 } END { print t + 0 }'
}
sb_pids() { echo "$SB $(descendants "$SB")"; } # the workers are the template's children
sb_router() { router "$SB"; }
ref_pid() { echo "$REF"; }

relay() { # PORT NAME SERVER-PID -> figures in $TMP/relay-NAME
	if ! WSSTAR_SERVER_PID=$3 node "$LOAD" relay "$1" "$SECS" >"$TMP/relay-$2" 2>>"$LOGS/wsstar-load.log"; then
		log "bench: wsstar: relay run against $2 failed (see $LOGS/wsstar-load.log)"
		exit 1
	fi
	log "bench: wsstar relay $2: $(cat "$TMP/relay-$2")"
}

peers_up() { [ -s "$TMP/ready" ] || ! kill -0 "$PL" 2>/dev/null; }
# peers PORT N NAME MEMPIDS-CMD CPUPIDS-CMD ALLPIDS-CMD: N idle peers; memory per peer, CPU per round
peers() {
	_interval=$INTERVAL_MS _rounds_due=$ROUNDS
	[ "$2" -lt "$BIG" ] || _interval=$BIG_INTERVAL_MS _rounds_due=1
	_mem0=$(pss_all $($4))
	_t0=$(date +%s)
	rm -f "$TMP/ready"
	node "$LOAD" peers "$1" "$2" "$TMP/ready" >"$TMP/peers-$3-$2" 2>>"$LOGS/wsstar-load.log" &
	PL=$!
	# the client fails (and says why) when a peer is closed before its join
	if ! waitfor 900 peers_up || ! grep -q "^ready $2\$" "$TMP/ready"; then
		log "bench: wsstar: $2 peers did not all join $3 (see $LOGS/wsstar-load.log)"
		exit 1
	fi
	_join_s=$(($(date +%s) - _t0))
	log "bench: wsstar: $2 peers joined $3 after $_join_s s"
	sleep 2 # the joins' own work settles
	_mem1=$(pss_all $($4))
	_c0=$(cpu_ms $($5))
	_a0=$(cpu_ms $($6))
	kill -USR1 "$PL" # the client counts the announcements from here
	_w0=$(date +%s%N)
	sleep $((_rounds_due * _interval / 1000))
	_c1=$(cpu_ms $($5))
	_a1=$(cpu_ms $($6))
	_mem2=$(pss_all $($4)) # after the rounds: each worker holds the address list they replay
	kill -TERM "$PL"
	_w1=$(date +%s%N)
	wait "$PL"
	PL=
	grep -q "^peers=$2 " "$TMP/peers-$3-$2" || { log "bench: wsstar: the $2 peers' client did not report"; exit 1; }
	# Rounds the server actually delivered in the window: announcements received over the
	# n(n-1) of a round. A server that cannot keep up delivers fewer than the window's
	# ROUNDS, and its CPU per round is the CPU over the rounds delivered.
	_rounds=$(awk -v e="$(kv events_rx "$TMP/peers-$3-$2")" -v n="$2" 'BEGIN { printf "%.2f", e / (n * (n - 1)) }')
	_due=$(awk -v w="$((_w1 - _w0))" -v i="$_interval" 'BEGIN { printf "%.2f", w / 1e6 / i }')
	echo "mem_kb_per_peer=$(calc "($_mem2 - $_mem0) / $2") mem_kb_per_peer_joined=$(calc "($_mem1 - $_mem0) / $2") rounds=$_rounds rounds_due=$_due \
cpu_ms_round=$(calc "($_c1 - $_c0) / ($_rounds > 0 ? $_rounds : 1)") \
all_cpu_ms_round=$(calc "($_a1 - $_a0) / ($_rounds > 0 ? $_rounds : 1)") \
cpu_share=$(awk -v t="$_c1" -v t0="$_c0" -v w="$((_w1 - _w0))" 'BEGIN { printf "%.3f", (t - t0) * 1e6 / w }') \
join_s=$_join_s $(cat "$TMP/peers-$3-$2")" >"$TMP/idle-$3-$2"
	log "bench: wsstar $2 idle peers on $3: $(cat "$TMP/idle-$3-$2")"
}

# crelay PORT NAME SERVER-PIDS-CMD: the C client's echo and bulk runs (challenge off on both servers)
crelay() {
	_ma=/ip4/127.0.0.1/tcp/$1/ws/p2p-websocket-star/ipfs
	for _m in echo bulk; do
		_t0=$(ticks $($3))
		if ! "$TMP/wsstar_relay" "$1" "$_m" "$SECS" "$_ma/$ID_A" "$_ma/$ID_B" >"$TMP/c$_m-$2" 2>>"$LOGS/wsstar-load.log"; then
			log "bench: wsstar: the C client's $_m run against $2 failed (see $LOGS/wsstar-load.log)"
			exit 1
		fi
		_t1=$(ticks $($3))
		echo "server_cpu_s=$(calc "($_t1 - $_t0) / $HZ")" >>"$TMP/c$_m-$2"
		log "bench: wsstar C $_m $2: $(tr '\n' ' ' <"$TMP/c$_m-$2")"
	done
}

# floor SHAPE (1 or 3 processes): the C client's echo and bulk through wsstar_floor, in $TMP/floor-SHAPE
floor() {
	_p=$(free_port)
	"$TMP/wsstar_floor" "$_p" "$1" >/dev/null 2>>"$LOGS/wsstar-load.log" &
	FL=$!
	waitfor 15 listening "$_p" || { log "bench: wsstar: the floor server did not come up"; exit 1; }
	: >"$TMP/floor-$1"
	for _m in echo bulk; do
		if ! "$TMP/wsstar_relay" "$_p" "$_m" "$SECS" >>"$TMP/floor-$1" 2>>"$LOGS/wsstar-load.log"; then
			log "bench: wsstar: the floor's $_m run ($1 process(es)) failed (see $LOGS/wsstar-load.log)"
			exit 1
		fi
	done
	kill_wait "$FL" 5
	FL=
	log "bench: wsstar floor, $1 process(es): $(tr '\n' ' ' <"$TMP/floor-$1")"
}

log "bench: wsstar: machine busy $(cpu_busy)% before the run"
cc -O2 -Wall -Wextra -Werror -o "$TMP/wsstar_relay" tests/bench/wsstar_relay.c proto/wsstar/base58.c || { log "bench: wsstar: wsstar_relay.c did not build"; exit 1; }
cc -O2 -Wall -Wextra -Werror -o "$TMP/wsstar_floor" tests/bench/wsstar_floor.c || { log "bench: wsstar: wsstar_floor.c did not build"; exit 1; }
# two valid peer ids for the C client's multiaddrs (it signs nothing: both servers run without the challenge)
ID_A=QmNnooDu7bfjPFoTZYxMNLWUQJyrVwtbZg5gBMjTezGAJN
ID_B=QmQCU2EcMqAqQPR2i9bChDtGNJchTbq5TbXJJ16u19uLTa
if [ -z "$WSSTAR_NO_RELAY" ]; then
start_sb --wsstar-announce-interval "$INTERVAL_MS"
relay "$SB_PORT" sb "$SB"
stop_sb
start_sb --wsstar-no-crypto-challenge
crelay "$SB_PORT" sb sb_pids
stop_sb
start_ref
relay "$REF_PORT" ref "$REF"
stop_ref
start_ref --disableCryptoChallenge
crelay "$REF_PORT" ref ref_pid
stop_ref
floor 1
floor 3
fi

for n in $PEERS; do
	ms=$INTERVAL_MS
	[ "$n" -lt "$BIG" ] || ms=$BIG_INTERVAL_MS
	if [ -z "$WSSTAR_NO_SB" ]; then
		start_sb --wsstar-announce-interval "$ms"
		peers "$SB_PORT" "$n" sb sb_pids sb_router sb_pids
		stop_sb
	fi
	[ -z "$WSSTAR_NO_REF" ] || continue
	if [ "$ms" = "$INTERVAL_MS" ]; then start_ref; else start_ref_interval "$ms"; fi
	peers "$REF_PORT" "$n" ref ref_pid ref_pid ref_pid
	stop_ref
done

# ---- rows ----
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "n/a"; else printf "%.2f×", a / b }'; }
row() { printf '| %s | %s | %s | %s | %s |\n' "$@"; }
s() { kv "$1" "$TMP/relay-sb"; }
r() { kv "$1" "$TMP/relay-ref"; }
cs() { kv "$2" "$TMP/c$1-sb"; }
cr() { kv "$2" "$TMP/c$1-ref"; }
# server CPU per MB in the C bulk run
cpumb() { calc "$(kv server_cpu_s "$TMP/cbulk-$1") * 1000 / ($(kv relay_bytes "$TMP/cbulk-$1") / 1000000)"; }
row "WebSocketStar dial latency p50 (ss-dial to the first relayed byte; Node client)" "$(s dial_ms_p50) ms" \
	"$(r dial_ms_p50) ms" "$(ratio "$(s dial_ms_p50)" "$(r dial_ms_p50)")" "—"
row "WebSocketStar relay through one dial (64 KiB chunks, 768 KiB window; C client)" "$(cs bulk relay_mbs) MB/s" \
	"$(cr bulk relay_mbs) MB/s" "$(ratio "$(cs bulk relay_mbs)" "$(cr bulk relay_mbs)")" "≥ 5×"
row "WebSocketStar relay: server CPU per MB relayed (sb: all processes; C client)" "$(cpumb sb) ms" "$(cpumb ref) ms" \
	"$(ratio "$(cpumb sb)" "$(cpumb ref)")" "—"
row "WebSocketStar echo round trip p50 (32 B, dialer → listener → dialer; C client)" "$(cs echo rtt_ms_p50) ms" \
	"$(cr echo rtt_ms_p50) ms" "$(ratio "$(cs echo rtt_ms_p50)" "$(cr echo rtt_ms_p50)")" "≤ 0.2×"
f() { kv "$2" "$TMP/floor-$1"; }
above() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a - b }'; }
row "WebSocketStar echo floor p50: the same client through byte forwarders (sb: 3 processes as worker → router → worker; ref: 1 process)" \
	"$(f 3 rtt_ms_p50) ms" "$(f 1 rtt_ms_p50) ms" "$(ratio "$(f 3 rtt_ms_p50)" "$(f 1 rtt_ms_p50)")" "—"
row "WebSocketStar echo round trip p50 above its shape's floor (what the server computes)" \
	"$(above "$(cs echo rtt_ms_p50)" "$(f 3 rtt_ms_p50)") ms" "$(above "$(cr echo rtt_ms_p50)" "$(f 1 rtt_ms_p50)") ms" \
	"$(ratio "$(above "$(cs echo rtt_ms_p50)" "$(f 3 rtt_ms_p50)")" "$(above "$(cr echo rtt_ms_p50)" "$(f 1 rtt_ms_p50)")")" "—"
row "WebSocketStar relay floor: the same client through byte forwarders (sb: 3 processes; ref: 1 process)" \
	"$(f 3 relay_mbs) MB/s" "$(f 1 relay_mbs) MB/s" "$(ratio "$(f 3 relay_mbs)" "$(f 1 relay_mbs)")" "—"
for n in $PEERS; do
	i() { kv "$1" "$TMP/idle-$2-$n"; }
	row "WebSocketStar announcement rounds delivered of those due, $n peers (a server that falls behind delivers fewer)" \
		"$(i rounds sb) / $(i rounds_due sb)" "$(i rounds ref) / $(i rounds_due ref)" "—" "—"
	row "WebSocketStar CPU per announcement round, $n peers (sb: router; ref: its process)" \
		"$(i cpu_ms_round sb) ms" "$(i cpu_ms_round ref) ms" "$(ratio "$(i cpu_ms_round sb)" "$(i cpu_ms_round ref)")" "—"
	row "WebSocketStar CPU per announcement round, $n peers (sb: router + workers + supervisor)" \
		"$(i all_cpu_ms_round sb) ms" "$(i all_cpu_ms_round ref) ms" \
		"$(ratio "$(i all_cpu_ms_round sb)" "$(i all_cpu_ms_round ref)")" "—"
	row "WebSocketStar memory per idle peer, $n peers, after the rounds (sb: PSS of all processes; ref: its process)" \
		"$(i mem_kb_per_peer sb) KiB" "$(i mem_kb_per_peer ref) KiB" \
		"$(ratio "$(i mem_kb_per_peer sb)" "$(i mem_kb_per_peer ref)")" "—"
done

{
	echo "WebSocketStar: the same load clients for both servers, run one after the other: relay and echo by a C"
	echo "client (tests/bench/wsstar_relay.c; its CPU $(cs bulk client_cpu_ms_per_mb) / $(cr bulk client_cpu_ms_per_mb) ms per MB),"
	echo "dial latency and idle peers by a Node one (tests/bench/wsstar_load.js). With the Node client (socket.io-client@2,"
	echo "$(s client_cpu_ms_per_mb) / $(r client_cpu_ms_per_mb) ms of its own CPU per MB) the relay was $(s relay_mbs) / $(r relay_mbs) MB/s"
	echo "(server CPU $(s server_cpu_ms_per_mb) / $(r server_cpu_ms_per_mb) ms per MB) and the echo p50 $(s rtt_ms_p50) / $(r rtt_ms_p50) ms (sb / ref);"
	for n in $PEERS; do
		echo "$n idle peers $(kv client_cpu_s "$TMP/idle-sb-$n") s (sb) and $(kv client_cpu_s "$TMP/idle-ref-$n") s (ref) over $ROUNDS rounds"
		echo "(announcements received: $(kv bytes_rx "$TMP/idle-sb-$n") and $(kv bytes_rx "$TMP/idle-ref-$n") bytes);"
	done
	echo "echo round trips p99 (C client): $(cs echo rtt_ms_p99) ms (sb), $(cr echo rtt_ms_p99) ms (ref); dial p90: $(s dial_ms_p90) / $(r dial_ms_p90) ms."
	echo "The echo budget (≤ 0.2× the reference's $(cr echo rtt_ms_p50) ms: $(awk -v e="$(cr echo rtt_ms_p50)" 'BEGIN { printf "%.3f", 0.2 * e }') ms) against the floor of this machine:"
	echo "the same client through one process that only forwards bytes takes $(f 1 rtt_ms_p50) ms, through three $(f 3 rtt_ms_p50) ms"
	echo "(its own loopback hops and wake-ups; no server can go below the first). The relay floor: $(f 1 relay_mbs) / $(f 3 relay_mbs) MB/s."
	for n in $PEERS; do
		echo "$n peers: joined in $(kv join_s "$TMP/idle-sb-$n") s (sb) and $(kv join_s "$TMP/idle-ref-$n") s (ref); the servers' CPU share over the window"
		echo "$(kv cpu_share "$TMP/idle-sb-$n") (sb router) and $(kv cpu_share "$TMP/idle-ref-$n") (ref) of one core."
	done
	echo "Announcement rounds: $INTERVAL_MS ms (the reference's default) below $BIG peers; $BIG_INTERVAL_MS ms for both from $BIG on,"
	echo "because a round of 1000 peers is 999 000 ws-peer events, which costs the reference more than 10 s of one"
	echo "core (about 100× its 100-peer round): at 10 s it falls further behind every round, its joins then take"
	echo "minutes and its HTTP server answers late ones 400 (request timeout). CPU per round counts the rounds the"
	echo "client received (events over n(n-1)), so a server behind still gets a fair per-round figure."
	echo "What else bounds the peer count: one Node load client holds every socket and counts frames by header"
	echo "(its CPU above); switchboard runs a worker process per peer (open files: $(ulimit -n) a process,"
	echo "processes: $(awk '/^Max processes/ { print $3 }' /proc/self/limits), --max-connections ${SB_MAX_CONN:-5000} here)."
} >"$OUT/notes-wsstar.md"

# the budgets, in this run
ok=$(awk -v rs="$(cs bulk relay_mbs)" -v rr="$(cr bulk relay_mbs)" -v es="$(cs echo rtt_ms_p50)" -v er="$(cr echo rtt_ms_p50)" \
	'BEGIN { print (rs >= 5 * rr && es <= 0.2 * er) ? "met" : "missed" }')
log "bench: wsstar: budgets $ok (relay ≥ 5×, echo ≤ 0.2×)"
exit 0
