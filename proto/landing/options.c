/*
 * The landing page's option, as a table (common/options.h) that all three
 * programs link: the supervisor checks it and passes it on to the workers.
 */
#include "options.h"

#include "../../common/options.h"

bool landing_off;

static const struct opt table[] = {
	{"no-landing", OPT_FLAG, NULL, NULL, "do not answer GET / with the landing page (it lists the endpoints "
	 "and has live demos)", OPT_WORKER, &landing_off, 0, 0, NULL, NULL},
	{.name = NULL},
};

const struct opt_group landing_options = {"landing page", table};
