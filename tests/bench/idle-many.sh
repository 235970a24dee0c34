#!/bin/sh
# Memory per idle connection at BENCH_MANY (10 000) connections, as the
# system sees it: /proc/meminfo before and after, divided by the connections.
# Run by tests/bench/run.sh (B, OUT, LOGS, LG, TMP, MSG_QUEUE, NODE_PATH
# exported; $OUT/echo-child built); prints table rows (five columns) on
# stdout, writes $OUT/notes-many.md, logs to stderr, exits 1 when invalid.
#
# The servers in turn hold MANY connections from one load generator (its
# hold mode, BENCH_MANY_INFLIGHT (64) being set up at a time): switchboard as it runs by default
# (workers forked from the worker template), switchboard with
# --no-worker-template (each worker exec'd), the Node `ws` reference, each
# with Messaging clients (/messaging?client_id=hI: the realistic idle client,
# one registered id each, and no join broadcast: WSChat tells every member
# of each identify, 5×10⁷ deliveries for 10 000), and websocketd 0.4.1 with
# the static C echo child (plain upgraded connections). Each: the server is
# up and idle, then meminfo is read (median of 3), the connections are
# opened, once the system's task count is steady for 2 s meminfo is read
# again, and everything is killed. /proc/PID of the servers' processes is
# read only after that second reading: its inodes and dentries (10 KB a
# process) are the measurement's, not the server's.
#
# The load generator's own share is taken out: its RSS, and half the kernel
# memory of the Node run (its slab and TCP buffer growth: the sockets of
# both ends, alike when idle). What is left is the server's.
set -u
. tests/bench/lib.sh
# every server here holds MANY sockets (websocketd: 4 fds a connection);
# the supervisor and the load generator raise their own soft limits
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
MANY=${BENCH_MANY:-10000}
BUDGET_KB=150
# set up this many at a time: the supervisor hands at most 256 connections
# to its worker template at once and spawns the rest, so a wider ramp would
# measure a mix of forked and exec'd workers (counted: forked=)
INFLIGHT=${BENCH_MANY_INFLIGHT:-64}
FAILED=''
SB='' NP='' WSDP='' LGP=''
trap 'kill_tree "$SB"; [ -n "$NP" ] && kill -KILL "$NP" 2>/dev/null; [ -n "$WSDP" ] && kill_tree "$WSDP";
	[ -n "$LGP" ] && kill -KILL "$LGP" 2>/dev/null' EXIT
# websocketd holds up to 7 fds a connection (more while it starts a child):
# fewer connections for it when
# the limit (without CAP_SYS_RESOURCE: the hard limit) does not allow MANY
WSD_MANY=$((($(ulimit -n) - 500) / 7))
[ "$WSD_MANY" -lt "$MANY" ] || WSD_MANY=$MANY
[ "$WSD_MANY" = "$MANY" ] || log "bench: idle-many: ulimit -n is $(ulimit -n): websocketd gets $WSD_MANY connections"
# switchboard's supervisor holds 2 a connection (the control socket, its copy
# of the handed bus connection); the router 1
SB_MANY=$((($(ulimit -n) - 100) / 2))
[ "$SB_MANY" -lt "$MANY" ] || SB_MANY=$MANY
[ "$SB_MANY" = "$MANY" ] || log "bench: idle-many: ulimit -n is $(ulimit -n): switchboard gets $SB_MANY connections"

med3() { # CMD: median of three readings 0.2 s apart
	_a=$($1); sleep 0.2; _b=$($1); sleep 0.2; _c=$($1)
	printf '%s\n%s\n%s\n' "$_a" "$_b" "$_c" | sort -n | sed -n 2p
}
# the system's tasks (/proc/loadavg's fourth field): counted without a look
# at any process's /proc entry
tasks() { awk '{ split($4, a, "/"); print a[2] }' /proc/loadavg; }
SLABS=$([ -r /proc/slabinfo ] && echo 1)
snap() { # PREFIX: system-wide figures into PREFIX_* (and PREFIX.slab: /proc/slabinfo)
	eval "$1_used=$(med3 mem_used) $1_pt=$(meminfo PageTables) $1_ks=$(meminfo KernelStack)" \
		"$1_slab=$(meminfo Slab) $1_vm=$(meminfo VmallocUsed) $1_pcpu=$(meminfo Percpu) $1_tcp=$(tcp_mem)"
	[ -z "$SLABS" ] || cp /proc/slabinfo "$TMP/$1.slab"
	cp /proc/meminfo "$TMP/$1.meminfo"
}
# slab_top N: the N slab caches that grew most from b.slab to a.slab, kB
# per connection ("name kB, ..."); their sum over all caches last
slab_top() {
	[ -n "$SLABS" ] || { echo "(no /proc/slabinfo)"; return; }
	awk -v top="$1" 'FNR <= 2 { next } FNR == NR { b[$1] = $15 * $6 * 4; next }
		{ d = $15 * $6 * 4 - b[$1]; if (d > 0) { g[$1] = d; s += d } }
		END { for (k in g) print g[k], k; print -1, "all " s }' "$TMP/b.slab" "$TMP/a.slab" |
		sort -rn | awk -v n="$_cnt" -v top="$1" '$1 == -1 { all = $3; next } NR <= top { o = o sprintf("%s%s %.2f", o ? ", " : "", $2, $1 / n) }
			END { printf "%s (all caches %.1f)", o, all / n }'
}
# proc_kb: kB of /proc inodes and their dentries that appeared from b.slab
# to a.slab: whoever lists processes (ps, pgrep; other users of the
# machine too) makes an inode and a dentry for each, an observer's cost
proc_kb() {
	[ -n "$SLABS" ] || { echo 0; return; }
	awk 'FNR <= 2 { next } FNR == NR { b[$1] = $2; next } $1 == "dentry" { ds = $4 }
		$1 == "proc_inode_cache" { d = $2 - b[$1]; ps = $4 } END { printf "%.0f", (d > 0 ? d * (ps + ds) / 1024 : 0) }' \
		"$TMP/b.slab" "$TMP/a.slab"
}
# hold NAME PORT PID PATH [N]: opens N (MANY) connections to PATH against the
# server PID, records the figures in $LOGS/many-NAME.txt, kills server and generator
hold() {
	_name=$1 _port=$2 _pid=$3 _path=$4 _cnt=${5:-$MANY} # not _n: waitfor uses it
	sleep 1
	_pss0=$(sum_smaps Pss "$_pid" $(descendants "$_pid"))
	snap b
	rm -f "$TMP/ready-$_name"
	_t0=$(date +%s)
	LOADGEN_HOLD_SECS=900 LOADGEN_INFLIGHT=$INFLIGHT "$LG" hold "$_port" "$_path" "$_cnt" "$TMP/ready-$_name" >>"$LOGS/many-$_name.log" 2>&1 &
	LGP=$!
	waitfor 900 test -s "$TMP/ready-$_name"
	_ready=$(cat "$TMP/ready-$_name" 2>/dev/null)
	_setup=$(($(date +%s) - _t0))
	grep -q '^ready' "$TMP/ready-$_name" 2>/dev/null || FAILED="$FAILED; $_name: $_cnt connections failed: ${_ready:-no answer}"
	# websocketd starts its children a while after the upgrade: until the task count settles
	_n0=-1 _n1=$(tasks) _w=0
	while [ "$_n1" != "$_n0" ] && [ $_w -lt 60 ]; do sleep 2; _n0=$_n1; _n1=$(tasks); _w=$((_w + 1)); done
	sleep 2
	snap a
	_slab=$(slab_top 8) _prockb=$(proc_kb)
	_procs=$(descendants "$_pid")
	_pss=$(sum_smaps Pss "$_pid" $_procs)
	_lg=$(status_field "$LGP" VmRSS)
	_np=$(echo $_procs | wc -w) _nf=$(forked "$_pid" | wc -l)
	_fds=$(count_fds "$_pid" $_procs)
	_pte=$(sum_status VmPTE $_procs)
	# the observers' /proc entries are taken out of used and slab (and, being
	# reclaimable, may be gone by the time "freed" is read: counted there 0)
	echo "n=$_cnt used=$((a_used - b_used - _prockb)) pt=$((a_pt - b_pt)) ks=$((a_ks - b_ks)) slab=$((a_slab - b_slab - _prockb))" \
		"vmalloc=$((a_vm - b_vm)) percpu=$((a_pcpu - b_pcpu)) tcp=$((a_tcp - b_tcp)) pss=$((_pss - _pss0))" \
		"proc=$_prockb" \
		"lg_rss=${_lg:-0} procs=$_np forked=$_nf fds=$_fds vmpte=$_pte setup_s=$_setup ready=$(echo "$_ready" | tr ' ' ,)" \
		>"$LOGS/many-$_name.txt"
	echo "$_slab" >"$LOGS/many-$_name.slab"
	# every meminfo field's growth, kB, for a figure the parts do not explain
	awk 'FNR == NR { b[$1] = $2; next } { printf "%s%s%d", (FNR > 1 ? " " : ""), $1, $2 - b[$1] } END { print "" }' \
		"$TMP/b.meminfo" "$TMP/a.meminfo" >"$LOGS/many-$_name.meminfo"
	kill_tree "$_pid"
	kill -KILL "$LGP" 2>/dev/null
	wait "$LGP" 2>/dev/null
	LGP=
	sleep 2
	# the same growth seen from the other side: what killing them all gave back
	echo "freed=$((a_used - _prockb - $(med3 mem_used)))" >>"$LOGS/many-$_name.txt"
	log "bench:   $_name: $(cat "$LOGS/many-$_name.txt" | tr '\n' ' ')"
	log "bench:   $_name: slab growth per connection, kB: $_slab"
}

MSGPATH='/messaging?client_id=h%d'
log "bench: $MANY idle connections (memory as the system sees it)"
# BENCH_MANY_ONLY=switchboard: only the default switchboard (hand runs)
SB_MAX_CONN=$((MANY + 100)) start_sb
hold switchboard "$SB_PORT" "$SB" "$MSGPATH" "$SB_MANY"
SB=
if [ "${BENCH_MANY_ONLY:-}" != switchboard ]; then
	SB_MAX_CONN=$((MANY + 100)) start_sb --no-worker-template
	hold switchboard-exec "$SB_PORT" "$SB" "$MSGPATH" "$SB_MANY"
	SB=
	start_node
	hold node "$NODE_PORT" "$NP" "$MSGPATH"
	NP=
	start_wsd
	hold websocketd "$WSD_PORT" "$WSDP" /echo "$WSD_MANY"
	WSDP=
fi

v() { _v=$(kv "$1" "$LOGS/many-$2.txt"); echo "${_v:-0}"; }
nof() { _v=$(v n "$1"); [ "$_v" -gt 0 ] 2>/dev/null && echo "$_v" || echo "$MANY"; }
per() { # VALUE NAME: per connection of NAME's run
	awk -v a="$1" -v n="$(nof "$2")" 'BEGIN { printf "%.1f", a / n }'
}
# the generator's kernel share per connection: half the slab and TCP buffer
# growth of the Node run (one socket at each end, both idle; Node's other
# kernel memory per connection is nil: one process, one thread)
CLIENT_K=$(awk -v s="$(v slab node)" -v t="$(v tcp node)" -v n="$(nof node)" \
	'BEGIN { k = (s + t) / 2; printf "%.1f", (k > 0 ? k : 0) / n }')
# growth: the mean of what appeared with the connections and what their end gave back
grew() { awk -v u="$(v used "$1")" -v f="$(v freed "$1")" 'BEGIN { printf "%.0f", (u + f) / 2 }'; }
server_kb() { # NAME: all-in kB per connection, the generator's share taken out
	awk -v u="$(grew "$1")" -v g="$(v lg_rss "$1")" -v c="$CLIENT_K" -v n="$(nof "$1")" \
		'BEGIN { printf "%.1f", (u - g) / n - c }'
}
spread() { # NAME: the two readings, per connection, generator's share out
	awk -v u="$(v used "$1")" -v f="$(v freed "$1")" -v g="$(v lg_rss "$1")" -v c="$CLIENT_K" -v n="$(nof "$1")" \
		'BEGIN { printf "%.0f–%.0f", ((u < f ? u : f) - g) / n - c, ((u > f ? u : f) - g) / n - c }'
}
SBK=$(server_kb switchboard) SXK=$(server_kb switchboard-exec) NK=$(server_kb node) WK=$(server_kb websocketd)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "n/a"; else printf "%.2f×", a / b }'; }
row() { printf '| %s | %s | %s | %s | %s |\n' "$@"; }
over() { [ "$(awk -v a="$1" -v b="$BUDGET_KB" 'BEGIN { print (a > b) }')" = 1 ] && echo " **over budget**"; }
row "idle Messaging connection at $(nof switchboard), all in (system memory growth ÷ connections, load generator's share out), vs Node \`ws\`" \
	"$SBK KB ($(spread switchboard))$(over "$SBK")" "$NK KB ($(spread node))" "$(ratio "$SBK" "$NK")" "$BUDGET_KB KB"
row "the same, switchboard --no-worker-template (every worker exec'd), vs Node \`ws\`" \
	"$SXK KB ($(spread switchboard-exec))$(over "$SXK")" "$NK KB" "$(ratio "$SXK" "$NK")" "$BUDGET_KB KB"
row "idle connection at $MANY, all in, vs websocketd 0.4.1 + static C echo child (plain upgraded /echo connections, $(nof websocketd) of them)" \
	"$SBK KB" "$WK KB ($(spread websocketd))" "$(ratio "$SBK" "$WK")" "$BUDGET_KB KB"
# vmalloc less the kernel stacks (VMAP_STACK: they are vmalloc'd, and in KernelStack already)
vm_other() { echo $(($(v vmalloc "$1") - $(v ks "$1"))); }
parts_sum() { # NAME: the parts added up, per connection, the generator's kernel share out
	awk -v p="$(v pss "$1")" -v t="$(v pt "$1")" -v k="$(v ks "$1")" -v s="$(v slab "$1")" -v m="$(vm_other "$1")" \
		-v b="$(v tcp "$1")" -v c="$CLIENT_K" -v n="$(nof "$1")" 'BEGIN { printf "%.1f", (p + t + k + s + m + b) / n - c }'
}
parts() { # NAME: the parts per connection
	echo "PSS $(per "$(v pss "$1")" "$1") + page tables $(per "$(v pt "$1")" "$1") + kernel stacks $(per "$(v ks "$1")" "$1")" \
		"+ slab $(per "$(v slab "$1")" "$1") + other vmalloc $(per "$(vm_other "$1")" "$1") + TCP buffers $(per "$(v tcp "$1")" "$1")" \
		"− the generator's $CLIENT_K = $(parts_sum "$1") KB"
}
row "idle connection at $MANY: what it is made of, per connection (slab and TCP buffers: both ends)" \
	"$(parts switchboard); exec'd: $(parts switchboard-exec)" "Node: $(parts node); websocketd: $(parts websocketd)" "—" "—"
row "$MANY connections set up ($INFLIGHT at a time), seconds" \
	"$(v setup_s switchboard) (exec'd: $(v setup_s switchboard-exec))" \
	"Node $(v setup_s node), websocketd $(v setup_s websocketd)" "—" "—"
{
	echo "Idle connections at $MANY: system memory = MemTotal − MemFree − Buffers − Cached (median of 3 readings)" \
		"before the connections (server up, idle), once the task count was steady 2 s after the last one, and" \
		"2 s after server and load generator were killed; the figure is the mean of the growth and of what was" \
		"given back (both in brackets). switchboard, its exec'd variant and Node hold Messaging clients" \
		"(\`/messaging?client_id=hI\`, one registered id each, nothing sent); websocketd upgraded \`/echo\` ones." \
		"The load generator's share (its RSS, and $CLIENT_K KB per connection of kernel memory:" \
		"half the slab and TCP buffer growth of the Node run) is taken out of every server's figure." \
		"Parts: ΔPSS of the server's processes, ΔPageTables, ΔKernelStack, ΔSlab (sockets, tasks, files of both" \
		"ends), ΔVmallocUsed (seccomp filters among them), ΔTCP buffer pages (/proc/net/sockstat), all from" \
		"/proc, each divided by its run's connections; the processes' /proc entries were read only after the" \
		"system-wide figures (the /proc inodes other observers made meanwhile are taken out)." \
		"The fd limit here ($(ulimit -n)) allowed switchboard $(nof switchboard) connections (its supervisor holds 2" \
		"a connection) and websocketd $(nof websocketd) (up to 7 each)." \
		"switchboard ran $(v procs switchboard) processes ($(v forked switchboard) workers forked by the template) with $(v fds switchboard) fds (VmPTE of them all" \
		"$(per "$(v vmpte switchboard)" switchboard) KB per connection; exec'd $(per "$(v vmpte switchboard-exec)" switchboard-exec) KB);" \
		"websocketd $(v procs websocketd) processes. Slab caches that grew most, kB per connection (both ends):" \
		"switchboard: $(cat "$LOGS/many-switchboard.slab" 2>/dev/null); exec'd: $(cat "$LOGS/many-switchboard-exec.slab" 2>/dev/null);" \
		"Node: $(cat "$LOGS/many-node.slab" 2>/dev/null)." \
		"System-wide figures move with whatever else runs (on a busy shared machine, runs of one build gave" \
		"135 to 200 KB a connection; logs/many-NAME.meminfo has every field's growth); the parts are per" \
		"process or per kernel counter and move far less."
} >"$OUT/notes-many.md"
[ -z "$FAILED" ] || { log "bench: idle-many: ${FAILED#; }"; echo "${FAILED#; }" >"$OUT/many-failed.txt"; exit 1; }
exit 0
