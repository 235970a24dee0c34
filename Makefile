# switchboard — build, test, run.
#   make run    build and start the server on 127.0.0.1:8080 (state in ./var)
#   make test   unit, end-to-end (real clients), sanitizer and fuzz-smoke runs
#   make bench  benchmarks (tests/bench), with ratios against the peers (Node ws,
#               libwebsockets, websocketd), 10 000 idle connections
#   make soak   10 000 connections, mixed traffic, SOAK_SECS (600): no leak, no loss
#   make fuzz   libFuzzer targets (clang) into build/fuzz
#   make fuzz-long  every fuzz target for 10M runs or FUZZ_LONG_SECONDS each
# As root on Debian, missing packages are installed first (make deps).

VERSION  := 0.1.0
CC       ?= cc
CFLAGS   ?= -O2 -g
override CFLAGS += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -DSWITCHBOARD_VERSION='"$(VERSION)"'
B        ?= build
SAN_FLAGS = -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined

# ---- what is built from what ----
# Every protocol is a folder proto/<name>/ with a module.mk that names its
# halves: <name>_WORKER (linked into the worker), <name>_ROUTER (into the
# router), <name>_SHARED (both, and the fuzz targets), and any extra
# libraries as <name>_LIBS_W / <name>_LIBS_R, and its options table as
# <name>_OPTIONS (linked into all three programs: the supervisor checks and
# passes options on, a worker refuses a router option by name). Adding a protocol is its folder
# plus one word here; the registries are generated from this list, in this
# order (the order the worker matches paths in).
PROTOS   := echo wschat messaging saltyrtc galene wsstar landing
include $(foreach p,$(PROTOS),proto/$(p)/module.mk)
P_WORKER := $(foreach p,$(PROTOS),$($(p)_WORKER) $($(p)_SHARED))
P_ROUTER := $(foreach p,$(PROTOS),$($(p)_ROUTER) $($(p)_SHARED))
P_SHARED := $(foreach p,$(PROTOS),$($(p)_SHARED))
W_PROTOS := $(foreach p,$(PROTOS),$(if $($(p)_WORKER),$(p)))
R_PROTOS := $(foreach p,$(PROTOS),$(if $($(p)_ROUTER),$(p)))
O_PROTOS := $(foreach p,$(PROTOS),$(if $($(p)_OPTIONS),$(p)))
# Options: the core table, every protocol's table, and the generated list of them.
# (forwarded.c and cidr.c: --trust-proxy is checked by the supervisor too)
OPTS     := common/options.c common/options_doc.c common/config.c common/core_options.c common/cidr.c proto/websocket/forwarded.c $(foreach p,$(PROTOS),$($(p)_OPTIONS))
OPTS_OBJ  = $(call obj,$(OPTS)) $(B)/obj/gen/option_groups.o

COMMON_W := common/buf.c common/alloc.c common/log.c common/log_sink.c common/clock.c common/utf8.c common/json.c common/busauth.c \
            common/mp.c common/envelope.c common/sp.c common/sha1.c common/buscredit.c
COMMON_R := $(COMMON_W) common/hmap.c
WS       := proto/websocket/http.c proto/websocket/frame.c proto/websocket/ws.c \
            proto/websocket/handshake.c proto/websocket/static.c proto/websocket/origin.c \
            proto/websocket/proxy.c
WORKER   := worker/worker.c worker/memtrim.c worker/template.c worker/session.c worker/http.c worker/http_ask.c worker/uplink.c worker/refusal.c worker/sandbox.c $(P_WORKER) $(COMMON_W) $(WS)
ROUTER   := router/main.c router/listener.c router/listen_sock.c router/bufpool.c router/heaptrim.c router/dirty.c router/workers.c router/tap.c router/store.c router/store_schema.c \
            router/metrics.c router/http.c router/allowfrom.c router/supervisor_prom.c common/ready.c $(P_ROUTER) $(COMMON_R)
SUPER    := worker/supervisor.c worker/supervisor_setup.c worker/supervisor_stats.c worker/supervisor_template.c common/ready.c worker/peers.c worker/bus_hand.c common/alloc.c common/log.c common/log_sink.c common/clock.c common/hmap.c \
            common/sp.c common/buf.c common/busauth.c common/envelope.c common/mp.c
# The SaltyRTC WebSocket-task client: its library (no I/O, so also in the
# unit tests and fuzz targets) and the CLI switchboard-salty around it.
SALTY_LIB := proto/saltyrtc/client.c proto/saltyrtc/client_crypto.c proto/saltyrtc/client_mp.c \
             proto/saltyrtc/client_server.c proto/saltyrtc/client_peer.c proto/saltyrtc/client_json.c
SALTY_CLI := proto/saltyrtc/cli.c proto/saltyrtc/cli_run.c proto/saltyrtc/client_ws.c $(SALTY_LIB) \
             common/alloc.c common/log.c common/log_sink.c common/buf.c common/json.c common/mp.c common/sha1.c common/utf8.c \
             proto/websocket/frame.c
# Protocols whose pieces are built and unit-tested but not served yet: their
# module.mk names them as <name>_LIB (and extra libraries as <name>_LIBS).
PARTS    :=
include $(foreach p,$(PARTS),proto/$(p)/module.mk)
P_LIB    := $(foreach p,$(PARTS),$($(p)_LIB))
P_LIBS   := $(foreach p,$(PARTS),$($(p)_LIBS))
# Pure pieces of served protocols that the unit tests and fuzz targets link
# (<name>_UNIT, with <name>_UNIT_LIBS).
P_UNIT   := $(foreach p,$(PROTOS),$($(p)_UNIT))
P_LIBS   += $(foreach p,$(PROTOS),$($(p)_UNIT_LIBS))
UNIT     := $(wildcard tests/unit/*.c) $(COMMON_R) common/options.c common/options_doc.c common/config.c common/cidr.c proto/websocket/forwarded.c $(WS) router/listener.c router/listen_sock.c router/bufpool.c router/heaptrim.c router/dirty.c router/allowfrom.c worker/sandbox.c worker/peers.c worker/bus_hand.c worker/memtrim.c \
            router/store.c router/store_schema.c \
            $(P_SHARED) $(P_LIB) $(P_UNIT) $(foreach p,$(PROTOS),$($(p)_OPTIONS)) $(SALTY_LIB)
HEADERS  := $(wildcard common/*.h proto/*.h proto/*/*.h worker/*.h router/*.h tests/unit/*.h)

LIBS_W := -lmsgpackc -lsodium $(foreach p,$(PROTOS),$($(p)_LIBS_W))
# The worker is linked statically: there is one per connection, and a static
# binary skips the dynamic loader at exec and carries no per-process copy of
# each shared library's relocated data. Measured on the 2-core VM: idle PSS
# 184 -> 101 kB, 1440 -> 1850 new connections/s. -w hides the one linker
# warning this brings, glibc's note that getaddrinfo in a static program loads
# NSS modules at run time (only a host name in --router-url needs them, and it
# is resolved before the sandbox starts). Sanitizer builds stay dynamic.
WORKER_LDFLAGS ?= -static -Wl,-w -Wl,--gc-sections
LIBS_R := -lmsgpackc -lsodium -lsqlite3 $(foreach p,$(PROTOS),$($(p)_LIBS_R))
LIBS_S := -lsodium -lmsgpackc
LIBS_U := -lmsgpackc -lsodium -lnng -lsqlite3 $(P_LIBS)

obj = $(patsubst %.c,$(B)/obj/%.o,$(1))

PROGS := $(B)/switchboard $(B)/switchboard-worker $(B)/switchboard-router $(B)/switchboard-salty
MANS  := $(patsubst man/%.1.in,$(B)/man/%.1,$(wildcard man/*.1.in))

all: $(PROGS) $(B)/unit-tests $(MANS)

# Header dependencies come from the compiler (-MMD -MP), per object.
$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC  $<"
	@$(CC) $(CFLAGS) -MMD -MP -c $< -o $@
-include $(shell find $(B)/obj -name '*.d' 2>/dev/null)

# The protocol registries, generated from PROTOS.
$(B)/gen/worker_protocols.c: Makefile proto/registry.sh $(foreach p,$(PROTOS),proto/$(p)/module.mk)
	@mkdir -p $(dir $@)
	@sh proto/registry.sh worker $(W_PROTOS) >$@.tmp && mv $@.tmp $@
$(B)/gen/router_protocols.c: Makefile proto/registry.sh $(foreach p,$(PROTOS),proto/$(p)/module.mk)
	@mkdir -p $(dir $@)
	@sh proto/registry.sh router $(R_PROTOS) >$@.tmp && mv $@.tmp $@
$(B)/gen/option_groups.c: Makefile proto/registry.sh $(foreach p,$(PROTOS),proto/$(p)/module.mk)
	@mkdir -p $(dir $@)
	@sh proto/registry.sh options $(O_PROTOS) >$@.tmp && mv $@.tmp $@
$(B)/obj/gen/%.o: $(B)/gen/%.c
	@mkdir -p $(dir $@)
	@echo "  CC  $<"
	@$(CC) $(CFLAGS) -I. -MMD -MP -c $< -o $@

$(B)/switchboard-worker: $(call obj,$(WORKER)) $(B)/obj/gen/worker_protocols.o $(OPTS_OBJ)
	@echo "  LD  $@"
	@$(CC) $(CFLAGS) $(WORKER_LDFLAGS) $^ -o $@ $(LIBS_W)
# The worker's seccomp filter, compiled from worker/sandbox_rules.c by
# libseccomp at build time rather than in every new worker.
$(B)/gen/sandbox_gen: worker/sandbox_gen.c worker/sandbox_rules.c worker/sandbox_layers.c worker/sandbox.h worker/sandbox_mode.h
	@mkdir -p $(dir $@)
	@echo "  GEN $@"
	@$(CC) $(CFLAGS) $(filter %.c,$^) -o $@ -lseccomp
$(B)/gen/sandbox_bpf.h: $(B)/gen/sandbox_gen
	@$< >$@.tmp && mv $@.tmp $@
$(B)/obj/worker/sandbox.o: $(B)/gen/sandbox_bpf.h
$(B)/obj/worker/sandbox.o: override CFLAGS += -I$(B)/gen
$(B)/switchboard-router: $(call obj,$(ROUTER)) $(B)/obj/gen/router_protocols.o $(OPTS_OBJ)
	@echo "  LD  $@"
	@$(CC) $(CFLAGS) $^ -o $@ $(LIBS_R)
$(B)/switchboard: $(call obj,$(SUPER)) $(OPTS_OBJ)
	@echo "  LD  $@"
	@$(CC) $(CFLAGS) $^ -o $@ $(LIBS_S)
$(B)/switchboard-salty: $(call obj,$(SALTY_CLI))
	@echo "  LD  $@"
	@$(CC) $(CFLAGS) $^ -o $@ -lsodium -lmsgpackc -lssl -lcrypto -lm
$(B)/unit-tests: $(call obj,$(UNIT))
	@echo "  LD  $@"
	@$(CC) $(CFLAGS) $^ -o $@ $(LIBS_U)

# The same programs under AddressSanitizer + UndefinedBehaviorSanitizer.
asan:
	$(MAKE) --no-print-directory B=build/asan CC=clang CFLAGS="$(SAN_FLAGS)" WORKER_LDFLAGS= all

# ---- manual pages and the example configuration file ----
# Each page is man/<program>.1.in, hand-written, with its OPTIONS section put
# in at the '.\" @OPTIONS@' line from the program's option tables
# (--help-man), so that the pages list what --help lists.
$(B)/man/%.1: man/%.1.in $(B)/%
	@mkdir -p $(dir $@)
	@echo "  MAN $@"
	@./$(B)/$* --help-man >$@.opts
	@sed -e 's/@VERSION@/$(VERSION)/' -e '/^\.\\" @OPTIONS@$$/{r $@.opts' -e 'd;}' $< >$@.tmp
	@rm -f $@.opts && mv $@.tmp $@
# contrib/switchboard.conf is generated from the tables too; a test checks
# that it is current (tests/e2e/config.test.js). After changing an option:
config-example: $(B)/switchboard
	./$(B)/switchboard --help-config >contrib/switchboard.conf

# ---- fuzzing ----
FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,build/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_FLAGS := -g -O1 -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -fsanitize=fuzzer,address,undefined \
              -fno-sanitize-recover=undefined
fuzz: $(FUZZ_TARGETS)
FUZZ_SRC := $(COMMON_R) $(WS) common/cidr.c proto/websocket/forwarded.c $(P_SHARED) $(P_LIB) $(P_UNIT) $(SALTY_LIB)
# the configuration file's parser needs the option code (and the log, for option errors under inetd)
CONFIG_SRC := common/config.c common/options.c common/options_doc.c common/log.c common/log_sink.c common/clock.c
build/fuzz/fuzz_config: tests/fuzz/fuzz_config.c $(CONFIG_SRC) $(HEADERS)
	@mkdir -p build/fuzz
	@echo "  FUZZ $@"
	@clang $(FUZZ_FLAGS) $< $(CONFIG_SRC) -o $@
comma := ,
# The sources every target links are compiled once (instrumented the same
# way, without libFuzzer's main), not once per target.
FUZZ_CFLAGS := $(subst -fsanitize=fuzzer$(comma),-fsanitize=fuzzer-no-link$(comma),$(FUZZ_FLAGS))
FUZZ_OBJS := $(sort $(patsubst %.c,build/fuzz/obj/%.o,$(FUZZ_SRC)))
.SECONDARY: $(FUZZ_OBJS)
build/fuzz/obj/%.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	@echo "  CC  $< (fuzz)"
	@clang $(FUZZ_CFLAGS) -c $< -o $@
build/fuzz/%: tests/fuzz/%.c $(FUZZ_OBJS) $(HEADERS)
	@mkdir -p build/fuzz
	@echo "  FUZZ $@"
	@clang $(FUZZ_FLAGS) $< $(FUZZ_OBJS) -o $@ -lmsgpackc -lsodium $(P_LIBS)
# The long runs (tests/fuzz/long.sh): FUZZ_LONG_RUNS executions or
# FUZZ_LONG_SECONDS per target, whichever comes first, one target at a time
# (6 targets x 600 s is about an hour: a job of its own, not part of make
# test). Results in build/fuzz-long/summary.txt.
FUZZ_LONG_SECONDS ?= 600
FUZZ_LONG_RUNS ?= 10000000
fuzz-long: fuzz
	@FUZZ_LONG_SECONDS=$(FUZZ_LONG_SECONDS) FUZZ_LONG_RUNS=$(FUZZ_LONG_RUNS) sh tests/fuzz/long.sh

# ---- dependencies (Debian bookworm) ----
# libnng-dev: only the unit tests link libnng, as a real peer for interop;
# nng-utils: nngcat, to read the tap.
DEB_BUILD := gcc libc6-dev make pkg-config libsodium-dev libmsgpack-dev libjsmn-dev libnng-dev nng-utils \
             libseccomp-dev libsqlite3-dev libssl-dev libcrypt-dev
# xinetd, and openbsd-inetd's libraries: openbsd-inetd itself conflicts with
# xinetd and is unpacked under build/deps (tests/unpack-deb.sh).
DEB_TEST  := clang libclang-rt-14-dev nodejs npm ucspi-tcp systemd procps python3 valgrind \
             xinetd libwrap0 libevent-2.1-7 libbsd0 curl chromium nginx-light haproxy stunnel4 \
             s6 man-db groff-base iproute2
# only for make bench / make soak: the peers measured beside switchboard
# (websocketd 0.4.1; libwebsockets 4.1.6 for the C-limit relay)
DEB_BENCH := websocketd libwebsockets-dev
deps:
	@sh tests/install-deps.sh $(DEB_BUILD)
test-deps:
	@sh tests/install-deps.sh $(DEB_BUILD) $(DEB_TEST)
	@sh tests/unpack-deb.sh openbsd-inetd build/deps/openbsd-inetd
	@# npm ci again whenever package-lock.json is newer than the installed tree
	@cd tests/e2e && { [ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund --loglevel=error; }

# ---- the two commands ----
run: deps all
	./$(B)/switchboard $(ARGS)

test: test-deps all asan fuzz
	@sh tests/run.sh

bench-deps: test-deps
	@sh tests/install-deps.sh $(DEB_BENCH)

bench: bench-deps all
	@sh tests/bench/run.sh

# 10 000 connections with steady mixed traffic for SOAK_SECS (600) seconds
soak: bench-deps all
	@sh tests/bench/soak.sh

clean:
	rm -rf build

include contrib/install.mk

.PHONY: config-example install uninstall all asan fuzz fuzz-long deps test-deps bench-deps run test bench soak clean
