# Galène: worker half (the /ws endpoint: handshake, ping, keep-alive), router
# half (groups, joins, chat, actions, tokens; history in the store;
# password checks on threads). The message decoder is shared and fuzzed
# (tests/fuzz/fuzz_galene_msg.c); the pure pieces are unit-tested
# (galene_UNIT) and fuzzed (fuzz_groupfile, fuzz_jwt).
galene_PURE    := proto/galene/jsonval.c proto/galene/timefmt.c proto/galene/password.c \
                  proto/galene/jwt.c proto/galene/groupfile.c proto/galene/groupfile_perms.c proto/galene/groups.c proto/galene/http_path.c proto/galene/ticket.c proto/galene/chatfields.c
galene_WORKER  := proto/galene/session.c proto/galene/http.c
galene_ROUTER  := proto/galene/http_router.c proto/galene/service.c proto/galene/chatenv.c proto/galene/members.c proto/galene/join.c proto/galene/reload.c proto/galene/status.c proto/galene/actions.c proto/galene/out.c proto/galene/history.c proto/galene/persist.c proto/galene/metrics.c \
                  proto/galene/pool.c proto/galene/tokens.c $(galene_PURE)
galene_SHARED  := proto/galene/msg.c
galene_OPTIONS := proto/galene/options.c
galene_LIBS_R  := -lcrypto -lcrypt -lpthread
galene_UNIT    := $(galene_PURE)
galene_UNIT_LIBS := -lcrypto -lcrypt
