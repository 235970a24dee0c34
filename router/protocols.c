/* The router halves of every protocol that uses the bus. */
#include <string.h>

#include "router.h"

extern const struct proto_router wschat_router;
extern const struct proto_router messaging_router;

const struct proto_router *const router_protocols[] = {
	&wschat_router,
	&messaging_router,
	NULL,
};

const struct proto_router *router_protocol(const char *name, size_t len)
{
	for (int i = 0; router_protocols[i]; i++)
		if (strlen(router_protocols[i]->name) == len && memcmp(router_protocols[i]->name, name, len) == 0)
			return router_protocols[i];
	return NULL;
}
