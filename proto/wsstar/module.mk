# WebSocketStar: the Engine.IO / Socket.IO codec and the multiaddr checks
# (shared, fuzzed), the worker half (session.c: the connection and Engine.IO;
# client.c: the client's events; from_router.c: the router's envelopes), the router half
# (service.c: peers, join challenges, announcements; relay.c: dials and
# their streams; p2pkey.c: keys and signatures, with OpenSSL).
wsstar_WORKER  := proto/wsstar/session.c proto/wsstar/client.c proto/wsstar/from_router.c
wsstar_ROUTER  := proto/wsstar/service.c proto/wsstar/relay.c proto/wsstar/p2pkey.c
wsstar_SHARED  := proto/wsstar/eio.c proto/wsstar/sio.c proto/wsstar/sio_rx.c proto/wsstar/base58.c \
                  proto/wsstar/multiaddr.c
wsstar_LIBS_R  := -lcrypto
wsstar_OPTIONS := proto/wsstar/options.c
# the key checks are also built into the unit tests and fuzz targets
wsstar_UNIT      := proto/wsstar/p2pkey.c
wsstar_UNIT_LIBS := -lcrypto
