/*
 * Messaging's options: the router half's storage limits, as a table
 * (common/options.h) that all three programs link, so that the supervisor
 * checks and passes them on and the worker refuses them by name.
 */
#include "options.h"

#include "../../common/bus.h"
#include "../../common/options.h"

/* A backlog frame is up to 256 KiB of messages plus one more, and must fit
 * in one bus message with its envelope. */
#define BUS_MAX_STORED_MESSAGE (BUS_MAX_CLIENT_MESSAGE / 2)

struct messaging_options messaging_opt;

static const struct opt table[] = {
	{"messaging-max-size", OPT_SIZE, NULL, "65536", "largest stored message", OPT_ROUTER, &messaging_opt.max_size,
	 1, BUS_MAX_STORED_MESSAGE, "so that bus messages fit in the 8 MiB bus limit", NULL},
	{"messaging-max-queue", OPT_INT, "N", "10000", "stored messages per recipient", OPT_ROUTER,
	 &messaging_opt.max_queue, 0, 0, NULL, NULL},
	{"messaging-max-per-sender", OPT_INT, "N", "1000", "stored messages per recipient from one sender",
	 OPT_ROUTER, &messaging_opt.max_per_sender, 0, 0, NULL, NULL},
	{"messaging-max-recipients", OPT_INT, "N", "1000", "recipients one sender may have messages stored for",
	 OPT_ROUTER, &messaging_opt.max_recipients, 0, 0, NULL, NULL},
	{"messaging-max-store", OPT_SIZE, NULL, "1073741824", "stored message text in all", OPT_ROUTER,
	 &messaging_opt.max_store, 0, 0, NULL, NULL},
	{.name = NULL},
};

const struct opt_group messaging_options = {"messaging", table};
