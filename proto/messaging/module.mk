# Messaging: worker half, router half (SQLite store); the decoder is shared
# and fuzzed (tests/fuzz/fuzz_messaging.c).
messaging_WORKER := proto/messaging/session.c
messaging_ROUTER := proto/messaging/service.c proto/messaging/queues.c
messaging_SHARED := proto/messaging/decode.c
# its options (a table: proto/messaging/options.c), linked into all three programs
messaging_OPTIONS := proto/messaging/options.c
