#!/bin/sh
# Galène's figures (issue 10, "Figures"), as rows of the bench table: chat
# fan-out to 100 and 1000 members (deliveries/s, p99, CPU per delivery),
# private chat CPU per message at 10 000 msgs/s, memory per idle member.
# Galène itself cannot run here (no Go toolchain): the reference column is
# Galène 0.96.3 as measured on this machine earlier (the issue's figures),
# labelled "recorded earlier"; WSChat's direct path runs on the same server
# in the same run beside the private-chat row. Load from
# tests/bench/loadgen_galene.c (built here) and, for WSChat, $LG.
# Run by tests/bench/run.sh (B, OUT, LOGS, LG, SECS, WARMUP, PAYLOAD, TMP
# exported) or alone: sh tests/bench/proto-galene.sh (after make all).
# Knobs: GALENE_FAN ("100 1000" members), GALENE_SENDERS (10),
# GALENE_PRIVATE_RATE (10000), GALENE_PACED (100000 deliveries/s offered
# to 100 members), GALENE_IDLE (200 members), GALENE_IDLE_WAIT (5 s),
# GALENE_RUNS ("fanout private idle": the parts to run; the others' rows show 0).
set -u
cd "$(dirname "$0")/../.." || exit 1
B=${B:-build}
OUT=${OUT:-$B/bench}
LOGS=${LOGS:-$OUT/logs}
SECS=${SECS:-5}
WARMUP=${WARMUP:-1}
PAYLOAD=${PAYLOAD:-100}
mkdir -p "$OUT" "$LOGS" || exit 1
TMP=${TMP:-$(mktemp -d "${TMPDIR:-/tmp}/sb-galene-bench.XXXXXX")}
. tests/bench/lib.sh
if [ -z "${LG:-}" ] || ! [ -x "$LG" ]; then
	LG=$OUT/loadgen
	build_loadgen || exit 1
fi
LGG=$OUT/loadgen_galene
cc -O2 -Wall -Wextra -o "$LGG" tests/bench/loadgen_galene.c tests/bench/loadgen_net.c tests/bench/loadgen_cpu.c \
	tests/bench/loadgen_lat.c || exit 1

FAN=${GALENE_FAN:-100 1000}
SENDERS=${GALENE_SENDERS:-10}
PRATE=${GALENE_PRIVATE_RATE:-10000}
PACED=${GALENE_PACED:-100000}
IDLE_N=${GALENE_IDLE:-200}
IDLE_WAIT=${GALENE_IDLE_WAIT:-5}
RUNS=${GALENE_RUNS:-fanout private idle}
runs() { case " $RUNS " in *" $1 "*) return 0 ;; esac; return 1; }
[ "$PAYLOAD" -ge 24 ] || PAYLOAD=24
SB='' LGP=''
FAILED=''
trap 'kill_wait "$LGP" 5; stop_sb' EXIT INT TERM

GROUPS_DIR=$TMP/groups
mkdir -p "$GROUPS_DIR" || exit 1
printf '{"wildcard-user": {"password": "bench", "permissions": "message"}}\n' >"$GROUPS_DIR/bench.json"
# each member is a worker process: room for the biggest group and the idle run
MAXC=$((5000 + IDLE_N))
start_sb --galene-groups "$GROUPS_DIR" --max-connections "$MAXC" --galene-max-history 50
log "galene bench: switchboard pid $SB on port $SB_PORT"

g() { _v=$(kv "$1" "$2"); echo "${_v:-0}"; }
row() { printf '| %s | %s | %s | %s | %s |\n' "$@"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "n/a"; else printf "%.2f×", a / b }'; }
check() { # FILE WHAT
	if [ "$(g errors "$1")" != 0 ] || [ "$(g delivered "$1")" = 0 ]; then
		FAILED="$FAILED; $2: $(cat "$1")"
		log "galene bench: $2 not valid: $(cat "$1")"
	fi
}
settle() { waitfor 30 no_workers || log "galene bench: workers still there after 30 s"; }

# ---- fan-out: closed loop (the ceiling), then 100 members paced
fp=$LOGS/galene-fanout-paced.txt fpriv=$LOGS/galene-private.txt fws=$LOGS/galene-wschat-direct.txt
for n in $FAN; do
	runs fanout || break
	f=$LOGS/galene-fanout-$n.txt
	log "galene bench: fan-out to $n members, $SENDERS senders, closed loop"
	"$LGG" fanout "$SB_PORT" bench bench "$n" "$SENDERS" 0 "$WARMUP" "$SECS" "$PAYLOAD" "$SB" >"$f" 2>&1
	check "$f" "fan-out to $n"
	settle
done
if runs fanout; then
	log "galene bench: fan-out to 100 members, $PACED deliveries/s offered"
	"$LGG" fanout "$SB_PORT" bench bench 100 "$SENDERS" "$((PACED / 100))" "$WARMUP" "$SECS" "$PAYLOAD" "$SB" >"$fp" 2>&1
	check "$fp" "paced fan-out"
	settle
fi

# ---- private chat, then WSChat's direct path at the same rate on the same server
if runs private; then
	log "galene bench: private chat, 100 members, $PRATE msgs/s"
	"$LGG" private "$SB_PORT" bench bench 100 "$PRATE" "$WARMUP" "$SECS" "$PAYLOAD" "$SB" >"$fpriv" 2>&1
	check "$fpriv" "private chat"
	settle
	"$LG" chat "$SB_PORT" 100 64 "$PRATE" "$WARMUP" "$SECS" "$PAYLOAD" "$SB" >"$fws" 2>&1
	check "$fws" "WSChat direct"
	settle
fi

# ---- memory per idle member: joined, then no traffic for IDLE_WAIT s
W_PSS=0 W_RSS=0 W_USS=0 R_PM=0 TOTAL=0
if runs idle; then
	log "galene bench: $IDLE_N idle members"
	r0=$(router "$SB")
	rpss0=$(smaps "$r0" Pss)
	rm -f "$TMP/ready"
	"$LGG" idle "$SB_PORT" bench bench "$IDLE_N" "$TMP/ready" >"$LOGS/galene-idle.txt" 2>&1 &
	LGP=$!
	if ! waitfor 120 test -s "$TMP/ready" || ! grep -q '^ready' "$TMP/ready"; then
		FAILED="$FAILED; idle members: $(cat "$TMP/ready" 2>/dev/null)"
	fi
	sleep "$IDLE_WAIT"
	pss=0 rss=0 uss=0 nw=0
	for w in $(workers "$SB"); do
		p=$(smaps "$w" Pss) r=$(smaps "$w" Rss)
		u=$(($(smaps "$w" Private_Clean) + $(smaps "$w" Private_Dirty)))
		pss=$((pss + ${p:-0})) rss=$((rss + ${r:-0})) uss=$((uss + u)) nw=$((nw + 1))
	done
	rpss1=$(smaps "$r0" Pss)
	kill_wait "$LGP" 10
	LGP=
	[ "$nw" -gt 0 ] || { FAILED="$FAILED; no workers seen for the idle members"; nw=1; }
	W_PSS=$(calc "$pss / $nw") W_RSS=$(calc "$rss / $nw") W_USS=$(calc "$uss / $nw")
	R_PM=$(calc "(${rpss1:-0} - ${rpss0:-0}) / $IDLE_N")
	TOTAL=$(calc "$W_PSS + $R_PM")
fi

# ---- rows
for n in $FAN; do
	f=$LOGS/galene-fanout-$n.txt
	row "Galène fan-out to $n members, closed loop: deliveries/s" "$(g rate "$f")" \
		"$([ "$n" = 100 ] && echo 'ceiling near 200 000 (Galène 0.96.3, recorded earlier)' || echo '—')" \
		"$([ "$n" = 100 ] && ratio "$(g rate "$f")" 200000 || echo '—')" "≥ Galène's ceiling"
	row "Galène fan-out to $n members, closed loop: p99 / CPU per delivery" \
		"$(g lat_p99_ms "$f") ms / $(g us_per_delivery "$f") µs" "—" "—" "—"
done
row "Galène fan-out to 100 members, $PACED deliveries/s offered: CPU per delivery (p99)" \
	"$(g us_per_delivery "$fp") µs ($(g lat_p99_ms "$fp") ms, $(g rate "$fp")/s delivered)" \
	"7 µs at 100 000/s (Galène 0.96.3, recorded earlier)" "$(ratio "$(g us_per_delivery "$fp")" 7)" "—"
row "Galène private chat at $PRATE msgs/s: CPU per message (p99)" \
	"$(g us_per_msg "$fpriv") µs ($(g lat_p99_ms "$fpriv") ms)" \
	"41 µs (Galène 0.96.3, recorded earlier); WSChat direct, same run: $(g us_per_msg "$fws") µs" \
	"$(ratio "$(g us_per_msg "$fpriv")" 41)" "≤ 0.5× Galène (20.5 µs)"
row "Galène idle member ($IDLE_N joined, ${IDLE_WAIT} s without traffic): worker PSS + router ΔPSS per member" \
	"$TOTAL KB ($W_PSS + $R_PM; worker RSS $W_RSS, USS $W_USS)" "57–77 KB RSS (Galène 0.96.3, recorded earlier)" \
	"$(ratio "$TOTAL" 77)" "< 150 KB"

{
	echo "Galène (tests/bench/proto-galene.sh): Galène 0.96.3 cannot run here (no Go toolchain), so its"
	echo "column holds the figures measured on this machine earlier (issue 10); WSChat's direct path ran"
	echo "on the same server in this run. Every member is a worker process of its own; a broadcast chat"
	echo "is one frame to the router and one bus envelope per member, and it is written to the history"
	echo "in the store. CPU is utime+stime of the supervisor, router and all workers (per process in"
	echo "$LOGS/galene-*.txt). Load average at the end of this run: $(cut -d' ' -f1-3 /proc/loadavg)."
	echo "Idle memory: the worker gives its heap back a second after its join (malloc_trim), and the"
	echo "router keeps at most 16 KB of a worker's queue and pipe buffer after the join's burst."
	echo "Instructions per private chat (router, members' workers), repeatable where CPU time on a"
	echo "shared machine is not: sh tests/bench/galene-callgrind.sh (by hand; callgrind)."
} >"$OUT/notes-galene.md"

stop_sb
if [ -n "$FAILED" ]; then
	log "galene bench: not valid:$FAILED"
	exit 1
fi
exit 0
