/* SaltyRTC path slots: lowest free responder id (slots.h). */
#include "slots.h"

#include <stddef.h>

int salty_slot_take(struct salty_path *p, void *who)
{
	for (int id = SALTY_FIRST_RESPONDER; id <= SALTY_LAST_RESPONDER; id++)
		if (salty_slot_claim(p, id, who) == 0)
			return id;
	return -1;
}

int salty_slot_claim(struct salty_path *p, int id, void *who)
{
	if (id < SALTY_FIRST_RESPONDER || id > SALTY_LAST_RESPONDER || p->responder[id])
		return -1;
	p->responder[id] = who;
	p->responders++;
	return 0;
}

void salty_slot_release(struct salty_path *p, int id)
{
	if (id < SALTY_FIRST_RESPONDER || id > SALTY_LAST_RESPONDER || !p->responder[id])
		return;
	p->responder[id] = NULL;
	p->responders--;
}

bool salty_path_empty(const struct salty_path *p) { return !p->initiator && p->responders == 0; }
