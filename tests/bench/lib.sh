# Shared by tests/bench/run.sh and the per-protocol scripts tests/bench/proto-*.sh:
# starting and stopping servers, reading /proc. The caller sets B (build dir),
# LOGS (log dir), TMP (scratch dir) and, for the Node reference, MSG_QUEUE.

log() { printf '%s\n' "$*" >&2; }

# alive PID: the process exists and is not a zombie
alive() { [ -n "$1" ] && [ -e "/proc/$1" ] && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }

# waitfor SECONDS CMD...: polls CMD every 50 ms
waitfor() {
	_n=$(($1 * 20))
	shift
	while ! "$@"; do
		_n=$((_n - 1))
		[ $_n -gt 0 ] || return 1
		sleep 0.05
	done
}

# kill_wait PID SECONDS: SIGTERM, then SIGKILL if still there after SECONDS
kill_wait() {
	[ -n "$1" ] || return 0
	kill -TERM "$1" 2>/dev/null
	waitfor "$2" sh -c "! [ -e /proc/$1 ] || grep -q '^State:.*Z' /proc/$1/status 2>/dev/null" || kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	return 0
}

listening() { # PORT: someone listens on 127.0.0.1:PORT
	awk -v p="$(printf ':%04X' "$1")" '$4 == "0A" && substr($2, length($2) - 4) == p { f = 1 } END { exit !f }' /proc/net/tcp
}

free_port() {
	node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

children() { pgrep -P "$1" 2>/dev/null; }
comm_is() { [ "$(cat "/proc/$1/comm" 2>/dev/null)" = "$2" ]; }
# the workers the worker template (switchboard-tpl) forked: the supervisor's grandchildren
forked() { for _p in $(children "$1"); do comm_is "$_p" switchboard-tpl && children "$_p"; done; }
# the supervisor's workers, spawned or forked
workers() {
	for _p in $(children "$1"); do comm_is "$_p" switchboard-wor && echo "$_p"; done
	forked "$1"
}
router() { for _p in $(children "$1"); do comm_is "$_p" switchboard-rou && echo "$_p"; done; }
no_workers() { [ -z "$(workers "$SB")" ]; }

smaps() { # PID FIELD -> kB from smaps_rollup
	awk -v f="$2:" '$1 == f { print $2; exit }' "/proc/$1/smaps_rollup" 2>/dev/null
}
status_field() { # PID FIELD -> first number
	awk -v f="$2:" '$1 == f { print $2; exit }' "/proc/$1/status" 2>/dev/null
}
kv() { # KEY FILE -> value from a key=value line
	tr ' ' '\n' <"$2" | sed -n "s/^$1=//p" | tail -1
}
calc() { awk "BEGIN { printf \"%.1f\", $* }"; }

start_sb() { # [more switchboard options]
	SB_PORT=$(free_port)
	SB_STATE=$(mktemp -d "$TMP/state.XXXXXX")
	"$B/switchboard" --listen "127.0.0.1:$SB_PORT" --state-dir "$SB_STATE" \
		--max-connections "${SB_MAX_CONN:-5000}" --max-per-ip 0 --ping-interval 0 "$@" >>"$LOGS/switchboard.log" 2>&1 &
	SB=$!
	if ! waitfor 15 sb_ready; then
		log "bench: switchboard did not come up (see $LOGS/switchboard.log)"
		exit 1
	fi
}
sb_ready() { alive "$SB" && listening "$SB_PORT" && [ -n "$(router "$SB")" ] && [ -e "$SB_STATE/bus.ipc" ]; }

stop_sb() {
	[ -n "$SB" ] || return 0
	_kids=$(children "$SB")
	kill_wait "$SB" 15
	for _k in $_kids; do alive "$_k" && kill -KILL "$_k" 2>/dev/null; done
	SB=
}

start_node() { # [node flags]
	NODE_PORT=$(free_port)
	node "$@" tests/bench/node-relay.js "$NODE_PORT" "$MSG_QUEUE" >>"$LOGS/node.log" 2>&1 &
	NP=$!
	if ! waitfor 15 listening "$NODE_PORT"; then
		log "bench: node reference did not come up (see $LOGS/node.log)"
		exit 1
	fi
}
stop_node() { kill_wait "$NP" 5; NP=; }

# descendants PID: every process below PID (children, their children, ...),
# from one reading of the process table (thousands of workers)
descendants() {
	ps -e -o pid=,ppid= | awk -v root="$1" '{ kid[$2] = kid[$2] " " $1 }
		END { n = split(kid[root], q, " "); for (i = 1; i <= n; i++) { print q[i]; m = split(kid[q[i]], k, " ");
			for (j = 1; j <= m; j++) q[++n] = k[j] } }'
}
# kill_tree PID: SIGKILL to PID and everything below it at once, then reap PID.
# For servers holding thousands of connections: a clean stop would make every
# WSChat client's departure a `quit` to all the others.
kill_tree() {
	[ -n "$1" ] || return 0
	_all="$1 $(descendants "$1")"
	kill -KILL $_all 2>/dev/null
	wait "$1" 2>/dev/null
	_until=$(($(date +%s) + 30))	# wall clock: each look costs more with thousands of processes
	while [ "$(cd /proc && ls -d $_all 2>/dev/null | wc -l)" != 0 ] && [ "$(date +%s)" -lt "$_until" ]; do
		sleep 0.2
	done
}

# /proc/meminfo: FIELD in kB; mem_used: what processes and the kernel hold
# (MemTotal - MemFree - Buffers - Cached: page cache is left out, slab kept)
meminfo() { awk -v f="$1:" '$1 == f { print $2; exit }' /proc/meminfo; }
mem_used() { awk '/^MemTotal:/ { t = $2 } /^MemFree:/ { f = $2 } /^Buffers:/ { b = $2 } /^Cached:/ { c = $2 }
	END { print t - f - b - c }' /proc/meminfo; }
# TCP socket buffer memory (kB) from /proc/net/sockstat (counted in pages)
tcp_mem() { awk '$1 == "TCP:" { for (i = 2; i < NF; i++) if ($i == "mem") print $(i + 1) * 4 }' /proc/net/sockstat; }
# sum_smaps FIELD PID...: FIELD summed over the processes (smaps_rollup, kB)
sum_smaps() {
	_f=$1; shift
	# xargs may run awk more than once (thousands of files): add their sums up
	for _p; do echo "/proc/$_p/smaps_rollup"; done | xargs -r awk -v f="$_f:" '$1 == f { s += $2 } END { print s + 0 }' \
		2>/dev/null | awk '{ s += $1 } END { print s + 0 }'
}
# count_fds PID...: open file descriptors of the processes
count_fds() {
	for _p; do echo "/proc/$_p/fd"; done | xargs -r ls -1 2>/dev/null | grep -Evc '^$|^/proc/.*:$'
}
# sum_status FIELD PID...: FIELD of /proc/PID/status summed (kB)
sum_status() {
	_f=$1; shift
	for _p; do echo "/proc/$_p/status"; done | xargs -r awk -v f="$_f:" '$1 == f { s += $2 } END { print s + 0 }' \
		2>/dev/null | awk '{ s += $1 } END { print s + 0 }'
}

# idle_open PORT N PREFIX: hold N identified WSChat clients open (LGP)
idle_open() {
	rm -f "$TMP/ready"
	"$LG" idle "$1" "$2" "$TMP/ready" "$3" >>"$LOGS/idle.log" 2>&1 &
	LGP=$!
	if ! waitfor 30 test -s "$TMP/ready" || ! grep -q '^ready' "$TMP/ready"; then
		log "bench: idle clients failed: $(cat "$TMP/ready" 2>/dev/null)"
		exit 1
	fi
}
idle_close() { kill_wait "$LGP" 10; LGP=; }


# How busy is the machine without us? (other processes skew absolute figures)
cpu_busy() {
	_a=$(awk '/^cpu /{ print $2+$3+$4+$5+$6+$7+$8, $5+$6 }' /proc/stat)
	sleep 1
	_b=$(awk '/^cpu /{ print $2+$3+$4+$5+$6+$7+$8, $5+$6 }' /proc/stat)
	echo "$_a $_b" | awk '{ t = $3 - $1; i = $4 - $2; printf "%.0f", (t > 0 ? 100 * (t - i) / t : 0) }'
}

# websocketd 0.4.1 running the static C echo child per connection ($OUT/echo-child)
start_wsd() {
	WSD_PORT=$(free_port)
	websocketd --port="$WSD_PORT" --address=127.0.0.1 --loglevel=error --maxforks=0 "$OUT/echo-child" \
		>>"$LOGS/websocketd.log" 2>&1 &
	WSDP=$!
	if ! waitfor 15 listening "$WSD_PORT"; then
		log "bench: websocketd did not come up (see $LOGS/websocketd.log)"
		exit 1
	fi
}
stop_wsd() { kill_wait "$WSDP" 5; WSDP=; }

# start_tool LOGNAME BINARY LABEL: BINARY PORT in the background, waited for;
# sets TOOL_PORT and TOOL_PID
start_tool() {
	TOOL_PORT=$(free_port)
	"$2" "$TOOL_PORT" >>"$LOGS/$1.log" 2>&1 &
	TOOL_PID=$!
	if ! waitfor 15 listening "$TOOL_PORT"; then
		log "bench: $3 did not come up (see $LOGS/$1.log)"
		exit 1
	fi
}
# the libwebsockets relay ($OUT/lws-relay, tests/bench/lws-relay.c)
start_lws() { start_tool lws-relay "$OUT/lws-relay" "the libwebsockets relay"; LWS_PORT=$TOOL_PORT LWSP=$TOOL_PID; }
stop_lws() { kill_wait "$LWSP" 5; LWSP=; }

# the floor of switchboard's process shape (tests/bench/floor-relay.c)
start_floor() { start_tool floor-relay "$OUT/floor-relay" "the floor relay"; FLOOR_PORT=$TOOL_PORT FLOORP=$TOOL_PID; }
stop_floor() { kill_wait "$FLOORP" 5; FLOORP=; }

# the floor of a new connection in that shape (tests/bench/floor-fork.c)
start_forkfloor() { start_tool floor-fork "$OUT/floor-fork" "the fork floor"; FORK_PORT=$TOOL_PORT FORKP=$TOOL_PID; }
stop_forkfloor() { kill_wait "$FORKP" 5; FORKP=; }

# build_loadgen: the load generator at $LG (cc -O2)
build_loadgen() {
	cc -O2 -Wall -Wextra -o "$LG" tests/bench/loadgen.c tests/bench/loadgen_net.c tests/bench/loadgen_cpu.c \
		tests/bench/loadgen_msg.c tests/bench/loadgen_lat.c tests/bench/loadgen_soak.c
}

# build_tools: the load generator, the libwebsockets relay, the floor relay,
# the fork floor and websocketd's echo child, into $OUT (cc -O2; the lws relay only when
# libwebsockets is there)
build_tools() {
	build_loadgen || return 1
	cc -O2 -static -Wall -Wextra -o "$OUT/echo-child" tests/bench/echo-child.c || return 1
	if pkg-config --exists libwebsockets 2>/dev/null; then
		cc -O2 -Wall -Wextra -o "$OUT/lws-relay" tests/bench/lws-relay.c $(pkg-config --cflags --libs libwebsockets) ||
			return 1
	else
		rm -f "$OUT/lws-relay"
	fi
	cc -O2 -Wall -Wextra -o "$OUT/floor-relay" tests/bench/floor-relay.c -lcrypto || return 1
	cc -O2 -static -Wall -Wextra -o "$OUT/floor-fork" tests/bench/floor-fork.c common/sha1.c || return 1
}

# build_soak_tools: the SaltyRTC, Galène and WebSocketStar load generators
# make soak runs beside $LG, into $OUT (cc -O2)
build_soak_tools() {
	cc -O2 -Wall -Wextra -o "$OUT/loadgen_salty" tests/bench/loadgen_salty.c tests/bench/loadgen_net.c \
		tests/bench/loadgen_cpu.c proto/saltyrtc/client.c proto/saltyrtc/client_crypto.c proto/saltyrtc/client_mp.c \
		proto/saltyrtc/client_server.c proto/saltyrtc/client_peer.c common/mp.c common/alloc.c common/log.c \
		common/log_sink.c -lsodium -lmsgpackc || return 1
	cc -O2 -Wall -Wextra -o "$OUT/loadgen_galene" tests/bench/loadgen_galene.c tests/bench/loadgen_net.c \
		tests/bench/loadgen_cpu.c tests/bench/loadgen_lat.c || return 1
	cc -O2 -Wall -Wextra -Werror -o "$OUT/wsstar_relay" tests/bench/wsstar_relay.c proto/wsstar/base58.c
}

# machine: one line saying what this machine is
machine() {
	echo "$(nproc) CPUs ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo))," \
		"$(awk '/^MemTotal:/ { printf "%.0f GB", $2 / 1048576 }' /proc/meminfo) RAM, Linux $(uname -r)"
}
