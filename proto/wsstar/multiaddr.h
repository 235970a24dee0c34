/*
 * Multiaddr strings as the WebSocketStar rendezvous checks them. Addresses
 * are kept and compared as the exact bytes a client sent; these checks only
 * decide whether an address is acceptable.
 */
#ifndef SB_WSSTAR_MULTIADDR_H
#define SB_WSSTAR_MULTIADDR_H
#include <stdbool.h>
#include <stddef.h>

/* Longest address accepted (real ones are about 110 bytes). */
#define MA_MAX_LEN 1024
/* Most protocol components in one address. */
#define MA_MAX_PARTS 32

/*
 * The "multiaddr" argument type: '/'-separated known protocol names, each
 * followed by a valid value when the protocol takes one (ip4 dotted quad,
 * ip6 text form, port 0..65535, a DNS name, a base58btc multihash for
 * ipfs/p2p, the rest of the string for unix). Stricter than the reference's
 * parser only in refusing empty components (a doubled or trailing '/').
 */
bool ma_valid(const char *s, size_t n);

/*
 * The strict check (mafmt WebSocketStar): exactly
 *   (ip4|ip6|dns|dns4|dns6|dnsaddr)/<host>/tcp/<port>/(ws|wss)
 *   or (dns|dns4|dns6|dnsaddr)/<host>/(ws|wss)
 * then /p2p-websocket-star, then optionally /ipfs/<id> or /p2p/<id>, and
 * nothing else. Implies ma_valid.
 */
bool ma_is_wsstar(const char *s, size_t n);

#endif
