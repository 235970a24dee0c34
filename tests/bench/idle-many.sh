#!/bin/sh
# Memory per idle connection at BENCH_MANY (10 000) connections, as the
# system sees it: /proc/meminfo before and after, divided by the connections.
# Run by tests/bench/run.sh (B, OUT, LOGS, LG, TMP, MSG_QUEUE, NODE_PATH
# exported; $OUT/echo-child built); prints table rows (five columns) on
# stdout, writes $OUT/notes-many.md, logs to stderr, exits 1 when invalid.
#
# Three servers in turn hold MANY connections from one load generator:
# switchboard (identified WSChat clients), the Node `ws` reference (the same)
# and websocketd 0.4.1 with the static C echo child (plain upgraded
# connections: it speaks no WSChat). Each: the server is up and idle, then
# meminfo is read (median of 3), the connections are opened (256 set up at
# a time), after 2 s meminfo is read again, and everything is killed.
#
# The load generator's own share is taken out: its RSS, and half the kernel
# memory of the Node run (Δused − Node's ΔRSS − the generator's RSS: the
# sockets of both ends, alike when idle). What is left is the server's.
set -u
. tests/bench/lib.sh
# every server here holds MANY sockets (websocketd: 4 fds a connection)
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
MANY=${BENCH_MANY:-10000}
BUDGET_KB=150
FAILED=''
SB='' NP='' WSDP='' LGP=''
trap 'kill_tree "$SB"; [ -n "$NP" ] && kill -KILL "$NP" 2>/dev/null; [ -n "$WSDP" ] && kill_tree "$WSDP";
	[ -n "$LGP" ] && kill -KILL "$LGP" 2>/dev/null' EXIT

med3() { # CMD: median of three readings 0.2 s apart
	_a=$($1); sleep 0.2; _b=$($1); sleep 0.2; _c=$($1)
	printf '%s\n%s\n%s\n' "$_a" "$_b" "$_c" | sort -n | sed -n 2p
}
snap() { # PREFIX PID...: meminfo figures and the processes' PSS into PREFIX_*
	_pre=$1; shift
	eval "${_pre}_used=$(med3 mem_used) ${_pre}_pt=$(meminfo PageTables) ${_pre}_ks=$(meminfo KernelStack)" \
		"${_pre}_slab=$(meminfo Slab) ${_pre}_tcp=$(tcp_mem) ${_pre}_pss=$(sum_smaps Pss "$@")"
}
# hold NAME PORT PID: opens MANY connections against the server PID, records
# the figures in $LOGS/many-NAME.txt, kills server and generator
hold() {
	_name=$1 _port=$2 _pid=$3
	sleep 1
	snap b "$_pid" $(descendants "$_pid")
	rm -f "$TMP/ready-$_name"
	_t0=$(date +%s)
	if [ "$_name" = websocketd ]; then
		LOADGEN_HOLD_SECS=600 "$LG" hold "$_port" /echo "$MANY" "$TMP/ready-$_name" >>"$LOGS/many-$_name.log" 2>&1 &
	else
		LOADGEN_HOLD_SECS=600 "$LG" idle "$_port" "$MANY" "$TMP/ready-$_name" >>"$LOGS/many-$_name.log" 2>&1 &
	fi
	LGP=$!
	waitfor 900 test -s "$TMP/ready-$_name"
	_ready=$(cat "$TMP/ready-$_name" 2>/dev/null)
	_setup=$(($(date +%s) - _t0))
	grep -q '^ready' "$TMP/ready-$_name" 2>/dev/null || FAILED="$FAILED; $_name: $MANY connections failed: ${_ready:-no answer}"
	# websocketd starts its children a while after the upgrade: until their number settles
	_n0=-1 _n1=$(descendants "$_pid" | wc -l) _w=0
	while [ "$_n1" != "$_n0" ] && [ $_w -lt 60 ]; do sleep 1; _n0=$_n1; _n1=$(descendants "$_pid" | wc -l); _w=$((_w + 1)); done
	sleep 2
	_procs=$(descendants "$_pid")
	snap a "$_pid" $_procs
	_lg=$(status_field "$LGP" VmRSS)
	_np=$(echo $_procs | wc -w)
	_fds=$(count_fds "$_pid" $_procs)
	_pte=$(sum_status VmPTE $_procs)
	echo "used=$((a_used - b_used)) pt=$((a_pt - b_pt)) ks=$((a_ks - b_ks)) slab=$((a_slab - b_slab))" \
		"tcp=$((a_tcp - b_tcp)) pss=$((a_pss - b_pss)) lg_rss=${_lg:-0} procs=$_np fds=$_fds vmpte=$_pte" \
		"setup_s=$_setup ready=$(echo "$_ready" | tr ' ' ,)" >"$LOGS/many-$_name.txt"
	kill_tree "$_pid"
	kill -KILL "$LGP" 2>/dev/null
	wait "$LGP" 2>/dev/null
	LGP=
	sleep 2
	# the same growth seen from the other side: what killing them all gave back
	echo "freed=$((a_used - $(med3 mem_used)))" >>"$LOGS/many-$_name.txt"
	log "bench:   $_name: $(cat "$LOGS/many-$_name.txt" | tr '\n' ' ')"
}

log "bench: $MANY idle connections (memory as the system sees it)"
SB_MAX_CONN=$((MANY + 100)) start_sb
hold switchboard "$SB_PORT" "$SB"
SB=
start_node
hold node "$NODE_PORT" "$NP"
NP=
start_wsd
hold websocketd "$WSD_PORT" "$WSDP"
WSDP=

v() { _v=$(kv "$1" "$LOGS/many-$2.txt"); echo "${_v:-0}"; }
per() { awk -v a="$1" -v n="$MANY" 'BEGIN { printf "%.1f", a / n }'; }
# the generator's kernel share per connection: half the slab and TCP buffer
# growth of the Node run (one socket at each end, both idle; Node's other
# kernel memory per connection is nil: one process, one thread)
CLIENT_K=$(awk -v s="$(v slab node)" -v t="$(v tcp node)" -v n="$MANY" \
	'BEGIN { k = (s + t) / 2; printf "%.1f", (k > 0 ? k : 0) / n }')
# growth: the mean of what appeared with the connections and what their end gave back
grew() { awk -v u="$(v used "$1")" -v f="$(v freed "$1")" 'BEGIN { printf "%.0f", (u + f) / 2 }'; }
server_kb() { # NAME: all-in kB per connection, the generator's share taken out
	awk -v u="$(grew "$1")" -v g="$(v lg_rss "$1")" -v c="$CLIENT_K" -v n="$MANY" \
		'BEGIN { printf "%.1f", (u - g) / n - c }'
}
spread() { # NAME: the two readings, per connection, generator's share out
	awk -v u="$(v used "$1")" -v f="$(v freed "$1")" -v g="$(v lg_rss "$1")" -v c="$CLIENT_K" -v n="$MANY" \
		'BEGIN { printf "%.0f–%.0f", ((u < f ? u : f) - g) / n - c, ((u > f ? u : f) - g) / n - c }'
}
SBK=$(server_kb switchboard) NK=$(server_kb node) WK=$(server_kb websocketd)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "n/a"; else printf "%.2f×", a / b }'; }
row() { printf '| %s | %s | %s | %s | %s |\n' "$@"; }
over=$(awk -v a="$SBK" -v b="$BUDGET_KB" 'BEGIN { print (a > b) }')
row "idle connection at $MANY, all in (system memory growth ÷ connections, load generator's share out), vs Node \`ws\`" \
	"$SBK KB ($(spread switchboard))$([ "$over" = 1 ] && echo " **over budget**")" "$NK KB ($(spread node))" \
	"$(ratio "$SBK" "$NK")" "$BUDGET_KB KB"
row "idle connection at $MANY, all in, vs websocketd 0.4.1 + static C echo child (plain upgraded connections)" \
	"$SBK KB" "$WK KB ($(spread websocketd))" "$(ratio "$SBK" "$WK")" "$BUDGET_KB KB"
parts() { # NAME: the parts per connection
	echo "PSS $(per "$(v pss "$1")") + page tables $(per "$(v pt "$1")") + kernel stacks $(per "$(v ks "$1")")" \
		"+ slab $(per "$(v slab "$1")") + TCP buffers $(per "$(v tcp "$1")") KB"
}
row "idle connection at $MANY: what it is made of, per connection (slab and TCP buffers: both ends)" \
	"$(parts switchboard)" "Node: $(parts node); websocketd: $(parts websocketd)" "—" "—"
row "$MANY connections set up (256 at a time), seconds" "$(v setup_s switchboard)" \
	"Node $(v setup_s node), websocketd $(v setup_s websocketd)" "—" "—"
{
	echo "Idle connections at $MANY: system memory = MemTotal − MemFree − Buffers − Cached (median of 3 readings)" \
		"before the connections (server up, idle), 2 s after the last one, and 2 s after server and load" \
		"generator were killed; the figure is the mean of the growth and of what was given back (both in" \
		"brackets). The load generator's share (its RSS, and $CLIENT_K KB per connection of kernel memory:" \
		"half the slab and TCP buffer growth of the Node run) is taken out of every server's figure." \
		"Parts: ΔPSS of the server's processes, ΔPageTables, ΔKernelStack, ΔSlab (sockets, tasks, files of both" \
		"ends), ΔTCP buffer pages (/proc/net/sockstat), all from /proc, all divided by $MANY." \
		"switchboard ran $(v procs switchboard) processes with $(v fds switchboard) fds (VmPTE of them all" \
		"$(per "$(v vmpte switchboard)") KB per connection); websocketd $(v procs websocketd) processes." \
		"System-wide figures move with whatever else runs: on a busy machine take them as ±20 KB."
} >"$OUT/notes-many.md"
[ -z "$FAILED" ] || { log "bench: idle-many: ${FAILED#; }"; echo "${FAILED#; }" >"$OUT/many-failed.txt"; exit 1; }
exit 0
