# SaltyRTC signalling server: worker half (keys of one connection, packet
# checks, trial decryption), router half (paths, slots, relays, the
# server's permanent keys). The packet decoder, key files and slots are
# shared (keyfile.c with the options): unit-tested, the decoder fuzzed (tests/fuzz/fuzz_salty_packet.c).
saltyrtc_WORKER := proto/saltyrtc/session.c
saltyrtc_ROUTER := proto/saltyrtc/service.c
saltyrtc_SHARED := proto/saltyrtc/packet.c proto/saltyrtc/slots.c
# its options (proto/saltyrtc/options.c), linked into all three programs, with
# the key files they read (the supervisor checks them at start)
saltyrtc_OPTIONS := proto/saltyrtc/options.c proto/saltyrtc/keyfile.c
