# Run settings shared by the fuzz smoke runs (tests/run.sh) and the long runs
# (tests/fuzz/long.sh); sourced, not run.
#
# -max_len: what each parser takes in the server, not libFuzzer's 4 KB
# default, which cannot reach slow-input bugs such as O(depth^2) nesting
# (issue 6, point 6). HTTP heads stop at HTTP_MAX_HEAD (8 KiB): twice that
# covers the refusal. Client messages go up to --max-message (1 MiB by
# default); bus frames and envelopes up to the 8 MiB bus limit, of which 2 MiB
# reaches every path of their parsers (the length checks are on the header).
# A new target takes 1 MiB unless it is listed here.
fuzz_max_len() {
	case $1 in
	fuzz_http) echo 16384 ;;
	fuzz_static) echo 4096 ;; # a request path lives in an 8 KiB head
	fuzz_proxy | fuzz_origin | fuzz_forwarded) echo 4096 ;; # a PROXY header is at most 536 bytes; an Origin lives in a head
	fuzz_sp | fuzz_envelope | fuzz_galene_chat) echo 2097152 ;; # fuzz_galene_chat: a worker's chat envelope, its 1 MiB value and the rest
	fuzz_galene_ticket) echo 262144 ;; # a ticket is at most GALENE_MAX_TICKET (132 KiB): twice that covers the refusal
	*) echo 1048576 ;;
	esac
}

# -timeout: a unit running longer than this is a finding. The slowest
# legitimate seed takes about 1 s under ASan+UBSan on a loaded 2-core machine.
FUZZ_TIMEOUT=${FUZZ_TIMEOUT:-5}

# fuzz_dict NAME: -dict=tests/fuzz/NAME.dict when the target has one (tokens
# of its grammar, which libFuzzer splices into inputs)
fuzz_dict() { [ -f "tests/fuzz/$1.dict" ] && echo "-dict=tests/fuzz/$1.dict"; }
FUZZ_RSS_MB=${FUZZ_RSS_MB:-2048}

# fuzz_guard SECONDS CMD...: runs CMD, killed if still there SECONDS later.
# libFuzzer's own timeout handler can deadlock in the ASan allocator when the
# alarm lands inside malloc (seen here on a quadratic input), and then the
# process would wait forever; exit status 124 or 137 means that happened.
fuzz_guard() {
	_g=$1
	shift
	timeout -k 10 "$_g" "$@"
}
