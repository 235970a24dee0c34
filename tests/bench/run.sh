#!/bin/sh
# make bench: switchboard against its peers measured in the same run, on the
# same machine, with the same load generator (tests/bench/loadgen*.c, built
# here with cc -O2): a Node `ws` reference (tests/bench/node-relay.js), the
# libwebsockets relay (tests/bench/lws-relay.c, the C limit), websocketd 0.4.1
# with a static C echo child (tests/bench/echo-child.c), 10 000 idle
# connections (tests/bench/idle-many.sh) and each protocol's rows
# (tests/bench/proto-*.sh). Prints one Markdown table and writes it to
# build/bench/results.md; raw outputs go to build/bench/logs/.
# Only 127.0.0.1 is used; everything started here is stopped on exit.
#
# Knobs (environment): BENCH_SECS (5) measured window, BENCH_WARMUP (1),
# BENCH_CLIENTS (100), BENCH_WINDOWS ("8 64": closed-loop runs, messages in
# flight per client), BENCH_RATE (10000 msgs/s for the paced run), BENCH_PAYLOAD (100),
# BENCH_CONNS (4000 a round), BENCH_CONN_ROUNDS (3), BENCH_CONC (50), BENCH_IDLE (20), BENCH_IDLE_MANY (200),
# BENCH_MSG_IDS (100 Messaging client_ids), BENCH_MSG_ONLINE (50 of them
# connected), BENCH_MSG_WINDOW (16 messages to online ids in flight per
# connected client), BENCH_BACKLOG (10000 stored messages), BENCH_BACKLOG_RUNS (9),
# BENCH_MANY (10000 idle connections; 0 skips them), BENCH_LIMIT (900 s for the whole run).
set -u
cd "$(dirname "$0")/../.." || exit 1

SECS=${BENCH_SECS:-5}
WARMUP=${BENCH_WARMUP:-1}
CLIENTS=${BENCH_CLIENTS:-100}
WINDOWS=${BENCH_WINDOWS:-8 64}
PACE_WINDOW=64    # paced run: most undelivered messages per client before holding back
RATE=${BENCH_RATE:-10000}
PAYLOAD=${BENCH_PAYLOAD:-100}
CONNS=${BENCH_CONNS:-4000}
CONN_ROUNDS=${BENCH_CONN_ROUNDS:-3}
CONC=${BENCH_CONC:-50}
IDLE=${BENCH_IDLE:-20}
IDLE_MANY=${BENCH_IDLE_MANY:-200}
MSG_IDS=${BENCH_MSG_IDS:-100}
MSG_ONLINE=${BENCH_MSG_ONLINE:-50}
MSG_WINDOW=${BENCH_MSG_WINDOW:-16}
BACKLOG=${BENCH_BACKLOG:-10000}
BACKLOG_RUNS=${BENCH_BACKLOG_RUNS:-9}
MSG_QUEUE=10000000   # --messaging-max-queue (and -per-sender) for the Messaging runs: offline queues grow for the whole run
MSG_STORE=100000000000 # --messaging-max-store: bytes, for the same reason
BUDGET_KB=150     # the budget of an idle connection (README, Benchmarks)
BUDGET_US=12      # whole path, CPU per routed message

B=build
OUT=$B/bench
LOGS=$OUT/logs
LG=$OUT/loadgen
export NODE_PATH="$PWD/tests/e2e/node_modules"

for f in switchboard switchboard-worker switchboard-router; do
	[ -x "$B/$f" ] || { echo "bench: $B/$f missing; run 'make all' first" >&2; exit 1; }
done
[ -d "$NODE_PATH/ws" ] || { echo "bench: $NODE_PATH/ws missing; run 'make test-deps'" >&2; exit 1; }
command -v node >/dev/null || { echo "bench: node not found" >&2; exit 1; }
command -v pgrep >/dev/null || { echo "bench: pgrep (procps) not found" >&2; exit 1; }
command -v websocketd >/dev/null || { echo "bench: websocketd not found (make bench installs DEB_BENCH)" >&2; exit 1; }

mkdir -p "$OUT" "$LOGS" || exit 1
rm -f "$LOGS"/* "$OUT"/rows-*.md "$OUT"/notes-*.md "$OUT"/many-*
. tests/bench/lib.sh
build_tools || exit 1
[ -x "$OUT/lws-relay" ] || { echo "bench: libwebsockets-dev missing (make bench installs DEB_BENCH)" >&2; exit 1; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/sb-bench.XXXXXX") || exit 1
SB='' NP='' LGP='' WD='' WSDP='' LWSP='' FLOORP='' FORKP=''
FAILED=''   # reasons the run is not valid (printed, and exit status 1)

cleanup() {
	trap - EXIT INT TERM
	[ -n "$LGP" ] && kill_wait "$LGP" 5
	stop_sb
	[ -n "$NP" ] && stop_node
	[ -n "$WSDP" ] && stop_wsd
	[ -n "$LWSP" ] && stop_lws
	[ -n "$FLOORP" ] && stop_floor
	[ -n "$FORKP" ] && stop_forkfloor
	[ -n "$WD" ] && kill -TERM "$WD" 2>/dev/null && wait "$WD" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'log "bench: interrupted"; exit 1' INT TERM

# The whole run must stay bounded: stop ourselves after BENCH_LIMIT seconds.
(
	trap 'kill "$s" 2>/dev/null; exit 0' TERM
	sleep "${BENCH_LIMIT:-900}" &
	s=$!
	wait "$s" && log "bench: time limit reached" && kill -TERM $$
) 2>/dev/null &
WD=$!

BUSY=$(cpu_busy)
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
log "bench: machine busy before start: $BUSY% of $(nproc) CPUs (load average $LOAD0)"

# servers by name: switchboard, node, lws (the libwebsockets relay), websocketd
# srv_start NAME: sets PORT and PID
srv_start() {
	case $1 in
	switchboard) start_sb; PORT=$SB_PORT PID=$SB ;;
	node) start_node; PORT=$NODE_PORT PID=$NP ;;
	lws) start_lws; PORT=$LWS_PORT PID=$LWSP ;;
	websocketd) start_wsd; PORT=$WSD_PORT PID=$WSDP ;;
	floor) start_floor; PORT=$FLOOR_PORT PID=$FLOORP ;;
	forkfloor) start_forkfloor; PORT=$FORK_PORT PID=$FORKP ;;
	esac
}
srv_stop() {
	case $1 in switchboard) stop_sb ;; node) stop_node ;; lws) stop_lws ;; websocketd) stop_wsd ;; floor) stop_floor ;; forkfloor) stop_forkfloor ;; esac
}

# ---------------------------------------------------------------- 1, 2: memory, threads
log "bench: idle memory ($IDLE switchboard workers; Node with 0 and $IDLE_MANY clients)"
start_sb
idle_open "$SB_PORT" "$IDLE" i
sleep 0.5
: >"$TMP/w"
for w in $(workers "$SB"); do
	echo "$(smaps "$w" Rss) $(smaps "$w" Pss) $(smaps "$w" Private_Clean) $(smaps "$w" Private_Dirty) $(status_field "$w" VmPTE) $(status_field "$w" Threads)" >>"$TMP/w"
done
cp "$TMP/w" "$LOGS/workers-idle.txt"
NW=$(wc -l <"$TMP/w")
[ "$NW" -eq "$IDLE" ] || log "bench: expected $IDLE workers, found $NW"
W_RSS=$(awk '{ s += $1 } END { printf "%.0f", s / NR }' "$TMP/w")
W_PSS=$(awk '{ s += $2 } END { printf "%.0f", s / NR }' "$TMP/w")
W_USS=$(awk '{ s += $3 + $4 } END { printf "%.0f", s / NR }' "$TMP/w")
W_PTE=$(awk '{ s += $5 } END { printf "%.0f", s / NR }' "$TMP/w")
W_THR_MIN=$(awk 'NR == 1 || $6 < m { m = $6 } END { print m }' "$TMP/w")
W_THR_MAX=$(awk '$6 > m { m = $6 } END { print m }' "$TMP/w")
W_KERN=$((W_USS + W_PTE + 16))   # + 16 KB kernel stack (x86_64 THREAD_SIZE)
[ "$W_THR_MIN" = 1 ] && [ "$W_THR_MAX" = 1 ] || FAILED="$FAILED; a worker has more than one thread ($W_THR_MIN..$W_THR_MAX)"
idle_close
waitfor 10 no_workers || log "bench: workers still alive after their clients left"
sleep 0.3
# whole server (supervisor + router + workers) with 0 and IDLE_MANY clients
sb_pss() { _s=0; for _p in "$SB" $(children "$SB") $(forked "$SB"); do _s=$((_s + $(smaps "$_p" Pss || echo 0))); done; echo $_s; }
SB_P0=$(sb_pss)
idle_open "$SB_PORT" "$IDLE_MANY" m
sleep 0.5
SB_P1=$(sb_pss)
idle_close
stop_sb
SB_DPSS=$(calc "($SB_P1 - $SB_P0) / $IDLE_MANY")

start_node --expose-gc
sleep 0.5
kill -USR2 "$NP"; sleep 0.5
N_R0=$(smaps "$NP" Rss); N_P0=$(smaps "$NP" Pss)
idle_open "$NODE_PORT" "$IDLE_MANY" i
sleep 0.3
kill -USR2 "$NP"; sleep 0.5
N_R1=$(smaps "$NP" Rss); N_P1=$(smaps "$NP" Pss)
N_THR=$(status_field "$NP" Threads)
idle_close
stop_node
N_DRSS=$(calc "($N_R1 - $N_R0) / $IDLE_MANY")
N_DPSS=$(calc "($N_P1 - $N_P0) / $IDLE_MANY")
log "bench:   worker rss=$W_RSS pss=$W_PSS uss=$W_USS pte=$W_PTE threads=$W_THR_MIN..$W_THR_MAX;" \
	"server dPSS/conn=$SB_DPSS; node rss $N_R0->$N_R1 pss $N_P0->$N_P1 kB"

# ---------------------------------------------------------------- 3: connection rate
conn_bench() { # NAME PORT ROUND
	"$LG" conn "$2" /echo 200 "$CONC" >"$LOGS/conn-$1-warmup.txt" 2>&1
	"$LG" conn "$2" /echo "$CONNS" "$CONC" >"$LOGS/conn-$1-$3.txt" 2>&1 ||
		FAILED="$FAILED; $1 connection run had failures: $(cat "$LOGS/conn-$1-$3.txt")"
}
# Rounds taken in turn, each server started afresh: a VM's speed drifts by
# tens of percent within a minute, and a single short run of each, one after
# the other, measured that drift as much as the servers.
log "bench: new connections ($CONN_ROUNDS rounds of $CONNS, $CONC in flight, /echo)"
_r=1
while [ "$_r" -le "$CONN_ROUNDS" ]; do
	for _s in switchboard node websocketd lws forkfloor; do
		srv_start "$_s"
		conn_bench "$_s" "$PORT" "$_r"
		srv_stop "$_s"
	done
	_r=$((_r + 1))
done
# cps NAME: the median of its rounds; cps_range NAME: "min–max"
cps_all() { for _f in "$LOGS"/conn-"$1"-[0-9]*.txt; do _v=$(kv rate "$_f"); echo "${_v:-0}"; done | sort -n; }
cps() { cps_all "$1" | awk '{ v[NR] = $1 } END { print NR ? v[int((NR + 1) / 2)] : 0 }'; }
cps_range() { cps_all "$1" | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%s–%s", lo, hi }'; }
SB_CPS=$(cps switchboard) N_CPS=$(cps node) WSD_CPS=$(cps websocketd) LWS_CPS=$(cps lws) FORK_CPS=$(cps forkfloor)
log "bench:   switchboard $SB_CPS/s, node $N_CPS/s, websocketd $WSD_CPS/s, lws $LWS_CPS/s, fork floor $FORK_CPS/s"

# ---------------------------------------------------------------- 4: WSChat relay
chat_bench() { # NAME WINDOW RATE -> $LOGS/chat-NAME-wWINDOW-rRATE.txt
	srv_start "$1"
	_f="$LOGS/chat-$1-w$2-r$3.txt"
	"$LG" chat "$PORT" "$CLIENTS" "$2" "$3" "$WARMUP" "$SECS" "$PAYLOAD" "$PID" >"$_f" 2>&1 ||
		FAILED="$FAILED; $1 chat run (window $2, rate $3) reported errors: $(cat "$_f")"
	log "bench:   $1: $(cat "$_f")"
	srv_stop "$1"
}
for w in $WINDOWS; do
	log "bench: WSChat direct messages, $CLIENTS clients, closed loop, $w in flight per client"
	chat_bench switchboard "$w" 0
	chat_bench node "$w" 0
	chat_bench lws "$w" 0
done
log "bench: WSChat direct messages, $CLIENTS clients, paced at $RATE msgs/s"
chat_bench switchboard "$PACE_WINDOW" "$RATE"
chat_bench node "$PACE_WINDOW" "$RATE"
chat_bench floor "$PACE_WINDOW" "$RATE"
g() { _v=$(kv "$1" "$LOGS/chat-$2.txt"); echo "${_v:-0}"; }
sb_split() { echo "router $(g us_per_msg:switchboard-rou "$1") + workers $(g us_per_msg:switchboard-wor "$1")"; }
# chat_rows RUN LABEL BUDGET: rows for one chat run (RUN: wW-rR)
chat_rows() {
	_s="switchboard-$1" _n="node-$1"
	row "WSChat deliveries/s, $2" "$(g rate "$_s")" "$(g rate "$_n")" "$(ratio "$(g rate "$_s")" "$(g rate "$_n")")" "$4"
	row "CPU µs per delivered message, $2 (all server processes)" "$(g us_per_msg "$_s") ($(sb_split "$_s"))" \
		"$(g us_per_msg "$_n")" "$(ratio "$(g us_per_msg "$_s")" "$(g us_per_msg "$_n")")" "$3"
	row "context switches per delivered message, $2" "$(g cs_per_msg "$_s")" "$(g cs_per_msg "$_n")" \
		"$(cs_ratio "$(g cs_per_msg "$_s")" "$(g cs_per_msg "$_n")")" "—"
}
# no ratio when the reference hardly ever sleeps (under 0.1 per message): it would be noise
# lws_rows RUN LABEL: switchboard against the libwebsockets relay (the C limit; goal ≥ 0.5×)
lws_rows() {
	row "WSChat deliveries/s, $2, vs the libwebsockets relay (C limit)" "$(g rate "switchboard-$1")" \
		"$(g rate "lws-$1")" "$(ratio "$(g rate "switchboard-$1")" "$(g rate "lws-$1")")" "≥ 0.5×"
	row "CPU µs per delivered message, $2, vs the libwebsockets relay" "$(g us_per_msg "switchboard-$1")" \
		"$(g us_per_msg "lws-$1")" "$(ratio "$(g us_per_msg "switchboard-$1")" "$(g us_per_msg "lws-$1")")" "—"
}
# floor_rows RUN LABEL: switchboard against the floor of its own process shape,
# and that floor against Node (what no worker-per-connection server can beat)
floor_rows() {
	_f="the floor of switchboard's shape (tests/bench/floor-relay.c: a process per connection + a router, doing nothing else)"
	row "CPU µs per delivered message, $2, vs $_f" "$(g us_per_msg "switchboard-$1")" "$(g us_per_msg "floor-$1")" \
		"$(ratio "$(g us_per_msg "switchboard-$1")" "$(g us_per_msg "floor-$1")")" "—"
	row "context switches per delivered message, $2, vs the floor" "$(g cs_per_msg "switchboard-$1")" \
		"$(g cs_per_msg "floor-$1")" "$(ratio "$(g cs_per_msg "switchboard-$1")" "$(g cs_per_msg "floor-$1")")" "—"
	row "the floor itself against Node \`ws\`: CPU µs per delivered message, $2" "$(g us_per_msg "floor-$1") (floor)" \
		"$(g us_per_msg "node-$1")" "$(ratio "$(g us_per_msg "floor-$1")" "$(g us_per_msg "node-$1")")" "—"
	row "latency p50 / p90 / p99 / max, $2, vs the floor (ms)" "$(lat_cell "switchboard-$1")" "$(lat_cell "floor-$1")" \
		"$(ratio "$(g lat_p99_ms "switchboard-$1")" "$(g lat_p99_ms "floor-$1")") (p99)" "—"
}
cs_ratio() { if awk -v r="$2" 'BEGIN { exit !(r < 0.1) }'; then echo "—"; else ratio "$1" "$2"; fi; }
lat_cell() { echo "$(g lat_p50_ms "$1") / $(g lat_p90_ms "$1") / $(g lat_p99_ms "$1") / $(g lat_max_ms "$1")"; }
gen_cost() { echo "$(g gen_us_per_msg "switchboard-$1") / $(g gen_us_per_msg "node-$1")"; }

# ---------------------------------------------------------------- 5, 6: Messaging
# store_stats NAME: `<client_id> <count>` lines of the running server's store
# (switchboard: switchboard-router --store-stats, read-only, on the live
# database; the reference: its in-memory Map over plain HTTP)
store_stats() {
	if [ "$1" = switchboard ]; then
		"$B/switchboard-router" --state-dir "$SB_STATE" --store-stats
	else
		node -e 'require("http").get(`http://127.0.0.1:${process.argv[1]}/store-stats`, (r) => {
			r.setEncoding("utf8"); r.on("data", (d) => process.stdout.write(d)); r.on("end", () => process.exit(0));
		}).on("error", (e) => { console.error(e.message); process.exit(1); })' "$NODE_PORT"
	fi
}
stored_for() { store_stats "$1" | awk -v id="$2" '$1 == id { print $2 }'; }
stored_is() { [ "$(stored_for "$1" "$2")" = "$3" ]; }
# split_stats FILE -> "OFFLINE ONLINE": messages stored for offline / online ids (m<i>, i >= MSG_ONLINE offline)
split_stats() {
	awk -v n="$MSG_ONLINE" '$1 ~ /^m[0-9]+$/ { if (substr($1, 2) + 0 >= n) off += $2; else on += $2 }
		END { printf "%d %d", off, on }' "$1"
}

msg_bench() { # NAME -> $LOGS/msg-NAME.txt, $LOGS/msg-NAME-store.txt
	if [ "$1" = switchboard ]; then start_sb --messaging-max-queue "$MSG_QUEUE" --messaging-max-per-sender "$MSG_QUEUE" --messaging-max-store "$MSG_STORE"; port=$SB_PORT; pid=$SB
	else start_node; port=$NODE_PORT; pid=$NP; fi
	_f="$LOGS/msg-$1.txt"
	"$LG" msg "$port" "$MSG_ONLINE" "$MSG_IDS" "$MSG_WINDOW" "$WARMUP" "$SECS" "$PAYLOAD" "$pid" >"$_f" 2>&1 ||
		FAILED="$FAILED; $1 Messaging run reported errors: $(cat "$_f")"
	log "bench:   $1: $(cat "$_f")"
	# The loadgen has seen every message to an online id arrive and waited
	# 0.3 s for their reads: well past the 10 ms group commit.
	store_stats "$1" >"$LOGS/msg-$1-store.txt" 2>&1 || FAILED="$FAILED; $1 store stats failed"
	set -- "$1" $(split_stats "$LOGS/msg-$1-store.txt")
	_sent=$(kv sent_offline_total "$_f")
	log "bench:   $1: stored for offline ids $2 (sent ${_sent:-?}), unread left for online ids $3"
	[ "$2" = "${_sent:-x}" ] || FAILED="$FAILED; $1 stored $2 messages for offline ids, the load generator sent ${_sent:-?}"
	[ "$3" = 0 ] || FAILED="$FAILED; $1 kept $3 messages of online ids that were read"
	eval "MSG_OFF_$1=\$2 MSG_ON_$1=\$3"
	if [ "$1" = switchboard ]; then stop_sb; else stop_node; fi
}
log "bench: Messaging, $MSG_IDS client_ids, $MSG_ONLINE connected, $MSG_WINDOW in flight to online ids per client"
msg_bench switchboard
msg_bench node

backlog_bench() { # NAME -> $LOGS/backlog-NAME.txt
	if [ "$1" = switchboard ]; then start_sb --messaging-max-queue "$MSG_QUEUE" --messaging-max-per-sender "$MSG_QUEUE" --messaging-max-store "$MSG_STORE"; port=$SB_PORT; pid=$SB
	else start_node; port=$NODE_PORT; pid=$NP; fi
	_f="$LOGS/backlog-$1.txt"
	"$LG" fill "$port" bsender brecv "$BACKLOG" "$PAYLOAD" >"$LOGS/backlog-$1-fill.txt" 2>&1 ||
		FAILED="$FAILED; $1 backlog fill failed: $(cat "$LOGS/backlog-$1-fill.txt")"
	if waitfor 20 stored_is "$1" brecv "$BACKLOG"; then
		"$LG" backlog "$port" brecv "$BACKLOG" "$BACKLOG_RUNS" "$pid" >"$_f" 2>&1 ||
			FAILED="$FAILED; $1 backlog delivery failed: $(cat "$_f")"
	else
		echo "median_ms=0 errors=1 first_error=only_$(stored_for "$1" brecv)_of_${BACKLOG}_stored" >"$_f"
		FAILED="$FAILED; $1 stored only $(stored_for "$1" brecv) of $BACKLOG backlog messages"
	fi
	log "bench:   $1: $(cat "$_f")"
	if [ "$1" = switchboard ]; then stop_sb; else stop_node; fi
}
log "bench: Messaging backlog, $BACKLOG stored messages to one new connection ($BACKLOG_RUNS times)"
backlog_bench switchboard
backlog_bench node

# ---------------------------------------------------------------- 7: many idle connections
MANY=${BENCH_MANY:-10000}
if [ "$MANY" -gt 0 ]; then
	export OUT LOGS LG B MSG_QUEUE NODE_PATH
	BENCH_MANY=$MANY TMP=$(mktemp -d "$TMP/many.XXXXXX") sh tests/bench/idle-many.sh >"$OUT/many-rows.md" ||
		FAILED="$FAILED; the $MANY idle connections were not valid: $(cat "$OUT/many-failed.txt" 2>/dev/null)"
fi

# ---------------------------------------------------------------- 8: each protocol
# tests/bench/proto-NAME.sh prints its table rows (the five columns below) on
# stdout and may write notes to $OUT/notes-NAME.md; it logs to stderr and exits
# non-zero when its run is not valid. It sources tests/bench/lib.sh itself.
export B OUT LOGS LG SECS WARMUP PAYLOAD MSG_QUEUE NODE_PATH
for _ps in tests/bench/proto-*.sh; do
	[ -e "$_ps" ] || continue
	_pn=${_ps##*/proto-}; _pn=${_pn%.sh}
	rm -f "$OUT/rows-$_pn.md" "$OUT/notes-$_pn.md"
	log "bench: $_pn ($_ps)"
	TMP=$(mktemp -d "$TMP/$_pn.XXXXXX") sh "$_ps" >"$OUT/rows-$_pn.md" ||
		FAILED="$FAILED; $_ps was not valid (see its log lines above)"
done

# ---------------------------------------------------------------- table
# the measurements are over: the limit must not cut the table short
[ -n "$WD" ] && kill -TERM "$WD" 2>/dev/null && wait "$WD" 2>/dev/null
WD=''
BUSY1=$(cpu_busy)
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "n/a"; else printf "%.2f×", a / b }'; }
row() { printf '| %s | %s | %s | %s | %s |\n' "$@"; }
{
	echo "| figure | switchboard | reference (Node \`ws\` unless the row names another; same run) | ratio sb/ref | budget |"
	echo "|---|---:|---:|---:|---:|"
	row "idle connection: worker RSS (avg of $NW workers, identified WSChat clients)" "$W_RSS KB" \
		"$N_DRSS KB (ΔRSS per conn, $IDLE_MANY clients)" "$(ratio "$W_RSS" "$N_DRSS")" "$BUDGET_KB KB"
	row "idle connection: worker PSS" "$W_PSS KB" "$N_DRSS KB" "$(ratio "$W_PSS" "$N_DRSS")" "$BUDGET_KB KB"
	row "idle connection: worker USS + page tables + kernel stack" "$W_KERN KB" "$N_DRSS KB" \
		"$(ratio "$W_KERN" "$N_DRSS")" "$BUDGET_KB KB"
	row "idle connection: ΔPSS of all server processes / $IDLE_MANY clients" "$SB_DPSS KB" \
		"$N_DPSS KB (ΔPSS per conn)" "$(ratio "$SB_DPSS" "$N_DPSS")" "$BUDGET_KB KB"
	[ -s "$OUT/many-rows.md" ] && cat "$OUT/many-rows.md"
	row "threads per worker (/proc status, all $NW)" \
		"$W_THR_MAX$([ "$W_THR_MIN" = "$W_THR_MAX" ] || echo " (min $W_THR_MIN)")$([ "$W_THR_MAX" = 1 ] || echo " **FAIL**")" \
		"$N_THR (one process for all clients)" "—" "1"
	row "new connections/s ($CONNS × open+upgrade+close, $CONC in flight, /echo; median of $CONN_ROUNDS rounds taken in turn)" \
		"$SB_CPS ($(cps_range switchboard))" "$N_CPS ($(cps_range node))" "$(ratio "$SB_CPS" "$N_CPS")" "—"
	row "new connections/s, vs websocketd 0.4.1 + static C echo child" "$SB_CPS" "$WSD_CPS ($(cps_range websocketd))" \
		"$(ratio "$SB_CPS" "$WSD_CPS")" "≥ 3×"
	row "new connections/s, vs the libwebsockets relay (one process)" "$SB_CPS" "$LWS_CPS ($(cps_range lws))" \
		"$(ratio "$SB_CPS" "$LWS_CPS")" "—"
	row "new connections/s, vs the floor of a process per connection (tests/bench/floor-fork.c)" "$SB_CPS" \
		"$FORK_CPS ($(cps_range forkfloor))" "$(ratio "$SB_CPS" "$FORK_CPS")" "—"
	row "the fork floor itself against websocketd: new connections/s" "$FORK_CPS (floor)" "$WSD_CPS" \
		"$(ratio "$FORK_CPS" "$WSD_CPS")" "—"
	for w in $WINDOWS; do
		chat_rows "w$w-r0" "closed loop, $w in flight per client" "$BUDGET_US µs" "—"
		lws_rows "w$w-r0" "closed loop, $w in flight per client"
	done
	chat_rows "w$PACE_WINDOW-r$RATE" "paced at $RATE msgs/s offered" "$BUDGET_US µs (Node: 23–27)" "$RATE"
	_p="w$PACE_WINDOW-r$RATE"
	row "latency p50 / p90 / p99 / max, paced at $RATE msgs/s (send to receipt, ms)" "$(lat_cell "switchboard-$_p")" \
		"$(lat_cell "node-$_p")" "$(ratio "$(g lat_p99_ms "switchboard-$_p")" "$(g lat_p99_ms "node-$_p")") (p99)" \
		"p99 ≤ 0.5× ref"
	floor_rows "$_p" "paced at $RATE msgs/s"
	m() { _v=$(kv "$1" "$LOGS/msg-$2.txt"); echo "${_v:-0}"; }
	_ms="switchboard" _mn="node" _ml="$MSG_ONLINE of $MSG_IDS client_ids online, $MSG_WINDOW in flight per client"
	row "Messaging: messages stored/s (sends accepted), $_ml" "$(m rate_stored "$_ms")" "$(m rate_stored "$_mn") (in memory)" \
		"$(ratio "$(m rate_stored "$_ms")" "$(m rate_stored "$_mn")")" "—"
	row "Messaging: live deliveries/s (to online ids, each answered with \`read\`)" "$(m rate_delivered "$_ms")" \
		"$(m rate_delivered "$_mn")" "$(ratio "$(m rate_delivered "$_ms")" "$(m rate_delivered "$_mn")")" "—"
	row "Messaging: CPU µs per stored message (send + store; for online ids also delivery + read)" \
		"$(m us_per_msg "$_ms") (router $(m us_per_msg:switchboard-rou "$_ms") + workers $(m us_per_msg:switchboard-wor "$_ms"))" \
		"$(m us_per_msg "$_mn")" "$(ratio "$(m us_per_msg "$_ms")" "$(m us_per_msg "$_mn")")" "—"
	bk() { _v=$(kv "$1" "$LOGS/backlog-$2.txt"); echo "${_v:-0}"; }
	bk_cell() { # NAME
		if [ "$(bk errors "$1")" = 0 ]; then
			echo "$(bk median_ms "$1") ms (first message after $(bk first_frame_median_ms "$1") ms; $(bk rate "$1") msgs/s; min $(bk min_ms "$1") ms)"
		else
			echo "**FAIL** ($(bk first_error "$1"))"
		fi
	}
	row "Messaging backlog: $BACKLOG stored messages to a new connection, connect to last received (median of $BACKLOG_RUNS)" \
		"$(bk_cell switchboard)" "$(bk_cell node)" \
		"$(if [ "$(bk errors switchboard)$(bk errors node)" = 00 ]; then ratio "$(bk median_ms switchboard)" "$(bk median_ms node)"; else echo —; fi)" "—"
	for _r in "$OUT"/rows-*.md; do [ -e "$_r" ] && cat "$_r"; done
	echo
	echo "Ratios are switchboard ÷ reference: below 1 is better for memory, CPU and times, above 1 for rates."
	echo "Peers, each started by this run: \`tests/bench/node-relay.js\` (Node $(node --version), ws $(node -p 'require("ws/package.json").version'));" \
		"\`tests/bench/lws-relay.c\` (libwebsockets $(pkg-config --modversion libwebsockets), one process, one thread," \
		"the same WSChat direct routing, JSON parsed with jsmn; the practical C limit of this machine);" \
		"\`tests/bench/floor-relay.c\` (switchboard's process shape with nothing else in it: a forked process per" \
		"connection speaking WebSocket, one router process routing, a Unix socket between each and the router; no sandbox," \
		"bus framing, envelopes, limits or logs: what that shape costs on this machine, its floor);" \
		"\`tests/bench/floor-fork.c\` (the floor of a new connection in that shape: a static process, already set up," \
		"forks a child per connection that upgrades, echoes the close and exits; no supervisor, descriptors passed," \
		"bus control socket, sandbox or log);" \
		"websocketd $(dpkg-query -W -f='${Version}' websocketd 2>/dev/null) (Debian) running \`tests/bench/echo-child.c\` (static) per connection;" \
		"load from \`tests/bench/loadgen.c\` for all. CPU = utime+stime of the server" \
		"process(es) (supervisor + router + workers) over the ${SECS}s window, from /proc/PID/stat." \
		"WSChat: $CLIENTS identified clients send \`message\` commands (${PAYLOAD}-byte payload) to random others;" \
		"closed loop: every delivery makes its receiver send the next; ${WARMUP}s warm-up, then ${SECS}s measured." \
		"Latency: each delivery of the measured window, from the sender queueing the message for its socket to the" \
		"receiver reading it (one clock, the load generator's; histogram with 0.4 % buckets, each quantile the top of its bucket)." \
		"Load generator CPU µs per message (switchboard / reference runs):$(for w in $WINDOWS; do
			printf ' %s in flight %s,' "$w" "$(gen_cost "w$w-r0")"; done) paced $(gen_cost "w$PACE_WINDOW-r$RATE")."
	echo "Messaging: **the reference keeps messages in memory (a \`Map\` per recipient) and never touches the disk;" \
		"switchboard stores every message in SQLite (WAL, group commit ≤ 10 ms) and deletes it on \`read\`.**" \
		"Client_ids m0..m$((MSG_ONLINE - 1)) connect, m$MSG_ONLINE..m$((MSG_IDS - 1)) never do; each connected client" \
		"sends one-message \`send\` frames (${PAYLOAD}-byte body) to random other ids; a send to an offline id is followed" \
		"at once by another until one goes to an online id, so $MSG_WINDOW messages to online ids per client are in flight" \
		"and about as many to offline ids are stored along the way; every delivery is answered with a \`read\` frame and" \
		"the next send. Stored/s counts the sends of the ${SECS}s window; after it, the store was checked:" \
		"messages kept for offline ids = messages sent to them (switchboard ${MSG_OFF_switchboard:-?}," \
		"reference ${MSG_OFF_node:-?}), unread left for online ids ${MSG_ON_switchboard:-?} / ${MSG_ON_node:-?};" \
		"--messaging-max-queue $MSG_QUEUE for both. Backlog: $BACKLOG messages (${PAYLOAD}-byte body) sent to an" \
		"offline id in frames of 100, then (once the store holds all $BACKLOG) the time from connect() to the last one" \
		"received, in frames of at most 500, order checked; the connection then closes without \`read\`, so every" \
		"run gets the same backlog. Switchboard's time includes starting the worker process."
	echo "Worker USS = Private_Clean + Private_Dirty; kernel stack counted as 16 KB; socket buffers and slab not counted." \
		"Node figures are after a forced GC."
	for _n in "$OUT"/notes-*.md; do [ -e "$_n" ] && cat "$_n"; done
	echo "$(machine), $(date -u '+%Y-%m-%d %H:%M UTC'); machine busy before the run: $BUSY% (load average" \
		"$LOAD0), after it: $BUSY1% (load average $LOAD1)$(
		[ "$BUSY" -gt 15 ] || [ "$BUSY1" -gt 15 ] && echo " — **other load was running; absolute figures are skewed, ratios less so**")."
	[ -z "$FAILED" ] || echo "**Not valid:** ${FAILED#; }."
} >"$OUT/results.md"
cat "$OUT/results.md"
[ -z "$FAILED" ] || { log "bench: FAILED: ${FAILED#; }"; exit 1; }
