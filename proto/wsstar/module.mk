# WebSocketStar: the layers so far (Engine.IO/Socket.IO codec, libp2p key,
# peer id and multiaddr checks), built into the unit tests and fuzz targets;
# the halves come with the seam.
wsstar_LIB  := proto/wsstar/eio.c proto/wsstar/sio.c proto/wsstar/sio_rx.c proto/wsstar/base58.c \
               proto/wsstar/p2pkey.c proto/wsstar/multiaddr.c
wsstar_LIBS := -lcrypto
