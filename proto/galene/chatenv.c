/*
 * Galène, router half: a chat or usermessage from the worker as decoded
 * fields (GALENE_OP_CHAT; read and checked in chatfields.c). A field of
 * the wrong type, or one we do not know, drops the worker. While a join is
 * checked the message is kept as JSON text, in order with the others
 * (service.c): written with minimal escapes and only the members we read,
 * it is never longer than its client's text, so it is decoded again within
 * the message limit; longer fields come only from a rogue worker, which the
 * second decode then drops.
 */
#include "router.h"

void galene_on_chat(struct galene_peer *p, const struct envelope *e)
{
	struct gchat c;
	if (gchat_from_env(e->map, &c) < 0)
		return router_drop_worker(galene_R, p->w, "sent a chat envelope with a bad field");
	if (!galene_may_send(p))
		return;
	if (p->busy) { /* after the join being checked, in order with the others */
		struct buf t = {0};
		gchat_to_json(&t, &c);
		galene_held(p, buf_head(&t), buf_used(&t));
		return buf_free(&t);
	}
	const char *spoof = galene_spoofed(p, &c.source, &c.username);
	if (spoof)
		return galene_fatal(p, 1002, spoof);
	if (!p->group)
		return galene_error(p, "join a group first");
	galene_chat(p, &c);
}
