/*
 * One SaltyRTC path as the router holds it (sheet §6): the initiator and
 * the 254 responder slots. A responder takes the lowest free slot, so an
 * id is never handed out while its holder is still there (the reference's
 * len(responders)+2 does that). Clients are opaque pointers here, so the
 * slot rules are unit-tested without a router.
 */
#ifndef SB_SALTY_SLOTS_H
#define SB_SALTY_SLOTS_H
#include <stdbool.h>
#include <stdint.h>

#include "salty.h"

struct salty_path {
	uint8_t key[SALTY_KEY]; /* the initiator's public key: the path's name */
	void *initiator;        /* authenticated, or NULL */
	void *responder[SALTY_LAST_RESPONDER + 1]; /* by id, 2..255 */
	int responders;
};

/* Puts who in the lowest free responder slot: its id, or -1 when all 254 are held. */
int salty_slot_take(struct salty_path *p, void *who);
/* Puts who in slot id if it is free: 0, or -1. */
int salty_slot_claim(struct salty_path *p, int id, void *who);
void salty_slot_release(struct salty_path *p, int id);
/* No authenticated client is left on the path. */
bool salty_path_empty(const struct salty_path *p);

#endif
