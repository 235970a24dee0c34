#!/bin/sh
# Instructions per Galène private chat message, in the router and in the
# two members' workers together, counted by valgrind's callgrind: a
# repeatable figure where CPU time on a shared machine is not (issue 10).
# Two members, RATE private chats/s, for SHORT then LONG seconds: the
# difference of the totals over the difference of the messages routed
# (switchboard_galene_chat_private_total) leaves start-up and joins out.
# Every process runs under callgrind (the worker template too, so its
# children are counted), without the sandbox (valgrind's own system calls).
# Not part of make bench (slow); run by hand after make all:
#   sh tests/bench/galene-callgrind.sh [BUILD_DIR]   (default build)
# Knobs: RATE (100), SHORT (4), LONG (14).
set -u
cd "$(dirname "$0")/../.." || exit 1
B=$(cd "${1:-build}" && pwd) || exit 1
RATE=${RATE:-100} SHORT=${SHORT:-4} LONG=${LONG:-14}
. tests/bench/lib.sh
command -v valgrind >/dev/null || { log "galene-callgrind: valgrind is not installed"; exit 1; }
TMP=$(mktemp -d "${TMPDIR:-/tmp}/sb-galene-cg.XXXXXX") || exit 1
LGG=$TMP/loadgen_galene
cc -O2 -Wall -Wextra -o "$LGG" tests/bench/loadgen_galene.c tests/bench/loadgen_net.c tests/bench/loadgen_cpu.c \
	tests/bench/loadgen_lat.c || exit 1
SB=''
trap 'stop_sb; rm -rf "$TMP"' EXIT INT TERM

# one run of SECS seconds: prints "MESSAGES ROUTER_IR WORKERS_IR"
one() {
	D=$TMP/run-$1
	mkdir -p "$D/state" "$D/groups" "$D/cg" && chmod 1777 "$D/cg" && chmod 755 "$TMP" "$D" || exit 1
	printf '{"wildcard-user": {"password": "bench", "permissions": "message"}}\n' >"$D/groups/bench.json"
	for p in router worker; do
		printf '#!/bin/sh\nexec valgrind -q --tool=callgrind --callgrind-out-file=%s/cg/%s.%%p %s/switchboard-%s "$@"\n' \
			"$D" "$p" "$B" "$p" >"$D/$p.sh"
		chmod 755 "$D/$p.sh"
	done
	SB_PORT=$(free_port)
	"$B/switchboard" --listen "127.0.0.1:$SB_PORT" --state-dir "$D/state" --router "$D/router.sh" --worker "$D/worker.sh" \
		--no-sandbox --max-per-ip 0 --ping-interval 0 --galene-groups "$D/groups" >"$D/sb.log" 2>&1 &
	SB=$!
	waitfor 120 grep -qs "router ready" "$D/sb.log" || { log "galene-callgrind: no router (see $D/sb.log)"; exit 1; }
	sleep 2
	"$LGG" private "$SB_PORT" bench bench 2 "$RATE" 1 "$1" 100 "$SB" >"$D/lg.txt" 2>&1
	sleep 3
	msgs=$(curl -s --max-time 30 "http://127.0.0.1:$SB_PORT/metrics" |
		awk '$1 == "switchboard_galene_chat_private_total" { print $2 }')
	stop_sb
	r=0 w=''
	for f in "$D"/cg/*; do
		ir=$(callgrind_annotate "$f" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }')
		case $(basename "$f") in
		router.*) r=$ir ;;
		worker.*) w="$w $ir" ;;
		esac
	done
	# the two members' workers are the two busiest (the others answered /metrics or are the template)
	w2=$(printf '%s\n' $w | sort -n -r | head -2 | awk '{ s += $1 } END { print s + 0 }')
	echo "${msgs:-0} $r $w2"
}

set -- $(one "$SHORT") $(one "$LONG")
[ $# -eq 6 ] && [ "$4" -gt "$1" ] || { log "galene-callgrind: no messages counted ($*)"; exit 1; }
awk -v m0="$1" -v r0="$2" -v w0="$3" -v m1="$4" -v r1="$5" -v w1="$6" 'BEGIN {
	dm = m1 - m0
	printf "messages=%d router_ir_per_msg=%.0f workers_ir_per_msg=%.0f total_ir_per_msg=%.0f\n", dm,
		(r1 - r0) / dm, (w1 - w0) / dm, (r1 - r0 + w1 - w0) / dm
}'
