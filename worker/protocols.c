/* The worker halves of every protocol, in the order paths are matched. */
#include "session.h"

extern const struct proto_worker echo_worker;
extern const struct proto_worker wschat_worker;
extern const struct proto_worker messaging_worker;

const struct proto_worker *const worker_protocols[] = {
	&echo_worker,
	&wschat_worker,
	&messaging_worker,
	NULL,
};
